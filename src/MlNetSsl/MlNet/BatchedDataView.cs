using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MlNetSsl.MlNet.Data;

namespace MlNetSsl.MlNet;

/// <summary>
/// The lazy output of a TorchSharp-backed transformer (<see cref="BatchedOutput"/>). Each cursor walks the input
/// twice in lockstep: a look-ahead cursor reads the next batch of the input column and computes it in one forward
/// pass, while the main cursor supplies the current row's other columns. Both are unshuffled cursors over the same
/// view, so they see the same rows in the same order; that is also why this view does not shuffle.
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

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        bool compute = needed.Any(c => c.Index >= FirstAddedIndex);
        var passThrough = needed.Where(c => c.Index < FirstAddedIndex).Select(c => _input.Schema[c.Index]).ToList();
        var main = _input.GetRowCursor(passThrough);
        DataViewRowCursor? lookAhead = null;
        try
        {
            if (compute) lookAhead = _input.GetRowCursor(new[] { _input.Schema[_output.Reader.ColumnName] });
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
        private readonly BatchedDataView _view;
        private readonly DataViewRowCursor _main;
        private readonly DataViewRowCursor? _lookAhead;
        private readonly InputColumnReader.RowFiller? _filler;
        private readonly RowBatchBuffer? _buffer;
        private readonly int _size;
        private float[] _values = [];
        private int _rowsInBatch;
        private int _indexInBatch = -1;
        private bool _disposed;

        public Cursor(BatchedDataView view, DataViewRowCursor main, DataViewRowCursor? lookAhead)
        {
            _view = view;
            _main = main;
            _lookAhead = lookAhead;
            _size = view._output.ValuesPerRow;
            if (lookAhead is not null)
            {
                _filler = view._output.Reader.Bind(lookAhead);
                _buffer = new RowBatchBuffer(view._output.Reader, view._output.BatchSize);
            }
        }

        public override DataViewSchema Schema => _view.Schema;

        public override long Position => _main.Position;

        public override long Batch => _main.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _main.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index >= _view.FirstAddedIndex ? _lookAhead is not null : _main.IsColumnActive(_view._input.Schema[column.Index]);

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
            using var computed = _view._output.Compute(raw);
            if (_values.Length < _rowsInBatch * _size) _values = new float[_buffer.Capacity * _size];
            computed.data<float>().CopyTo(_values.AsSpan(0, _rowsInBatch * _size));
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _view.FirstAddedIndex) return _main.GetGetter<TValue>(_view._input.Schema[column.Index]);
            if (_lookAhead is null)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
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
                _filler?.Dispose();
                _lookAhead?.Dispose();
                _main.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
