// What a training command hands to the report writer: plain data, computed once by the run and rendered by
// ReportWriter into one self-contained report.html. The run fills what applies to its task; lists may be empty and
// nullable members null (the report then omits that section and says why).
using System.Globalization;

namespace MlNetSsl.Cli.Report;

/// <summary>Everything report.html shows about one run.</summary>
internal sealed record RunReport
{
    /// <summary>The run's name (--name) and the command that started it, as typed.</summary>
    public required string Name { get; init; }
    public required string CommandLine { get; init; }

    /// <summary>"image-classification", "classification" or "series-classification".</summary>
    public required string Task { get; init; }

    /// <summary>The metric the search optimised (accuracy, macro-accuracy, log-loss, auc, f1) and whether higher is better.</summary>
    public required string MetricName { get; init; }
    public required bool HigherIsBetter { get; init; }

    /// <summary>The trials were scored by the label-free objective (too few labels to cross-validate): the leaderboard's
    /// metric is a score of the embeddings, not a validation <see cref="MetricName"/>.</summary>
    public bool LeaderboardIsLabelFree { get; init; }

    /// <summary>The chosen pipeline in words, its test metric with a 95% interval, and where the test rows came from
    /// ("--test-dataset <file>" or "stratified hold-out of 20% of the labeled rows").</summary>
    public required string ChosenPipeline { get; init; }
    public required MetricWithInterval TestMetric { get; init; }
    public required string TestSetDescription { get; init; }

    /// <summary>The best pipeline without SSL and its test metric, for comparison; null when the search tried none.</summary>
    public string? BestNoSslPipeline { get; init; }
    public MetricWithInterval? BestNoSslTestMetric { get; init; }

    public required DataHealth Data { get; init; }

    /// <summary>The leaderboard, best first: exactly the rows of leaderboard.csv.</summary>
    public required IReadOnlyList<LeaderboardRow> Leaderboard { get; init; }

    /// <summary>Pretraining curves of the chosen pipeline (empty when it has no SSL stage).</summary>
    public IReadOnlyList<EpochPoint> PretrainingCurve { get; init; } = [];

    /// <summary>The chosen network's fine-tuning, one point per epoch in training order (empty when it fine-tunes none),
    /// and how that network began (an encoder pretrained in the search, or from scratch).</summary>
    public IReadOnlyList<FineTunePoint> FineTuneCurve { get; init; } = [];
    public string? FineTuneOrigin { get; init; }

    /// <summary>Class names in label order; ConfusionMatrix[actual][predicted] counts on the test rows.</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }
    public required int[][] ConfusionMatrix { get; init; }

    /// <summary>Up to 24 misclassified test rows.</summary>
    public IReadOnlyList<Misclassified> Misclassified { get; init; } = [];

    /// <summary>2-D maps of the rows (PCA of the raw input and of the learned embedding); null when not computed.</summary>
    public EmbeddingMap? MapBefore { get; init; }
    public EmbeddingMap? MapAfter { get; init; }

    /// <summary>For images: a few source images, each with augmented views as PNG bytes.</summary>
    public IReadOnlyList<AugmentedExample> AugmentedViews { get; init; } = [];

    /// <summary>With --label-curve: metric at 10, 25, 50 and 100% of the labels for the chosen and the best no-SSL pipeline.</summary>
    public IReadOnlyList<LabelCurvePoint> LabelCurve { get; init; } = [];

    public required EnvironmentInfo Environment { get; init; }

    /// <summary>Notes the run wants the reader to see (defaults chosen, rows skipped, the search's own notes).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
}

/// <summary>A metric value with its 95% interval (bootstrap or Wilson; of zero width for a perfect score on few rows).</summary>
internal sealed record MetricWithInterval(double Value, double Lower, double Upper);

/// <summary>Class counts and input problems.</summary>
/// <param name="ClassCounts">Labeled rows per class (training data only).</param>
/// <param name="Skipped">Inputs that could not be read, with the reason ("cat/x.jpg: not an image").</param>
/// <param name="Duplicates">Groups of identical inputs (file paths or row numbers).</param>
/// <param name="SizeSummary">For images: the distinct sizes seen and how many of each ("32x32: 2,500"); for series, lengths.</param>
internal sealed record DataHealth(
    int LabeledRows,
    int UnlabeledRows,
    int TestRows,
    IReadOnlyDictionary<string, int> ClassCounts,
    IReadOnlyList<string> Skipped,
    IReadOnlyList<IReadOnlyList<string>> Duplicates,
    IReadOnlyList<string> SizeSummary);

