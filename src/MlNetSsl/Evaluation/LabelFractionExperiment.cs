using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// One stratified draw of labeled rows from a pool: the rows whose labels a candidate may use, and the rest, whose
/// labels it must not use. Row numbers index the pool.
/// </summary>
/// <param name="Fraction">The requested fraction of labeled rows.</param>
/// <param name="Seed">The seed of the draw.</param>
/// <param name="LabeledRows">Pool rows whose labels are revealed, ascending.</param>
/// <param name="UnlabeledRows">The other pool rows, ascending (pool rows without a label are always here).</param>
/// <param name="PoolLabels">The labels of the whole pool (-1 for rows without one); use them for <paramref name="LabeledRows"/> only.</param>
internal sealed record LabelDraw(double Fraction, int Seed, int[] LabeledRows, int[] UnlabeledRows, int[] PoolLabels)
{
    /// <summary>The labels of <see cref="LabeledRows"/>, in the same order.</summary>
    public int[] Labels => LabeledRows.Select(i => PoolLabels[i]).ToArray();

    /// <summary>The pool's labels with every row outside <see cref="LabeledRows"/> set to -1.</summary>
    public int[] MaskedLabels()
    {
        var masked = Enumerable.Repeat(-1, PoolLabels.Length).ToArray();
        foreach (int i in LabeledRows) masked[i] = PoolLabels[i];
        return masked;
    }

    /// <summary>A new dataset (float32 rows) of the labeled rows of <paramref name="pool"/>, with their labels.</summary>
    /// <param name="pool">The pool the draw was made from.</param>
    public SslTensorDataset Labeled(SslTensorDataset pool) => Subset(pool, LabeledRows, Labels);

    /// <summary>A new dataset (float32 rows) of the unlabeled rows of <paramref name="pool"/>, without labels.</summary>
    /// <param name="pool">The pool the draw was made from.</param>
    public SslTensorDataset Unlabeled(SslTensorDataset pool) => Subset(pool, UnlabeledRows, null);

    /// <summary>A new dataset (float32 rows) of the whole pool with <see cref="MaskedLabels"/>: what
    /// <see cref="FineTuner.Train"/> takes to use the unlabeled rest as well.</summary>
    /// <param name="pool">The pool the draw was made from.</param>
    public SslTensorDataset Masked(SslTensorDataset pool) => Subset(pool, Enumerable.Range(0, PoolLabels.Length).ToArray(), MaskedLabels());

    private SslTensorDataset Subset(SslTensorDataset pool, int[] rows, int[]? labels)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (pool.Count != PoolLabels.Length)
            throw new ArgumentException($"The draw was made from a pool of {PoolLabels.Length} rows; this dataset has {pool.Count}.", nameof(pool));
        using var scope = torch.NewDisposeScope();
        Tensor batch = rows.Length == 0
            ? torch.zeros(pool.Shape.BatchShape(0))
            : pool.Batch(torch.tensor(rows.Select(i => (long)i).ToArray()), torch.CPU);
        return new SslTensorDataset(batch.DetachFromDisposeScope(), pool.Shape, labels);
    }
}

/// <summary>A method compared in a label-fraction experiment: it gets a draw and returns a score (for example test accuracy).</summary>
/// <param name="Name">Name in the report.</param>
/// <param name="Evaluate">Trains on the draw's labeled rows (and, if it wants, the unlabeled rest) and returns the score.</param>
internal sealed record LabelFractionCandidate(string Name, Func<LabelDraw, double> Evaluate);

/// <summary>The scores of one candidate at one label fraction, over the seeds.</summary>
/// <param name="Candidate">Candidate name.</param>
/// <param name="Fraction">Label fraction.</param>
/// <param name="LabeledRows">Labeled rows per draw (the same for every seed).</param>
/// <param name="Scores">One score per seed, in seed order.</param>
internal sealed record LabelFractionScore(string Candidate, double Fraction, int LabeledRows, IReadOnlyList<double> Scores)
{
    /// <summary>Mean of <see cref="Scores"/>.</summary>
    public double Mean => Scores.Average();

    /// <summary>Sample standard deviation (n - 1 denominator) of <see cref="Scores"/>; 0 for a single seed.</summary>
    public double StandardDeviation
    {
        get
        {
            if (Scores.Count < 2) return 0;
            double mean = Mean;
            return Math.Sqrt(Scores.Sum(s => (s - mean) * (s - mean)) / (Scores.Count - 1));
        }
    }
}

