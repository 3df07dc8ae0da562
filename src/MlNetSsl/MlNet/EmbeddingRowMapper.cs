using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Data;

namespace MlNetSsl.MlNet;

/// <summary>
/// The row-by-row form of <see cref="SelfSupervisedTransformer"/> for <c>PredictionEngine</c>: one forward pass
/// per requested row. Each prediction engine gets its own row and buffers; the encoder is only read, so engines on
/// different threads can share the transformer.
/// </summary>
internal sealed class EmbeddingRowMapper : IRowToRowMapper
{
    private readonly SelfSupervisedTransformer _owner;
    private readonly InputColumnReader _reader;

    public EmbeddingRowMapper(SelfSupervisedTransformer owner, DataViewSchema inputSchema, InputColumnReader reader, DataViewSchema outputSchema)
    {
        _owner = owner;
        _reader = reader;
        InputSchema = inputSchema;
        OutputSchema = outputSchema;
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    private int EmbeddingIndex => InputSchema.Count;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var needed = new SortedSet<int>();
        foreach (var column in dependingColumns)
            needed.Add(column.Index == EmbeddingIndex ? InputSchema[_reader.ColumnName].Index : column.Index);
        return needed.Select(i => InputSchema[i]).ToArray();
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        bool embed = activeColumns.Any(c => c.Index == EmbeddingIndex);
        return new Row(this, input, embed);
    }

    private sealed class Row : DataViewRow
    {
        private readonly EmbeddingRowMapper _mapper;
        private readonly DataViewRow _input;
        private readonly InputColumnReader.RowFiller? _filler;
        private readonly RowBatchBuffer? _buffer;

        public Row(EmbeddingRowMapper mapper, DataViewRow input, bool embed)
        {
            _mapper = mapper;
            _input = input;
            if (embed)
            {
                _filler = mapper._reader.Bind(input);
                _buffer = new RowBatchBuffer(mapper._reader, 1);
            }
        }

        public override DataViewSchema Schema => _mapper.OutputSchema;

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == _mapper.EmbeddingIndex ? _filler is not null : _input.IsColumnActive(_mapper.InputSchema[column.Index]);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != _mapper.EmbeddingIndex) return _input.GetGetter<TValue>(_mapper.InputSchema[column.Index]);
            if (_filler is null)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the row was created.");
            if (typeof(TValue) != typeof(VBuffer<float>))
                throw new InvalidOperationException($"Column '{column.Name}' holds VBuffer<Single>, not {typeof(TValue).Name}.");
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                _buffer!.Add(_filler);
                using var raw = _buffer.TakeTensor();
                using var embedding = _mapper._owner.EmbedRaw(raw);
                var editor = VBufferEditor.Create(ref value, _mapper._owner.EmbeddingSize);
                embedding.data<float>().CopyTo(editor.Values);
                value = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _filler?.Dispose();
            base.Dispose(disposing);
        }
    }
}
