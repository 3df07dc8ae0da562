namespace MlNetSsl.AutoML;

/// <summary>
/// Thrown by an <see cref="ITrialRunner"/> that stopped a segment at a time limit of its own (a per-trial time cap, not the
/// experiment's budget or cancellation). The experiment records the trial as <see cref="TrialStatus.TimedOut"/> with the
/// message (which should name the limit), counts the time it ran, and goes on with other trials; the configuration is
/// not broken, only too slow for the time it was given.
/// </summary>
public sealed class TrialTimedOutException : TimeoutException
{
    /// <summary>Reports a segment stopped at its time limit, without details.</summary>
    public TrialTimedOutException()
        : base("The trial runner stopped the segment at its time limit.")
    {
    }

    /// <summary>Reports a segment stopped at its time limit, saying which.</summary>
    /// <param name="message">The limit and how it was derived.</param>
    public TrialTimedOutException(string message)
        : base(message)
    {
    }

    /// <summary>Reports a segment stopped at its time limit, with the error its cancellation surfaced as.</summary>
    /// <param name="message">The limit and how it was derived.</param>
    /// <param name="innerException">What the trial threw when its time was up (usually an <see cref="OperationCanceledException"/>).</param>
    public TrialTimedOutException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
