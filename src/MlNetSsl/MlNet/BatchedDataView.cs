using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MlNetSsl.MlNet.Data;

namespace MlNetSsl.MlNet;

/// <summary>
/// The lazy output of a TorchSharp-backed transformer (<see cref="BatchedOutput"/>). A cursor that needs the computed
/// columns reads the input one batch ahead through a single input cursor, computes the batch in one forward pass and
/// keeps copies of the batch's pass-through values (<see cref="ColumnBuffer"/>) until the consumer reaches them. One
/// input cursor, not two in lockstep: a second cursor over ML.NET's text loader made every disposal of a partly read
/// cursor wait about 100 ms, which trainers that open thousands of cursors (SDCA) paid 10-40 times over.
/// The computed batches are also remembered by this view (up to <see cref="RememberedValuesLimit"/> values): every
/// cursor starts at the first row and batches alike, so a later cursor takes a batch computed before instead of
/// running the network again. SDCA opens a cursor per pass (about 7,500 on 400 rows), and without this each one
/// re-ran the forward pass (34 s against 2.4 s over a cached view).
/// It is a data transform over its input (<see cref="Source"/>) so that ML.NET's ONNX converter, which walks a
/// pipeline's views back to its input, can ask it for its ONNX nodes.
/// </summary>
internal sealed class BatchedDataView : ITransformCanSaveOnnx
{
    private readonly BatchedOutput _output;
    private readonly IDataView _input;

    public BatchedDataView(BatchedOutput output, IDataView input)
    {
        _output = output;
        _input = input;
        Schema = output.OutputSchema(input.Schema);
    }

    public bool CanShuffle => false;

    /// <summary>The input view.</summary>
    public IDataView Source => _input;

    // True even where the export will fail (image input): a false here makes ML.NET's converter stop quietly and then
    // fail with a generic message, while SaveAsOnnx can say why and what to do instead.
    public bool CanSaveOnnx(OnnxContext ctx) => true;

    public void SaveAsOnnx(OnnxContext ctx) => _output.SaveAsOnnx(ctx);

    // A data transform is saved through its transformer (mlContext.Model.Save), never on its own.
    void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException(
        "This view is the output of an MlNetSsl transformer; save the transformer (mlContext.Model.Save) instead of the view.");

    public DataViewSchema Schema { get; }

    private int FirstAddedIndex => _input.Schema.Count;

    /// <summary>Computed values this view keeps for later cursors at most (128 MiB of floats; 131,072 rows of a
    /// 256-wide embedding). Beyond it, cursors compute the rest again; ML.NET's Data.Cache keeps everything.</summary>
    internal const long RememberedValuesLimit = 1L << 25;

    private readonly object _rememberedGate = new();
    private readonly List<float[]> _remembered = [];
    private long _rememberedValues;

    private float[]? Recall(long batchIndex)
    {
        lock (_rememberedGate) return batchIndex < _remembered.Count ? _remembered[(int)batchIndex] : null;
    }

    /// <summary>Whether batch <paramref name="batchIndex"/> of <paramref name="count"/> values is the next to keep and fits.</summary>
    private bool MayRemember(long batchIndex, int count)
    {
        lock (_rememberedGate) return batchIndex == _remembered.Count && _rememberedValues + count <= RememberedValuesLimit;
    }

    /// <summary>Keeps batch <paramref name="batchIndex"/>'s values (never written again) when it is still the next one
    /// and fits (another cursor may have kept it first).</summary>
    private void Remember(long batchIndex, float[] values)
    {
        lock (_rememberedGate)
        {
            if (batchIndex != _remembered.Count || _rememberedValues + values.Length > RememberedValuesLimit) return;
            _remembered.Add(values);
            _rememberedValues += values.Length;
        }
    }

    public long? GetRowCount() => _input.GetRowCount();

    /// <summary>The most cores that decode a batch's images at once (each through a cursor of its own).</summary>
    internal const int MaxDecodeWorkers = 4;

    private int? _decodeWorkers;

