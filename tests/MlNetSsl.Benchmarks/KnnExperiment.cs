using System.Diagnostics;
using System.Globalization;
using MlNetSsl;
using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// Held-out kNN accuracy of an encoder at random initialization and after pretraining (<c>--knn key=value ...</c>), on
/// the shared datasets: the experiments behind the learning-evidence numbers in docs/benchmarks.md. Unlike the
/// throughput table, this needs <c>../shared/data</c>.
/// </summary>
/// <remarks>
/// Keys (defaults in brackets): method [Byol]; data = cifar | higgs | wine [cifar]; seed [11]; epochs [12]; batch [128];
/// lr [2e-3]; k [20]; every (also report every N epochs) [0]; threads (libtorch intra-op threads) [libtorch's].
/// Encoder: width (WidthMultiplier), emb (EmbeddingSize). Method: bm (BYOL base momentum), temp (SCARF temperature).
/// cifar: per, testper (images per class from train/ and test/) [250, 60].
/// higgs: pretraining and reference rows are the first n [5500] training rows; the held-out queries are the other
/// training rows and the 500 test rows; drop = comma-separated feature columns to leave out; rawknn=1 reports kNN on the
/// raw (standardized) features and stops.
/// wine: white wine quality (3..9, as classes), 80/20 split with a fixed shuffle, standardized with the training part.
/// </remarks>
internal static class KnnExperiment
{
    public static void Run(string[] args)
    {
        var settings = args.Where(a => a.Contains('=')).Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        string Text(string key, string fallback) => settings.TryGetValue(key, out string? value) ? value : fallback;
        double Number(string key, double fallback) => double.Parse(Text(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        int Integer(string key, int fallback) => (int)Number(key, fallback);

        if (settings.ContainsKey("threads")) torch.set_num_threads(Integer("threads", 2));
        using var scope = torch.NewDisposeScope();
        SslMethod kind = Enum.Parse<SslMethod>(Text("method", "Byol"), ignoreCase: true);
        string dataName = Text("data", "cifar");
        var (train, test) = dataName switch
        {
            "cifar" => Cifar(Integer("per", 250), Integer("testper", 60)),
            "higgs" => Higgs(Integer("n", 5500), Text("drop", "")),
            "wine" => Wine(),
            _ => throw new ArgumentException($"Unknown data '{dataName}': use cifar, higgs or wine."),
        };
        using (train)
        using (test)
        {
            Console.WriteLine($"{dataName}: {train.Count} pretraining/reference rows, {test.Count} held-out rows; {string.Join(' ', args)}");
            int k = Integer("k", 20);
            if (settings.ContainsKey("rawknn"))
            {
                Console.WriteLine($"kNN on the raw features (k={k}): {KnnClassifier.Accuracy(train.Slice(0, train.Count, torch.CPU), train.Labels!, test.Slice(0, test.Count, torch.CPU), test.Labels!, k):P1}");
                return;
            }

            int seed = Integer("seed", 11);
            torch.manual_seed(seed);
            var encoderOptions = new EncoderOptions { WidthMultiplier = Number("width", 1), EmbeddingSize = Integer("emb", 0) };
            using SslEncoder encoder = EncoderFactory.Create(train.Shape, encoderOptions);
            double Knn()
            {
                using var knnScope = torch.NewDisposeScope();
                return KnnClassifier.Accuracy(encoder.EmbedAll(train), train.Labels!, encoder.EmbedAll(test), test.Labels!, k);
            }
            Console.WriteLine($"random init: kNN {Knn():P1}");

            SslMethodOptions? methodOptions = kind switch
            {
                SslMethod.Byol => new ByolOptions { BaseMomentum = Number("bm", new ByolOptions().BaseMomentum) },
                SslMethod.Scarf => new ScarfOptions { Temperature = Number("temp", new ScarfOptions().Temperature) },
                _ => null,
            };
            using ISslMethod method = SslMethodFactory.Create(kind, encoder, methodOptions);
            int every = Integer("every", 0);
            var clock = Stopwatch.StartNew();
            var options = new PretrainingOptions
            {
                Epochs = Integer("epochs", 12), BatchSize = Integer("batch", 128), LearningRate = Number("lr", 2e-3), Seed = seed, AllowCuda = false,
                Progress = new Reporter(p =>
                {
                    if (p.EpochSummary is { } epoch && every > 0 && epoch.Epoch % every == 0 && epoch.Epoch < p.TotalEpochs)
                        Console.WriteLine($"  epoch {epoch.Epoch}: loss {epoch.MeanLoss:0.###}, kNN {Knn():P1}");
                }),
            };
            SslPretrainer.Run(method, train, DefaultAugmentations.For(kind, train.Shape), options);
            Console.WriteLine($"pretrained ({options.Epochs} epochs, {options.Epochs * (train.Count / Math.Min(options.BatchSize, train.Count))} steps, {clock.Elapsed.TotalSeconds:0} s): kNN {Knn():P1}");
        }
    }

    private static (SslTensorDataset Train, SslTensorDataset Test) Cifar(int perClass, int testPerClass)
    {
        var (images, labels) = RealData.CifarImages(perClass, "train");
        var (testImages, testLabels) = RealData.CifarImages(testPerClass, "test");
        return (new SslTensorDataset(images, SslInputShape.Image(3, 32, 32), labels), new SslTensorDataset(testImages, SslInputShape.Image(3, 32, 32), testLabels));
    }

    private static (SslTensorDataset Train, SslTensorDataset Test) Higgs(int pretrainingRows, string drop)
    {
        var (rows, labels) = RealData.Higgs(7000, "train");
        var (testRows, testLabels) = RealData.Higgs(500, "test");
        var dropped = drop.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToHashSet();
        Tensor keep = torch.tensor(Enumerable.Range(0, 28).Where(j => !dropped.Contains(j)).Select(j => (long)j).ToArray());
        var shape = SslInputShape.Tabular((int)keep.shape[0]);
        Tensor heldOut = torch.cat([rows.narrow(0, pretrainingRows, rows.shape[0] - pretrainingRows), testRows], 0);
        return (new SslTensorDataset(rows.narrow(0, 0, pretrainingRows).index_select(1, keep), shape, labels[..pretrainingRows]),
                new SslTensorDataset(heldOut.index_select(1, keep), shape, [.. labels[pretrainingRows..], .. testLabels]));
    }

    private static (SslTensorDataset Train, SslTensorDataset Test) Wine()
    {
        float[][] rows = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "winequality-white.csv"))
            .Where(line => line.Length > 0)
            .Select(line => line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray())
            .ToArray();
        var shuffle = new Random(5);
        rows = [.. rows.OrderBy(_ => shuffle.Next())];
        int features = rows[0].Length - 1, testCount = rows.Length / 5;
        float[][] train = rows[testCount..], test = rows[..testCount];
        double[] mean = Enumerable.Range(0, features).Select(j => train.Average(r => (double)r[j])).ToArray();
        double[] std = Enumerable.Range(0, features).Select(j => Math.Sqrt(train.Average(r => (r[j] - mean[j]) * (r[j] - mean[j])))).ToArray();
        SslTensorDataset Make(float[][] part) => new(
            torch.tensor(part.SelectMany(r => Enumerable.Range(0, features).Select(j => (float)((r[j] - mean[j]) / std[j]))).ToArray(), new long[] { part.Length, features }),
            SslInputShape.Tabular(features), part.Select(r => (int)r[features] - 3).ToArray());
        return (Make(train), Make(test));
    }

    private sealed class Reporter(Action<SslProgress> report) : IProgress<SslProgress>
    {
        public void Report(SslProgress value) => report(value);
    }
}
