using System.Diagnostics;
using MlNetSsl;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// FixMatch fine-tuning speed (<c>--fixmatch</c>): the ConvNet classifier on CIFAR-shaped rows at 10% labels (1,000
/// labeled, 9,000 unlabeled), the default FixMatch settings (batch 64, three unlabeled rows per labeled row, weak and
/// strong views), a fixed number of optimizer steps in one epoch. Random pixels: speed does not depend on values.
/// Prints the step time and the epoch's losses; the losses let two builds or settings be checked for identical
/// arithmetic (run once with <c>MLNETSSL_MALLOC_TUNING=off</c> for the allocator's share).
/// Usage: dotnet run -c Release --project tests/MlNetSsl.Benchmarks -- --fixmatch [--steps N]
/// </summary>
internal static class FixMatchBenchmark
{
    public static void Run(int steps)
    {
        var shape = SslInputShape.Image(3, 32, 32);
        torch.manual_seed(1);
        using var generator = new Generator(3);
        const int Rows = 10_000, Labeled = 1_000;
        Tensor pixels = torch.rand([Rows, 3, 32, 32], generator: generator);
        int[] labels = Enumerable.Range(0, Rows).Select(i => i < Labeled ? i % 10 : -1).ToArray();
        var data = new SslTensorDataset(pixels, shape, labels);
        using SslEncoder encoder = EncoderFactory.Create(shape, new EncoderOptions { Kind = EncoderKind.ConvNet });
        var options = new FineTuneOptions
        {
            Epochs = 2, StepsPerEpoch = steps, SemiSupervised = new SemiSupervisedOptions(), AllowCuda = false,
        };
        var clock = Stopwatch.StartNew();
        FineTuneResult result = FineTuner.Train(encoder, data, options);
        using SslClassifier classifier = result.Classifier;
        double total = clock.Elapsed.TotalSeconds;
        int rowsPerStep = options.BatchSize * (1 + 2 * options.SemiSupervised.UnlabeledRatio);
        Console.WriteLine($"FixMatch fine-tuning, ConvNet on CIFAR-shaped rows ({Labeled} labeled, {Rows - Labeled} unlabeled), batch {options.BatchSize} " +
                          $"+ {options.BatchSize * options.SemiSupervised.UnlabeledRatio} unlabeled (weak and strong views), {steps} steps per epoch, {torch.get_num_threads()} threads");
        foreach (var epoch in result.History)
            Console.WriteLine($"epoch {epoch.Epoch}: {epoch.Seconds:0.0} s, {epoch.Seconds / steps * 1000:0} ms per step " +
                              $"({rowsPerStep * steps / epoch.Seconds:0} images/s through the network), train loss {epoch.TrainLoss:R}");
        Console.WriteLine($"whole call: {total:0.0} s");
    }

