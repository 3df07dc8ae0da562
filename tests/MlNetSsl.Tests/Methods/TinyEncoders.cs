using System.IO.Compression;
using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Methods;

/// <summary>A small CNN for the method tests (the real encoders live on another branch).</summary>
internal sealed class TinyConvEncoder : SslEncoder
{
    private readonly Sequential body;

    public TinyConvEncoder(SslInputShape shape, int embeddingSize = 32) : base(nameof(TinyConvEncoder), shape)
    {
        EmbeddingSize = embeddingSize;
        body = nn.Sequential(
            ("conv1", nn.Conv2d(shape.Channels, 16, 3, stride: 2, padding: 1)),
            ("bn1", nn.BatchNorm2d(16)),
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(16, 32, 3, stride: 2, padding: 1)),
            ("bn2", nn.BatchNorm2d(32)),
            ("relu2", nn.ReLU()),
            ("pool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(32, embeddingSize)));
        RegisterComponents();
    }

    public override int EmbeddingSize { get; }

    public override EncoderKind Kind => EncoderKind.ConvNet;

    public override Tensor forward(Tensor input) => body.call(input);
}

/// <summary>A small MLP over flattened rows (tabular or series) for the method tests.</summary>
internal sealed class TinyMlpEncoder : SslEncoder
{
    private readonly Sequential body;

    public TinyMlpEncoder(SslInputShape shape, int embeddingSize = 32) : base(nameof(TinyMlpEncoder), shape)
    {
        EmbeddingSize = embeddingSize;
        body = nn.Sequential(
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(shape.Size, 64)),
            ("bn1", nn.BatchNorm1d(64)),
            ("relu1", nn.ReLU()),
            ("fc2", nn.Linear(64, embeddingSize)));
        RegisterComponents();
    }

    public override int EmbeddingSize { get; }

    public override EncoderKind Kind => EncoderKind.Mlp;

    public override Tensor forward(Tensor input) => body.call(input);
}

/// <summary>A one-layer encoder that calls <c>onEvalForward</c> on each forward in eval mode (validation, prediction).</summary>
internal sealed class EvalCountingEncoder : SslEncoder
{
    private readonly TorchSharp.Modules.Linear fc;
    private readonly Action onEvalForward;

    public EvalCountingEncoder(SslInputShape shape, Action onEvalForward) : base(nameof(EvalCountingEncoder), shape)
    {
        fc = nn.Linear(shape.Size, 8);
        this.onEvalForward = onEvalForward;
        RegisterComponents();
    }

    public override int EmbeddingSize => 8;

    public override EncoderKind Kind => EncoderKind.Mlp;

    public override SslEncoder CreateUntrained() => new EvalCountingEncoder(InputShape, onEvalForward);

    public override Tensor forward(Tensor input)
    {
        if (!training) onEvalForward();
        return fc.call(input.flatten(1));
    }
}

/// <summary>Gaussian noise plus a random per-row scale, drawn from the context's generator.</summary>
public sealed class TestNoiseAndScale : Augmentation
{
    private readonly SslInputKind kind;

    public TestNoiseAndScale(SslInputKind kind) => this.kind = kind;

    public double NoiseStd { get; set; } = 0.1;

    public override SslInputKind InputKind => kind;

    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        using var scope = torch.NewDisposeScope();
        long[] rowShape = Enumerable.Repeat(1L, (int)batch.dim()).ToArray();
        rowShape[0] = batch.shape[0];
        Tensor scale = 1 + (torch.rand(rowShape, generator: context.Generator, device: batch.device) - 0.5) * 0.4 * Strength;
        Tensor noise = torch.randn(batch.shape, generator: context.Generator, device: batch.device) * (NoiseStd * Strength);
        return (batch * scale + noise).MoveToOuterDisposeScope();
    }
}

/// <summary>A SCARF-like corruption for tests: a fraction of entries takes the same column's value from another row.</summary>
public sealed class TestColumnSwap : Augmentation
{
    public double Rate { get; set; } = 0.6;

    public override SslInputKind InputKind => SslInputKind.Tabular;

    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        using var scope = torch.NewDisposeScope();
        Tensor replace = torch.rand(batch.shape, generator: context.Generator, device: batch.device) < Rate * Strength;
        Tensor permutation = torch.rand(batch.shape, generator: context.Generator, device: batch.device).argsort(dim: 0);
        return torch.where(replace, batch.gather(0, permutation), batch).MoveToOuterDisposeScope();
    }
}

/// <summary>Real data for the method tests, read once.</summary>
internal static class MethodTestData
{
    private static readonly Lazy<float[]> MnistPixels = new(() =>
    {
        const int count = 256;
        using var file = File.OpenRead(Path.Combine(SharedData.DataRoot, "mnist", "t10k-images-idx3-ubyte.gz"));
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new BinaryReader(gzip);
        byte[] header = reader.ReadBytes(16);
        int BigEndian(int offset) => (header[offset] << 24) | (header[offset + 1] << 16) | (header[offset + 2] << 8) | header[offset + 3];
        if (BigEndian(0) != 2051 || BigEndian(8) != 28 || BigEndian(12) != 28)
            throw new InvalidDataException("Not an MNIST image file.");
        byte[] pixels = reader.ReadBytes(count * 28 * 28);
        return pixels.Select(b => b / 255f).ToArray();
    });

    private static readonly Lazy<float[]> HiggsRows = new(() =>
    {
        var rows = SharedData.ReadHiggs("train", 512);
        int f = rows[0].Features.Length;
        var values = new float[rows.Length * f];
        for (int j = 0; j < f; j++)
        {
            double mean = rows.Average(r => r.Features[j]);
            double std = Math.Sqrt(rows.Average(r => Math.Pow(r.Features[j] - mean, 2)));
            for (int i = 0; i < rows.Length; i++)
                values[i * f + j] = (float)((rows[i].Features[j] - mean) / (std > 0 ? std : 1));
        }
        return values;
    });

    public static SslInputShape MnistShape { get; } = SslInputShape.Image(1, 28, 28);

    public static SslInputShape HiggsShape { get; } = SslInputShape.Tabular(28);

    /// <summary>The first 256 MNIST test images, [256, 1, 28, 28] in [0, 1].</summary>
    public static Tensor Mnist() => torch.tensor(MnistPixels.Value, new long[] { 256, 1, 28, 28 });

    /// <summary>512 HIGGS rows with standardized columns, [512, 28].</summary>
    public static Tensor Higgs() => torch.tensor(HiggsRows.Value, new long[] { 512, 28 });
}

/// <summary>Tensor assertions for the method tests.</summary>
internal static class TensorTestExtensions
{
    /// <summary>Same shape and exactly equal elements.</summary>
    public static bool SameAs(this Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var equal = a.eq(b).all();
        return equal.item<bool>();
    }
}
