using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// Rows drawn from one or more datasets without copying them: entry i is row <c>Rows[i]</c> of dataset
/// <c>Sources[Which[i]]</c>, with an optional label (-1 when unknown).
/// </summary>
internal sealed class RowSet
{
    private readonly SslTensorDataset[] _sources;
    private readonly int[] _which;
    private readonly long[] _rows;

    public RowSet(SslTensorDataset[] sources, int[] which, long[] rows, int[] labels)
    {
        _sources = sources;
        _which = which;
        _rows = rows;
        Labels = labels;
    }

    /// <summary>Entries <paramref name="positions"/> of <paramref name="dataset"/>, labeled from <paramref name="labels"/> (or -1).</summary>
    public static RowSet From(SslTensorDataset dataset, IEnumerable<int> positions, int[]? labels)
    {
        int[] p = positions.ToArray();
        return new RowSet([dataset], new int[p.Length], p.Select(i => (long)i).ToArray(), p.Select(i => labels is null ? -1 : labels[i]).ToArray());
    }

    public int Count => _rows.Length;

    /// <summary>Labels per entry; -1 when unknown.</summary>
    public int[] Labels { get; }

    public SslInputShape Shape => _sources[0].Shape;

    /// <summary>This set followed by <paramref name="other"/> (sources merged by reference).</summary>
    public RowSet Concat(RowSet other)
    {
        var sources = _sources.ToList();
        int[] map = other._sources.Select(s =>
        {
            int i = sources.FindIndex(x => ReferenceEquals(x, s));
            if (i < 0) { sources.Add(s); i = sources.Count - 1; }
            return i;
        }).ToArray();
        return new RowSet([.. sources], [.. _which, .. other._which.Select(w => map[w])], [.. _rows, .. other._rows], [.. Labels, .. other.Labels]);
    }

    /// <summary>The entries at <paramref name="positions"/>, with <paramref name="labels"/> in place of the stored labels when given.</summary>
    public RowSet Select(int[] positions, int[]? labels = null) =>
        new(_sources, positions.Select(p => _which[p]).ToArray(), positions.Select(p => _rows[p]).ToArray(), labels ?? positions.Select(p => Labels[p]).ToArray());

    /// <summary>The rows at <paramref name="positions"/> as one float32 batch on <paramref name="device"/>.</summary>
    public Tensor Gather(long[] positions, Device device)
    {
        using var scope = torch.NewDisposeScope();
        if (_sources.Length == 1)
            return _sources[0].Batch(torch.tensor(positions.Select(p => _rows[p]).ToArray()), device).MoveToOuterDisposeScope();
        Tensor? result = null;
        for (int s = 0; s < _sources.Length; s++)
        {
            long[] at = Enumerable.Range(0, positions.Length).Where(i => _which[positions[i]] == s).Select(i => (long)i).ToArray();
            if (at.Length == 0) continue;
            Tensor part = _sources[s].Batch(torch.tensor(at.Select(i => _rows[positions[i]]).ToArray()), device);
            if (result is null)
            {
                long[] shape = part.shape.ToArray();
                shape[0] = positions.Length;
                result = torch.empty(shape, dtype: part.dtype, device: device);
            }
            result.index_copy_(0, torch.tensor(at, device: device), part);
        }
        return (result ?? throw new ArgumentException("No rows to gather.", nameof(positions))).MoveToOuterDisposeScope();
    }

    /// <summary>Labels at <paramref name="positions"/> as an int64 tensor on <paramref name="device"/>.</summary>
    public Tensor LabelTensor(long[] positions, Device device) =>
        torch.tensor(positions.Select(p => (long)Labels[p]).ToArray(), device: device);

    /// <summary>A random sample of up to <paramref name="max"/> rows (the tabular augmentations' feature bank).</summary>
    public Tensor Sample(int max, Generator generator, Device device)
    {
        using var scope = torch.NewDisposeScope();
        long take = Math.Min(Count, max);
        long[] positions = torch.randperm(Count, generator: generator).narrow(0, 0, take).data<long>().ToArray();
        return Gather(positions, device).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// An endless stream of batch positions over <c>count</c> entries: shuffled passes without replacement (a batch that
/// reaches the end of a pass continues into the next), or class-balanced draws with replacement.
/// </summary>
internal sealed class IndexStream : IDisposable
{
    private readonly Generator _generator;
    private readonly long _count;
    private readonly Tensor? _weights;
    private long[] _order = [];
    private int _next;

    public IndexStream(long count, long seed, int[]? balanceLabels = null)
    {
        _count = count;
        _generator = new Generator((ulong)seed);
        if (balanceLabels is not null)
        {
            var perClass = balanceLabels.Where(l => l >= 0).GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
            float[] w = balanceLabels.Select(l => l >= 0 ? 1f / perClass[l] : 0f).ToArray();
            _weights = torch.tensor(w).DetachFromDisposeScope();
        }
    }

    public long[] Next(int size)
    {
        if (_weights is not null)
        {
            using var scope = torch.NewDisposeScope();
            return torch.multinomial(_weights, size, replacement: true, generator: _generator).data<long>().ToArray();
        }
        var batch = new long[size];
        for (int i = 0; i < size; i++)
        {
            if (_next >= _order.Length)
            {
                using var scope = torch.NewDisposeScope();
                _order = torch.randperm(_count, generator: _generator).data<long>().ToArray();
                _next = 0;
            }
            batch[i] = _order[_next++];
        }
        return batch;
    }

    public void Dispose()
    {
        _weights?.Dispose();
        _generator.Dispose();
    }
}

/// <summary>Module copies shared by the fine-tuning stages.</summary>
internal static class FineTuneHelpers
{
    /// <summary>A new encoder with <paramref name="source"/>'s structure and weights, on <paramref name="device"/>; the source is untouched.</summary>
    public static SslEncoder CopyEncoder(SslEncoder source, Device device)
    {
        SslEncoder copy = source.CreateUntrained();
        try
        {
            // module.save writes CPU copies of the tensors; the source keeps its device and values.
            ModuleState.Load(copy, ModuleState.ToBytes(source), "The encoder copy");
            copy.to(device);
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Redraws every weight matrix and kernel of <paramref name="module"/> from <paramref name="generator"/> (Kaiming
    /// normal: fan-out for convolutions, fan-in for linear layers, as the encoders initialize themselves), so a new
    /// network depends on the run's seed only and not on libtorch's process-wide generator.
    /// </summary>
    public static void Reinitialize(nn.Module module, Generator generator)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach ((string _, nn.Module child) in module.named_modules())
        {
            Tensor? weight = child switch
            {
                TorchSharp.Modules.Conv2d c => c.weight,
                TorchSharp.Modules.Conv1d c => c.weight,
                TorchSharp.Modules.Linear l => l.weight,
                _ => null,
            };
            if (weight is null) continue;
            long fan = child is TorchSharp.Modules.Linear
                ? weight.shape[1]
                : weight.shape[0] * weight.shape.Skip(2).Aggregate(1L, (a, b) => a * b);
            double std = Math.Sqrt(2.0 / Math.Max(1, fan));
            Tensor draw = torch.randn(weight.shape, generator: generator).mul_(Held(std));
            weight.copy_(draw);
        }
    }
}
