using System.Collections.Concurrent;
using System.Globalization;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Infrastructure;

/// <summary>
/// Small, deterministic slices of the shared real datasets as tensors, in the layouts the engine expects.
/// Decoded arrays are cached per process, so many tests can ask for the same slice cheaply; every call returns a
/// fresh tensor the caller owns (dispose it, or create it inside a dispose scope).
/// </summary>
internal static class RealData
{
    private static readonly ConcurrentDictionary<string, object> Cache = new();

    /// <summary>CIFAR-10 images [N, 3, 32, 32] in [0, 1], the first <paramref name="perClass"/> files of each class by
    /// name, classes in alphabetical order (label = class index), rows grouped by class.</summary>
    public static (Tensor Images, int[] Labels) CifarImages(int perClass, string split = "train")
    {
        var (pixels, labels) = ((float[], int[]))Cache.GetOrAdd($"cifar:{split}:{perClass}", _ => LoadCifar(perClass, split));
        SslEnvironment.EnsureInitialized();
        return (torch.tensor(pixels, new long[] { labels.Length, 3, 32, 32 }), labels);
    }

    /// <summary>MNIST test-split digits [N, 1, 28, 28] in [0, 1], rows <paramref name="offset"/> onwards.</summary>
    public static (Tensor Images, int[] Labels) MnistImages(int count, int offset = 0)
    {
        var (pixels, labels) = ((byte[], byte[]))Cache.GetOrAdd("mnist", _ => LoadMnist());
        if (offset < 0 || count < 0 || offset + count > labels.Length)
            throw new ArgumentOutOfRangeException(nameof(count), $"MNIST here has {labels.Length} images.");
        var data = new float[count * 784];
        for (int i = 0; i < data.Length; i++) data[i] = pixels[offset * 784 + i] / 255f;
        SslEnvironment.EnsureInitialized();
        return (torch.tensor(data, new long[] { count, 1, 28, 28 }), labels.Skip(offset).Take(count).Select(b => (int)b).ToArray());
    }

    /// <summary>HIGGS rows [N, 28], standardized with the training split's column means and deviations; labels 0/1.</summary>
    public static (Tensor Features, int[] Labels) Higgs(int count, string split = "train")
    {
        var (mean, std) = ((float[], float[]))Cache.GetOrAdd("higgs:stats", _ =>
        {
            var rows = SharedData.ReadHiggs("train", int.MaxValue);
            return ColumnStats(rows.Select(r => r.Features).ToArray());
        });
        var selected = SharedData.ReadHiggs(split, count);
        var data = new float[selected.Length * 28];
        for (int i = 0; i < selected.Length; i++)
            for (int j = 0; j < 28; j++)
                data[i * 28 + j] = (selected[i].Features[j] - mean[j]) / std[j];
        SslEnvironment.EnsureInitialized();
        return (torch.tensor(data, new long[] { selected.Length, 28 }), selected.Select(r => (int)r.Label).ToArray());
    }

    /// <summary>BasicMotions [N, 6, 100], each channel standardized with the training split's statistics; labels are
    /// indexes into the header's class list.</summary>
    public static (Tensor Series, int[] Labels) BasicMotions(string split = "train") => Uea("BasicMotions", split);

    /// <summary>A UEA problem from <c>uea/</c> (BasicMotions 6x100, GunPoint 1x150, ItalyPowerDemand 1x24) as
    /// [N, C, T], each channel standardized with the training split's statistics.</summary>
    public static (Tensor Series, int[] Labels) Uea(string problem, string split = "train")
    {
        var train = ((float[,,], int[]))Cache.GetOrAdd($"uea:{problem}:TRAIN", _ => ReadTs(problem, "TRAIN"));
        var data = split.Equals("train", StringComparison.OrdinalIgnoreCase) ? train
            : ((float[,,], int[]))Cache.GetOrAdd($"uea:{problem}:TEST", _ => ReadTs(problem, "TEST"));
        float[,,] reference = train.Item1, values = data.Item1;
        int n = values.GetLength(0), c = values.GetLength(1), t = values.GetLength(2);
        var flat = new float[n * c * t];
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0, sq = 0;
            int m = reference.GetLength(0) * t;
            for (int i = 0; i < reference.GetLength(0); i++)
                for (int k = 0; k < t; k++) { sum += reference[i, ch, k]; sq += reference[i, ch, k] * (double)reference[i, ch, k]; }
            double mean = sum / m, std = Math.Sqrt(Math.Max(sq / m - mean * mean, 1e-12));
            for (int i = 0; i < n; i++)
                for (int k = 0; k < t; k++)
                    flat[(i * c + ch) * t + k] = (float)((values[i, ch, k] - mean) / std);
        }
        SslEnvironment.EnsureInitialized();
        return (torch.tensor(flat, new long[] { n, c, t }), data.Item2);
    }

    private static (float[], int[]) LoadCifar(int perClass, string split) =>
        MlNetSsl.TestData.CifarPixels.Load(Path.Combine(SharedData.DataRoot, "cifar10", split), perClass);

    private static (byte[], byte[]) LoadMnist() => MlNetSsl.TestData.MnistIdxFile.ReadTestSplit(Path.Combine(SharedData.DataRoot, "mnist"));

    private static (float[,,], int[]) ReadTs(string problem, string split)
    {
        var (series, labels, _) = MlNetSsl.TestData.UeaTsFile.Read(Path.Combine(SharedData.DataRoot, "uea", $"{problem}_{split}.ts"), null);
        int c = series[0].Length, t = series[0][0].Length;
        var values = new float[series.Length, c, t];
        for (int i = 0; i < series.Length; i++)
            for (int ch = 0; ch < c; ch++)
                for (int k = 0; k < t; k++)
                    values[i, ch, k] = series[i][ch][k];
        return (values, labels);
    }

    private static (float[], float[]) ColumnStats(float[][] rows)
    {
        int f = rows[0].Length;
        var mean = new float[f];
        var std = new float[f];
        for (int j = 0; j < f; j++)
        {
            double m = rows.Average(r => (double)r[j]);
            double v = rows.Average(r => (r[j] - m) * (r[j] - m));
            mean[j] = (float)m;
            std[j] = (float)Math.Sqrt(Math.Max(v, 1e-12));
        }
        return (mean, std);
    }
}
