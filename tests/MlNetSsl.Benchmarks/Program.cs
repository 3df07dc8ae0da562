using System.Diagnostics;
using System.Globalization;
using MlNetSsl;
using TorchSharp;
using static TorchSharp.torch;

// Pretraining throughput per encoder and method on this machine's CPU: samples per second of a whole training step,
// and the step's nominal FLOPs (FlopCounter: convolutions and linear layers, forward and backward).
// Usage: dotnet run -c Release --project tests/MlNetSsl.Benchmarks [-- --steps N --batch B --threads T --filter TEXT] [-- --profile]
// --filter keeps the rows whose "input encoder method" contains TEXT (for example "ConvNet Byol").
// --profile prints where the time of a ConvNet SimCLR step goes (StepProfile: per-layer GFLOP/s against libtorch's
// fp32 matmul peak measured in the same run) instead of the table.
// --peer [--alternations N] [--python PATH] [--peer-layout channels-last|contiguous] [--peer-malloc default|tuned] runs the same steps in PyTorch
// (peer/ssl_step.py) right after ours, N times alternating, and prints both sides' samples/s and the ratio (PeerBenchmark).
// Prints a Markdown table for docs/benchmarks.md. Data are random tensors of the real input shapes: throughput does
// not depend on pixel values, and the benchmark must run without the shared datasets.
// --stage [--data path/to/shared/data] measures the ML.NET stage's Transform and PredictionEngine instead (StageBenchmark).
if (args.Contains("--stage"))
{
    StageBenchmark.Run(SharedDataArgument());
    return;
}
// --onnx [--data path/to/shared/data] compares the TorchSharp model with its ONNX export under ONNX Runtime (OnnxBenchmark).
if (args.Contains("--onnx"))
{
    OnnxBenchmark.Run(SharedDataArgument());
    return;
}

// --knn key=value ... runs a held-out kNN experiment (random init versus pretrained) on the shared datasets instead; see
// KnnExperiment for the keys.
if (args.Contains("--knn"))
{
    CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
    SslEnvironment.EnsureInitialized();
    KnnExperiment.Run(args);
    return;
}
// The real-data runs print invariant numbers and take --threads.
void PrepareRealDataRun()
{
    CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
    SslEnvironment.EnsureInitialized();
    if (ArgValue("--threads", 0) is > 0 and int threads) torch.set_num_threads(threads);
}

// --jpeg-end-to-end [--images N] [--epochs E] [--steps S] [--data path] times pretraining from the shared CIFAR-10 JPEG
// folder through LoadImages and SelfSupervised against the step-only rate (JpegEndToEndBenchmark).
if (args.Contains("--jpeg-end-to-end"))
{
    PrepareRealDataRun();
    JpegEndToEndBenchmark.Run(SharedDataArgument(), ArgValue("--images", 5000), ArgValue("--epochs", 3), ArgValue("--steps", 8));
    return;
}
int steps = ArgValue("--steps", 6);
// --fixmatch-shapes [--steps N] [--multiple M]: whether FixMatch's changing row count per step costs time (FixMatchBenchmark).
if (args.Contains("--fixmatch-shapes"))
{
    FixMatchBenchmark.Shapes(ArgValue("--steps", 40), ArgValue("--multiple", 32));
    return;
}
// --fixmatch-accuracy [--images N] [--pretrain-epochs P] [--epochs E] [--seeds S] [--data path]: FixMatch on real CIFAR-10 at 10%
// labels after a short SimCLR pretraining, test accuracy and fine-tuning time (FixMatchBenchmark.Accuracy).
if (args.Contains("--fixmatch-accuracy"))
{
    PrepareRealDataRun();
    FixMatchBenchmark.Accuracy(SharedDataArgument(), ArgValue("--images", 3000), ArgValue("--pretrain-epochs", 5), ArgValue("--epochs", 5), ArgValue("--seeds", 1));
    return;
}
// --fixmatch [--steps N] times FixMatch fine-tuning steps instead (FixMatchBenchmark); with --profile, the parts of one step.
if (args.Contains("--fixmatch"))
{
    CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
    SslEnvironment.EnsureInitialized();
    if (ArgValue("--threads", 0) is > 0 and int fixMatchThreads) torch.set_num_threads(fixMatchThreads);
    if (args.Contains("--profile")) FixMatchBenchmark.Profile(ArgValue("--steps", 10));
    else FixMatchBenchmark.Run(ArgValue("--steps", 10));
    return;
}
int batch = ArgValue("--batch", 256);
int threads = ArgValue("--threads", 0);
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
SslEnvironment.EnsureInitialized();
if (threads > 0) torch.set_num_threads(threads);
Console.WriteLine($"# MlNetSsl pretraining throughput ({SslEnvironment.Describe()}, {Environment.ProcessorCount} logical cores, " +
                  $"libtorch intra-op threads {torch.get_num_threads()})");
