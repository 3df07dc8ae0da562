using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.ML;
using MlNetSsl;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// End-to-end pretraining from a JPEG folder against the step-only rate (<c>--jpeg-end-to-end</c>, issue 13): the
/// default image stage (SimCLR, ConvNet, 32x32, batch 256) fitted the way a user fits it, LoadImages over
/// cifar10/train/&lt;class&gt;/*.jpg then SelfSupervised, timed in three parts: the one-off read (JPEG decode into the
/// stage's byte cache), the epochs' wall time, and the whole Fit. In the same process, alternating: the same step on a
/// fixed in-memory batch (the step-only rate, same model, policy, optimizer and gradient clipping as the stage), and
/// the engine's pretrainer on random uint8 rows held in memory (the epochs without ML.NET). Needs the shared CIFAR-10.
/// Usage: dotnet run -c Release --project tests/MlNetSsl.Benchmarks -- --jpeg-end-to-end [--images N] [--epochs E] [--data path]
/// </summary>
internal static class JpegEndToEndBenchmark
{
    private const int Batch = 256;

    public static void Run(string dataRoot, int images, int epochs, int stepOnlySteps)
    {
        string cifar = Path.Combine(dataRoot, "cifar10");
        string[] classes = Directory.GetDirectories(Path.Combine(cifar, "train")).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        int perClass = images / classes.Length;
        var rows = classes.SelectMany(c => Directory.GetFiles(Path.Combine(cifar, "train", c), "*.jpg").Order(StringComparer.Ordinal).Take(perClass)
            .Select(f => new ImageRow { ImagePath = Path.GetRelativePath(cifar, f) })).ToArray();
        Console.WriteLine($"# End-to-end pretraining from JPEG ({SslEnvironment.Describe()}, {Environment.ProcessorCount} logical cores, " +
                          $"libtorch intra-op threads {torch.get_num_threads()})");
        Console.WriteLine($"CPU: {PeerBenchmark.CpuModel()}; load average at start: {PeerBenchmark.LoadAverage()}");
        Console.WriteLine($"{rows.Length} images ({perClass} per class) from cifar10/train, SimCLR, default encoder, batch {Batch}, {epochs} epochs, " +
                          $"{rows.Length / Batch} steps per epoch");
        Console.WriteLine();

        // Alternating, so a change of the host's load shows up as a spread instead of favouring one side.
        var stepOnly = new List<(double Median, double Mean)>();
        void MeasureStepOnly()
        {
            stepOnly.Add(StepOnly(stepOnlySteps));
            Print("step-only", stepOnly[^1]);
        }
        MeasureStepOnly();
        var jpeg = FromJpeg(cifar, rows, epochs);
        MeasureStepOnly();
        var memory = FromMemory(rows.Length, epochs);
        MeasureStepOnly();
        var jpegAgain = FromJpeg(cifar, rows, epochs);
        MeasureStepOnly();

        double stepRate = PeerBenchmark.Median(stepOnly.Select(s => Batch / s.Mean).ToList());
        double stepRateMedian = PeerBenchmark.Median(stepOnly.Select(s => Batch / s.Median).ToList());
        Console.WriteLine();
        Console.WriteLine("| path | one-off read s | epochs s | samples/s over the epochs | vs step-only (mean step) | whole Fit / run s | samples/s over the whole Fit |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        Console.WriteLine($"| step-only (fixed in-memory batch), median of {stepOnly.Count} runs | - | - | {stepRate:0} (median step: {stepRateMedian:0}) | 100 % | - | - |");
        Row("engine, random uint8 rows in memory", memory);
        Row("ML.NET LoadImages + SelfSupervised from JPEG, run 1", jpeg);
        Row("ML.NET LoadImages + SelfSupervised from JPEG, run 2", jpegAgain);
        Console.WriteLine();
        Console.WriteLine($"Load average at the end: {PeerBenchmark.LoadAverage()}");

        void Row(string name, RunTimes t)
        {
            double rate = t.Samples / t.EpochSeconds;
            Console.WriteLine($"| {name} | {(t.ReadSeconds is { } r ? $"{r:0.0}" : "-")} | {t.EpochSeconds:0.0} | {rate:0} | {rate / stepRate:P0} | " +
                              $"{t.TotalSeconds:0.0} | {t.Samples / t.TotalSeconds:0} |");
        }
    }

    private static void Print(string name, (double Median, double Mean) s) =>
        Console.WriteLine($"{name}: median step {s.Median * 1000:0} ms ({Batch / s.Median:0} samples/s), mean {s.Mean * 1000:0} ms ({Batch / s.Mean:0} samples/s)");

    private sealed record RunTimes(double? ReadSeconds, double EpochSeconds, double TotalSeconds, long Samples);

    private static SelfSupervisedOptions StageOptions(int epochs) => new() { Epochs = epochs, BatchSize = Batch, AllowCuda = false, Progress = new StepPrinter() };

    // Prints the wall time of every block of 10 steps, so a slow epoch shows whether all its steps or a few were slow.
    private sealed class StepPrinter : IProgress<SslProgress>
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public void Report(SslProgress value)
        {
            if (value.EpochSummary is not null || value.Step % 10 != 0) return;
            Console.WriteLine($"  steps {value.Step - 9}-{value.Step}: {_clock.Elapsed.TotalMilliseconds / 10:0} ms per step; load {PeerBenchmark.LoadAverage()}");
            _clock.Restart();
        }
    }

