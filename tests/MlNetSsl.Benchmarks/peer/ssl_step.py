"""The PyTorch peer of MlNetSsl's pretraining benchmark (tests/MlNetSsl.Benchmarks, --peer).

One training step of each benchmark case written the plain PyTorch way, with the same architecture, loss, optimizer
and batched tensor augmentations as MlNetSsl's defaults (src/MlNetSsl: Encoders, Methods, Augmentations, Losses):

  convnet-simclr  CIFAR 32x32x3, ConvNet (3x3 convs 32-64-128-256, BatchNorm, ReLU, max-pool, global pooling),
                  projector 256-512-128 with BatchNorm, NT-Xent at 0.5, two views (crop, flip, colour jitter, greyscale)
  convnet-byol    the same encoder and projector, predictor 128-512-128, EMA target at 0.99, normalized MSE both ways,
                  views as above plus solarize (p 0.1)
  conv1d-simclr   BasicMotions 6x100, Conv1d FCN (kernels 7-5-3, 64-128-128 channels), projector 128-512-128,
                  NT-Xent at 0.5, series views (crop-resize p 0.5, time warp p 0.5, scaling, jitter)
  mlp-scarf       HIGGS 28 features, MLP 28-256-256 with BatchNorm, head 256-256-128, SCARF corruption (rate 0.6,
                  marginals from a 4,096-row bank), InfoNCE at 1.0

Every step is timed whole: both views, forwards, backward, AdamW (lr 1e-3) and the EMA update. Inputs are random
tensors of the real shapes, as in the C# benchmark. Prints one JSON line:
  {"case", "batch", "threads", "channels_last", "step_seconds": [...], "torch": version}
Usage: python3 ssl_step.py --case convnet-simclr [--batch 256] [--steps 6] [--threads 2] [--layout channels-last|contiguous]
"""

import argparse
import copy
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- augmentations (batched, one draw per row)

LUMA = (0.299, 0.587, 0.114)