Console.WriteLine($"CPU: {PeerBenchmark.CpuModel()}; load average at start: {PeerBenchmark.LoadAverage()}");
var cases = new (string Input, SslInputShape Shape, EncoderKind Encoder, SslMethod Method, string? PeerCase)[]
{
    ("CIFAR 32x32x3", SslInputShape.Image(3, 32, 32), EncoderKind.ConvNet, SslMethod.SimClr, "convnet-simclr"),
    ("CIFAR 32x32x3", SslInputShape.Image(3, 32, 32), EncoderKind.ConvNet, SslMethod.Byol, "convnet-byol"),
    ("CIFAR 32x32x3", SslInputShape.Image(3, 32, 32), EncoderKind.ConvNet, SslMethod.BarlowTwins, null),
    ("CIFAR 32x32x3", SslInputShape.Image(3, 32, 32), EncoderKind.ConvNet, SslMethod.MaskedAutoencoder, null),
    ("CIFAR 32x32x3", SslInputShape.Image(3, 32, 32), EncoderKind.ResNet, SslMethod.SimClr, null),
    ("MNIST 28x28x1", SslInputShape.Image(1, 28, 28), EncoderKind.ConvNet, SslMethod.SimClr, null),
    ("HIGGS 28 features", SslInputShape.Tabular(28), EncoderKind.Mlp, SslMethod.Scarf, "mlp-scarf"),
    ("HIGGS 28 features", SslInputShape.Tabular(28), EncoderKind.ResMlp, SslMethod.Vime, null),
    ("BasicMotions 6x100", SslInputShape.Series(6, 100), EncoderKind.Conv1d, SslMethod.SimClr, "conv1d-simclr"),
};
string? filter = ArgString("--filter");
var selected = cases.Where(c => filter is null || $"{c.Input} {c.Encoder} {c.Method}".Contains(filter, StringComparison.OrdinalIgnoreCase)).ToArray();

ISslMethod Create((string Input, SslInputShape Shape, EncoderKind Encoder, SslMethod Method, string? PeerCase) c)
{
    var options = new EncoderOptions { Kind = c.Encoder };
    if (c.Encoder == EncoderKind.ResNet) options.Depth = 10;
    torch.manual_seed(1);
    return SslMethodFactory.Create(c.Method, EncoderFactory.Create(c.Shape, options));
}

