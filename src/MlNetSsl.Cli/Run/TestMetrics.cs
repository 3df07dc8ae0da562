using System.Globalization;

namespace MlNetSsl.Cli.Run;

/// <summary>The metrics --metric accepts, computed on scored test rows, with a 95% interval.</summary>
internal static class TestMetrics
{
    // The smallest probability log-loss takes (ML.NET's evaluator clamps the same way), so a 0 on the true class costs ln(1e15).
    private const double SmallestProbability = 1e-15;

    public static readonly string[] Names = ["accuracy", "macro-accuracy", "log-loss", "auc", "f1"];

    /// <summary>The name in <see cref="Names"/> that <paramref name="text"/> spells, ignoring case and taking '_' for '-';
    /// null when it spells none.</summary>
    public static string? Canonical(string text) =>
        Names.FirstOrDefault(name => string.Equals(name, text.Trim().Replace('_', '-'), StringComparison.OrdinalIgnoreCase));

    public static bool HigherIsBetter(string metric) => metric != "log-loss";

    /// <summary>One scored row: the true class index (for a class not seen in training, -2 for the first such class, -3
    /// for the second...), the predicted index (-1 if it is not a class of the model) and the scores per class.</summary>
    public readonly record struct Scored(int Actual, int Predicted, float[] Scores);

    /// <summary>
    /// The positive class of AUC and F1, as the search takes it (<c>MetricCalculator.PositiveKey</c> in MlNetSsl.AutoML):
    /// of two classes, the rarer among the labeled training rows, the second on a tie. Index into the class names.
    /// </summary>
    public static int PositiveClass(IReadOnlyList<string> classNames, IReadOnlyDictionary<string, int> trainingCounts) =>
        classNames.Count == 2 && trainingCounts.GetValueOrDefault(classNames[0]) < trainingCounts.GetValueOrDefault(classNames[1]) ? 0 : 1;

    /// <summary>
    /// A note on the log-loss of <paramref name="rows"/>, or null. Above ln(<paramref name="classCount"/>), the log-loss of
    /// giving every class the same probability, a model can rank well (good accuracy) and still be so confidently wrong
    /// on some rows that its scores are worse than no probabilities at all. Rows of a class the model never saw give
    /// their class probability 0 and each add ln(1e15), 34.5, whatever the model's calibration: the note says so and
    /// judges the model on the other rows.
    /// </summary>
    public static string? LogLossNote(IReadOnlyList<Scored> rows, int classCount)
    {
        if (classCount < 2 || rows.Count == 0) return null;
        var known = rows.Where(r => r.Actual >= 0).ToList();
        int unseen = rows.Count - known.Count;
        double uniform = Math.Log(classCount);
        double logLoss = known.Count == 0 ? double.NaN : Compute("log-loss", known, classCount, 0);
        string overconfident = string.Create(CultureInfo.InvariantCulture,
            $"is above {uniform:0.0000}, what giving each of the {classCount} classes the same probability scores: ") +
            "the model is confidently wrong on enough rows that its Score values should not be read as probabilities (the predicted classes can still be right).";
        if (unseen == 0)
            return logLoss > uniform ? string.Create(CultureInfo.InvariantCulture, $"log-loss {logLoss:0.0000} {overconfident}") : null;
        return string.Create(CultureInfo.InvariantCulture,
            $"log-loss counts the {unseen:N0} row(s) of classes the model never saw with probability 0 for their class, {-Math.Log(SmallestProbability):0.0} each; ") +
            (known.Count == 0 ? "no row has a class the model knows."
                : string.Create(CultureInfo.InvariantCulture, $"on the {known.Count:N0} rows of the model's classes it is {logLoss:0.0000}") +
                  (logLoss > uniform ? $", which {overconfident}" : "."));
    }

    /// <summary>The metric on every row. AUC and F1 take class <paramref name="positive"/> as the positive class.</summary>
    public static double Compute(string metric, IReadOnlyList<Scored> rows, int classCount, int positive) => metric switch
    {
        "accuracy" => rows.Count(r => r.Actual == r.Predicted) / (double)rows.Count,
        // Every class of the test rows counts, a class the model never saw with recall 0, as in accuracy.
        "macro-accuracy" => rows.Count == 0 ? double.NaN : rows.GroupBy(r => r.Actual)
            .Average(g => g.Count(r => r.Predicted == r.Actual) / (double)g.Count()),
        "log-loss" => rows.Average(Loss),
        "auc" => Auc(rows, positive),
        "f1" => F1(rows, positive),
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown metric."),
    };

