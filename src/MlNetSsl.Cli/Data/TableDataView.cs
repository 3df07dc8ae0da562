using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.Cli.Data;

/// <summary>One in-memory column: Single values (NaN for missing) or text.</summary>
internal sealed record TableColumn(string Name, float[]? Numbers, string[]? Texts)
{
    public DataViewType Type => Numbers is not null ? NumberDataViewType.Single : TextDataViewType.Instance;

    public int Length => Numbers?.Length ?? Texts!.Length;
}

/// <summary>
/// An IDataView over columns held in memory, built at run time from a CSV's detected columns (ML.NET's
/// <c>LoadFromEnumerable</c> needs a class per schema, and a CSV's columns are known only when it is read).
/// </summary>
internal sealed class TableDataView : IDataView
{
    private readonly TableColumn[] _columns;
    private readonly int _rows;

    public TableDataView(IReadOnlyList<TableColumn> columns, int rows)
    {
        _columns = [.. columns];
        _rows = rows;
        if (_columns.Any(c => c.Length != rows)) throw new ArgumentException("Every column needs one value per row.", nameof(columns));
        var builder = new DataViewSchema.Builder();
        foreach (TableColumn column in _columns) builder.AddColumn(column.Name, column.Type);
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(TableDataView view, HashSet<int> active) : DataViewRowCursor
    {
        private int _row = -1;

        public override DataViewSchema Schema => view.Schema;

        public override long Position => _row;

        public override long Batch => 0;

        public override bool MoveNext() => ++_row < view._rows;

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_row, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            TableColumn source = view._columns[column.Index];
            Delegate getter = source.Numbers is { } numbers
                ? (ValueGetter<float>)((ref float value) => value = numbers[_row])
                : (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> value) => value = source.Texts![_row].AsMemory());
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{source.Name}' holds {source.Type}, not {typeof(TValue).Name}.");
        }
    }
}