/// <summary>One trial as leaderboard.csv and trials.jsonl record it.</summary>
/// <param name="Rank">1 for the best.</param>
/// <param name="Pipeline">The pipeline in words ("SimCLR ConvNet 15 epochs + L-BFGS").</param>
/// <param name="Metric">Validation metric (null when the trial reported none).</param>
/// <param name="MetricSpread">Standard deviation across folds, or null.</param>
/// <param name="StartedAt">Seconds since the search started when the trial started.</param>
/// <param name="Status">Completed, Pruned, Failed, Cancelled, NotStarted, Paused.</param>
/// <param name="UsesSsl">True when the pipeline contains SSL pretraining or SSL fine-tuning.</param>
internal sealed record LeaderboardRow(
    int Rank,
    int TrialId,
    string Pipeline,
    double? Metric,
    double? MetricSpread,
    int? Fidelity,
    double DurationSeconds,
    double StartedAt,
    string Status,
    bool UsesSsl,
    IReadOnlyDictionary<string, string> Parameters)
{
    /// <summary>The rows the console's "Top 5 models" and the report's leaderboard list: the trials with a score, and a line
    /// saying how many others are left out (null when none is). A trial the time budget stopped before its first fold, or
    /// one that failed, has no score, and listed among the ranks it read as the second best pipeline.</summary>
    public static (List<LeaderboardRow> Scored, string? LeftOut) ScoredOnly(IReadOnlyList<LeaderboardRow> rows)
    {
        List<LeaderboardRow> scored = [.. rows.Where(r => r.Metric is not null)];
        int others = rows.Count - scored.Count;
        if (others == 0) return (scored, null);
        string counts = string.Join(", ", rows.Where(r => r.Metric is null).GroupBy(r => r.Status)
            .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Count()} {g.Key}")));
        return (scored, others == 1
            ? $"1 trial without a score is not listed ({counts}): it stopped before its first score (failed, or cut by the time budget); leaderboard.csv lists every trial."
            : string.Create(CultureInfo.InvariantCulture,
                $"{others} trials without a score are not listed ({counts}): they stopped before their first score (failed, or cut by the time budget); leaderboard.csv lists every trial."));
    }
}

/// <summary>One pretraining epoch: loss, and the kNN monitor accuracy when it was measured.</summary>
internal sealed record EpochPoint(int Epoch, double Loss, double? KnnAccuracy);

/// <summary>One fine-tuning epoch: its place in training order, its stage and epoch in words, its training loss, and the
/// share of unlabeled rows whose pseudo-label passed the threshold (semi-supervised stages only).</summary>
internal sealed record FineTunePoint(int Step, string Label, double Loss, double? AcceptanceRate);

/// <summary>A misclassified test row: how to show it (a thumbnail for images, the row's text for tables and series).</summary>
internal sealed record Misclassified(string Actual, string Predicted, double Confidence, string Description, byte[]? ThumbnailPng);

/// <summary>2-D coordinates per row; Label is null for unlabeled rows (drawn grey).</summary>
internal sealed record EmbeddingMap(string Title, IReadOnlyList<MapPoint> Points);

internal sealed record MapPoint(float X, float Y, string? Label);

internal sealed record AugmentedExample(string Source, byte[] OriginalPng, IReadOnlyList<byte[]> ViewsPng);

internal sealed record LabelCurvePoint(double LabelFraction, string Pipeline, bool UsesSsl, double Metric);

/// <summary>Versions, hardware, threads, seed and timings.</summary>
internal sealed record EnvironmentInfo(
    string ToolVersion,
    string TorchBackend,
    string Device,
    string Cpu,
    int Threads,
    int Seed,
    DateTimeOffset StartedAt,
    double TotalSeconds,
    IReadOnlyDictionary<string, double> PhaseSeconds);