    private static RunTimes FromJpeg(string cifar, ImageRow[] rows, int epochs)
    {
        var ml = new MLContext(seed: 1);
        double? readSeconds = null;
        // The stage logs "Read N rows in X s." once the read phase (decode into the byte cache) ends.
        var readPattern = new Regex(@"Read (\d+) rows in ([0-9.]+) s\.");
        ml.Log += (_, e) =>
        {
            var m = readPattern.Match(e.Message);
            if (m.Success) readSeconds = double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        };
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = StageOptions(epochs);
        var clock = Stopwatch.StartNew();
        using var model = ml.Transforms.LoadImages("Image", cifar, nameof(ImageRow.ImagePath))
            .Append(ml.Transforms.SelfSupervised(options))
            .Fit(data).LastTransformer;
        double total = clock.Elapsed.TotalSeconds;
        double epochSeconds = model.History.Sum(h => h.Seconds);
        long samples = (long)epochs * (rows.Length / Batch) * Batch;
        foreach (var h in model.History)
            Console.WriteLine($"JPEG stage, epoch {h.Epoch}: {h.Seconds:0.0} s, {h.SamplesPerSecond:0} samples/s in its steps, loss {h.MeanLoss:0.0000}");
        Console.WriteLine($"JPEG stage: read {readSeconds:0.0} s, epochs {epochSeconds:0.0} s, Fit {total:0.0} s, encoder {model.Encoder.Kind}");
        return new RunTimes(readSeconds, epochSeconds, total, samples);
    }

    private static RunTimes FromMemory(int count, int epochs)
    {
        var options = StageOptions(epochs);
        var (encoder, method) = NewModel(options);
        using var _ = encoder;
        using var __ = method;
        using var generator = new Generator(5);
        using var dataset = new SslTensorDataset(torch.randint(0, 256, [count, 3, 32, 32], ScalarType.Byte, generator: generator), SslInputShape.Image(3, 32, 32));
        var clock = Stopwatch.StartNew();
        SslPretrainingResult result = SslPretrainer.Run(method, dataset, options.ResolveMethod().DefaultAugmentations(dataset.Shape),
            options.ToPretrainingOptions(options.Progress, default));
        double total = clock.Elapsed.TotalSeconds;
        double epochSeconds = result.History.Sum(h => h.Seconds);
        foreach (var h in result.History)
            Console.WriteLine($"in-memory engine, epoch {h.Epoch}: {h.Seconds:0.0} s, {h.SamplesPerSecond:0} samples/s in its steps");
        return new RunTimes(null, epochSeconds, total, (long)epochs * (count / Batch) * Batch);
    }

    private static (SslEncoder, ISslMethod) NewModel(SelfSupervisedOptions options) =>
        SelfSupervisedTransformer.BuildModel(SslInputShape.Image(3, 32, 32), options.ResolveEncoderOptions(), options.ResolveMethod(), options.MethodOptions, options.Seed);

    // The pretrainer's step (views, loss, backward, clipping, optimizer, target update) on one fixed batch: no data path.
    private static (double Median, double Mean) StepOnly(int steps)
    {
        var options = StageOptions(1);
        options.Progress = null;
        var (encoder, method) = NewModel(options);
        using var _ = encoder;
        using var __ = method;
        PretrainingOptions pretraining = options.ToPretrainingOptions(null, default);
        var shape = SslInputShape.Image(3, 32, 32);
        AugmentationPolicy policy = options.ResolveMethod().DefaultAugmentations(shape);
        method.Module.train();
        var parameters = method.TrainableParameters().ToList();
        using var optimizer = TrainingOptimizer.Create(parameters, pretraining);
        using var generator = new Generator(7);
        using Tensor data = torch.rand(shape.BatchShape(Batch), generator: generator);
        double Step(long step)
        {
            using var scope = torch.NewDisposeScope();
            var clock = Stopwatch.StartNew();
            Tensor loss = method.ComputeLoss(data, new ViewGenerator(policy, new AugmentationContext(generator, shape, null)));
            loss.item<float>();
            optimizer.ZeroGrad();
            loss.backward();
            torch.nn.utils.clip_grad_norm_(parameters, pretraining.GradientClipNorm);
            optimizer.Step(1e-3);
            method.AfterOptimizerStep(step, 100);
            return clock.Elapsed.TotalSeconds;
        }
        Step(0); Step(1);
        double[] times = Enumerable.Range(2, steps).Select(s => Step(s)).ToArray();
        return (times.Order().ElementAt(times.Length / 2), times.Average());
    }

    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }
}
