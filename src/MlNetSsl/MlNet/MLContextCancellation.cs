using Microsoft.ML;
using Microsoft.ML.Runtime;
using MlNetSsl.MlNet;

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

    /// <summary>
    /// The other direction: a token cancelled when <paramref name="cancellationToken"/> is or when
    /// <c>mlContext.CancelExecution()</c> is called (ML.NET has no callback for it, so the context is looked at every
    /// 50 ms). Long work that runs in contexts of its own, such as an AutoML search, watches it so that cancelling the
    /// user's context stops it as it stops the context's own trainers.
    /// </summary>
    /// <param name="mlContext">The context whose cancellation to watch.</param>
    /// <param name="cancellationToken">The caller's own token.</param>
    /// <returns>The link; its <see cref="MLContextCancellationLink.Token"/> is the token to pass on. Dispose it when the work ends.</returns>
    /// <exception cref="OperationCanceledException">The context or the token is already cancelled.</exception>
    public static MLContextCancellationLink WatchCancellation(this MLContext mlContext, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new MLContextCancellationLink(new HostCancellation(((IHostEnvironment)mlContext).Register(nameof(MLContextCancellation)), cancellationToken));
    }
}

/// <summary>A token that follows both a <see cref="CancellationToken"/> and an <see cref="MLContext"/>'s cancellation
/// (see <see cref="MLContextCancellation.WatchCancellation"/>).</summary>
public sealed class MLContextCancellationLink : IDisposable
{
    private readonly HostCancellation _cancellation;

    internal MLContextCancellationLink(HostCancellation cancellation) => _cancellation = cancellation;

    /// <summary>Cancelled when the caller's token is, or when the context's execution is cancelled.</summary>
    public CancellationToken Token => _cancellation.Token;

    /// <summary>
    /// Looks at the context now, without waiting for the next 50 ms look, and throws if it or the caller's token is
    /// cancelled. Call it before each short piece of work (a search's trial, say), so none starts after the cancel.
    /// </summary>
    /// <exception cref="OperationCanceledException">The context or the caller's token is cancelled; its token is <see cref="Token"/>.</exception>
    public void ThrowIfCancellationRequested() => _cancellation.ThrowIfCancellationRequested();

    /// <summary>Stops watching the context.</summary>
    public void Dispose() => _cancellation.Dispose();
}
