using System.Globalization;
using SkiaSharp;

namespace MlNetSsl.LabelEfficiency;

/// <summary>
/// One dataset of the benchmark as flat float rows: a pool (pretraining rows, from which labels are drawn) and a
/// held-out test set. Loading code adapted from the test project's RealData (test infrastructure is not referencable).
/// </summary>
/// <param name="Name">Dataset name in reports.</param>
/// <param name="Shape">Row shape for the encoder.</param>
/// <param name="PoolRows">Pool rows, row-major, <see cref="SslInputShape.Size"/> floats each.</param>
/// <param name="PoolLabels">Pool labels, 0-based.</param>
/// <param name="TestRows">Test rows.</param>
/// <param name="TestLabels">Test labels.</param>
/// <param name="Description">What was loaded, for the report.</param>
public sealed record BenchmarkData(string Name, SslInputShape Shape, float[] PoolRows, int[] PoolLabels,
    float[] TestRows, int[] TestLabels, string Description)
{
    /// <summary>Number of classes (largest label plus one).</summary>
    public int ClassCount => Math.Max(PoolLabels.Max(), TestLabels.Max()) + 1;

    /// <summary>CIFAR-10: <paramref name="pool"/> training images and <paramref name="test"/> test images, equal per class,
    /// the first files of each class folder by name, pixels in [0, 1].</summary>
    public static BenchmarkData Cifar(string root, int pool, int test)
    {
        var (poolRows, poolLabels) = CifarSplit(root, "train", pool / 10);
        var (testRows, testLabels) = CifarSplit(root, "test", test / 10);
        return new("CIFAR-10", SslInputShape.Image(3, 32, 32), poolRows, poolLabels, testRows, testLabels,
            $"CIFAR-10 subset: pool {poolLabels.Length} training images ({pool / 10} per class), test {testLabels.Length} test images");
    }

    /// <summary>MNIST (the official 10k test split only): pool = the first <paramref name="pool"/> of the first 8,000
    /// images, test = the last <paramref name="test"/> of the last 2,000.</summary>
    public static BenchmarkData Mnist(string root, int pool, int test)
    {
        (byte[] pixels, byte[] labels) = MlNetSsl.TestData.MnistIdxFile.ReadTestSplit(Path.Combine(root, "mnist"));
        pool = Math.Min(pool, 8000);
        test = Math.Min(test, 2000);
        int testStart = labels.Length - test;
        float[] Slice(int start, int count) => Enumerable.Range(start * 784, count * 784).Select(i => pixels[i] / 255f).ToArray();
        return new("MNIST", SslInputShape.Image(1, 28, 28), Slice(0, pool), labels.Take(pool).Select(b => (int)b).ToArray(),
            Slice(testStart, test), labels.Skip(testStart).Select(b => (int)b).ToArray(),
            $"MNIST (official test split): pool = images 0..{pool - 1}, test = images {testStart}..{labels.Length - 1}");
    }

    /// <summary>HIGGS subset: pool = the first <paramref name="pool"/> rows of binary.train, test = binary.test;
    /// columns standardized with the pool's statistics.</summary>
    public static BenchmarkData Higgs(string root, int pool, int test)
    {
        static (float[][] X, int[] Y) Read(string file, int max) => File.ReadLines(file).Where(l => l.Length > 0).Take(max)
            .Select(l => l.Split('\t').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray())
            .Select(v => (v[1..], (int)v[0])).ToArray() is var rows ? (rows.Select(r => r.Item1).ToArray(), rows.Select(r => r.Item2).ToArray()) : default;
        var (trainX, trainY) = Read(Path.Combine(root, "higgs", "binary.train"), pool);
        var (testX, testY) = Read(Path.Combine(root, "higgs", "binary.test"), test);
        int f = trainX[0].Length;
        var mean = new double[f];
        var std = new double[f];
        for (int j = 0; j < f; j++)
        {
            mean[j] = trainX.Average(r => (double)r[j]);
            std[j] = Math.Sqrt(Math.Max(trainX.Average(r => (r[j] - mean[j]) * (r[j] - mean[j])), 1e-12));
        }
        float[] Flatten(float[][] x) => x.SelectMany(r => r.Select((v, j) => (float)((v - mean[j]) / std[j]))).ToArray();
        return new("HIGGS", SslInputShape.Tabular(f), Flatten(trainX), trainY, Flatten(testX), testY,
            $"HIGGS subset: pool = first {trainY.Length} rows of binary.train, test = {testY.Length} rows of binary.test, standardized with pool statistics");
    }

    /// <summary>BasicMotions (UEA): pool = the 40 training series, test = the 40 test series, channels standardized
    /// with the training split's statistics.</summary>
    public static BenchmarkData BasicMotions(string root)
    {
        var (train, trainY, classes) = MlNetSsl.TestData.UeaTsFile.Read(Path.Combine(root, "uea", "BasicMotions_TRAIN.ts"), null);
        var (test, testY, _) = MlNetSsl.TestData.UeaTsFile.Read(Path.Combine(root, "uea", "BasicMotions_TEST.ts"), classes);
        int c = train[0].Length, t = train[0][0].Length;
        Func<IEnumerable<float[][]>, float[]> flatten = StandardizedByChannel(train);
        return new("BasicMotions", SslInputShape.Series(c, t), flatten(train), trainY, flatten(test), testY,
            $"BasicMotions (UEA): pool = {trainY.Length} training series, test = {testY.Length} test series, {c} channels x {t} steps");
    }

    /// <summary>A UEA problem with both of its files pooled and split again (for studies that need a larger test set
    /// than the archive's own split gives): the series shuffled with a fixed seed, the first <paramref name="test"/> are
    /// the test set, the rest the pool; channels standardized with the pool's statistics. Equal-length problems only.</summary>
    public static BenchmarkData UeaResplit(string root, string problem, int test)
    {
        var (train, trainY, classes) = MlNetSsl.TestData.UeaTsFile.Read(Path.Combine(root, "uea", $"{problem}_TRAIN.ts"), null);
        var (other, otherY, _) = MlNetSsl.TestData.UeaTsFile.Read(Path.Combine(root, "uea", $"{problem}_TEST.ts"), classes);
        float[][][] all = [.. train, .. other];
        int[] allY = [.. trainY, .. otherY];
        int c = all[0].Length, t = all[0][0].Length;
        if (all.Any(s => s.Length != c || s.Any(channel => channel.Length != t)))
            throw new ArgumentException($"{problem}: series of unequal length; this study reads equal-length problems only.");
        int[] order = Enumerable.Range(0, all.Length).ToArray();
        new Random(17).Shuffle(order);
        test = Math.Min(test, all.Length / 2);
        int[] testIndex = order[..test], poolIndex = order[test..];
        Func<IEnumerable<float[][]>, float[]> flatten = StandardizedByChannel(poolIndex.Select(i => all[i]).ToArray());
        return new(problem, SslInputShape.Series(c, t), flatten(poolIndex.Select(i => all[i])), poolIndex.Select(i => allY[i]).ToArray(),
            flatten(testIndex.Select(i => all[i])), testIndex.Select(i => allY[i]).ToArray(),
            $"{problem} (UEA, both files pooled and split again with a fixed seed): pool {poolIndex.Length} series, test {testIndex.Length}, {c} channels x {t} steps");
    }

    /// <summary>Flattens series (channel after channel) standardized per channel with the mean and standard deviation of
    /// <paramref name="fitted"/>'s values.</summary>
    private static Func<IEnumerable<float[][]>, float[]> StandardizedByChannel(float[][][] fitted)
    {
        int c = fitted[0].Length;
        var mean = new double[c];
        var std = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            double[] values = fitted.SelectMany(s => s[ch].Select(v => (double)v)).ToArray();
            mean[ch] = values.Average();
            std[ch] = Math.Sqrt(Math.Max(values.Average(v => (v - mean[ch]) * (v - mean[ch])), 1e-12));
        }
        return series => series.SelectMany(s => s.SelectMany((channel, ch) => channel.Select(v => (float)((v - mean[ch]) / std[ch])))).ToArray();
    }

    private static (float[], int[]) CifarSplit(string root, string split, int perClass) =>
        MlNetSsl.TestData.CifarPixels.Load(Path.Combine(root, "cifar10", split), perClass);
}
