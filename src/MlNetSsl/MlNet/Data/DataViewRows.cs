using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl.MlNet.Data;

/// <summary>Reads every row of one column of an IDataView into a raw CPU tensor, with optional labels, and counts rows.</summary>
internal static class DataViewRows
{
    private const int ChunkRows = 512;

    /// <summary>The number of rows: the view's own count, else counted through a cursor that reads no column (nothing is
    /// decoded or computed).</summary>
    public static long Count(IDataView data, CancellationToken cancellationToken = default)
    {
        if (data.GetRowCount() is long known) return known;
        using DataViewRowCursor cursor = data.GetRowCursor([]);
        long count = 0;
        while (cursor.MoveNext())
        {
            if ((++count & 1023) == 0) cancellationToken.ThrowIfCancellationRequested();
        }
        return count;
    }

    /// <summary>
    /// The column's rows as a raw tensor (uint8 images or float32 vectors) in cursor order, and their labels (-1 for
    /// unlabeled rows) when <paramref name="labelColumn"/> is given. The caller owns the tensor.
    /// </summary>
    /// <exception cref="InvalidDataException">A row holds a bad value; the message names the column and row.</exception>
    public static (Tensor Raw, int[]? Labels) ReadAll(IDataView data, InputColumnReader reader, string? labelColumn,
        CancellationToken cancellationToken, Action<long>? rowsRead = null)
    {
        var columns = new List<DataViewSchema.Column> { data.Schema[reader.ColumnName] };
        if (labelColumn is not null) columns.Add(data.Schema[labelColumn]);
        var chunks = new List<Tensor>();
        var labels = labelColumn is null ? null : new List<int>();
        try
        {
            using var cursor = data.GetRowCursor(columns);
            using var filler = reader.Bind(cursor, data);
            Func<int>? label = labelColumn is null ? null : LabelColumnReader.Bind(cursor, labelColumn);
            var buffer = new RowBatchBuffer(reader, ChunkRows);
            long count = 0;
            while (cursor.MoveNext())
            {
                cancellationToken.ThrowIfCancellationRequested();
                buffer.Add(filler);
                labels?.Add(label!());
                if (buffer.IsFull) chunks.Add(buffer.TakeTensor());
                if (++count % ChunkRows == 0) rowsRead?.Invoke(count);
            }
            if (buffer.Count > 0) chunks.Add(buffer.TakeTensor());
            rowsRead?.Invoke(count);
            Tensor raw;
            if (chunks.Count == 1)
            {
                raw = chunks[0];
                chunks.Clear();
            }
            else
            {
                raw = chunks.Count == 0
                    ? torch.empty(reader.Shape.BatchShape(0), reader.IsImage ? ScalarType.Byte : ScalarType.Float32)
                    : torch.cat(chunks, 0);
            }
            return (raw, labels?.ToArray());
        }
        finally
        {
            foreach (var chunk in chunks) chunk.Dispose();
        }
    }
}
