namespace MlNetSsl.MlNet;

/// <summary>
/// Lets any number of threads run forward passes on a transformer's modules while <c>Dispose</c> waits for them to
/// finish, so native tensors are never freed under a running cursor or PredictionEngine. Work that starts after
/// disposal gets the owner's <see cref="ObjectDisposedException"/> instead of touching freed memory.
/// </summary>
internal sealed class InferenceGuard(Func<ObjectDisposedException> disposedError)
{
    private readonly object _gate = new();
    private int _active;
    private bool _disposed;

    /// <summary>True once <see cref="TryClose"/> has run.</summary>
    public bool IsDisposed
    {
        get { lock (_gate) return _disposed; }
    }

    /// <summary>Throws the owner's disposed error when the modules are gone.</summary>
    public void ThrowIfDisposed()
    {
        if (IsDisposed) throw disposedError();
    }

    /// <summary>Marks the start of a use of the modules; dispose the lease when done.</summary>
    /// <exception cref="ObjectDisposedException">The owner was disposed.</exception>
    public Lease Enter()
    {
        lock (_gate)
        {
            if (_disposed) throw disposedError();
            _active++;
        }
        return new Lease(this);
    }

    /// <summary>
    /// Refuses new uses and waits for running ones to end. Returns false when already closed, so the caller frees
    /// its modules exactly once.
    /// </summary>
    public bool TryClose()
    {
        lock (_gate)
        {
            if (_disposed) return false;
            _disposed = true;
            while (_active > 0) Monitor.Wait(_gate);
            return true;
        }
    }

    private void Exit()
    {
        lock (_gate)
        {
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
