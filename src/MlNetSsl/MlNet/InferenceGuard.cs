namespace MlNetSsl.MlNet;

/// <summary>
/// Lets any number of threads run forward passes on a transformer's modules while <c>Dispose</c> waits for them to
/// finish, so native tensors are never freed under a running cursor or PredictionEngine. Work that starts after
/// disposal gets the owner's <see cref="ObjectDisposedException"/> instead of touching freed memory.
/// </summary>
internal sealed class InferenceGuard(Func<ObjectDisposedException> disposedError)
{
    private readonly object _gate = new();
    private readonly ThreadLocal<int> _heldByThisThread = new(() => 0);
    private int _active;
    private bool _disposed;

    /// <summary>Throws the owner's disposed error when the modules are gone.</summary>
    public void ThrowIfDisposed()
    {
        lock (_gate)
        {
            if (_disposed) throw disposedError();
        }
    }

    /// <summary>Marks the start of a use of the modules; dispose the lease when done.</summary>
    /// <exception cref="ObjectDisposedException">The owner was disposed.</exception>
    public Lease Enter()
    {
        lock (_gate)
        {
            if (_disposed) throw disposedError();
            _active++;
            _heldByThisThread.Value++;
        }
        return new Lease(this);
    }

    /// <summary>
    /// Refuses new uses and waits for running ones to end. Returns false when already closed, so the caller frees
    /// its modules exactly once.
    /// </summary>
    /// <exception cref="InvalidOperationException">This thread is itself using the modules (for example a progress
    /// callback of a fine-tuning that reads them), so waiting would never end.</exception>
    public bool TryClose()
    {
        lock (_gate)
        {
            if (_disposed) return false;
            if (_heldByThisThread.Value > 0)
                throw new InvalidOperationException("The model cannot be disposed from code that runs inside its own use (for " +
                    "example a progress callback of a fine-tuning that starts from it); dispose it after that work returns.");
            _disposed = true;
            while (_active > 0) Monitor.Wait(_gate);
        }
        _heldByThisThread.Dispose();
        return true;
    }

    private void Exit()
    {
        lock (_gate)
        {
            _heldByThisThread.Value--;
            if (--_active == 0) Monitor.PulseAll(_gate);
        }
    }

    /// <summary>One use of the guarded modules.</summary>
    public readonly struct Lease(InferenceGuard guard) : IDisposable
    {
        /// <summary>Ends the use.</summary>
        public void Dispose() => guard.Exit();
    }
}
