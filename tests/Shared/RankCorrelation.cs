// Shared by the AutoML benchmark and the label-efficiency benchmark (linked into both): Spearman's rank correlation,
// which both use to ask whether a cheap signal orders configurations as their accuracy does.
namespace MlNetSsl.TestData;

internal static class RankCorrelation
{
    /// <summary>Spearman's rank correlation of two equally long series (ties share their average rank); NaN for fewer than
    /// 3 pairs or when either series is constant.</summary>
    public static double Spearman(IEnumerable<double> x, IEnumerable<double> y)
    {
        double[] rx = Ranks(x.ToArray()), ry = Ranks(y.ToArray());
        if (rx.Length != ry.Length) throw new ArgumentException($"The series differ in length ({rx.Length} and {ry.Length}).");
        if (rx.Length < 3) return double.NaN;
        double mx = rx.Average(), my = ry.Average();
        double covariance = rx.Zip(ry).Sum(p => (p.First - mx) * (p.Second - my));
        double sx = Math.Sqrt(rx.Sum(v => (v - mx) * (v - mx))), sy = Math.Sqrt(ry.Sum(v => (v - my) * (v - my)));
        return sx == 0 || sy == 0 ? double.NaN : covariance / (sx * sy);
    }

    /// <summary>0-based ranks, ascending; ties share their average rank.</summary>
    public static double[] Ranks(double[] values)
    {
        int[] order = Enumerable.Range(0, values.Length).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Length];
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            while (end + 1 < order.Length && values[order[end + 1]] == values[order[start]]) end++;
            for (int k = start; k <= end; k++) ranks[order[k]] = (start + end) / 2.0;
            start = end + 1;
        }
        return ranks;
    }
}
