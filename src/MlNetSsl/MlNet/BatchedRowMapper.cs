using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.MlNet.Data;

namespace MlNetSsl.MlNet;

/// <summary>
/// The row-by-row form of a TorchSharp-backed transformer for <c>PredictionEngine</c>: one forward pass per row,
/// computed once per row even when several added columns are read. Each prediction engine gets its own row and
/// buffers; the module is only read, so engines on different threads can share the transformer.
/// </summary>
internal sealed class BatchedRowMapper : IRowToRowMapper
{
    private readonly BatchedOutput _output;

    public BatchedRowMapper(BatchedOutput output, DataViewSchema inputSchema)
    {
        _output = output;
        InputSchema = inputSchema;
        OutputSchema = output.OutputSchema(inputSchema);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    private int FirstAddedIndex => InputSchema.Count;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var needed = new SortedSet<int>();
        foreach (var column in dependingColumns)
            needed.Add(column.Index >= FirstAddedIndex ? InputSchema[_output.Reader.ColumnName].Index : column.Index);
        return needed.Select(i => InputSchema[i]).ToArray();
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new Row(this, input, activeColumns.Any(c => c.Index >= FirstAddedIndex));

    private sealed class Row : DataViewRow
    {
        private readonly BatchedRowMapper _mapper;
        private readonly DataViewRow _input;
        private readonly InputColumnReader.RowFiller? _filler;
        private readonly float[] _values;
        private readonly byte[]? _bytes, _lastBytes;
        private readonly float[]? _floats, _lastFloats;
        private bool _computed;

        public Row(BatchedRowMapper mapper, DataViewRow input, bool compute)
        {
            _mapper = mapper;
            _input = input;
            _values = new float[mapper._output.ValuesPerRow];
            if (!compute) return;
            var reader = mapper._output.Reader;
            _filler = reader.Bind(input);
            if (reader.IsImage)
            {
                _bytes = new byte[reader.Shape.Size];
                _lastBytes = new byte[reader.Shape.Size];
            }
            else
            {
                _floats = new float[reader.Shape.Size];
                _lastFloats = new float[reader.Shape.Size];
            }
        }

        public override DataViewSchema Schema => _mapper.OutputSchema;

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index >= _mapper.FirstAddedIndex ? _filler is not null : _input.IsColumnActive(_mapper.InputSchema[column.Index]);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _mapper.FirstAddedIndex) return _input.GetGetter<TValue>(_mapper.InputSchema[column.Index]);
            if (_filler is null)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the row was created.");
            int added = column.Index - _mapper.FirstAddedIndex;
            _mapper._output.CheckGetterType(added, typeof(TValue));
            return (ValueGetter<TValue>)_mapper._output.MakeGetter(added, Current);
        }

        // PredictionEngine reuses one row (Position stays put) for every example, so the row's input, not its position,
        // says whether the last forward pass still applies: reading the input is cheap next to a forward pass, and two
        // added columns (Score and PredictedLabel) then cost one pass.
        private ReadOnlyMemory<float> Current()
        {
            bool same;
            if (_bytes is not null)
            {
                _filler!.Fill(_bytes);
                same = _computed && _bytes.AsSpan().SequenceEqual(_lastBytes);
            }
            else
            {
                _filler!.Fill(_floats);
                same = _computed && _floats.AsSpan().SequenceEqual(_lastFloats);
            }
            if (same) return _values;

            var shape = _mapper._output.Reader.Shape.BatchShape(1);
            using var raw = _bytes is not null
                ? TorchSharp.torch.tensor(_bytes, shape, TorchSharp.torch.ScalarType.Byte)
                : TorchSharp.torch.tensor(_floats!, shape);
            using var computed = _mapper._output.Compute(raw);
            computed.data<float>().CopyTo(_values.AsSpan());
            if (_bytes is not null) _bytes.CopyTo(_lastBytes!, 0);
            else _floats!.CopyTo(_lastFloats!, 0);
            _computed = true;
            return _values;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _filler?.Dispose();
            base.Dispose(disposing);
        }
    }
}
