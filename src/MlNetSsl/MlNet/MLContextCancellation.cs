using Microsoft.ML;

namespace MlNetSsl;

/// <summary>
/// Cancellation of ML.NET work through a <see cref="CancellationToken"/>, which ML.NET 5 keeps internal
/// (<c>MLContext.CancelExecution</c>). Used by AutoML to stop a trial's trainers when its time budget runs out.
/// </summary>
public static class MLContextCancellation
{
    /// <summary>
    /// Cancels <paramref name="mlContext"/> once <paramref name="cancellationToken"/> is cancelled: ML.NET trainers check
    /// their context between iterations and then stop with an exception. A cancelled context stays cancelled, and so
    /// does every view and model made from it, so give each cancellable piece of work a context of its own.
    /// </summary>
    /// <param name="mlContext">The context the work runs in.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The registration; dispose it when the work ends.</returns>
    public static CancellationTokenRegistration CancelExecutionWhen(this MLContext mlContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return cancellationToken.Register(mlContext.CancelExecution);
    }
}