    /// <summary>
    /// How many cursors decode a computed batch's images: one per core (at most <see cref="MaxDecodeWorkers"/>) when the
    /// images are decoded as a cursor reads them (LoadImages' getter decodes the file it is asked for, so a cursor that
    /// skips a row's image skips its decoding); 1 for vectors, where the images come decoded from the data's source
    /// (an in-memory list, a cache, PreloadImages), whose extra cursors would only enumerate the source again, and where
    /// the rows come from LoadFromEnumerable over something other than a collection (<see cref="RepeatsItsRows"/>).
    /// </summary>
    internal int DecodeWorkers => _decodeWorkers ??= CountDecodeWorkers();

    private int CountDecodeWorkers()
    {
        int cores = Math.Min(Environment.ProcessorCount, MaxDecodeWorkers);
        if (cores < 2 || !_output.Reader.IsImage) return 1;
        IDataView root = _input;
        while (root is IDataTransform transform) root = transform.Source;
        if (root.Schema.Any(c => c.Type is Microsoft.ML.Transforms.Image.ImageDataViewType)) return 1;
        return RepeatsItsRows(root) ? cores : 1;
    }

    /// <summary>
    /// False for LoadFromEnumerable over anything but a collection (a query, a stream, a generator): ML.NET allows such
    /// a view to be read once, and another enumeration may give no rows or other rows, so the extra cursors would see
    /// another row's image (a one-shot source failed, a re-ordering one paired half the rows with other rows' images).
    /// </summary>
    private static bool RepeatsItsRows(IDataView root)
    {
        Type type = root.GetType();
        if (!type.IsGenericType || type.GetGenericTypeDefinition() != typeof(DataViewConstructionUtils.StreamingDataView<>)) return true;
        object? data = type.GetField("_data", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public |
            System.Reflection.BindingFlags.NonPublic)?.GetValue(root);
        return data is System.Collections.ICollection || data?.GetType().GetInterfaces().Any(i => i.IsGenericType &&
            (i.GetGenericTypeDefinition() == typeof(ICollection<>) || i.GetGenericTypeDefinition() == typeof(IReadOnlyCollection<>))) == true;
    }

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        bool compute = needed.Any(c => c.Index >= FirstAddedIndex);
        var passThrough = needed.Where(c => c.Index < FirstAddedIndex).Select(c => _input.Schema[c.Index]).Distinct().ToList();
        if (!compute) return new PassThroughCursor(this, _input.GetRowCursor(passThrough));
        var source = _input.GetRowCursor(passThrough.Append(_input.Schema[_output.Reader.ColumnName]).Distinct());
        try
        {
            return new Cursor(this, source, passThrough);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    // One cursor: the look-ahead batches are what make this fast, and splitting them across threads would only
    // compete with libtorch's own intra-op threads.
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    /// <summary>A cursor that needs none of the computed columns: the input's own, row by row.</summary>
    private sealed class PassThroughCursor(BatchedDataView view, DataViewRowCursor input) : DataViewRowCursor
    {
        public override DataViewSchema Schema => view.Schema;

        public override long Position => input.Position;

        public override long Batch => input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index < view.FirstAddedIndex && input.IsColumnActive(view._input.Schema[column.Index]);

        public override bool MoveNext() => input.MoveNext();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => column.Index < view.FirstAddedIndex
            ? input.GetGetter<TValue>(view._input.Schema[column.Index])
            : throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");

        protected override void Dispose(bool disposing)
        {
            if (disposing) input.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly BatchedDataView _view;
        private readonly DataViewRowCursor _source;
        private readonly InputColumnReader.RowFiller _filler;
        private readonly RowBatchBuffer _buffer;
        private readonly Dictionary<int, ColumnBuffer> _passThrough;
        private readonly ValueGetter<DataViewRowId> _sourceId;
        private readonly DataViewRowId[] _ids;
        private readonly int _size;
        private float[] _values = [];
        private float[] _scratch = [];
        private long _batchIndex = -1;
        private int _rowsInBatch;
        private int _indexInBatch = -1;
        private long _position = -1;
        private bool _done;
        private bool _disposed;
        // Rows the source cursor has read; cursors that decode images beside it catch up to it before a batch.
        private long _sourceRows;
        private ImageDecoder[]? _decoders;

        public Cursor(BatchedDataView view, DataViewRowCursor source, List<DataViewSchema.Column> passThrough)
        {
            _view = view;
            _source = source;
            _size = view._output.ValuesPerRow;
            int capacity = view._output.BatchSize;
            _buffer = new RowBatchBuffer(view._output.Reader, capacity);
            _sourceId = source.GetIdGetter();
            _ids = new DataViewRowId[capacity];
            _passThrough = passThrough.ToDictionary(c => c.Index, c => ColumnBuffer.Create(source, c, capacity));
            _filler = view._output.Reader.Bind(source, view._input);
        }

        public override DataViewSchema Schema => _view.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) =>
        {
            CheckRow();
            id = _ids[_indexInBatch];
        };

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index >= _view.FirstAddedIndex || _passThrough.ContainsKey(column.Index);

        public override bool MoveNext()
        {
            if (_disposed || _done) return false;
            if (++_indexInBatch >= _rowsInBatch)
            {
                ReadNextBatch();
                _indexInBatch = 0;
                if (_rowsInBatch == 0)
                {
                    _done = true;
                    return false;
                }
            }
            _position++;
            return true;
        }

        private void ReadNextBatch()
        {
            _batchIndex++;
            if (_view.Recall(_batchIndex) is { } remembered)
            {
                // Computed by an earlier cursor: walk the input for the pass-through values only.
                int rows = remembered.Length / _size, read = 0;
                while (read < rows && _source.MoveNext()) Capture(read++);
                _sourceRows += read;
                if (read != rows)
                    throw new InvalidOperationException($"The input data returned fewer rows to this cursor than to an earlier one (row {_position + 1 + read}); " +
                        "the stage needs an input whose row order is repeatable, such as a loaded file or a cached view (Data.Cache).");
                _rowsInBatch = rows;
                _values = remembered;
                return;
            }
            int slot = 0;
            if (_view.DecodeWorkers > 1)
            {
                slot = ReadBatchDecodingInParallel();
            }
            else
            {
                while (!_buffer.IsFull && _source.MoveNext())
                {
                    _buffer.Add(_filler);
                    Capture(slot++);
                }
            }
            _sourceRows += slot;
            _rowsInBatch = slot;
            if (slot == 0) return;
            using var raw = _buffer.TakeTensor();
            using var computed = _view._output.Compute(raw);
            int count = _rowsInBatch * _size;
            bool keep = _view.MayRemember(_batchIndex, count);
            // A batch no one keeps goes to this cursor's own buffer rather than to a new array per batch.
            if (!keep && _scratch.Length < count) _scratch = new float[_buffer.Capacity * _size];
            float[] values = keep ? new float[count] : _scratch;
            computed.data<float>().CopyTo(values.AsSpan(0, count));
            if (keep) _view.Remember(_batchIndex, values);
            _values = values;
        }

        /// <summary>
        /// Reads the next batch with every core decoding its share of the images: this cursor and one more per extra core
        /// walk the same rows, and each decodes every n-th row's image (decoding, not the network, is what scoring photos
        /// costs: about 40 ms for a 2400 x 1800 JPEG against well under 1 ms of a small encoder's forward pass).
        /// </summary>
        private int ReadBatchDecodingInParallel()
        {
            _decoders ??= ImageDecoder.Open(_view, _view.DecodeWorkers - 1);
            int workers = _decoders.Length + 1, capacity = _buffer.Capacity;
            var read = new int[workers];
            var failures = new (int Slot, System.Runtime.ExceptionServices.ExceptionDispatchInfo Error)?[workers];
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, worker =>
            {
                int n = 0;
                try
                {
                    if (worker == 0)
                    {
                        for (; n < capacity && _source.MoveNext(); n++)
                        {
                            Capture(n);
                            if (n % workers == 0) _buffer.FillAt(n, _filler);
                        }
                    }
                    else
                    {
                        ImageDecoder decoder = _decoders[worker - 1];
                        decoder.SkipTo(_sourceRows);
                        for (; n < capacity && decoder.MoveNext(); n++)
                            if (n % workers == worker) _buffer.FillAt(n, decoder.Filler);
                    }
                }
                catch (Exception e)
                {
                    failures[worker] = (n, System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e));
                }
                read[worker] = n;
            });
            // The first failing row in the data's order, whichever core met it, as reading on one core would have thrown.
            if (failures.Where(f => f is not null).OrderBy(f => f!.Value.Slot).FirstOrDefault() is { } failure) failure.Error.Throw();
            if (read.Any(n => n != read[0]))
                throw new InvalidOperationException($"The input data returned {read.Min()} rows to one cursor and {read.Max()} to another from row {_sourceRows}; " +
                    "the stage needs an input whose row order is repeatable, such as a loaded file or a cached view (Data.Cache).");
            _buffer.SetCount(read[0]);
            return read[0];
        }

