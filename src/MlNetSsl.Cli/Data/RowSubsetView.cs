using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.Cli.Data;

/// <summary>The rows of a view whose positions are in a set (a hold-out split), in their original order.</summary>
internal sealed class RowSubsetView(IDataView input, IReadOnlySet<long> rows) : IDataView
{
    public bool CanShuffle => false;

    public DataViewSchema Schema => input.Schema;

    public long? GetRowCount() => rows.Count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(input.GetRowCursor(columnsNeeded), rows);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(DataViewRowCursor input, IReadOnlySet<long> rows) : DataViewRowCursor
    {
        private long _position = -1;

        public override DataViewSchema Schema => input.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            while (input.MoveNext())
            {
                if (!rows.Contains(input.Position)) continue;
                _position++;
                return true;
            }
            return false;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => input.IsColumnActive(column);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => input.GetGetter<TValue>(column);

        protected override void Dispose(bool disposing)
        {
            if (disposing) input.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>Row subsets of a <see cref="TrainingData"/>.</summary>
internal static class TrainingDataSubsets
{
    /// <summary>The rows at <paramref name="rows"/> (ascending), with every per-row array cut to match.</summary>
    public static TrainingData Subset(this TrainingData data, int[] rows)
    {
        var set = rows.Select(r => (long)r).ToHashSet();
        return new TrainingData
        {
            Kind = data.Kind,
            LabelColumn = data.LabelColumn,
            View = new RowSubsetView(data.View, set),
            Columns = data.Columns,
            Labels = rows.Select(r => data.Labels[r]).ToArray(),
            RowNames = rows.Select(r => data.RowNames[r]).ToArray(),
            RowValues = row => data.RowValues(rows[row]),
            ImagePaths = data.ImagePaths is null ? null : rows.Select(r => data.ImagePaths[r]).ToArray(),
            SeriesChannels = data.SeriesChannels,
            SeriesLengths = data.SeriesLengths is null ? null : rows.Select(r => data.SeriesLengths[r]).ToArray(),
            SeriesLabelColumn = data.SeriesLabelColumn,
            FilledNote = data.FilledNote,
            PaddingNote = data.PaddingNote,
            RepeatedHeaderNote = data.RepeatedHeaderNote,
            RepeatedNameNote = data.RepeatedNameNote,
            Skipped = data.Skipped,
            IgnoredTopLevel = data.IgnoredTopLevel,
            EmptyClassFolders = data.EmptyClassFolders,
            IdentifierColumns = data.IdentifierColumns,
            IdentifiersLeftOut = data.IdentifiersLeftOut,
            IdentifierDateColumns = data.IdentifierDateColumns,
            ConstantColumns = data.ConstantColumns,
            MostlyNumericTextColumns = data.MostlyNumericTextColumns,
            GroupedNumberTextColumns = data.GroupedNumberTextColumns,
            DateTextColumns = data.DateTextColumns,
            UnitNumberTextColumns = data.UnitNumberTextColumns,
            Duplicates = data.Duplicates,
            ContentHashes = data.ContentHashes.Count == 0 ? [] : rows.Select(r => data.ContentHashes[r]).ToArray(),
            HiddenEntries = data.HiddenEntries,
            PictureInAlpha = data.PictureInAlpha,
            SizeSummary = data.SizeSummary,
            SeriesFormat = data.SeriesFormat,
            DecimalMarker = data.DecimalMarker,
            Format = data.Format,
            Layout = data.Layout,
            MatchNote = data.MatchNote,
            LabelNote = data.LabelNote,
        };
    }

    /// <summary>A stratified hold-out: <paramref name="fraction"/> of each class's labeled rows (at least one, when the class
    /// has two or more), chosen with <paramref name="seed"/>. Returns (training rows, test rows), each ascending.</summary>
    public static (int[] Train, int[] Test) StratifiedHoldOut(this TrainingData data, double fraction, int seed)
    {
        var random = new Random(seed);
        var test = new HashSet<int>();
        foreach (var group in Enumerable.Range(0, data.Count).Where(r => data.Labels[r].Length > 0).GroupBy(r => data.Labels[r]))
        {
            int[] members = group.ToArray();
            random.Shuffle(members);
            int take = members.Length < 2 ? 0 : Math.Max(1, (int)Math.Round(members.Length * fraction));
            foreach (int row in members.Take(take)) test.Add(row);
        }
        return (Enumerable.Range(0, data.Count).Where(r => !test.Contains(r)).ToArray(), test.Order().ToArray());
    }
}
