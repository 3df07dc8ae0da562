using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl.MlNet.Data;

/// <summary>
/// A reusable buffer of up to <see cref="Capacity"/> rows read through an <see cref="InputColumnReader"/>, turned
/// into one raw tensor per batch: uint8 [N, 3, H, W] for images, float32 [N, ...] for vectors.
/// </summary>
internal sealed class RowBatchBuffer
{
    private readonly InputColumnReader _reader;
    private readonly byte[]? _bytes;
    private readonly float[]? _floats;
    private readonly int _rowSize;

    public RowBatchBuffer(InputColumnReader reader, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        // Its tensors are often the first libtorch sees (a Fit reads its rows before building the encoder): libtorch must
        // load with the environment's settings (idle OpenMP threads sleep, the oneDNN ISA), which it reads only at load.
        SslEnvironment.EnsureInitialized();
        _reader = reader;
        Capacity = capacity;
        _rowSize = reader.Shape.Size;
        if (reader.IsImage) _bytes = new byte[(long)capacity * _rowSize];
        else _floats = new float[(long)capacity * _rowSize];
    }

    /// <summary>Rows the buffer holds at most.</summary>
    public int Capacity { get; }

    /// <summary>Rows currently held.</summary>
    public int Count { get; private set; }

    /// <summary>Whether another row fits.</summary>
    public bool IsFull => Count == Capacity;

    /// <summary>Reads the filler's current row into the next slot.</summary>
    public void Add(InputColumnReader.RowFiller filler)
    {
        if (IsFull) throw new InvalidOperationException("The batch buffer is full.");
        if (_bytes is not null) filler.Fill(_bytes.AsSpan(Count * _rowSize, _rowSize));
        else filler.Fill(_floats.AsSpan(Count * _rowSize, _rowSize));
        Count++;
    }

    /// <summary>Reads the filler's current row into slot <paramref name="slot"/>; different slots may be filled at once from
    /// different threads. <see cref="SetCount"/> then says how many slots hold rows.</summary>
    public void FillAt(int slot, InputColumnReader.RowFiller filler)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, Capacity);
        if (_bytes is not null) filler.Fill(_bytes.AsSpan(slot * _rowSize, _rowSize));
        else filler.Fill(_floats.AsSpan(slot * _rowSize, _rowSize));
    }

    /// <summary>Declares the first <paramref name="count"/> slots, filled by <see cref="FillAt"/>, as the rows held.</summary>
    public void SetCount(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Capacity);
        Count = count;
    }

    /// <summary>The rows held as a new CPU tensor (the caller owns it); the buffer is emptied.</summary>
    public Tensor TakeTensor()
    {
        long[] shape = _reader.Shape.BatchShape(Count);
        Tensor result = _bytes is not null
            ? torch.tensor(_bytes.AsSpan(0, Count * _rowSize).ToArray(), shape, ScalarType.Byte)
            : torch.tensor(_floats.AsSpan(0, Count * _rowSize).ToArray(), shape);
        Count = 0;
        return result;
    }
}
