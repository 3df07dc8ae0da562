using System.Text;
using MlNetSsl.Cli.Report;
using MlNetSsl.Tests.Infrastructure;
using SkiaSharp;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// Run reports for the report tests: every section filled, from a seeded generator (the figures are test inputs, not
/// results), with thumbnails drawn here or, when the shared data is present, real CIFAR-10 images and a PCA map of
/// their raw pixels. Also an RFC 4180 reader, independent of the writer, to read leaderboard.csv back.
/// </summary>
internal static class ReportSamples
{
    /// <summary>A class name and a pipeline name that would run script if the report did not escape them.</summary>
    public const string HostileClass = "<script>alert('class')</script>";
    public const string HostilePipeline = "SimCLR \"wide\", <img src=x onerror=alert(1)> + L-BFGS";

    /// <summary>A report with every section filled; <paramref name="hostile"/> puts the names above into it.</summary>
    public static RunReport Full(bool hostile = true, int seed = 7)
    {
        var random = new Random(seed);
        string[] classes = hostile ? ["airplane", "cat, tabby", HostileClass, "ship"] : ["airplane", "automobile", "cat", "ship"];
        return Build(classes, random, i => DrawPng(i, 32), hostile ? HostilePipeline : "SimCLR ConvNet, 15 epochs + L-BFGS", map: null);
    }

    /// <summary>
    /// The example shown in docs/cli-report.md: CIFAR-10 thumbnails and a PCA map of their raw pixels when the shared
    /// data is present (drawn thumbnails otherwise); leaderboard, curves and matrix from the seeded generator.
    /// </summary>
    public static RunReport Example()
    {
        var random = new Random(11);
        string[] classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
        var cifar = CifarFiles(classes, perClass: 30);
        Func<int, byte[]> thumbnail = cifar is null ? i => DrawPng(i, 32) : i => PngOf(cifar[i % cifar.Count].Path);
        EmbeddingMap? map = cifar is null ? null : PixelPcaMap(cifar, labeledPerClass: 6);
        var report = Build(classes, random, thumbnail, "SimCLR ConvNet (width 1.0), 20 epochs + L-BFGS", map);
        return report with
        {
            Name = "ExampleReport",
            Notes =
            [
                "Example report: rendered by the report tests from generated run data (leaderboard, curves, matrix) "
                    + (cifar is null ? "and drawn thumbnails." : "with real CIFAR-10 thumbnails and a PCA map of their raw pixels."),
                .. report.Notes,
            ],
        };
    }

    /// <summary>A report with only the required members: every optional section must be omitted.</summary>
    public static RunReport Minimal() => Full(hostile: false) with
    {
        PretrainingCurve = [],
        Misclassified = [],
        MapBefore = null,
        MapAfter = null,
        AugmentedViews = [],
        LabelCurve = [],
        Notes = [],
        Task = "classification",
        BestNoSslPipeline = null,
        BestNoSslTestMetric = null,
    };

    private static RunReport Build(string[] classes, Random random, Func<int, byte[]> thumbnail, string chosen, EmbeddingMap? map)
    {
        int k = classes.Length;
        string[] methods = ["SimCLR", "BYOL", "VICReg", "Barlow Twins", "MoCo v2"];
        var trials = new List<LeaderboardRow>();
        double clock = 0;
        for (int id = 0; id < 14; id++)
        {
            bool ssl = id % 4 != 3;
            string status = id == 9 ? "Failed" : id % 5 == 4 ? "Pruned" : "Completed";
            double duration = 4 + 20 * random.NextDouble();
            double? metric = status == "Failed" ? null : (ssl ? 0.55 : 0.42) + 0.25 * random.NextDouble();
            string pipeline = ssl ? $"{methods[id % methods.Length]} {(id % 2 == 0 ? "ConvNet" : "ResNet-8")}, {5 + id} epochs + {(id % 3 == 0 ? "LightGBM" : "L-BFGS")}"
                : id % 2 == 0 ? "Raw pixels + L-BFGS" : "Raw pixels + LightGBM";
            trials.Add(new LeaderboardRow(0, id, pipeline, metric, metric is null ? null : 0.01 + 0.03 * random.NextDouble(),
                status == "Pruned" ? 3 : 12, duration, clock, status, ssl,
                new Dictionary<string, string> { ["lr"] = (0.001 * (1 + id)).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture), ["batch"] = "64" }));
            clock += duration;
        }
        // The chosen pipeline is the best completed SSL trial, raised above the others.
        var best = trials.Where(t => t.UsesSsl && t.Status == "Completed").MaxBy(t => t.Metric)!;
        trials[best.TrialId] = best with { Pipeline = chosen, Metric = trials.Max(t => t.Metric ?? 0) + 0.02 };
        var ranked = trials.OrderByDescending(t => t.Metric ?? double.NegativeInfinity).Select((t, i) => t with { Rank = i + 1 }).ToList();

