using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// A first-in, first-out memory of past keys used as negatives by contrastive losses (MoCo's queue, a memory bank).
/// The keys (<c>keys</c>, [Capacity, D]) and the write position (<c>pointer</c>) are buffers, so checkpoints and model
/// files include them, and they never receive gradients.
/// </summary>
public sealed class NegativeQueue : nn.Module
{
    /// <summary>Creates a queue filled with random unit vectors (MoCo starts from random keys too).</summary>
    /// <param name="capacity">Number of keys kept (positive).</param>
    /// <param name="dimension">Length of each key (positive).</param>
    /// <param name="seed">Seed of the initial random keys.</param>
    /// <param name="device">Where the keys live; null for the CPU.</param>
    public NegativeQueue(int capacity, int dimension, int seed = 0, Device? device = null) : base(nameof(NegativeQueue))
    {
        SslMethodOptions.Positive(capacity, nameof(capacity));
        SslMethodOptions.Positive(dimension, nameof(dimension));
        device ??= torch.CPU;
        using var scope = torch.NewDisposeScope();
        using var generator = new Generator((ulong)seed, device);
        Tensor keys = nn.functional.normalize(torch.randn(new long[] { capacity, dimension }, generator: generator, device: device), dim: 1);
        register_buffer("keys", keys.DetachFromDisposeScope());
        register_buffer("pointer", torch.zeros(1, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope());
    }

    /// <summary>The stored keys, [Capacity, D]: pass them as the negatives of <see cref="SslLosses.InfoNce"/>.</summary>
    public Tensor Keys => get_buffer("keys")!;

    /// <summary>Index of the row the next key is written to.</summary>
    public long Pointer => get_buffer("pointer")!.item<long>();

    /// <summary>Number of keys kept.</summary>
    public long Capacity => Keys.shape[0];

    /// <summary>Writes <paramref name="keys"/> at the pointer, wrapping around and overwriting the oldest, and advances
    /// the pointer. When more keys arrive than fit, only the newest are kept.</summary>
    /// <param name="keys">Keys to store, [N, D], usually L2-normalized; they are copied without gradient.</param>
    public void Enqueue(Tensor keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        Tensor queue = Keys;
        if (keys.dim() != 2 || keys.shape[1] != queue.shape[1])
            throw new ArgumentException($"Keys must be [N, {queue.shape[1]}]; got [{string.Join(", ", keys.shape)}].", nameof(keys));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        Tensor pointer = get_buffer("pointer")!;
        long capacity = queue.shape[0];
        long n = keys.shape[0];
        if (n > capacity)
        {
            keys = keys.narrow(0, n - capacity, capacity);
            n = capacity;
        }
        long start = pointer.item<long>();
        Tensor rows = torch.arange(Zero, Held(n), One, device: queue.device).add(Held(start), One).remainder(Held(capacity));
        queue.index_copy_(0, rows, keys.to(queue.dtype).to(queue.device));
        pointer.fill_(Held((start + n) % capacity));
    }
}
