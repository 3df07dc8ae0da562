using System.Globalization;

namespace MlNetSsl.AutoML;

// Journal replay: while an earlier session's events remain, segment outcomes come from the journal, and every live event is appended to it.
internal sealed partial class ExperimentRun
{
    /// <summary>Journals a live event; the replay cursor moves past it, so only earlier sessions' events are replayed.</summary>
    private void AppendLive(JournalEvent journalEvent)
    {
        _journal.Append(journalEvent);
        _cursor = _journal.Events.Count;
    }

    private void ConsumeStarted(int trialId, Parameters proposed)
    {
        JournalEvent recorded = _journal.Events[_cursor];
        if (recorded.Type != JournalEventType.Started || recorded.TrialId != trialId || !proposed.Equals(recorded.Parameters))
            throw JournalMismatch($"trial {trialId} to start with {proposed}", recorded);
        _cursor++;
    }

    private SegmentOutcome ConsumeSegment(int trialId, int? fidelity)
    {
        JournalEvent recorded = _journal.Events[_cursor];
        if (recorded.TrialId != trialId || recorded.Fidelity != fidelity
            || recorded.Type is not (JournalEventType.Result or JournalEventType.Failed or JournalEventType.NotStarted or JournalEventType.TimedOut))
            throw JournalMismatch($"the result of trial {trialId} at fidelity {fidelity?.ToString(CultureInfo.InvariantCulture) ?? "full"}", recorded);
        _cursor++;
        var duration = recorded.Duration;
        return recorded.Type switch
        {
            JournalEventType.Result => SegmentOutcome.FromMetric(recorded.Metric ?? throw JournalMismatch("a metric", recorded), duration),
            JournalEventType.NotStarted => SegmentOutcome.NotStarted(recorded.Message ?? "not started"),
            JournalEventType.TimedOut => SegmentOutcome.TimedOut(recorded.Message ?? "timed out", duration),
            _ => SegmentOutcome.FromFailure(recorded.Message ?? "failed", duration, abandoned: false),
        };
    }

    private InvalidOperationException JournalMismatch(string expected, JournalEvent recorded) => new(
        $"The checkpoint journal{(_settings.CheckpointFolder is null ? "" : $" in {_settings.CheckpointFolder}")} does not match this run at event {_cursor}: " +
        $"expected {expected}, but it records {recorded.Type} of trial {recorded.TrialId}" +
        $"{(recorded.Parameters is null ? "" : $" with {recorded.Parameters}")}. The tuner, scheduler or trial order is not deterministic, " +
        "or the code changed; use a new checkpoint folder.");
}
