namespace MlNetSsl.AutoML;

/// <summary>
/// Orders a portfolio from benchmark measurements, greedily by expected value per second (the anytime portfolios of
/// auto-sklearn 2.0 and FLAML's zero-shot configurations, with cost): each step adds the candidate whose mean gain over
/// the datasets, divided by its mean cost given the entries already chosen, is largest. A candidate's value on a dataset
/// is its test metric scaled to [0, 1] between the worst and the best candidate there (so every dataset weighs the same),
/// and its gain is how much it raises that dataset's best so far. Its cost drops to its downstream part once an entry with
/// the same pretraining is in the portfolio (the experiment's pretraining cache reuses that encoder). Candidates that
/// raise no dataset's best come last, with no gain, ordered by mean scaled value per second: a few benchmark datasets
/// cannot rule out that a runner-up wins on other data (raw + SSL features + LightGBM was second on the shared tables
/// and first on two held-out ones).
/// </summary>
internal static class SslPortfolioBuilder
{
    /// <summary>One candidate measured on one dataset.</summary>
    /// <param name="Candidate">The candidate's name.</param>
    /// <param name="Dataset">The dataset's name.</param>
    /// <param name="Value">The test metric, larger is better.</param>
    /// <param name="Seconds">What the trial cost on its own.</param>
    /// <param name="PretrainingSeconds">The part of <paramref name="Seconds"/> spent pretraining (0 without pretraining).</param>
    internal sealed record Measurement(string Candidate, string Dataset, double Value, double Seconds, double PretrainingSeconds);

    /// <summary>A chosen entry with what it added: its mean gain in scaled value, its mean cost at its place in the order.</summary>
    internal sealed record Step(string Candidate, double Gain, double Seconds);

    /// <summary>The order. <paramref name="pretrainingKey"/> names a candidate's pretraining (null: none), so entries
    /// that share one pay for it once.</summary>
    /// <exception cref="ArgumentException">A candidate lacks a measurement on some dataset.</exception>
    public static IReadOnlyList<Step> Order(IReadOnlyList<Measurement> measurements, Func<string, string?> pretrainingKey, double minimumGain = 1e-9)
    {
        string[] datasets = measurements.Select(m => m.Dataset).Distinct().Order(StringComparer.Ordinal).ToArray();
        string[] candidates = measurements.Select(m => m.Candidate).Distinct().ToArray();
        var byKey = measurements.ToDictionary(m => (m.Candidate, m.Dataset));
        foreach (string candidate in candidates)
            foreach (string dataset in datasets)
                if (!byKey.ContainsKey((candidate, dataset)))
                    throw new ArgumentException($"Candidate '{candidate}' has no measurement on dataset '{dataset}'.", nameof(measurements));

        var scaled = new Dictionary<(string, string), double>();
        foreach (string dataset in datasets)
        {
            double low = candidates.Min(c => byKey[(c, dataset)].Value), high = candidates.Max(c => byKey[(c, dataset)].Value);
            foreach (string candidate in candidates)
                scaled[(candidate, dataset)] = high > low ? (byKey[(candidate, dataset)].Value - low) / (high - low) : 1;
        }

        var best = datasets.ToDictionary(d => d, _ => 0.0);
        var paidPretraining = new HashSet<string>(StringComparer.Ordinal);
        var remaining = new List<string>(candidates);
        var order = new List<Step>();
        while (remaining.Count > 0)
        {
            (string Candidate, double Gain, double Seconds, double Ratio)? pick = null;
            foreach (string candidate in remaining)
            {
                double gain = datasets.Average(d => Math.Max(0, scaled[(candidate, d)] - best[d]));
                if (gain <= minimumGain) continue;
                double seconds = datasets.Average(d => Cost(byKey[(candidate, d)], pretrainingKey(candidate)));
                double ratio = gain / Math.Max(seconds, 1e-3);
                // Ties go to the earlier candidate, so the measurement order breaks them deterministically.
                if (pick is null || ratio > pick.Value.Ratio) pick = (candidate, gain, seconds, ratio);
            }
            // Nothing raises a best any more: the rest follow by value per second on their own.
            pick ??= remaining.Select(c => (c, 0.0, datasets.Average(d => Cost(byKey[(c, d)], pretrainingKey(c))), 0.0))
                .Select(p => (p.c, p.Item2, p.Item3, Ratio: datasets.Average(d => scaled[(p.c, d)]) / Math.Max(p.Item3, 1e-3)))
                .OrderByDescending(p => p.Ratio).First();
            (string Candidate, double Gain, double Seconds, double Ratio) chosen = pick.Value;
            order.Add(new Step(chosen.Candidate, chosen.Gain, chosen.Seconds));
            remaining.Remove(chosen.Candidate);
            foreach (string dataset in datasets) best[dataset] = Math.Max(best[dataset], scaled[(chosen.Candidate, dataset)]);
            if (pretrainingKey(chosen.Candidate) is { } key) paidPretraining.Add(key);
        }
        return order;

        double Cost(Measurement m, string? key) => key is not null && paidPretraining.Contains(key) ? Math.Max(0, m.Seconds - m.PretrainingSeconds) : m.Seconds;
    }
}
