namespace MlNetSsl.Cli.Run;

/// <summary>The first two principal components of a set of vectors (power iteration with deflation), for the report's 2-D maps.</summary>
internal static class Pca
{
    public static (float X, float Y)[] Project2D(IReadOnlyList<float[]> rows, int seed)
    {
        int n = rows.Count, d = rows[0].Length;
        var mean = new double[d];
        foreach (float[] row in rows)
            for (int j = 0; j < d; j++) mean[j] += row[j] / (double)n;
        var centred = rows.Select(r => r.Select((v, j) => float.IsFinite(v) ? v - mean[j] : 0).ToArray()).ToArray();
        var first = Component(centred, null, seed);
        var second = Component(centred, first, seed + 1);
        return centred.Select(r => ((float)Dot(r, first), (float)Dot(r, second))).ToArray();
    }

    private static double[] Component(double[][] x, double[]? orthogonalTo, int seed)
    {
        int d = x[0].Length;
        var random = new Random(seed);
        var v = Enumerable.Range(0, d).Select(_ => random.NextDouble() - 0.5).ToArray();
        for (int iteration = 0; iteration < 60; iteration++)
        {
            var next = new double[d];
            foreach (double[] row in x)
            {
                double projection = Dot(row, v);
                for (int j = 0; j < d; j++) next[j] += projection * row[j];
            }
            if (orthogonalTo is not null)
            {
                double overlap = Dot(next, orthogonalTo);
                for (int j = 0; j < d; j++) next[j] -= overlap * orthogonalTo[j];
            }
            double norm = Math.Sqrt(Dot(next, next));
            if (norm < 1e-12) return v;
            for (int j = 0; j < d; j++) v[j] = next[j] / norm;
        }
        return v;
    }

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }
}
