using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Infrastructure;

/// <summary>
/// Comparisons of vectors computed along different numerical paths: another batch size, thread count, process or
/// host. libtorch picks its kernels by instruction set, batch size and thread count, so such results agree only up
/// to float rounding, and rounding grows with the values (activations through an uncalibrated BatchNorm reach the
/// hundreds). These helpers therefore bound the difference of each vector relative to its norm,
/// ||actual - expected|| &lt;= tolerance * ||expected||, instead of element by element in absolute terms.
/// </summary>
internal static class Close
{
    /// <summary>
    /// The bound for the same computation along another kernel path. Float32 rounding is about 1e-7 per operation
    /// and stays near 1e-6 relative through a deep network; a row that depended on the other rows of its batch
    /// (BatchNorm left in training mode, rows mixed up) differs by tens of percent.
    /// </summary>
    public const double AcrossKernels = 1e-3;

    /// <summary>||actual - expected|| / ||expected|| in double precision; 0 when both are zero vectors.</summary>
    public static double RelativeDifference(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double difference = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            difference += d * d;
            norm += (double)expected[i] * expected[i];
        }
        if (norm == 0) return difference == 0 ? 0 : double.PositiveInfinity;
        return Math.Sqrt(difference / norm);
    }

    /// <summary><see cref="RelativeDifference(ReadOnlySpan{float}, ReadOnlySpan{float})"/> of two tensors as flat vectors.</summary>
    public static double RelativeDifference(Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.shape, actual.shape);
        return RelativeDifference(Floats(actual), Floats(expected));
    }

    /// <summary>The largest per-row relative difference of two [N, D] tensors.</summary>
    public static double WorstRowDifference(Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(2, expected.dim());
        return WorstRowDifference(Rows(actual), Rows(expected));
    }

    /// <summary>The largest per-row relative difference of two lists of vectors.</summary>
    public static double WorstRowDifference(IReadOnlyList<float[]> actual, IReadOnlyList<float[]> expected)
    {
        Assert.Equal(expected.Count, actual.Count);
        double worst = 0;
        for (int i = 0; i < expected.Count; i++) worst = Math.Max(worst, RelativeDifference(actual[i], expected[i]));
        return worst;
    }

    /// <summary>Asserts every row of <paramref name="actual"/> is within <paramref name="tolerance"/> (relative to its norm) of <paramref name="expected"/>.</summary>
    public static void RowsEqual(IReadOnlyList<float[]> expected, IReadOnlyList<float[]> actual, double tolerance = AcrossKernels)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            double relative = RelativeDifference(actual[i], expected[i]);
            Assert.True(relative <= tolerance, $"row {i} differs by {relative:G3} of its norm (allowed {tolerance:G3})");
        }
    }

    /// <summary>Asserts every row of two [N, D] tensors agrees within <paramref name="tolerance"/> relative to its norm.</summary>
    public static void RowsEqual(Tensor expected, Tensor actual, double tolerance = AcrossKernels)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(2, expected.dim());
        RowsEqual(Rows(expected), Rows(actual), tolerance);
    }

    private static float[] Floats(Tensor t)
    {
        using var flat = t.detach().to(ScalarType.Float32).cpu().contiguous().reshape(-1);
        return flat.data<float>().ToArray();
    }

    /// <summary>The rows of an [N, D] tensor as float arrays.</summary>
    public static float[][] Rows(Tensor t)
    {
        float[] flat = Floats(t);
        int d = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(i => flat.AsSpan(i * d, d).ToArray()).ToArray();
    }
}