    /// <summary>
    /// Where a FixMatch step's time goes (<c>--fixmatch --profile</c>): the step of StageRunner taken apart, each part
    /// timed in wall and process CPU time (CPU time is steadier on a shared host), median over the steps.
    /// </summary>
    public static void Profile(int steps)
    {
        var shape = SslInputShape.Image(3, 32, 32);
        torch.manual_seed(1);
        using var generator = new Generator(3);
        Tensor pixels = torch.rand([4096, 3, 32, 32], generator: generator);
        using SslEncoder encoder = EncoderFactory.Create(shape, new EncoderOptions { Kind = EncoderKind.ConvNet });
        using var model = new SslClassifier(encoder, new ClassifierHeadLayout(encoder.EmbeddingSize, [], 10));
        model.train();
        var parameters = model.parameters().ToList();
        using var optimizer = torch.optim.AdamW(parameters, lr: 1e-3);
        AugmentationPolicy weakPolicy = FineTuneAugmentations.Weak(shape), strongPolicy = FineTuneAugmentations.Strong(shape);
        var context = new AugmentationContext(generator, shape, null);
        var loss = new FixMatchLoss(0.95, 1);
        const int Batch = 64, Unlabeled = 192;
        var parts = new Dictionary<string, List<(double Wall, double Cpu)>>();
        var process = System.Diagnostics.Process.GetCurrentProcess();
        T Time<T>(string name, Func<T> f)
        {
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            T result = f();
            double wall = clock.Elapsed.TotalMilliseconds;
            process.Refresh();
            (parts.TryGetValue(name, out var list) ? list : parts[name] = []).Add((wall, (process.TotalProcessorTime - cpu0).TotalMilliseconds));
            return result;
        }
        for (int s = 0; s < steps + 2; s++)
        {
            using var scope = torch.NewDisposeScope();
            var clock = Stopwatch.StartNew();
            Tensor index = torch.randint(0, 4096, [Batch + Unlabeled], generator: generator);
            Tensor x = Time("labeled rows: gather + weak view (64)", () => weakPolicy.Apply(pixels.index_select(0, index.narrow(0, 0, Batch)), context));
            Tensor y = torch.randint(0, 10, [Batch], generator: generator);
            Tensor u = pixels.index_select(0, index.narrow(0, Batch, Unlabeled));
            Tensor weak = Time("unlabeled weak view (192)", () => weakPolicy.Apply(u, context));
            Tensor strong = Time("unlabeled strong view (192)", () => strongPolicy.Apply(u, context));
            Tensor weakLogits = Time("weak forward, no_grad (192)", () => { using (torch.no_grad()) { var l = model.forward(weak); l.sum().item<float>(); return l; } });
            Tensor logits = Time("labeled + strong forward (256)", () => { var l = model.forward(torch.cat([x, strong], 0)); l.sum().item<float>(); return l; });
            var terms = Time("FixMatch loss", () => { var t = loss.Compute(logits.narrow(0, 0, Batch), y, weakLogits, logits.narrow(0, Batch, Unlabeled)); t.Total.item<float>(); return t; });
            Time("backward", () => { optimizer.zero_grad(); terms.Total.backward(); return 0; });
            Time("clip + AdamW", () => { nn.utils.clip_grad_norm_(parameters, 5.0); optimizer.step(); return 0; });
            (parts.TryGetValue("whole step", out var w) ? w : parts["whole step"] = []).Add((clock.Elapsed.TotalMilliseconds, 0));
            if (s < 2) foreach (var list in parts.Values) list.Clear();
        }
        Console.WriteLine($"FixMatch step profile, ConvNet classifier, batch {Batch} + {Unlabeled} unlabeled, {torch.get_num_threads()} threads, median of {steps} steps");
        Console.WriteLine($"CPU: {PeerBenchmark.CpuModel()}; load average: {PeerBenchmark.LoadAverage()}");
        Console.WriteLine("| part | wall ms | process CPU ms |");
        Console.WriteLine("|---|---|---|");
        foreach (var (name, list) in parts)
            Console.WriteLine($"| {name} | {Median(list.Select(t => t.Wall))} | {(name == "whole step" ? "-" : Median(list.Select(t => t.Cpu)))} |");
        static string Median(IEnumerable<double> values) { var v = values.Order().ToArray(); return $"{v[v.Length / 2]:0}"; }
    }