if (args.Contains("--peer"))
{
    int alternations = ArgValue("--alternations", 3);
    string layout = ArgString("--peer-layout") ?? "channels-last";
    // default: stock PyTorch; tuned: the peer with glibc's allocator set as MlNetSsl sets it for itself.
    bool tunedMalloc = (ArgString("--peer-malloc") ?? "default") == "tuned";
    var python = PeerBenchmark.FindPython(ArgString("--python"));
    Console.WriteLine(python is { } p ? $"PyTorch: {p.TorchVersion} ({p.Python}), 2-D conv models and inputs {layout}, glibc malloc {(tunedMalloc ? "tuned (GLIBC_TUNABLES=" + PeerBenchmark.TunedMalloc + ")" : "default")}" : "PyTorch: not found, skipped");
    Console.WriteLine($"Each side: median step of {steps} after 2 warm-up steps, ours then PyTorch's, {alternations} alternations, batch {batch}, {torch.get_num_threads()} threads each.");
    Console.WriteLine();
    Console.WriteLine("| input | encoder | method | MlNetSsl samples/s, median (min-max) | PyTorch samples/s, median (min-max) | MlNetSsl / PyTorch |");
    Console.WriteLine("|---|---|---|---|---|---|");
    foreach (var c in selected.Where(c => c.PeerCase is not null))
    {
        var ours = new List<double>();
        var theirs = new List<double>();
        for (int a = 0; a < alternations; a++)
        {
            using (ISslMethod method = Create(c))
                ours.Add(batch / Measure(method, DefaultAugmentations.For(c.Method, c.Shape), c.Shape, batch, steps, detail: false).StepSeconds);
            if (python is { } py)
                theirs.Add(batch / PeerBenchmark.MedianStepSeconds(py.Python, c.PeerCase!, batch, steps, torch.get_num_threads(), layout, tunedMalloc));
        }
        string ratio = theirs.Count == 0 ? "-" : $"{PeerBenchmark.Median(ours) / PeerBenchmark.Median(theirs):0.00}x";
        Console.WriteLine($"| {c.Input} | {c.Encoder} | {c.Method} | {PeerBenchmark.Spread(ours)} | {(python is null ? "not found, skipped" : PeerBenchmark.Spread(theirs))} | {ratio} |");
    }
    Console.WriteLine();
    Console.WriteLine($"Load average at the end: {PeerBenchmark.LoadAverage()}");
    return;
}