def luma(x):
    w = torch.tensor(LUMA, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def uniform(g, shape, low, high):
    return torch.rand(shape, generator=g).mul_(high - low).add_(low)


def random_resized_crop(x, g, min_scale=0.2):
    n = x.shape[0]
    area = uniform(g, (n,), min_scale, 1.0)
    ratio = uniform(g, (n,), math.log(3 / 4), math.log(4 / 3)).exp_()
    w = (area * ratio).sqrt_().clamp_(max=1)
    h = (area / ratio).sqrt_().clamp_(max=1)
    cx = uniform(g, (n,), -1, 1).mul_(1 - w)
    cy = uniform(g, (n,), -1, 1).mul_(1 - h)
    zero = torch.zeros_like(w)
    theta = torch.stack([w, zero, cx, zero, h, cy], 1).view(n, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def row_mask(g, x, p):
    return (torch.rand(x.shape[0], generator=g) < p).view(-1, *([1] * (x.dim() - 1)))


def horizontal_flip(x, g):
    return torch.where(row_mask(g, x, 1.0), x.flip(3), x)


def hue_rotation(angles):
    to_yiq = torch.tensor([0.299, 0.587, 0.114, 0.596, -0.274, -0.322, 0.211, -0.523, 0.312], dtype=torch.float64).view(3, 3)
    from_yiq = torch.linalg.inv(to_yiq)
    a = angles.double()
    cos, sin, one, zero = a.cos(), a.sin(), torch.ones_like(a), torch.zeros_like(a)
    rotation = torch.stack([one, zero, zero, zero, cos, -sin, zero, sin, cos], 1).view(-1, 3, 3)
    return from_yiq.matmul(rotation).matmul(to_yiq).to(angles.dtype)


def color_jitter(x, g, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1):
    n = x.shape[0]
    u = uniform(g, (n, 4), -1, 1)
    view = (n, 1, 1, 1)
    x = (x * (1 + u[:, 0] * brightness).view(view)).clamp_(0, 1)
    mean = luma(x).mean([1, 2, 3], keepdim=True)
    x = ((x - mean) * (1 + u[:, 1] * contrast).view(view) + mean).clamp_(0, 1)
    grey = luma(x)
    x = ((x - grey) * (1 + u[:, 2] * saturation).view(view) + grey).clamp_(0, 1)
    matrices = hue_rotation(u[:, 3] * (hue * 2 * math.pi))
    h, w = x.shape[2], x.shape[3]
    return torch.bmm(matrices, x.reshape(n, 3, h * w)).view(n, 3, h, w).clamp_(0, 1)


def random_grayscale(x, g):
    chosen = row_mask(g, x, 1.0)
    return torch.where(chosen, luma(x).expand_as(x), x)


def solarize(x, g, threshold=0.5):
    return torch.where(x > threshold, 1 - x, x)


def resample_time(series, positions):
    n, c, t = series.shape
    p = positions.clamp(0, t - 1)
    left = p.floor().clamp(0, max(t - 2, 0)).long()
    right = (left + 1).clamp(max=t - 1)
    frac = (p - left.to(p.dtype)).unsqueeze(1)
    a = series.gather(2, left.unsqueeze(1).expand(n, c, t))
    b = series.gather(2, right.unsqueeze(1).expand(n, c, t))
    return a + (b - a) * frac


def smooth_noise(g, rows, channels, knots, length, scale):
    k = torch.randn(rows, channels, 1, knots + 2, generator=g).mul_(scale)
    curve = F.interpolate(k, size=(1, length), mode="bicubic", align_corners=True)
    return curve.view(rows, channels, length)


def random_crop_resize(x, g, min_scale=0.6):
    n, _, t = x.shape
    fraction = uniform(g, (n, 1), min_scale, 1)
    start = uniform(g, (n, 1), 0, 1) * (1 - fraction) * (t - 1)
    positions = start + fraction * torch.arange(t, dtype=x.dtype).unsqueeze(0)
    return resample_time(x, positions)


def time_warp(x, g, sigma=0.2, knots=4):
    n, _, t = x.shape
    speed = smooth_noise(g, n, 1, knots, t, sigma).view(n, t).add_(1).clamp_(min=0.1)
    cumulative = speed.cumsum(1)
    cumulative = cumulative - cumulative[:, 0:1]
    positions = cumulative * ((t - 1) / cumulative[:, t - 1:t])
    return resample_time(x, positions)


def scaling(x, g, sigma=0.1):
    return x * torch.randn(x.shape[0], x.shape[1], 1, generator=g).mul_(sigma).add_(1)


def jitter(x, g, sigma=0.1):
    return x + torch.randn(x.shape, generator=g) * sigma


def scarf_corruption(x, g, bank, rate=0.6):
    n, f = x.shape
    k = round(rate * f)
    ranks = torch.rand(n, f, generator=g).argsort(1).argsort(1)
    rows = torch.randint(0, bank.shape[0], (n, f), generator=g)
    return torch.where(ranks < k, bank.gather(0, rows), x)


def apply_policy(steps, x, g):
    """Each (augmentation, probability) runs on the whole batch; rows keep it with that probability (MlNetSsl's policy)."""
    current = x
    for augment, probability in steps:
        augmented = augment(current, g)
        if probability < 1:
            keep = row_mask(g, current, probability)
            augmented = torch.where(keep, augmented, current)
        current = augmented
    return current.clone() if current is x else current


# ---------------------------------------------------------------- models

class ConvNet(nn.Module):
    def __init__(self, channels=3, depth=4):
        super().__init__()
        layers, c = [], channels
        for i in range(depth):
            out = 32 << min(i, 3)
            layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            if i < depth - 1:
                layers.append(nn.MaxPool2d(2))
            c = out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.channels_last = False
        self.embedding_size = c

    def forward(self, x):
        x = x * 2 - 1
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.features(x)


class Conv1dNet(nn.Module):
    def __init__(self, channels=6):
        super().__init__()
        layers, c = [], channels
        for kernel, out in ((7, 64), (5, 128), (3, 128)):
            layers += [nn.Conv1d(c, out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm1d(out), nn.ReLU(inplace=True)]
            c = out
        layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.embedding_size = c

    def forward(self, x):
        return self.body(x)


class Mlp(nn.Module):
    def __init__(self, features=28, hidden=256, depth=2):
        super().__init__()
        layers, width = [], features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.embedding_size = hidden

    def forward(self, x):
        return self.body(x)


def mlp_head(inputs, hidden, outputs):
    return nn.Sequential(nn.Linear(inputs, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, outputs))


def initialize(module):
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# ---------------------------------------------------------------- losses

def nt_xent(z1, z2, temperature):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.t()).div(temperature)
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    index = torch.arange(n)
    return F.cross_entropy(logits, torch.cat([index + n, index]))


def info_nce(queries, keys, temperature):
    q, k = F.normalize(queries, dim=1), F.normalize(keys, dim=1)
    return F.cross_entropy((q @ k.t()).div(temperature), torch.arange(q.shape[0]))


def normalized_mse(p, z):
    return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=1)).mean()