/// <summary>The outcome of <see cref="LabelFractionExperiment.Run"/>.</summary>
internal sealed class LabelFractionReport
{
    internal LabelFractionReport(IReadOnlyList<LabelFractionScore> scores) => Scores = scores;

    /// <summary>One entry per candidate and fraction, candidates in the order given, fractions ascending.</summary>
    public IReadOnlyList<LabelFractionScore> Scores { get; }

    /// <summary>The entry for <paramref name="candidate"/> at <paramref name="fraction"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such entry.</exception>
    public LabelFractionScore this[string candidate, double fraction] =>
        Scores.FirstOrDefault(s => s.Candidate == candidate && s.Fraction == fraction)
        ?? throw new KeyNotFoundException($"No scores for candidate '{candidate}' at fraction {fraction}.");

    /// <summary>A Markdown table: one row per candidate, one column per fraction, cells "mean ± std" in percent.</summary>
    public string ToMarkdown()
    {
        double[] fractions = Scores.Select(s => s.Fraction).Distinct().Order().ToArray();
        var text = new StringBuilder("| candidate |");
        foreach (double f in fractions)
            text.Append(CultureInfo.InvariantCulture, $" {f:P0} ({Scores.First(s => s.Fraction == f).LabeledRows} labels) |");
        text.AppendLine().Append("|---|").Append(string.Concat(fractions.Select(_ => "---|"))).AppendLine();
        foreach (string candidate in Scores.Select(s => s.Candidate).Distinct())
        {
            text.Append("| ").Append(candidate).Append(" |");
            foreach (double f in fractions)
            {
                LabelFractionScore s = this[candidate, f];
                text.Append(CultureInfo.InvariantCulture, $" {s.Mean * 100:0.0} ± {s.StandardDeviation * 100:0.0} |");
            }
            text.AppendLine();
        }
        return text.ToString();
    }
}

