using System.Collections.Concurrent;
using System.Globalization;
using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.FineTuning;

/// <summary>
/// Real tabular slices for the fine-tuning tests: the UCI banknote and white-wine tables from <c>tabular/</c>, rows in a
/// fixed shuffled order (the files are sorted by class), features standardized with the whole table's statistics.
/// </summary>
internal static class FineTuneTestData
{
    private static readonly ConcurrentDictionary<string, (float[][] Rows, int[] Labels)> Cache = new();

    /// <summary>Banknote authentication: 4 features, 2 classes, 1,372 rows.</summary>
    public static (float[][] Rows, int[] Labels) Banknote() =>
        Cache.GetOrAdd("banknote", _ => ReadCsv("banknote_authentication.csv", label => (int)label));

    /// <summary>White wine quality: 11 features; quality 3..9 mapped to 3 classes (&lt;= 5, 6, &gt;= 7), 4,898 rows.</summary>
    public static (float[][] Rows, int[] Labels) Wine() =>
        Cache.GetOrAdd("wine", _ => ReadCsv("winequality-white.csv", q => q <= 5 ? 0 : q <= 6 ? 1 : 2));

    /// <summary>Rows <paramref name="start"/> .. start + count of a table as a dataset; <paramref name="labeled"/> false gives -1 labels.</summary>
    public static SslTensorDataset Slice((float[][] Rows, int[] Labels) table, int start, int count, bool labeled = true)
    {
        int features = table.Rows[0].Length;
        var data = new float[count * features];
        for (int i = 0; i < count; i++)
            Array.Copy(table.Rows[start + i], 0, data, i * features, features);
        SslEnvironment.EnsureInitialized();
        int[] labels = labeled ? table.Labels[start..(start + count)] : Enumerable.Repeat(-1, count).ToArray();
        return new SslTensorDataset(torch.tensor(data, new long[] { count, features }), SslInputShape.Tabular(features), labels);
    }

    /// <summary>MNIST digits as a dataset, from the shared test split.</summary>
    public static SslTensorDataset Mnist(int count, int offset, bool labeled = true)
    {
        var (images, labels) = RealData.MnistImages(count, offset);
        return new SslTensorDataset(images, SslInputShape.Image(1, 28, 28), labeled ? labels : null);
    }

    private static (float[][] Rows, int[] Labels) ReadCsv(string file, Func<double, int> label)
    {
        var parsed = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", file))
            .Where(line => line.Trim().Length > 0)
            .Select(line => line.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray())
            .ToArray();
        int features = parsed[0].Length - 1;
        var mean = new double[features];
        var std = new double[features];
        for (int j = 0; j < features; j++)
        {
            mean[j] = parsed.Average(r => r[j]);
            std[j] = Math.Sqrt(Math.Max(parsed.Average(r => (r[j] - mean[j]) * (r[j] - mean[j])), 1e-12));
        }
        // A fixed permutation (Fisher-Yates with a seeded System.Random, stable across .NET versions for a given seed).
        int[] order = Enumerable.Range(0, parsed.Length).ToArray();
        var random = new Random(12345);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int k = random.Next(i + 1);
            (order[i], order[k]) = (order[k], order[i]);
        }
        float[][] rows = order.Select(i => Enumerable.Range(0, features).Select(j => (float)((parsed[i][j] - mean[j]) / std[j])).ToArray()).ToArray();
        int[] labels = order.Select(i => label(parsed[i][features])).ToArray();
        return (rows, labels);
    }
}

/// <summary>
/// Runs libtorch with one intra-op thread until disposed, then restores the previous count. The fine-tuning tests train
/// small models, where a second thread gains little and oversubscribed cores on a shared machine cost a lot (measured:
/// a test that takes 5 s with one thread took minutes with two on a busy 2-core machine). Test classes run one at a
/// time, so this does not affect other tests.
/// </summary>
internal sealed class SingleThreadScope : IDisposable
{
    private readonly int _previous;

    public SingleThreadScope()
    {
        SslEnvironment.EnsureInitialized();
        _previous = torch.get_num_threads();
        torch.set_num_threads(1);
    }

    public void Dispose() => torch.set_num_threads(_previous);
}
