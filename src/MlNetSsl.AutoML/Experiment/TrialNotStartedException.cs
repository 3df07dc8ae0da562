namespace MlNetSsl.AutoML;

/// <summary>
/// Thrown by an <see cref="ITrialRunner"/> to decline a segment before doing any work, because by the runner's own estimate
/// it would not finish in <see cref="TrialRequest.RemainingBudget"/>. The experiment records the trial as
/// <see cref="TrialStatus.NotStarted"/> with the message (which should say what the segment would need and what was left)
/// and goes on with other trials; <see cref="TrialTimedOutException"/> records it as <see cref="TrialStatus.TimedOut"/>, and any
/// other exception as <see cref="TrialStatus.Failed"/>.
/// </summary>
public sealed class TrialNotStartedException : Exception
{
    /// <summary>Declines a segment without a reason.</summary>
    public TrialNotStartedException()
        : base("The trial runner declined to start the segment.")
    {
    }

    /// <summary>Declines a segment, saying why.</summary>
    /// <param name="message">What the segment would need and what the budget has left.</param>
    public TrialNotStartedException(string message)
        : base(message)
    {
    }

    /// <summary>Declines a segment, saying why, with the error that led to it.</summary>
    /// <param name="message">What the segment would need and what the budget has left.</param>
    /// <param name="innerException">The error that led to declining.</param>
    public TrialNotStartedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
