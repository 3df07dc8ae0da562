using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// Pretraining rows held as one CPU tensor (images as bytes or floats, vectors as floats), from which the trainer
/// gathers shuffled batches and moves them to the training device. Optional integer labels feed the kNN monitor.
/// </summary>
public sealed class SslTensorDataset : IDisposable
{
    private readonly Tensor _rows;
    private string? _contentHash;

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
        if (batch.dtype == ScalarType.Byte) batch = batch.to_type(ScalarType.Float32).div_(Held(255.0));
        return batch.to(device);
    }

    /// <summary>The rows from <paramref name="start"/> (inclusive) to <paramref name="end"/> (exclusive) as float32 on <paramref name="device"/>.</summary>
    public Tensor Slice(long start, long end, Device device)
    {
        Tensor batch = _rows.narrow(0, start, end - start);
        batch = batch.dtype == ScalarType.Byte ? batch.to_type(ScalarType.Float32).div_(Held(255.0)) : batch;
        return batch.to(device);
    }

    /// <summary>
    /// SHA-256 (hex) of the rows' element type, shape and values, so a checkpoint can tell a changed dataset of the
    /// same size from the one it was trained on. Computed once (the rows never change) in chunks of about 4 MiB.
    /// </summary>
    internal string ContentHash()
    {
        if (_contentHash is { } known) return known;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{_rows.dtype}[{string.Join(",", _rows.shape)}]"));
        long count = Count;
        long perRow = count == 0 ? 0 : _rows.numel() / count;
        if (perRow > 0)
        {
            long chunkRows = Math.Max(1, (1L << 20) / perRow);
            byte[]? bytes = _rows.dtype == ScalarType.Byte ? new byte[checked((int)(Math.Min(chunkRows, count) * perRow))] : null;
            float[]? floats = bytes is null ? new float[checked((int)(Math.Min(chunkRows, count) * perRow))] : null;
            for (long start = 0; start < count; start += chunkRows)
            {
                using var scope = torch.NewDisposeScope();
                long rows = Math.Min(chunkRows, count - start);
                int length = checked((int)(rows * perRow));
                Tensor chunk = _rows.narrow(0, start, rows).contiguous();
                if (bytes is not null)
                {
                    chunk.data<byte>().CopyTo(bytes.AsSpan(0, length));
                    hash.AppendData(bytes, 0, length);
                }
                else
                {
                    chunk.data<float>().CopyTo(floats.AsSpan(0, length));
                    hash.AppendData(MemoryMarshal.AsBytes(floats.AsSpan(0, length)));
                }
            }
        }
        return _contentHash = Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>Releases the rows.</summary>
    public void Dispose() => _rows.Dispose();
}
