using Microsoft.ML.Runtime;

namespace MlNetSsl.MlNet;

/// <summary>
/// Turns ML.NET's <c>MLContext.CancelExecution()</c> into a <see cref="CancellationToken"/> linked with the user's
/// own token, so the engine (which knows nothing of ML.NET) stops within one step either way. ML.NET signals
/// cancellation only through <c>CheckAlive</c>, which has no callback, so the host is polled on a timer.
/// </summary>
internal sealed class HostCancellation : IDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private readonly IHost _host;
    private readonly CancellationTokenSource _source;
    private readonly Timer _poll;

    /// <exception cref="OperationCanceledException">The context was already cancelled.</exception>
    public HostCancellation(IHost host, CancellationToken userToken)
    {
        host.CheckAlive();
        userToken.ThrowIfCancellationRequested();
        _host = host;
        _source = CancellationTokenSource.CreateLinkedTokenSource(userToken);
        _poll = new Timer(_ => Poll(), null, PollInterval, PollInterval);
    }

    /// <summary>
    /// Whether <paramref name="e"/> came from the linked token while the user's own token was cancelled: the caller then
    /// rethrows it with the user's token, which <c>Task.Run(..., token)</c> and <c>when (e.CancellationToken == token)</c> expect.
    /// </summary>
    public static bool ByUser(OperationCanceledException e, CancellationToken userToken) =>
        userToken.IsCancellationRequested && e.CancellationToken != userToken;

    /// <summary>Cancelled when the user's token is, or when the context's execution is cancelled.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>
    /// Looks at the context now instead of at the next tick, then throws if <see cref="Token"/> is cancelled: work that starts
    /// in steps shorter than the poll interval (a search's quick trials) would otherwise start several after the cancel.
    /// </summary>
    public void ThrowIfCancellationRequested()
    {
        Poll();
        _source.Token.ThrowIfCancellationRequested();
    }

    private void Poll()
    {
        try
        {
            _host.CheckAlive();
        }
        catch (OperationCanceledException)
        {
            try
            {
                _source.Cancel();
            }
            catch (AggregateException)
            {
                // A callback registered on the token failed; on this timer thread it would end the process. The token is
                // cancelled regardless, which is all the work being stopped needs.
            }
        }
    }

    public void Dispose()
    {
        using (var done = new ManualResetEvent(false))
        {
            // Wait for a tick in flight, so no callback touches the source after it is disposed.
            if (_poll.Dispose(done)) done.WaitOne();
        }
        _source.Dispose();
    }
}