        var confusion = new int[k][];
        for (int a = 0; a < k; a++)
        {
            confusion[a] = new int[k];
            for (int p = 0; p < k; p++) confusion[a][p] = a == p ? 30 + random.Next(15) : random.Next(5);
        }

        var curve = Enumerable.Range(1, 20).Select(e => new EpochPoint(e, 5.5 * Math.Exp(-e / 7.0) + 1.2 + 0.05 * random.NextDouble(),
            e % 5 == 0 ? 0.3 + 0.02 * e + 0.01 * random.NextDouble() : null)).ToList();

        EmbeddingMap Clusters(string title, double spread) => new(title, Enumerable.Range(0, 400).Select(i =>
        {
            int c = i % k;
            double angle = 2 * Math.PI * c / k;
            return new MapPoint((float)(3 * Math.Cos(angle) + spread * Gaussian(random)), (float)(3 * Math.Sin(angle) + spread * Gaussian(random)),
                i < 120 ? classes[c] : null);
        }).ToList());

        var noSsl = ranked.First(t => !t.UsesSsl && t.Metric is not null);
        int testRows = confusion.Sum(row => row.Sum());
        double accuracy = (double)Enumerable.Range(0, k).Sum(i => confusion[i][i]) / testRows;
        double noSslAccuracy = accuracy - 0.12;
        return new RunReport
        {
            Name = "SampleRun",
            CommandLine = "mlnet-ssl image-classification --dataset images --train-time 120 --name SampleRun",
            Task = "image-classification",
            MetricName = "macro-accuracy",
            HigherIsBetter = true,
            ChosenPipeline = chosen,
            TestMetric = Wilson(accuracy, testRows),
            TestSetDescription = "stratified hold-out of 20% of the labeled rows",
            BestNoSslPipeline = noSsl.Pipeline,
            BestNoSslTestMetric = Wilson(noSslAccuracy, testRows),
            Data = new DataHealth(400, 2000, testRows, classes.ToDictionary(c => c, c => 80 + random.Next(40)),
                ["unlabeled/broken.jpg: not an image", $"{classes[0]}/empty.png: empty file"],
                [["cat/001.jpg", "unlabeled/117.jpg"]], ["32x32: 2,499", "64x48: 1"]),
            Leaderboard = ranked,
            PretrainingCurve = curve,
            ClassNames = classes,
            ConfusionMatrix = confusion,
            Misclassified = Enumerable.Range(0, 8).Select(i => new Misclassified(classes[i % k], classes[(i + 1) % k], 0.5 + 0.05 * i,
                $"test/{classes[i % k]}/{i:000}.jpg", thumbnail(i))).ToList(),
            MapBefore = map ?? Clusters("Raw pixels (PCA)", 2.5),
            MapAfter = map is null ? Clusters("SSL embedding (PCA)", 0.8) : null,
            AugmentedViews = Enumerable.Range(0, 3).Select(i => new AugmentedExample($"train/{classes[i % k]}/{i:000}.jpg", thumbnail(100 + i),
                Enumerable.Range(0, 5).Select(v => Augment(thumbnail(100 + i), v)).ToList())).ToList(),
            LabelCurve = new[] { 0.1, 0.25, 0.5, 1.0 }.SelectMany(f => new[]
            {
                new LabelCurvePoint(f, chosen, true, accuracy * (0.8 + 0.2 * Math.Sqrt(f))),
                new LabelCurvePoint(f, noSsl.Pipeline, false, noSslAccuracy * (0.6 + 0.4 * Math.Sqrt(f))),
            }).ToList(),
            Environment = new EnvironmentInfo("0.1.0", "TorchSharp-cpu 0.107.0", "cpu", "2 cores", 2, 42,
                new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero), 118.4,
                new Dictionary<string, double> { ["loading"] = 3.2, ["search"] = 104.9, ["final fit"] = 8.8, ["outputs"] = 1.5 }),
            Notes = ["--train-time defaulted to 120 s from the data size.", "2 unreadable files were skipped."],
        };
    }

    /// <summary>A small PNG with a coloured shape, different for each <paramref name="seed"/>.</summary>
    public static byte[] DrawPng(int seed, int size)
    {
        using var bitmap = new SKBitmap(size, size);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(new SKColor((byte)(40 * seed % 256), 200, (byte)(255 - 30 * seed % 256)));
            using var paint = new SKPaint { Color = new SKColor((byte)(90 * seed % 256), 30, 120), IsAntialias = true };
            canvas.DrawCircle(size * (0.3f + 0.05f * (seed % 8)), size / 2f, size / 3f, paint);
        }
        return Encode(bitmap);
    }

    /// <summary>Reads an RFC 4180 file: fields split on commas outside quotes, "" inside quotes is one quote, records end at CRLF.</summary>
    public static List<List<string>> ReadCsv(string text)
    {
        var records = new List<List<string>>();
        var record = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c != '"') field.Append(c);
                else if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { record.Add(field.ToString()); field.Clear(); }
            else if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                record.Add(field.ToString());
                field.Clear();
                records.Add(record);
                record = [];
                i++;
            }
            else field.Append(c);
        }
        if (field.Length > 0 || record.Count > 0) throw new InvalidDataException("The last record does not end with CRLF.");
        return records;
    }

    // The Wilson score interval of a proportion, 95%.
    private static MetricWithInterval Wilson(double p, int n)
    {
        const double z = 1.96;
        double center = (p + z * z / (2 * n)) / (1 + z * z / n);
        double half = z * Math.Sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / (1 + z * z / n);
        return new MetricWithInterval(p, center - half, center + half);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static List<(string Path, string Label)>? CifarFiles(string[] classes, int perClass)
    {
        if (SharedData.DataRootIfPresent is not string root) return null;
        string folder = Path.Combine(root, "cifar10", "test");
        if (!Directory.Exists(folder)) return null;
        var files = classes.SelectMany(c => Directory.GetFiles(Path.Combine(folder, c), "*.jpg").Order(StringComparer.Ordinal).Take(perClass)
            .Select(f => (f, c))).ToList();
        // Interleave classes so "the first few" covers all of them.
        return files.Select((f, i) => (f, i)).OrderBy(x => x.i % perClass).ThenBy(x => x.i).Select(x => x.f).ToList();
    }

    private static byte[] PngOf(string imageFile)
    {
        using var bitmap = SKBitmap.Decode(imageFile) ?? throw new InvalidDataException($"Cannot decode {imageFile}.");
        return Encode(bitmap);
    }

    // A view as an SSL augmentation might make it: mirrored, cropped and rescaled, or darkened.
    private static byte[] Augment(byte[] png, int variant)
    {
        using var source = SKBitmap.Decode(png);
        int n = source.Width;
        using var view = new SKBitmap(n, n);
        using (var canvas = new SKCanvas(view))
        {
            if (variant % 2 == 1)
            {
                canvas.Translate(n, 0);
                canvas.Scale(-1, 1);
            }
            int crop = variant * n / 12;
            using var paint = new SKPaint
            {
                ColorFilter = variant >= 3 ? SKColorFilter.CreateBlendMode(new SKColor(0, 0, 40, 90), SKBlendMode.SrcOver) : null,
            };
            canvas.DrawBitmap(source, new SKRect(crop, crop, n - crop / 2f, n - crop / 2f), new SKRect(0, 0, n, n), paint);
        }
        return Encode(view);
    }

    private static byte[] Encode(SKBitmap bitmap)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    // The first two principal components of the images' raw pixels (power iteration on the Gram matrix), labels kept
    // for the first labeledPerClass images of each class, the rest drawn as unlabeled.
    private static EmbeddingMap PixelPcaMap(List<(string Path, string Label)> files, int labeledPerClass)
    {
        var rows = files.Select(f =>
        {
            using var bitmap = SKBitmap.Decode(f.Path);
            return bitmap.Pixels.SelectMany(p => new[] { p.Red / 255.0, p.Green / 255.0, p.Blue / 255.0 }).ToArray();
        }).ToArray();
        int n = rows.Length, d = rows[0].Length;
        var mean = new double[d];
        foreach (var row in rows) for (int j = 0; j < d; j++) mean[j] += row[j] / n;
        foreach (var row in rows) for (int j = 0; j < d; j++) row[j] -= mean[j];
        var gram = new double[n, n];
        for (int a = 0; a < n; a++)
            for (int b = a; b < n; b++)
            {
                double s = 0;
                for (int j = 0; j < d; j++) s += rows[a][j] * rows[b][j];
                gram[a, b] = gram[b, a] = s;
            }
        var components = new List<double[]>();
        var rng = new Random(3);
        for (int c = 0; c < 2; c++)
        {
            var v = Enumerable.Range(0, n).Select(_ => rng.NextDouble() - 0.5).ToArray();
            double eigen = 0;
            for (int iteration = 0; iteration < 200; iteration++)
            {
                var next = new double[n];
                for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) next[a] += gram[a, b] * v[b];
                foreach (var u in components)
                {
                    double dot = next.Zip(u).Sum(x => x.First * x.Second);
                    for (int a = 0; a < n; a++) next[a] -= dot * u[a];
                }
                eigen = Math.Sqrt(next.Sum(x => x * x));
                v = next.Select(x => x / eigen).ToArray();
            }
            components.Add(v);
        }
        var seen = new Dictionary<string, int>();
        return new EmbeddingMap("Raw pixels (PCA)", files.Select((f, i) =>
        {
            seen[f.Label] = seen.GetValueOrDefault(f.Label) + 1;
            return new MapPoint((float)components[0][i], (float)components[1][i], seen[f.Label] <= labeledPerClass ? f.Label : null);
        }).ToList());
    }
}