/// <summary>
/// Label-fraction experiments: for each fraction (say 1%, 10%, 100%) and each seed, draw labeled rows from a pool
/// stratified by class, give every candidate the same draw, and report each candidate's mean and standard deviation
/// per fraction. Draws are nested: for one seed, the labeled rows at a smaller fraction are a subset of those at a
/// larger one, so curves compare like with like.
/// </summary>
internal static class LabelFractionExperiment
{
    /// <summary>
    /// A stratified draw of round(<paramref name="fraction"/> x labeled pool rows) labeled rows: each class gets its
    /// share by largest remainder (ties to the smaller class index), but at least
    /// min(<paramref name="minimumPerClass"/>, class size), so the total can exceed the target for tiny fractions.
    /// Which rows of a class are drawn depends only on the seed and the class, not on the fraction.
    /// </summary>
    /// <param name="poolLabels">Labels of the pool rows (0-based; -1 for rows without a label, which are never drawn).</param>
    /// <param name="fraction">Fraction in (0, 1].</param>
    /// <param name="seed">Seed of the draw.</param>
    /// <param name="minimumPerClass">Fewest labeled rows per class. Default 2 (what <see cref="FineTuner"/> needs).</param>
    /// <exception cref="ArgumentException">The pool has no labeled row, or the fraction is outside (0, 1].</exception>
    public static LabelDraw Draw(int[] poolLabels, double fraction, int seed, int minimumPerClass = 2)
    {
        ArgumentNullException.ThrowIfNull(poolLabels);
        if (!(fraction > 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "fraction must be in (0, 1].");
        ArgumentOutOfRangeException.ThrowIfNegative(minimumPerClass);
        var classes = Enumerable.Range(0, poolLabels.Length).Where(i => poolLabels[i] >= 0)
            .GroupBy(i => poolLabels[i]).OrderBy(g => g.Key).Select(g => (Label: g.Key, Rows: g.ToArray())).ToArray();
        int labeledCount = classes.Sum(c => c.Rows.Length);
        if (labeledCount == 0) throw new ArgumentException("The pool has no labeled rows to draw from.", nameof(poolLabels));

        int target = (int)Math.Round(fraction * labeledCount, MidpointRounding.AwayFromZero);
        double[] exact = classes.Select(c => fraction * c.Rows.Length).ToArray();
        int[] quota = exact.Select(e => (int)Math.Floor(e)).ToArray();
        foreach (int c in Enumerable.Range(0, classes.Length).OrderByDescending(c => exact[c] - quota[c]).ThenBy(c => c).Take(Math.Max(0, target - quota.Sum())))
            quota[c]++;
        var labeled = new List<int>();
        for (int c = 0; c < classes.Length; c++)
        {
            int take = Math.Min(classes[c].Rows.Length, Math.Max(quota[c], minimumPerClass));
            labeled.AddRange(Shuffle(classes[c].Rows, seed, classes[c].Label).Take(take));
        }
        labeled.Sort();
        var chosen = labeled.ToHashSet();
        int[] unlabeled = Enumerable.Range(0, poolLabels.Length).Where(i => !chosen.Contains(i)).ToArray();
        return new LabelDraw(fraction, seed, [.. labeled], unlabeled, [.. poolLabels]);
    }

    /// <summary>
    /// Runs every candidate on every (fraction, seed) draw and returns the mean and standard deviation of its scores per
    /// fraction. All candidates see the same draws.
    /// </summary>
    /// <param name="poolLabels">Labels of the pool rows (-1 for rows without one).</param>
    /// <param name="fractions">Label fractions in (0, 1], for example 0.01, 0.1 and 1.</param>
    /// <param name="seeds">Seeds of the draws (at least one; three or more give a useful standard deviation).</param>
    /// <param name="candidates">The methods to compare; names must be distinct.</param>
    /// <param name="minimumPerClass">Fewest labeled rows per class in a draw. Default 2.</param>
    /// <param name="progress">Receives one line per finished run.</param>
    /// <param name="cancellationToken">Checked before every run.</param>
    /// <exception cref="ArgumentException">No fractions, seeds or candidates, or duplicate candidate names.</exception>
    /// <exception cref="InvalidOperationException">A candidate returned NaN.</exception>
    public static LabelFractionReport Run(int[] poolLabels, IReadOnlyList<double> fractions, IReadOnlyList<int> seeds,
        IReadOnlyList<LabelFractionCandidate> candidates, int minimumPerClass = 2, IProgress<string>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(poolLabels);
        ArgumentNullException.ThrowIfNull(fractions);
        ArgumentNullException.ThrowIfNull(seeds);
        ArgumentNullException.ThrowIfNull(candidates);
        if (fractions.Count == 0) throw new ArgumentException("Give at least one fraction.", nameof(fractions));
        if (seeds.Count == 0) throw new ArgumentException("Give at least one seed.", nameof(seeds));
        if (candidates.Count == 0) throw new ArgumentException("Give at least one candidate.", nameof(candidates));
        if (candidates.Select(c => c.Name).Distinct().Count() != candidates.Count)
            throw new ArgumentException("Candidate names must be distinct.", nameof(candidates));

        double[] ordered = fractions.Distinct().Order().ToArray();
        var scores = candidates.ToDictionary(c => c.Name, _ => ordered.ToDictionary(f => f, _ => new List<double>()));
        var sizes = new Dictionary<double, int>();
        foreach (double fraction in ordered)
        {
            foreach (int seed in seeds)
            {
                LabelDraw draw = Draw(poolLabels, fraction, seed, minimumPerClass);
                sizes[fraction] = draw.LabeledRows.Length;
                foreach (LabelFractionCandidate candidate in candidates)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    double score = candidate.Evaluate(draw);
                    if (double.IsNaN(score))
                        throw new InvalidOperationException($"Candidate '{candidate.Name}' returned NaN at fraction {fraction}, seed {seed}.");
                    scores[candidate.Name][fraction].Add(score);
                    progress?.Report(string.Create(CultureInfo.InvariantCulture,
                        $"{candidate.Name}: fraction {fraction:0.###} ({draw.LabeledRows.Length} labels), seed {seed}: {score:0.####}"));
                }
            }
        }
        return new LabelFractionReport(candidates.SelectMany(c => ordered.Select(f =>
            new LabelFractionScore(c.Name, f, sizes[f], scores[c.Name][f].ToArray()))).ToArray());
    }

    /// <summary>A permutation of <paramref name="rows"/> that depends only on (seed, label): Fisher-Yates driven by SplitMix64.</summary>
    private static IEnumerable<int> Shuffle(int[] rows, int seed, int label)
    {
        int[] copy = [.. rows];
        ulong state = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)(label + 1) * 0xD1B54A32D192ED03UL);
        for (int i = copy.Length - 1; i > 0; i--)
        {
            state = unchecked(state + 0x9E3779B97F4A7C15UL);
            ulong z = SeedMixer.Finalize(state);
            int j = (int)(z % (ulong)(i + 1));
            (copy[i], copy[j]) = (copy[j], copy[i]);
        }
        return copy;
    }
}