if (args.Contains("--profile"))
{
    double peak = MatmulPeakGflops();
    Console.WriteLine($"libtorch fp32 matmul peak (2048x2048, best of 5): {peak:0.0} GFLOP/s");
    Console.WriteLine();
    StepProfile.Run(peak, batch, steps);
    return;
}
Console.WriteLine();
Console.WriteLine("| input | encoder | method | batch | samples/s | step ms, median (best) | nominal GFLOP per step | augmentation in a step | augmentation ms (share of step) |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
foreach (var c in selected)
{
    using ISslMethod method = Create(c);
    AugmentationPolicy policy = DefaultAugmentations.For(c.Method, c.Shape);
    var result = Measure(method, policy, c.Shape, c.Encoder == EncoderKind.ResNet ? Math.Min(batch, 128) : batch, c.Encoder == EncoderKind.ResNet ? Math.Max(3, steps / 2) : steps);
    Console.WriteLine($"| {c.Input} | {c.Encoder} | {c.Method} | {result.Batch} | {result.Batch / result.StepSeconds:0} | " +
                      $"{result.StepSeconds * 1000:0} ({result.BestStepSeconds * 1000:0}) | {result.StepFlops / 1e9:0.00} | " +
                      $"{result.AugmentationWork} | {result.AugmentSeconds * 1000:0.0} ({result.AugmentSeconds / result.StepSeconds:P0}) |");
}
Console.WriteLine();
Console.WriteLine($"Load average at the end: {PeerBenchmark.LoadAverage()}");

// One seeded model's training steps on a fixed random batch: the median and best step time; with detail, also the
// step's nominal FLOPs and the augmentation's own time.
static (int Batch, double StepSeconds, double BestStepSeconds, double StepFlops, string AugmentationWork, double AugmentSeconds) Measure(
    ISslMethod method, AugmentationPolicy policy, SslInputShape shape, int batchSize, int steps, bool detail = true)
{
    method.Module.train();
    var parameters = method.TrainableParameters().ToList();
    using var optimizer = torch.optim.AdamW(parameters, lr: 1e-3);
    using var generator = new Generator(7);
    using var bankScope = torch.NewDisposeScope();
    Tensor data = shape.Kind == SslInputKind.Image ? torch.rand(shape.BatchShape(batchSize)) : torch.randn(shape.BatchShape(batchSize));
    Tensor? bank = shape.Kind == SslInputKind.Tabular ? torch.randn(shape.BatchShape(4096)) : null;
    ViewGenerator Views(AugmentationPolicy p) => new(p, new AugmentationContext(generator, shape, bank));

    double Step()
    {
        using var scope = torch.NewDisposeScope();
        var clock = Stopwatch.StartNew();
        var loss = method.ComputeLoss(data, Views(policy));
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        method.AfterOptimizerStep(0, 100);
        return clock.Elapsed.TotalSeconds;
    }

    if (!detail)
    {
        Step(); Step();
        var stepTimes = Enumerable.Range(0, steps).Select(_ => Step()).OrderBy(t => t).ToArray();
        return (batchSize, stepTimes[stepTimes.Length / 2], stepTimes[0], 0, "", 0);
    }

    // FLOPs of one step, counted once on the same batch and policy (the count does not depend on values); the same
    // pass counts how many views the step makes through the policy (SCARF corrupts one view, MAE and VIME none).
    var counter = new ViewCounter(shape.Kind);
    FlopCount flops = FlopCounter.TrainingStep(method, data, Views(new AugmentationPolicy([.. policy.Steps, new AugmentationStep(counter)])));
    if (flops.UncountedLayers.Count > 0)
        throw new InvalidOperationException($"FLOPs undercounted: {string.Join(", ", flops.UncountedLayers)} never reported a call.");

    Step(); Step(); // warm-up: allocator and kernel selection
    var times = Enumerable.Range(0, steps).Select(_ => Step()).OrderBy(t => t).ToArray();

    // Augmentation cost alone: the policy views a step makes, or the method's own corruption (VIME's mask-and-swap,
    // MAE's patch masks), which runs inside the loss instead of through the policy.
    (string work, Action augment) = method switch
    {
        VimeMethod vime => ("VIME mask-and-swap", (Action)(() => VimeMethod.MaskAndSwap(data, vime.Options.MaskProbability, generator))),
        MaskedAutoencoderMethod mae => ("MAE mask", () => mae.SampleMask(batchSize, generator)),
        _ => ($"{counter.Count} policy view(s)", () =>
        {
            for (int v = 0; v < counter.Count; v++) policy.Apply(data, new AugmentationContext(generator, shape, bank));
        }),
    };
    var augmentTimes = Enumerable.Range(0, steps + 1).Select(_ =>
    {
        using var scope = torch.NewDisposeScope();
        var clock = Stopwatch.StartNew();
        augment();
        return clock.Elapsed.TotalSeconds;
    }).Skip(1).OrderBy(t => t).ToArray();
    return (batchSize, times[times.Length / 2], times[0], flops.TotalFlops, work, augmentTimes[augmentTimes.Length / 2]);
}

static double MatmulPeakGflops()
{
    using var scope = torch.NewDisposeScope();
    const int n = 2048;
    var a = torch.randn(n, n);
    var b = torch.randn(n, n);
    torch.mm(a, b).sum().item<float>();
    double best = double.MaxValue;
    for (int i = 0; i < 5; i++)
    {
        using var inner = torch.NewDisposeScope();
        var clock = Stopwatch.StartNew();
        torch.mm(a, b).sum().item<float>();
        best = Math.Min(best, clock.Elapsed.TotalSeconds);
    }
    return 2.0 * n * n * n / best / 1e9;
}

// --data path/to/shared/data, or ../shared/data beside the repository.
string SharedDataArgument()
{
    int at = Array.IndexOf(args, "--data");
    return at >= 0 && at + 1 < args.Length ? args[at + 1]
        : Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "..", "shared", "data");
}

string? ArgString(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();

int ArgValue(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>A no-op augmentation that counts how many times a policy runs (how many views a step makes).</summary>
internal sealed class ViewCounter(SslInputKind kind) : Augmentation
{
    public int Count { get; private set; }

    public override SslInputKind InputKind => kind;

    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        Count++;
        return batch.clone();
    }
}