# ---------------------------------------------------------------- cases

IMAGE_VIEWS = [(random_resized_crop, 1.0), (horizontal_flip, 0.5), (color_jitter, 0.8), (random_grayscale, 0.2)]
SERIES_VIEWS = [(random_crop_resize, 0.5), (time_warp, 0.5), (scaling, 1.0), (jitter, 1.0)]


def build(case, batch, channels_last, g):
    """Returns (step function, trainable modules)."""
    if case in ("convnet-simclr", "conv1d-simclr"):
        image = case == "convnet-simclr"
        encoder = ConvNet() if image else Conv1dNet()
        encoder.channels_last = image and channels_last
        projector = mlp_head(encoder.embedding_size, 512, 128)
        model = nn.Sequential(encoder, projector)
        initialize(model)
        if image and channels_last:
            model.to(memory_format=torch.channels_last)
        data = torch.rand(batch, 3, 32, 32) if image else torch.randn(batch, 6, 100)
        policy = IMAGE_VIEWS if image else SERIES_VIEWS
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step():
            z1 = projector(encoder(apply_policy(policy, data, g)))
            z2 = projector(encoder(apply_policy(policy, data, g)))
            loss = nt_xent(z1, z2, 0.5)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step

    if case == "convnet-byol":
        encoder = ConvNet()
        encoder.channels_last = channels_last
        projector = mlp_head(encoder.embedding_size, 512, 128)
        predictor = mlp_head(128, 512, 128)
        online = nn.Sequential(encoder, projector)
        initialize(nn.Sequential(online, predictor))
        if channels_last:
            online.to(memory_format=torch.channels_last)
        target = copy.deepcopy(online)
        for p in target.parameters():
            p.requires_grad_(False)
        data = torch.rand(batch, 3, 32, 32)
        policy = IMAGE_VIEWS + [(solarize, 0.1)]
        optimizer = torch.optim.AdamW(list(online.parameters()) + list(predictor.parameters()), lr=1e-3)

        def step():
            v1, v2 = apply_policy(policy, data, g), apply_policy(policy, data, g)
            with torch.no_grad():
                t1, t2 = target(v1), target(v2)
            p1, p2 = predictor(online(v1)), predictor(online(v2))
            loss = normalized_mse(p1, t2) + normalized_mse(p2, t1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                momentum = 0.99  # the cosine schedule's value at step 0 of 100, as the C# benchmark calls it
                for t, o in zip(target.parameters(), online.parameters()):
                    t.mul_(momentum).add_(o, alpha=1 - momentum)
        return step

    if case == "mlp-scarf":
        encoder = Mlp()
        projector = mlp_head(256, 256, 128)
        model = nn.Sequential(encoder, projector)
        initialize(model)
        data = torch.randn(batch, 28)
        bank = torch.randn(4096, 28)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step():
            anchors = model(data)
            positives = model(apply_policy([(lambda x, gen: scarf_corruption(x, gen, bank), 1.0)], data, g))
            loss = info_nce(anchors, positives, 1.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step

    raise SystemExit(f"unknown case {case!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", required=True, choices=["convnet-simclr", "convnet-byol", "conv1d-simclr", "mlp-scarf"])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--layout", choices=["channels-last", "contiguous"], default="channels-last",
                        help="memory format of the 2-D conv models and their input (PyTorch's fastest on CPU is channels-last)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(7)
    channels_last = args.layout == "channels-last"
    step = build(args.case, args.batch, channels_last, g)
    step()
    step()  # warm-up: allocator and kernel selection, as in the C# benchmark
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(json.dumps({
        "case": args.case, "batch": args.batch, "threads": torch.get_num_threads(),
        "channels_last": channels_last and args.case.startswith("convnet"),
        "step_seconds": times, "median_step_seconds": statistics.median(times), "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