    /// <summary>The metric with a 95% interval: Wilson's score interval for accuracy, a seeded percentile bootstrap
    /// (1,000 resamples, each class's rows resampled within the class, so the interval holds the class counts fixed)
    /// for the others; for macro-accuracy and log-loss, the classes of a single test row are resampled together, each
    /// keeping its place.</summary>
    public static (double Value, double Lower, double Upper) WithInterval(string metric, IReadOnlyList<Scored> rows, int classCount, int positive, int seed)
    {
        double value = Compute(metric, rows, classCount, positive);
        if (metric == "accuracy")
        {
            (double lower, double upper) = Wilson(rows.Count(r => r.Actual == r.Predicted), rows.Count);
            return (value, lower, upper);
        }
        // Resampled within each actual class: the other metrics weigh classes, and a plain bootstrap drops a class of one
        // or two test rows from many resamples. Ecoli's two single-row classes, both wrong, left out that way put
        // macro-accuracy's 0.58 near the bottom of its own interval (0.50 to 0.79).
        var random = new Random(seed);
        var samples = new List<double>();
        var resample = new Scored[rows.Count];
        Scored[][] classes = rows.GroupBy(r => r.Actual).Select(g => g.ToArray()).ToArray();
        // A class of one test row, resampled within itself, drew that row every time: 52 classes of one row each (half
        // right) gave macro-accuracy 0.50 "to 0.50", and log-loss a point too. Those classes are one stratum here: each
        // keeps its place (macro-accuracy weighs it as one class) and takes a row drawn from all of them, its right or
        // wrong and its loss. A class the model never saw stays out of it (its row is wrong whatever is drawn). AUC and F1
        // (two classes) keep the within-class resample.
        Scored[] singles = [.. classes.Where(c => c.Length == 1 && c[0].Actual >= 0).Select(c => c[0])];
        if (singles.Length >= 2 && metric is "macro-accuracy" or "log-loss")
        {
            Scored[][] larger = [.. classes.Where(c => c.Length > 1 || c[0].Actual < 0)];
            for (int b = 0; b < 1000; b++)
            {
                double total = 0;
                foreach (Scored[] members in larger)
                {
                    double sum = 0;
                    for (int i = 0; i < members.Length; i++)
                    {
                        Scored drawn = members[random.Next(members.Length)];
                        sum += metric == "log-loss" ? Loss(drawn) : drawn.Actual == drawn.Predicted ? 1 : 0;
                    }
                    total += metric == "log-loss" ? sum : sum / members.Length;
                }
                for (int i = 0; i < singles.Length; i++)
                {
                    Scored drawn = singles[random.Next(singles.Length)];
                    total += metric == "log-loss" ? Loss(drawn) : drawn.Actual == drawn.Predicted ? 1 : 0;
                }
                samples.Add(total / (metric == "log-loss" ? rows.Count : classes.Length));
            }
            samples.Sort();
            return (value, samples[(int)(0.025 * (samples.Count - 1))], samples[(int)Math.Ceiling(0.975 * (samples.Count - 1))]);
        }
        for (int b = 0; b < 1000; b++)
        {
            int next = 0;
            foreach (Scored[] members in classes)
                for (int i = 0; i < members.Length; i++) resample[next++] = members[random.Next(members.Length)];
            double sample = Compute(metric, resample, classCount, positive);
            if (double.IsFinite(sample)) samples.Add(sample);
        }
        if (samples.Count == 0) return (value, value, value);
        samples.Sort();
        return (value, samples[(int)(0.025 * (samples.Count - 1))], samples[(int)Math.Ceiling(0.975 * (samples.Count - 1))]);
    }

    /// <summary>A row's log-loss: minus the log of its class's probability, 0 for a class the model never saw, clamped
    /// at <see cref="SmallestProbability"/>.</summary>
    private static double Loss(Scored row) =>
        -Math.Log(Math.Clamp(row.Actual >= 0 && row.Actual < row.Scores.Length ? row.Scores[row.Actual] : 0, SmallestProbability, 1));

    public static (double Lower, double Upper) Wilson(int successes, int n)
    {
        if (n == 0) return (0, 1);
        const double z = 1.959963984540054;
        double p = successes / (double)n;
        double denominator = 1 + z * z / n;
        double centre = (p + z * z / (2 * n)) / denominator;
        double half = z * Math.Sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / denominator;
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    private static double Auc(IReadOnlyList<Scored> rows, int positive)
    {
        // Mann-Whitney: the chance a positive row scores above a negative one (ties count half).
        int negative = 1 - positive;
        var positives = rows.Where(r => r.Actual == positive).Select(r => r.Scores[positive]).ToArray();
        var negatives = rows.Where(r => r.Actual == negative).Select(r => r.Scores[positive]).ToArray();
        if (positives.Length == 0 || negatives.Length == 0) return double.NaN;
        double wins = 0;
        foreach (float p in positives)
            foreach (float n in negatives)
                wins += p > n ? 1 : p == n ? 0.5 : 0;
        return wins / ((double)positives.Length * negatives.Length);
    }

    private static double F1(IReadOnlyList<Scored> rows, int positive)
    {
        int truePositive = rows.Count(r => r.Actual == positive && r.Predicted == positive);
        int falsePositive = rows.Count(r => r.Actual != positive && r.Predicted == positive);
        int falseNegative = rows.Count(r => r.Actual == positive && r.Predicted != positive);
        // No positive row and none predicted: 0 / 0, not defined (as the search's F1, and as AUC without both classes);
        // reported as 0 it read as a model that misses every positive.
        if (truePositive + falsePositive + falseNegative == 0) return double.NaN;
        return truePositive == 0 ? 0 : 2.0 * truePositive / (2.0 * truePositive + falsePositive + falseNegative);
    }
}
