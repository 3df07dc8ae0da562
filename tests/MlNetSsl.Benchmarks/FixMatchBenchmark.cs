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
}
