using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// The ML.NET stage's inference speed: Transform over an IDataView against a direct batched TorchSharp forward of the
/// same encoder on the same rows, and PredictionEngine latency per image. Needs the shared CIFAR-10 and HIGGS data.
/// Usage: dotnet run -c Release --project tests/MlNetSsl.Benchmarks -- --stage [--data path/to/shared/data]
/// </summary>
internal static class StageBenchmark
{
    public static void Run(string dataRoot)
    {
        var ml = new MLContext(seed: 1);
        Console.WriteLine($"# MlNetSsl ML.NET stage inference ({SslEnvironment.Describe()}, {Environment.ProcessorCount} logical cores)");
        Console.WriteLine();
        Console.WriteLine("| input | rows | batch | direct forward rows/s | Transform rows/s | Transform / direct |");
        Console.WriteLine("|---|---|---|---|---|---|");

        // Images: decoded once and cached, so both sides time the stage (pixels to embeddings), not JPEG decoding.
        var images = CifarRows(dataRoot, perClass: 200);
        var loaded = ml.Data.Cache(ml.Transforms.LoadImages("Image", Path.Combine(dataRoot, "cifar10"), "ImagePath")
            .Fit(ml.Data.LoadFromEnumerable(images)).Transform(ml.Data.LoadFromEnumerable(images)));
        using var imageModel = ml.Transforms.SelfSupervised("Features", "Image", SslMethod.SimClr, o => { o.Epochs = 1; o.BatchSize = 256; })
            .Fit(ml.Data.TakeRows(loaded, 512));
        Tensor pixels = PixelsOf(loaded);
        Compare("CIFAR 32x32x3, ConvNet", imageModel, loaded, pixels, x => x);

        var higgs = File.ReadLines(Path.Combine(dataRoot, "higgs", "binary.train")).Where(l => l.Length > 0)
            .Select(l => new HiggsRow { Features = l.Split('\t').Skip(1).Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray() })
            .ToArray();
        var higgsData = ml.Data.LoadFromEnumerable(higgs);
        using var tabularModel = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => { o.Epochs = 1; o.BatchSize = 256; })
            .Fit(higgsData);
        var raw = torch.tensor(higgs.SelectMany(r => r.Features).ToArray(), new long[] { higgs.Length, 28 });
        var mean = raw.mean(new long[] { 0 });
        var deviation = raw.std(0);
        Compare("HIGGS 28 features, Mlp", tabularModel, higgsData, raw, x => (x - mean) / deviation, outputColumn: "Embedding");

        Console.WriteLine();
        Latency(ml, dataRoot, images, imageModel);
    }

    // The direct side gets the same rows already as a tensor and applies the same input scaling, then one forward per batch.
    private static void Compare(string name, SelfSupervisedTransformer model, IDataView data, Tensor raw, Func<Tensor, Tensor> scale,
        string outputColumn = "Features")
    {
        int batch = model.BatchSize;
        long rows = raw.shape[0];
        double direct = Best(() =>
        {
            using var noGrad = torch.no_grad();
            for (long start = 0; start < rows; start += batch)
            {
                using var scope = torch.NewDisposeScope();
                var input = scale(raw.narrow(0, start, Math.Min(batch, rows - start)));
                model.Encoder.forward(input).cpu().data<float>().ToArray();
            }
        });
        double transform = Best(() =>
        {
            var output = model.Transform(data);
            using var cursor = output.GetRowCursor(new[] { output.Schema[outputColumn] });
            var getter = cursor.GetGetter<VBuffer<float>>(output.Schema[outputColumn]);
            VBuffer<float> value = default;
            while (cursor.MoveNext()) getter(ref value);
        });
        Console.WriteLine($"| {name} | {rows} | {batch} | {rows / direct:0} | {rows / transform:0} | {direct / transform:P0} |");
    }

    private static void Latency(MLContext ml, string dataRoot, ImageRow[] images, SelfSupervisedTransformer model)
    {
        var chain = new TransformerChain<ITransformer>(
            ml.Transforms.LoadImages("Image", Path.Combine(dataRoot, "cifar10"), "ImagePath").Fit(ml.Data.LoadFromEnumerable(images)), model);
        using var engine = ml.Model.CreatePredictionEngine<ImageRow, Embedding>(chain, new PredictionEngineOptions { OwnsTransformer = false });
        for (int i = 0; i < 20; i++) engine.Predict(images[i]);
        var times = new List<double>();
        var clock = new Stopwatch();
        foreach (var row in images.Take(500))
        {
            clock.Restart();
            engine.Predict(row);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        Console.WriteLine($"PredictionEngine, one CIFAR image per call (JPEG load + resize + ConvNet forward), 500 calls: " +
                          $"p50 {times[times.Count / 2]:0.00} ms, p95 {times[(int)(times.Count * 0.95)]:0.00} ms, mean {times.Average():0.00} ms");
    }

    private static Tensor PixelsOf(IDataView loaded)
    {
        var images = loaded.GetColumn<MLImage>("Image").ToArray();
        var pixels = new float[images.Length * 3 * 1024];
        for (int i = 0; i < images.Length; i++)
        {
            var source = images[i].Pixels;
            bool bgra = images[i].PixelFormat == MLPixelFormat.Bgra32;
            for (int p = 0; p < 1024; p++)
            {
                pixels[i * 3072 + p] = source[4 * p + (bgra ? 2 : 0)] / 255f;
                pixels[i * 3072 + 1024 + p] = source[4 * p + 1] / 255f;
                pixels[i * 3072 + 2048 + p] = source[4 * p + (bgra ? 0 : 2)] / 255f;
            }
        }
        return torch.tensor(pixels, new long[] { images.Length, 3, 32, 32 });
    }

    // Best of 3 after one warm-up run, in seconds.
    private static double Best(Action action)
    {
        action();
        double best = double.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static ImageRow[] CifarRows(string dataRoot, int perClass) =>
        Directory.GetDirectories(Path.Combine(dataRoot, "cifar10", "train")).Order(StringComparer.Ordinal)
            .SelectMany(dir => Directory.GetFiles(dir, "*.jpg").Order(StringComparer.Ordinal).Take(perClass)
                .Select(file => new ImageRow { ImagePath = Path.GetRelativePath(Path.Combine(dataRoot, "cifar10"), file) }))
            .ToArray();

    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }

    public sealed class HiggsRow
    {
        [VectorType(28)]
        public float[] Features { get; set; } = [];
    }

    public sealed class Embedding
    {
        [VectorType(256)]
        public float[] Features { get; set; } = [];
    }
}
