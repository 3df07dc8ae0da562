using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Data;
using static TorchSharp.torch;

namespace MlNetSsl.MlNet;

/// <summary>
/// The lazy output of <see cref="SelfSupervisedTransformer.Transform"/>. Each cursor walks the input twice in
/// lockstep: a look-ahead cursor reads the next batch of the input column and embeds it in one forward pass, while
/// the main cursor supplies the current row's other columns. Both are unshuffled cursors over the same view, so
/// they see the same rows in the same order; that is also why this view does not shuffle.
/// </summary>
internal sealed class EmbeddingDataView : IDataView
{
    private readonly SelfSupervisedTransformer _owner;
    private readonly IDataView _input;
    private readonly InputColumnReader _reader;

    public EmbeddingDataView(SelfSupervisedTransformer owner, IDataView input, InputColumnReader reader, DataViewSchema schema)
    {
        _owner = owner;
        _input = input;
        _reader = reader;
        Schema = schema;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    private int EmbeddingIndex => _input.Schema.Count;

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        bool embed = needed.Any(c => c.Index == EmbeddingIndex);
        var passThrough = needed.Where(c => c.Index < EmbeddingIndex).Select(c => _input.Schema[c.Index]).ToList();
        var main = _input.GetRowCursor(passThrough);
        DataViewRowCursor? lookAhead = null;
        try
        {
            if (embed) lookAhead = _input.GetRowCursor(new[] { _input.Schema[_reader.ColumnName] });
            return new Cursor(this, main, lookAhead);
        }
        catch
        {
            main.Dispose();
            lookAhead?.Dispose();
            throw;
        }
    }

    // One cursor: the look-ahead batches are what make this fast, and splitting them across threads would only
    // compete with libtorch's own intra-op threads.
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly EmbeddingDataView _view;
        private readonly DataViewRowCursor _main;
        private readonly DataViewRowCursor? _lookAhead;
        private readonly InputColumnReader.RowFiller? _filler;
        private readonly RowBatchBuffer? _buffer;
        private readonly int _size;
        private float[] _embeddings = [];
        private int _rowsInBatch;
        private int _indexInBatch = -1;
        private bool _disposed;

        public Cursor(EmbeddingDataView view, DataViewRowCursor main, DataViewRowCursor? lookAhead)
        {
            _view = view;
            _main = main;
            _lookAhead = lookAhead;
            _size = view._owner.EmbeddingSize;
            if (lookAhead is not null)
            {
                _filler = view._reader.Bind(lookAhead);
                _buffer = new RowBatchBuffer(view._reader, view._owner.BatchSize);
            }
        }

        public override DataViewSchema Schema => _view.Schema;

        public override long Position => _main.Position;

        public override long Batch => _main.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _main.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == _view.EmbeddingIndex ? _lookAhead is not null : _main.IsColumnActive(_view._input.Schema[column.Index]);

        public override bool MoveNext()
        {
            if (_disposed || !_main.MoveNext()) return false;
            if (_lookAhead is not null && ++_indexInBatch >= _rowsInBatch)
            {
                ReadNextBatch();
                _indexInBatch = 0;
            }
            return true;
        }

        private void ReadNextBatch()
        {
            while (!_buffer!.IsFull && _lookAhead!.MoveNext()) _buffer.Add(_filler!);
            if (_buffer.Count == 0)
                throw new InvalidOperationException($"The input data returned a different number of rows to two cursors (row {_main.Position}); " +
                    "the stage needs an input whose row order is repeatable, such as a loaded file or a cached view (Data.Cache).");
            _rowsInBatch = _buffer.Count;
            using var raw = _buffer.TakeTensor();
            using var embeddings = _view._owner.EmbedRaw(raw);
            if (_embeddings.Length < _rowsInBatch * _size) _embeddings = new float[_buffer.Capacity * _size];
            embeddings.data<float>().CopyTo(_embeddings.AsSpan(0, _rowsInBatch * _size));
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != _view.EmbeddingIndex) return _main.GetGetter<TValue>(_view._input.Schema[column.Index]);
            if (_lookAhead is null)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
            if (typeof(TValue) != typeof(VBuffer<float>))
                throw new InvalidOperationException($"Column '{column.Name}' holds VBuffer<Single>, not {typeof(TValue).Name}.");
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                var editor = VBufferEditor.Create(ref value, _size);
                _embeddings.AsSpan(_indexInBatch * _size, _size).CopyTo(editor.Values);
                value = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        protected override void Dispose(bool disposing)
        {
            if (_disposed) return;
            _disposed = true;
            if (disposing)
            {
                _filler?.Dispose();
                _lookAhead?.Dispose();
                _main.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
