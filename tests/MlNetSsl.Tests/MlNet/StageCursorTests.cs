using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>
/// How the stage's output is read: one input cursor per output cursor (two over ML.NET's text loader made each partly
/// read cursor's disposal wait about 100 ms), the pass-through columns of every row kept with that row across batch
/// boundaries, and a batch computed once per transformed view (SDCA opens a cursor per pass and re-ran the network
/// each time).
/// </summary>
public sealed class StageCursorTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mlnetssl-cursor-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [SkippableFact]
    public void EachRowKeepsItsOwnColumnsAndASecondPassDoesNotRunTheNetworkAgain()
    {
        // 300 HIGGS rows in a text file (label, 28 features, a text id), read by ML.NET's text loader; batches of 64
        // end mid-file (64 x 4 = 256, then 44).
        var rows = SharedData.ReadHiggs("train", 300);
        string path = Path.Combine(_work, "higgs.tsv");
        File.WriteAllLines(path, rows.Select((r, i) => string.Join('\t',
            new[] { r.Label.ToString("R", CultureInfo.InvariantCulture) }.Concat(r.Features.Select(f => f.ToString("R", CultureInfo.InvariantCulture))).Append($"row-{i}"))));
        var ml = new MLContext(1);
        var loader = ml.Data.CreateTextLoader([
            new TextLoader.Column("Label", DataKind.Single, 0),
            new TextLoader.Column("Features", DataKind.Single, 1, 28),
            new TextLoader.Column("Id", DataKind.String, 29)]);
        IDataView file = loader.Load(path);
        var stage = ml.Transforms.SelfSupervised("Emb", "Features", SslMethod.SimClr, o => { o.Epochs = 1; o.BatchSize = 64; }).Fit(file);

        var counted = new CountingView(file, "Features");
        IDataView output = stage.Transform(counted);
        var first = ReadAll(output, withFeatures: true);
        Assert.Equal(1, counted.CursorsOpened);
        Assert.Equal(600, counted.ValuesRead); // the network's input and the pass-through column, one getter each
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"row-{i}"), first.Select(r => r.Id));
        Assert.Equal(rows.Select(r => r.Label), first.Select(r => r.Label));
        for (int i = 0; i < 300; i++) Assert.Equal(rows[i].Features, first[i].Features);
        var inputIds = new List<ulong>();
        using (var cursor = file.GetRowCursor([]))
        {
            var rowId = cursor.GetIdGetter();
            DataViewRowId value = default;
            while (cursor.MoveNext()) { rowId(ref value); inputIds.Add(value.Low); }
        }
        Assert.Equal(inputIds, first.Select(r => r.RowId));
        Assert.Equal(300, inputIds.Distinct().Count());

        // The same embeddings as over a cached view (same batches, same arithmetic).
        var cached = VectorData.ReadVectors(stage.Transform(ml.Data.Cache(file)), "Emb");
        for (int i = 0; i < 300; i++) Assert.Equal(cached[i], first[i].Emb);

        // A second pass over the same output takes the batches computed by the first: the input column is not read
        // again, and every value is the same.
        var second = ReadAll(output, withFeatures: false);
        Assert.Equal(2, counted.CursorsOpened);
        Assert.Equal(600, counted.ValuesRead);
        for (int i = 0; i < 300; i++)
        {
            Assert.Equal(first[i].Emb, second[i].Emb);
            Assert.Equal(first[i].Id, second[i].Id);
        }

        // A cursor that reads one row and stops, then a pass that needs no embedding: one input cursor each, nothing recomputed.
        using (var cursor = output.GetRowCursor([output.Schema["Emb"]]))
            Assert.True(cursor.MoveNext());
        using (var labels = output.GetRowCursor([output.Schema["Label"]]))
            while (labels.MoveNext()) { }
        Assert.Equal(4, counted.CursorsOpened);
        Assert.Equal(600, counted.ValuesRead);

        // A fresh Transform computes again (what is remembered belongs to the view).
        ReadAll(stage.Transform(counted), withFeatures: false);
        Assert.Equal(900, counted.ValuesRead);
    }

    private sealed record Row(float Label, float[] Features, string Id, ulong RowId, float[] Emb);

    private static List<Row> ReadAll(IDataView output, bool withFeatures)
    {
        var list = new List<Row>();
        using var cursor = output.GetRowCursor(withFeatures ? output.Schema : output.Schema.Where(c => c.Name != "Features"));
        var label = cursor.GetGetter<float>(output.Schema["Label"]);
        ValueGetter<VBuffer<float>> features = withFeatures ? cursor.GetGetter<VBuffer<float>>(output.Schema["Features"]) : (ref VBuffer<float> v) => v = default;
        var id = cursor.GetGetter<ReadOnlyMemory<char>>(output.Schema["Id"]);
        var emb = cursor.GetGetter<VBuffer<float>>(output.Schema["Emb"]);
        var rowId = cursor.GetIdGetter();
        float l = 0;
        VBuffer<float> f = default, e = default;
        ReadOnlyMemory<char> text = default;
        DataViewRowId row = default;
        long expected = 0;
        while (cursor.MoveNext())
        {
            Assert.Equal(expected++, cursor.Position);
            label(ref l);
            features(ref f);
            id(ref text);
            emb(ref e);
            rowId(ref row);
            list.Add(new Row(l, f.DenseValues().ToArray(), text.ToString(), row.Low, e.DenseValues().ToArray()));
        }
        return list;
    }

    /// <summary>Passes rows through, counting the cursors opened and the values of one column read.</summary>
    private sealed class CountingView(IDataView inner, string counted) : IDataView
    {
        public int CursorsOpened { get; private set; }

        public int ValuesRead { get; private set; }

        public bool CanShuffle => false;

        public DataViewSchema Schema => inner.Schema;

        public long? GetRowCount() => inner.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            CursorsOpened++;
            return new Cursor(this, inner.GetRowCursor(columnsNeeded));
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [GetRowCursor(columnsNeeded, rand)];

        private sealed class Cursor(CountingView view, DataViewRowCursor inner) : DataViewRowCursor
        {
            public override DataViewSchema Schema => inner.Schema;

            public override long Position => inner.Position;

            public override long Batch => inner.Batch;

            public override bool MoveNext() => inner.MoveNext();

            public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

            public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                var getter = inner.GetGetter<TValue>(column);
                if (column.Name != view._counted) return getter;
                return (ref TValue value) =>
                {
                    view.ValuesRead++;
                    getter(ref value);
                };
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing) inner.Dispose();
                base.Dispose(disposing);
            }
        }

        private readonly string _counted = counted;
    }
}