        private void Capture(int slot)
        {
            _sourceId(ref _ids[slot]);
            foreach (ColumnBuffer column in _passThrough.Values) column.Capture(slot);
        }

        private void CheckRow()
        {
            if (_position < 0 || _done) throw new InvalidOperationException("The cursor is not on a row: call MoveNext first, and read no further than the last row.");
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _view.FirstAddedIndex)
            {
                return _passThrough.TryGetValue(column.Index, out ColumnBuffer? buffer)
                    ? buffer.Getter<TValue>(() => { CheckRow(); return _indexInBatch; })
                    : throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
            }
            int added = column.Index - _view.FirstAddedIndex;
            _view._output.CheckGetterType(added, typeof(TValue));
            return (ValueGetter<TValue>)_view._output.MakeGetter(added, () => _values.AsMemory(_indexInBatch * _size, _size));
        }

        protected override void Dispose(bool disposing)
        {
            if (_disposed) return;
            _disposed = true;
            if (disposing)
            {
                _filler.Dispose();
                _source.Dispose();
                foreach (ImageDecoder decoder in _decoders ?? []) decoder.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>A cursor over the input that reads only the image column, to decode its share of a batch's images.</summary>
    private sealed class ImageDecoder : IDisposable
    {
        private readonly DataViewRowCursor _cursor;
        private long _rows;

        private ImageDecoder(DataViewRowCursor cursor, InputColumnReader.RowFiller filler)
        {
            _cursor = cursor;
            Filler = filler;
        }

        public InputColumnReader.RowFiller Filler { get; }

        public static ImageDecoder[] Open(BatchedDataView view, int count)
        {
            var decoders = new List<ImageDecoder>(count);
            try
            {
                for (int i = 0; i < count; i++)
                {
                    DataViewRowCursor cursor = view._input.GetRowCursor([view._input.Schema[view._output.Reader.ColumnName]]);
                    try
                    {
                        decoders.Add(new ImageDecoder(cursor, view._output.Reader.Bind(cursor, view._input)));
                    }
                    catch
                    {
                        cursor.Dispose();
                        throw;
                    }
                }
                return [.. decoders];
            }
            catch
            {
                foreach (ImageDecoder decoder in decoders) decoder.Dispose();
                throw;
            }
        }

        /// <summary>Moves past rows without reading their images until <paramref name="rows"/> rows are behind the cursor
        /// (batches another cursor computed earlier are not decoded again).</summary>
        public void SkipTo(long rows)
        {
            while (_rows < rows && _cursor.MoveNext()) _rows++;
        }

        public bool MoveNext()
        {
            if (!_cursor.MoveNext()) return false;
            _rows++;
            return true;
        }

        public void Dispose()
        {
            Filler.Dispose();
            _cursor.Dispose();
        }
    }
}