    /// <summary>
    /// Whether the batch's row count changing from step to step costs time (<c>--fixmatch-shapes</c>): the trained pass
    /// of a FixMatch step (the labeled rows plus the accepted strong views) has a different row count at almost every
    /// step, and oneDNN builds its kernels per shape. Times the ConvNet classifier's forward, backward and AdamW step at
    /// one fixed row count, at row counts drawn from 64-256 (as FixMatch's trained pass has them), and at the same draws
    /// rounded up to a multiple of <paramref name="multiple"/>, and at 64 and 256 rows for the cost per row by batch
    /// size; median and mean per step, after 2 warm-up steps.
    /// </summary>
    public static void Shapes(int steps, int multiple)
    {
        var shape = SslInputShape.Image(3, 32, 32);
        torch.manual_seed(1);
        using var generator = new Generator(3);
        Tensor pixels = torch.rand([256, 3, 32, 32], generator: generator);
        Tensor labels = torch.randint(0, 10, [256], generator: generator);
        var draws = new Random(5);
        int[] counts = [.. Enumerable.Range(0, steps + 2).Select(_ => draws.Next(64, 257))];
        var plans = new (string Name, Func<int, int> Rows)[]
        {
            ("fixed 64 rows", _ => 64),
            ("fixed 160 rows", _ => 160),
            ("fixed 256 rows", _ => 256),
            ("drawn from 64-256", n => n),
            ($"drawn, rounded up to a multiple of {multiple}", n => Math.Min(256, (n + multiple - 1) / multiple * multiple)),
        };
        Console.WriteLine($"Trained pass of a FixMatch step, ConvNet classifier, CIFAR shapes, {torch.get_num_threads()} threads, {steps} steps after 2 warm-up steps");
        Console.WriteLine($"CPU: {PeerBenchmark.CpuModel()}; load average: {PeerBenchmark.LoadAverage()}");
        Console.WriteLine("| row counts | rows per step, mean | ms per step, median | ms per step, mean | ms per row, mean |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (name, rowsOf) in plans)
        {
            using SslEncoder encoder = EncoderFactory.Create(shape, new EncoderOptions { Kind = EncoderKind.ConvNet });
            using var model = new SslClassifier(encoder, new ClassifierHeadLayout(encoder.EmbeddingSize, [], 10));
            model.train();
            using var optimizer = torch.optim.AdamW(model.parameters(), lr: 1e-3);
            var times = new List<double>();
            long rowsSeen = 0;
            for (int s = 0; s < counts.Length; s++)
            {
                int rows = rowsOf(counts[s]);
                using var scope = torch.NewDisposeScope();
                var clock = Stopwatch.StartNew();
                Tensor loss = nn.functional.cross_entropy(model.forward(pixels.narrow(0, 0, rows)), labels.narrow(0, 0, rows));
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
                loss.item<float>();
                if (s >= 2) { times.Add(clock.Elapsed.TotalMilliseconds); rowsSeen += rows; }
            }
            double[] sorted = [.. times.Order()];
            Console.WriteLine($"| {name} | {rowsSeen / (double)times.Count:0} | {sorted[sorted.Length / 2]:0} | {times.Average():0} | {times.Sum() / rowsSeen:0.00} |");
        }
    }

    /// <summary>
    /// FixMatch on real CIFAR-10 (<c>--fixmatch-accuracy</c>): a short SimCLR pretraining on <paramref name="images"/>
    /// training images, then FixMatch fine-tuning with one label in ten (the rest unlabeled), seed 1, and the test
    /// accuracy on 1,000 test images; prints the fine-tuning time and the per-epoch losses, so two builds can be
    /// compared for speed, accuracy and identical arithmetic.
    /// Usage: --fixmatch-accuracy [--images N] [--pretrain-epochs P] [--epochs E] [--data path]
    /// </summary>
    public static void Accuracy(string dataRoot, int images, int pretrainEpochs, int epochs, int seeds = 1)
    {
        var shape = SslInputShape.Image(3, 32, 32);
        string cifar = Path.Combine(dataRoot, "cifar10");
        var (trainPixels, trainLabels) = MlNetSsl.TestData.CifarPixels.Load(Path.Combine(cifar, "train"), images / 10);
        var (testPixels, testLabels) = MlNetSsl.TestData.CifarPixels.Load(Path.Combine(cifar, "test"), 100);
        using var train = new SslTensorDataset(torch.tensor(trainPixels, [trainLabels.Length, 3, 32, 32]), shape);
        using var test = new SslTensorDataset(torch.tensor(testPixels, [testLabels.Length, 3, 32, 32]), shape, testLabels);
        var stage = new SelfSupervisedOptions { Epochs = pretrainEpochs, BatchSize = 256, AllowCuda = false };
        var (encoder, method) = SelfSupervisedTransformer.BuildModel(shape, stage.ResolveEncoderOptions(), stage.ResolveMethod(), null, stage.Seed);
        using var _ = encoder;
        using var __ = method;
        var clock = Stopwatch.StartNew();
        SslPretrainer.Run(method, train, stage.ResolveMethod().DefaultAugmentations(shape), stage.ToPretrainingOptions(null, default));
        double pretrainSeconds = clock.Elapsed.TotalSeconds;
        // One label in ten per class (rows are grouped by class), the others unlabeled.
        int[] labels = trainLabels.Select((l, i) => i % 10 == 0 ? l : -1).ToArray();
        using var labeled = new SslTensorDataset(torch.tensor(trainPixels, [trainLabels.Length, 3, 32, 32]), shape, labels);
        Console.WriteLine($"FixMatch accuracy run: {trainLabels.Length} CIFAR-10 training images ({labels.Count(l => l >= 0)} labeled), SimCLR {pretrainEpochs} epochs " +
                          $"({pretrainSeconds:0} s), FixMatch {epochs} epochs, {torch.get_num_threads()} threads");
        Console.WriteLine($"CPU: {PeerBenchmark.CpuModel()}; load average: {PeerBenchmark.LoadAverage()}");
        // Fine-tuning copies the encoder, so every seed starts from the same pretrained weights.
        for (int seed = 1; seed <= seeds; seed++)
        {
            var options = new FineTuneOptions { Epochs = epochs, SemiSupervised = new SemiSupervisedOptions(), AllowCuda = false, Seed = seed };
            clock.Restart();
            FineTuneResult result = FineTuner.Train(encoder, labeled, options);
            double fineTuneSeconds = clock.Elapsed.TotalSeconds;
            using SslClassifier classifier = result.Classifier;
            double accuracy = classifier.Accuracy(test);
            foreach (var epoch in result.History)
                Console.WriteLine($"seed {seed}, epoch {epoch.Epoch}: {epoch.Seconds:0.0} s, train loss {epoch.TrainLoss:R}, pseudo-labels accepted {epoch.PseudoLabelsAccepted}/{epoch.PseudoLabelsConsidered}");
            Console.WriteLine($"seed {seed}, fine-tuning: {fineTuneSeconds:0.0} s; test accuracy on {testLabels.Length} images: {accuracy * 100:0.00} %; load average: {PeerBenchmark.LoadAverage()}");
        }
    }
}
