using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using MlNetSsl.AutoML;
using Spectre.Console;

namespace MlNetSsl.Cli.Run;

/// <summary>
/// Shows the search as it runs: a live leaderboard (Spectre.Console) when stdout is a terminal, one plain line per
/// event when it is redirected (CI logs); every event also goes to log.txt. Reports arrive on the experiment's threads.
/// </summary>
/// <param name="log">Where the lines go.</param>
/// <param name="metricName">The search's metric, for the live table's header.</param>
/// <param name="replayedFrom">How a replayed event is marked.</param>
/// <param name="logOnly">Every line to the log file only: the pass after Ctrl+C that refits the best trial replays the
/// checkpoint the console has just shown.</param>
internal sealed class SearchProgress(RunLog log, string metricName = "accuracy", string replayedFrom = "from checkpoint", bool logOnly = false)
    : IProgress<SslTrialReport>
{
    private readonly object _gate = new();
    private readonly ConcurrentDictionary<int, double> _startedAt = new();
    private readonly ConcurrentDictionary<int, int> _trainingTo = new();
    private readonly ConcurrentDictionary<int, bool> _firstResultShown = new();
    private readonly Dictionary<int, (TrialRecord Trial, string State)> _trials = [];
    private readonly ConcurrentDictionary<int, TrialRecord> _stoppedHere = new();
    private LiveDisplayContext? _live;
    private Table? _table;
    private TimeSpan _elapsed;
    private volatile bool _labelFree;
    private volatile bool _anyMetric;
    private long _searchStarted;

    /// <summary>The <see cref="Stopwatch"/> timestamp at which the search's own clock started (what its reports count
    /// from), from the first report of this process; null before one, or when every report so far was a replay.</summary>
    public long? SearchStarted => Interlocked.Read(ref _searchStarted) is var t && t != 0 ? t : null;

    /// <summary>Whether some report (a replayed one included) carried a trial's metric: without one the search has no model.</summary>
    public bool AnyMetric => _anyMetric;

    /// <summary>Seconds since the search started when the trial first started (0 when not seen).</summary>
    public double StartedAt(int trialId) => _startedAt.GetValueOrDefault(trialId);

    /// <summary>The epochs a trial was last reported training to (or reaching); null when no report named any. A trial
    /// cancelled before its first rung has no fidelity of its own, and its configured epochs are not what it ran.</summary>
    public int? TrainingTo(int trialId) => _trainingTo.TryGetValue(trialId, out int epochs) ? epochs : null;

    /// <summary>The trial in words at the epochs it reached (<paramref name="search"/>'s measures give those of a first trial
    /// the budget stopped), or, stopped before its first rung, at those it was training to.</summary>
    public string Describe(TrialRecord trial, bool scoredLabelFree = false, SslExperimentResult? search = null) =>
        TrialDescriptions.Describe(trial, trial.Fidelity ?? (search is null ? null : TrialDescriptions.EpochsReached(trial, search)) ?? TrainingTo(trial.TrialId),
            scoredLabelFree: scoredLabelFree);

    /// <summary>A trial this search stopped (Ctrl+C or the budget) as it stood when stopped, for a record of it from a
    /// later pass over the checkpoint: that pass starts the interrupted run again with no time left, which records it as
    /// stopped 0 s in by the budget; otherwise <paramref name="trial"/> itself.</summary>
    public TrialRecord AsStoppedHere(TrialRecord trial) =>
        trial.Status is TrialStatus.Cancelled or TrialStatus.Paused && _stoppedHere.TryGetValue(trial.TrialId, out TrialRecord? stopped)
        // A rung more (another --storage worker continued the trial meanwhile) is newer than this pass's record.
        && stopped.Rungs.Count == trial.Rungs.Count ? stopped : trial;

    public void Report(SslTrialReport value)
    {
        if (value.Kind == TrialReportKind.Stopped && !value.IsReplay) _stoppedHere[value.Trial.TrialId] = value.Trial;
        if (!value.IsReplay)
            Interlocked.CompareExchange(ref _searchStarted, Stopwatch.GetTimestamp() - (long)(value.Elapsed.TotalSeconds * Stopwatch.Frequency), 0);
        bool started = value.Kind == TrialReportKind.Running && _startedAt.TryAdd(value.Trial.TrialId, value.Elapsed.TotalSeconds);
        if (value.IsScoredLabelFree) _labelFree = true;
        if (value.Trial.Metric is not null) _anyMetric = true;
        // A raw-feature trial's metric does not depend on the rung, so the scheduler's rungs repeat one line with one
        // metric (six lines a trial): only its start, its first result and its end are shown (a search that stops
        // between its rungs never reports an end, and its metric must still show).
        bool firstResult = value.Kind == TrialReportKind.RungCompleted && _firstResultShown.TryAdd(value.Trial.TrialId, true);
        bool repeatedRung = value.Kind is TrialReportKind.RungCompleted && !firstResult || value.Kind == TrialReportKind.Running && !started;
        bool quiet = repeatedRung && TrialDescriptions.Bind(value.Trial).Features == SslFeatureSource.RawFeatures;
        if (value.Fidelity is int fidelity) _trainingTo[value.Trial.TrialId] = fidelity;
        string metric = value.Trial.Metric?.ToString("0.0000", CultureInfo.InvariantCulture) ?? "-";
        // Why a trial failed or was not started belongs on its line: a user reading the log sees what to change.
        string reason = value.Kind is TrialReportKind.Failed or TrialReportKind.NotStarted or TrialReportKind.TimedOut or TrialReportKind.Stopped && value.Trial.ErrorMessage is string why ? $" ({why})" : "";
        // A trial the budget or Ctrl+C stopped is recorded as Paused (it had a rung) or Cancelled: show the status the
        // leaderboard and report will give it, not a third word.
        string kind = value.Kind == TrialReportKind.Stopped ? value.Trial.Status.ToString() : value.Kind.ToString();
        string line = string.Create(CultureInfo.InvariantCulture,
            $"[{value.Elapsed.TotalSeconds,5:0}s] trial {value.Trial.TrialId,2} {kind,-13}{(value.IsReplay ? $" ({replayedFrom})" : "")} " +
            $"epochs {Epochs(value.Trial, value.Fidelity),2} {(value.IsScoredLabelFree ? "label-free score" : "metric")} {metric}  " +
            $"{TrialDescriptions.Describe(value.Trial, value.Fidelity, scoredLabelFree: value.IsScoredLabelFree)}{reason}");
        lock (_gate)
        {
            _elapsed = value.Elapsed;
            _trials[value.Trial.TrialId] = (value.Trial, kind);
            if (logOnly)
            {
                log.Detail(line);
            }
            else if (_live is not null)
            {
                if (!quiet) log.Detail(line);
                Redraw();
                _live.Refresh();
            }
            else if (!quiet)
            {
                log.Info(line);
            }
        }
    }

    private const int MetricColumn = 3;

    /// <summary>The live table's metric column: the search's metric, or the label-free score once a report says so.</summary>
    public string MetricHeader => _labelFree ? "Label-free score" : $"CV {metricName}";

    // A raw-feature trial trains no network, so the rung it reports at has no epochs to show.
    private static string Epochs(TrialRecord trial, int? fidelity) =>
        TrialDescriptions.Bind(trial).Features == SslFeatureSource.RawFeatures ? "-" : fidelity?.ToString(CultureInfo.InvariantCulture) ?? "-";

    /// <summary>Runs the search inside a live table on a terminal, plainly otherwise.</summary>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> search, CancellationToken cancellation)
    {
        if (Console.IsOutputRedirected || log.Quiet) return await search(cancellation).ConfigureAwait(false);
        _table = new Table().AddColumns("Trial", "Status", "Epochs", MetricHeader, "Seconds", "Pipeline");
        // The metric column's header follows the objective, which Auto resolves once the search has started.
        log.ConsoleOwnedByLiveView = true;
        try
        {
            return await AnsiConsole.Live(_table).AutoClear(false).StartAsync(async context =>
            {
                lock (_gate) _live = context;
                return await search(cancellation).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate) _live = null;
            log.ConsoleOwnedByLiveView = false;
        }
    }

    private void Redraw()
    {
        _table!.Rows.Clear();
        _table.Title = new TableTitle(string.Create(CultureInfo.InvariantCulture, $"Search: {_trials.Count} trials, {_elapsed.TotalSeconds:0} s"));
        _table.Columns[MetricColumn].Header = new Text(MetricHeader);
        var ordered = _trials.Values.OrderByDescending(t => t.Trial.Metric ?? double.MinValue).ThenBy(t => t.Trial.TrialId).Take(12);
        foreach (var (trial, state) in ordered)
        {
            _table.AddRow(
                trial.TrialId.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(state),
                Epochs(trial, trial.Fidelity),
                trial.Metric?.ToString("0.0000", CultureInfo.InvariantCulture) ?? "-",
                trial.Duration.TotalSeconds.ToString("0", CultureInfo.InvariantCulture),
                Markup.Escape(TrialDescriptions.Describe(trial, scoredLabelFree: _labelFree)));
        }
    }
}
