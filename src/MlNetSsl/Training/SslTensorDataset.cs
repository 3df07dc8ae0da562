using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// Pretraining rows held as one CPU tensor (images as bytes or floats, vectors as floats), from which the trainer
/// gathers shuffled batches and moves them to the training device. Optional integer labels feed the kNN monitor.
/// </summary>
public sealed class SslTensorDataset : IDisposable
{
    private readonly Tensor _rows;

    /// <summary>Creates a dataset. Takes ownership of <paramref name="rows"/>.</summary>
    /// <param name="rows">[N, ...] rows matching <paramref name="shape"/>: float32, or uint8 images (0..255, scaled to [0, 1] per batch).</param>
    /// <param name="shape">The shape of one row.</param>
    /// <param name="labels">Optional class labels (0-based) for the kNN monitor; -1 marks an unlabeled row.</param>
    public SslTensorDataset(Tensor rows, SslInputShape shape, int[]? labels = null)
    {
        long[] expected = shape.BatchShape(rows.shape[0]);
        if (!rows.shape.SequenceEqual(expected))
            throw new ArgumentException($"Rows have shape [{string.Join(", ", rows.shape)}] but the input shape needs [{string.Join(", ", expected)}].", nameof(rows));
        if (rows.dtype != ScalarType.Float32 && rows.dtype != ScalarType.Byte)
            throw new ArgumentException($"Rows must be float32 or uint8, not {rows.dtype}.", nameof(rows));
        if (labels is not null && labels.Length != rows.shape[0])
            throw new ArgumentException($"{labels.Length} labels for {rows.shape[0]} rows.", nameof(labels));
        _rows = rows.device_type == DeviceType.CPU ? rows.DetachFromDisposeScope() : rows.cpu().DetachFromDisposeScope();
        Shape = shape;
        Labels = labels;
    }

    /// <summary>Shape of one row.</summary>
    public SslInputShape Shape { get; }

    /// <summary>Number of rows.</summary>
    public long Count => _rows.shape[0];

    /// <summary>Class labels, or null.</summary>
    public int[]? Labels { get; }

    /// <summary>The rows at <paramref name="indices"/> as float32 on <paramref name="device"/>.</summary>
    public Tensor Batch(Tensor indices, Device device)
    {
        Tensor batch = _rows.index_select(0, indices.cpu());
        if (batch.dtype == ScalarType.Byte) batch = batch.to_type(ScalarType.Float32).div_(255f);
        return batch.to(device);
    }

    /// <summary>The rows from <paramref name="start"/> (inclusive) to <paramref name="end"/> (exclusive) as float32 on <paramref name="device"/>.</summary>
    public Tensor Slice(long start, long end, Device device)
    {
        Tensor batch = _rows.narrow(0, start, end - start);
        batch = batch.dtype == ScalarType.Byte ? batch.to_type(ScalarType.Float32).div_(255f) : batch;
        return batch.to(device);
    }

    /// <summary>Releases the rows.</summary>
    public void Dispose() => _rows.Dispose();
}
