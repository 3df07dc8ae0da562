using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using MlNetSsl.MlNet;
using MlNetSsl.MlNet.Data;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>
/// <c>ml.Data.PreloadImages</c> decodes each image once at the stage's size, and the stage reads from it exactly what it
/// reads from the files (EXIF orientation and transparency included); the AutoML's trials read it, so a search over
/// large photos no longer decodes every file in every trial.
/// </summary>
public sealed class PreloadedImagesTests : IDisposable
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-preload-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    // Every EXIF orientation, a translucent PNG, one larger and one smaller than the stage's size.
    private IDataView Pictures()
    {
        var rows = new List<ImageRow>();
        for (int orientation = 1; orientation <= 8; orientation++)
        {
            var (w, h, pixel) = ImagePixelsTests.Stored(orientation);
            string name = $"o{orientation}.jpg";
            ImageFiles.WriteJpegWithOrientation(Path.Combine(_folder, name), w, h, pixel, orientation);
            rows.Add(new ImageRow { ImagePath = name, Label = orientation % 2 == 0 ? "even" : "odd" });
        }
        ImageFiles.Write(Path.Combine(_folder, "translucent.png"), 30, 20, (x, y) => ((byte)(8 * x), 90, (byte)(9 * y), y < 10 ? (byte)100 : (byte)255));
        ImageFiles.Write(Path.Combine(_folder, "large.png"), 300, 200, (x, y) => ((byte)x, (byte)y, (byte)(x ^ y), 255));
        ImageFiles.Write(Path.Combine(_folder, "small.png"), 5, 4, (x, y) => ((byte)(50 * x), (byte)(60 * y), 7, 255));
        rows.AddRange(new[] { "translucent.png", "large.png", "small.png" }.Select((n, i) => new ImageRow { ImagePath = n, Label = i % 2 == 0 ? "even" : "odd" }));
        return StageData.Images(_ml, rows, _folder);
    }

    private static List<byte[]> ReadAsTheStage(IDataView images, int width, int height)
    {
        var reader = InputColumnReader.ForType("Image", images.Schema["Image"].Type, width, height, 0);
        using DataViewRowCursor cursor = images.GetRowCursor([images.Schema["Image"]]);
        using var filler = reader.Bind(cursor);
        var rows = new List<byte[]>();
        while (cursor.MoveNext())
        {
            var planes = new byte[3 * width * height];
            filler.Fill(planes.AsSpan());
            rows.Add(planes);
        }
        return rows;
    }

    [SkippableFact]
    public void TheStageReadsThePreloadedImagesAsItReadsTheFiles()
    {
        IDataView files = Pictures();
        // Not square, so a quarter turn changes the size the images are held at.
        IDataView preloaded = _ml.Data.PreloadImages(files, "Image", 12, 8);
        List<byte[]> fromFiles = ReadAsTheStage(files, 12, 8), fromMemory = ReadAsTheStage(preloaded, 12, 8);
        Assert.Equal(11, fromMemory.Count);
        for (int row = 0; row < fromFiles.Count; row++) Assert.Equal(fromFiles[row], fromMemory[row]);
        // Read twice: each read hands out an image of its own.
        Assert.Equal(fromMemory, ReadAsTheStage(preloaded, 12, 8));
    }

    [SkippableFact]
    public void EachImageIsDecodedOnceHoweverOftenTheStageReadsIt()
    {
        var files = new CountingImages(Pictures(), "Image");
        IDataView preloaded = _ml.Data.PreloadImages(files, "Image", 16, 16);
        Assert.Equal(11, files.Reads);
        using var stage = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, o => { o.Epochs = 1; o.BatchSize = 11; o.ImageWidth = 16; o.ImageHeight = 16; })
            .Fit(preloaded);
        Assert.Equal(11, StageData.Vectors(stage.Transform(preloaded), "E").Length);
        Assert.Equal(11, files.Reads);
    }

    [SkippableFact]
    public void TheStagesFitDecodesEachImageOnceOnEveryCoreAndLearnsWhatItLearnsFromPreloadedImages()
    {
        // 96 images: past 64 rows the stage's Fit has every core decode its share (its own read used one cursor).
        List<ImageRow> rows = DistinctColours("f", 96);
        var files = new CountingImages(StageData.Images(_ml, rows, _folder), "Image");
        void Options(SelfSupervisedOptions o) { o.Epochs = 1; o.BatchSize = 32; o.ImageWidth = 8; o.ImageHeight = 8; o.Seed = 3; }
        using var fromFiles = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, Options).Fit(files);
        Assert.Equal(96, files.Reads);
        Assert.Equal(Math.Min(Environment.ProcessorCount, 3), files.ImageCursors);
        // The same pixels as a stage fitted on PreloadImages' view: the same encoder.
        IDataView preloaded = _ml.Data.PreloadImages(StageData.Images(_ml, rows, _folder), "Image", 8, 8);
        using var fromMemory = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, Options).Fit(preloaded);
        float[][] a = StageData.Vectors(fromFiles.Transform(preloaded), "E"), b = StageData.Vectors(fromMemory.Transform(preloaded), "E");
        for (int row = 0; row < 96; row++) Assert.Equal(a[row], b[row]);
    }

    [SkippableFact]
    public void TheSearchsDatasetDecodesEachImageOnceForItsTrials()
    {
        // The experiment's data as the AutoML holds it: after the check that every image loads, pretraining and embedding
        // (what every trial does) read the images from memory.
        var files = new CountingImages(Pictures(), "Image");
        SslDataset dataset = SslDataset.Read(_ml, files, "Image", nameof(ImageRow.Label), SslInputShape.Image(3, 16, 16));
        dataset.CheckImagesLoad();
        Assert.Equal(11, files.Reads);
        for (int trial = 0; trial < 2; trial++)
        {
            using var stage = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, o => { o.Epochs = 1; o.BatchSize = 11; o.ImageWidth = 16; o.ImageHeight = 16; })
                .Fit(dataset.Data);
            Assert.Equal(11, StageData.Vectors(stage.Transform(dataset.LabeledView), "E").Length);
        }
        Assert.Equal(11, files.Reads);
        // The raw-pixel featurizer crops and resizes the full image: it reads the files.
        Assert.Equal(11, dataset.RawFeatures().Length);
        Assert.Equal(22, files.Reads);
    }

    [SkippableFact]
    public void ManyImagesAreDecodedOnceEachByEveryCoreInTheirOrderAndABrokenOneIsNamedByItsFirstRow()
    {
        // 96 images of distinct colours: past 64 rows each core decodes every n-th row through a cursor of its own.
        List<ImageRow> rows = DistinctColours("c", 96);
        var files = new CountingImages(StageData.Images(_ml, rows, _folder), "Image");
        IDataView preloaded = _ml.Data.PreloadImages(files, "Image", 6, 6);
        Assert.Equal(96, files.Reads);
        List<byte[]> fromFiles = ReadAsTheStage(StageData.Images(_ml, rows, _folder), 6, 6), fromMemory = ReadAsTheStage(preloaded, 6, 6);
        Assert.Equal(96, fromMemory.Count);
        for (int row = 0; row < 96; row++) Assert.True(fromFiles[row].SequenceEqual(fromMemory[row]), $"row {row} differs");

        Assert.Equal(Math.Min(Environment.ProcessorCount, 3), files.ImageCursors);

        // A source that does not know its length (LoadFromEnumerable over a query) is counted first, without decoding,
        // and decoded on the same cores: it had been read on one.
        var uncounted = new CountingImages(StageData.Images(_ml, rows, _folder), "Image", knowsRowCount: false);
        IDataView fromUncounted = _ml.Data.PreloadImages(uncounted, "Image", 6, 6);
        Assert.Equal(96, uncounted.Reads);
        Assert.Equal(Math.Min(Environment.ProcessorCount, 3), uncounted.ImageCursors);
        List<byte[]> fromUncountedMemory = ReadAsTheStage(fromUncounted, 6, 6);
        for (int row = 0; row < 96; row++) Assert.True(fromFiles[row].SequenceEqual(fromUncountedMemory[row]), $"row {row} differs (source of unknown length)");

        // Two broken files: the error names the first in the data's order, whichever core reads it.
        File.WriteAllText(Path.Combine(_folder, "c71.png"), "not an image");
        File.WriteAllText(Path.Combine(_folder, "c40.png"), "not an image either");
        var error = Assert.Throws<InvalidDataException>(() => _ml.Data.PreloadImages(StageData.Images(_ml, rows, _folder), "Image", 6, 6));
        Assert.StartsWith("Row 40 of column 'Image'", error.Message);
    }

    [SkippableFact]
    public void TheStagesTransformDecodesEachBatchOnEveryCoreInTheRowsOrderAndNamesTheFirstBrokenImage()
    {
        // 100 images in batches of 32: each core decodes every n-th image of a batch through a cursor of its own (one cursor
        // decoded them all, so scoring photos ran on one core), and the embeddings are the rows' own, in order.
        List<ImageRow> rows = DistinctColours("t", 100);
        void Options(SelfSupervisedOptions o) { o.Epochs = 1; o.BatchSize = 32; o.ImageWidth = 8; o.ImageHeight = 8; o.Seed = 3; }
        using var stage = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, Options).Fit(StageData.Images(_ml, rows, _folder));
        IDataView fromFiles = stage.Transform(StageData.Images(_ml, rows, _folder));
        Assert.Equal(Math.Min(Environment.ProcessorCount, BatchedDataView.MaxDecodeWorkers), ((BatchedDataView)fromFiles).DecodeWorkers);
        // Images decoded already come through one cursor: more would only read the source again.
        IDataView preloaded = _ml.Data.PreloadImages(StageData.Images(_ml, rows, _folder), "Image", 8, 8);
        IDataView fromMemory = stage.Transform(preloaded);
        Assert.Equal(1, ((BatchedDataView)fromMemory).DecodeWorkers);
        float[][] expected = StageData.Vectors(fromMemory, "E");
        Assert.Equal(100, expected.Length);
        // Distinct images, distinct embeddings: a row out of place would show.
        Assert.Equal(100, expected.Select(e => string.Join(',', e)).Distinct().Count());
        float[][] actual = StageData.Vectors(fromFiles, "E");
        for (int row = 0; row < 100; row++) Assert.True(expected[row].SequenceEqual(actual[row]), $"row {row} differs");
        // A second read takes the batches the first computed, and a new view over the same rows computes them again.
        Assert.Equal(actual, StageData.Vectors(fromFiles, "E"));
        Assert.Equal(actual, StageData.Vectors(stage.Transform(StageData.Images(_ml, rows, _folder)), "E"));

        // Rows 71 and 72 broken: on two cores, 71 is the second cursor's and 72 the first's; the error names row 71 either way.
        File.WriteAllBytes(Path.Combine(_folder, "noise.jpg"), Enumerable.Range(0, 500).Select(b => (byte)(b * 37 % 251)).ToArray());
        List<ImageRow> broken = [.. rows.Select((r, i) => i is 71 or 72 ? new ImageRow { ImagePath = "noise.jpg", Label = r.Label } : r)];
        var error = Assert.Throws<InvalidDataException>(() => StageData.Vectors(stage.Transform(StageData.Images(_ml, broken, _folder)), "E"));
        Assert.StartsWith("Row 71 of column 'Image' (ImagePath 'noise.jpg'): the image could not be loaded", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void TheStagesTransformReadsRowsThatMayBeEnumeratedOnceThroughOneCursor()
    {
        // ML.NET lets LoadFromEnumerable over a query or stream be read once (score as the rows arrive): extra cursors that
        // decode beside the stage's own enumerated it again and got no rows (an error) or other rows (other rows' images).
        List<ImageRow> rows = DistinctColours("once", 100);
        void Options(SelfSupervisedOptions o) { o.Epochs = 1; o.BatchSize = 32; o.ImageWidth = 8; o.ImageHeight = 8; o.Seed = 3; }
        using var stage = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, Options).Fit(StageData.Images(_ml, rows, _folder));
        var byPath = EmbeddingsByPath(stage.Transform(_ml.Data.PreloadImages(StageData.Images(_ml, rows, _folder), "Image", 8, 8)));
        Assert.Equal(100, byPath.Values.Select(e => string.Join(',', e)).Distinct().Count());
        var loader = _ml.Transforms.LoadImages("Image", _folder, nameof(ImageRow.ImagePath)).Fit(_ml.Data.LoadFromEnumerable(rows));

        IDataView once = stage.Transform(loader.Transform(_ml.Data.LoadFromEnumerable(new EnumeratedOnce<ImageRow>(rows))));
        Assert.Equal(1, ((BatchedDataView)once).DecodeWorkers);
        List<(string Path, float[] E)> read = ReadEmbeddings(once);
        Assert.Equal(rows.Select(r => r.ImagePath), read.Select(r => r.Path));
        foreach (var (path, e) in read) Assert.True(byPath[path].SequenceEqual(e), $"{path} has another image's embedding");

        // A query whose order differs per enumeration: every row must still get its own image's embedding.
        var random = new Random(5);
        IDataView reordered = stage.Transform(loader.Transform(_ml.Data.LoadFromEnumerable(rows.OrderBy(_ => random.Next()))));
        Assert.Equal(1, ((BatchedDataView)reordered).DecodeWorkers);
        read = ReadEmbeddings(reordered);
        Assert.Equal(100, read.Select(r => r.Path).Distinct().Count());
        foreach (var (path, e) in read) Assert.True(byPath[path].SequenceEqual(e), $"{path} has another image's embedding");

        // A list (or array) is enumerated alike each time, so the rows' images are decoded on every core.
        Assert.Equal(Math.Min(Environment.ProcessorCount, BatchedDataView.MaxDecodeWorkers),
            ((BatchedDataView)stage.Transform(loader.Transform(_ml.Data.LoadFromEnumerable(rows.ToArray())))).DecodeWorkers);
    }

    private static Dictionary<string, float[]> EmbeddingsByPath(IDataView scored) => ReadEmbeddings(scored).ToDictionary(r => r.Path, r => r.E);

    private static List<(string Path, float[] E)> ReadEmbeddings(IDataView scored)
    {
        var read = new List<(string, float[])>();
        using DataViewRowCursor cursor = scored.GetRowCursor([scored.Schema[nameof(ImageRow.ImagePath)], scored.Schema["E"]]);
        var path = cursor.GetGetter<ReadOnlyMemory<char>>(scored.Schema[nameof(ImageRow.ImagePath)]);
        var embedding = cursor.GetGetter<VBuffer<float>>(scored.Schema["E"]);
        ReadOnlyMemory<char> p = default;
        VBuffer<float> e = default;
        while (cursor.MoveNext())
        {
            path(ref p);
            embedding(ref e);
            read.Add((p.ToString(), e.DenseValues().ToArray()));
        }
        return read;
    }

    /// <summary>Rows that can be enumerated once (a stream, a queue being drained): later enumerations are empty.</summary>
    private sealed class EnumeratedOnce<T>(IEnumerable<T> items) : IEnumerable<T>
    {
        private int _enumerations;

        public IEnumerator<T> GetEnumerator() =>
            Interlocked.Increment(ref _enumerations) == 1 ? items.GetEnumerator() : Enumerable.Empty<T>().GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [SkippableFact]
    public void ACachedImageViewIsRefusedWithWhatTheCacheDid()
    {
        // ML.NET's Data.Cache drops image columns without a word; "Columns present: ImagePath, Label" alone left the user
        // looking for a typo in the column's name.
        IDataView preloaded = _ml.Data.PreloadImages(Pictures(), "Image", 16, 16);
        using var stage = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, o => { o.Epochs = 1; o.BatchSize = 11; o.ImageWidth = 16; o.ImageHeight = 16; })
            .Fit(preloaded);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => stage.Transform(_ml.Data.Cache(preloaded)));
        Assert.Contains("Input column 'Image' not found in the data. Columns present: ImagePath, Label.", error.Message, StringComparison.Ordinal);
        Assert.Contains("ml.Data.Cache or ml.Data.ShuffleRows, that step dropped them (neither keeps an image column)", error.Message, StringComparison.Ordinal);
        // ShuffleRows drops them as silently; the message said only "the cache dropped them" to a user who had no cache.
        error = Assert.Throws<ArgumentOutOfRangeException>(() => stage.Transform(_ml.Data.ShuffleRows(preloaded, seed: 1)));
        Assert.Contains("Columns present: ImagePath, Label.", error.Message, StringComparison.Ordinal);
        Assert.Contains("ml.Data.ShuffleRows, that step dropped them", error.Message, StringComparison.Ordinal);
    }

    /// <summary><paramref name="count"/> small PNGs of distinct colours (and a few widths), written to the test folder.</summary>
    private List<ImageRow> DistinctColours(string prefix, int count)
    {
        var rows = new List<ImageRow>();
        for (int i = 0; i < count; i++)
        {
            string name = $"{prefix}{i}.png";
            ImageFiles.Write(Path.Combine(_folder, name), 9 + i % 5, 7, (x, y) => ((byte)(2 * i), (byte)(x * 20), (byte)(255 - i), 255));
            rows.Add(new ImageRow { ImagePath = name, Label = "x" });
        }
        return rows;
    }

    /// <summary>A view that counts the reads of its image column (each one a decode of the file under <c>LoadImages</c>).</summary>
    private sealed class CountingImages(IDataView source, string column, bool knowsRowCount = true) : IDataView
    {
        private int _reads;
        private int _imageCursors;

        public int Reads => _reads;

        /// <summary>Cursors opened with the image column active.</summary>
        public int ImageCursors => _imageCursors;

        public bool CanShuffle => false;

        public DataViewSchema Schema => source.Schema;

        public long? GetRowCount() => knowsRowCount ? source.GetRowCount() : null;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            var needed = columnsNeeded.ToList();
            if (needed.Any(c => c.Name == _column)) Interlocked.Increment(ref _imageCursors);
            return new Cursor(this, source.GetRowCursor(needed));
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [GetRowCursor(columnsNeeded, rand)];

        private sealed class Cursor(CountingImages owner, DataViewRowCursor inner) : DataViewRowCursor
        {
            public override DataViewSchema Schema => inner.Schema;

            public override long Position => inner.Position;

            public override long Batch => inner.Batch;

            public override bool MoveNext() => inner.MoveNext();

            public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

            public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                ValueGetter<TValue> getter = inner.GetGetter<TValue>(column);
                if (column.Name != owner._column) return getter;
                return (ref TValue value) =>
                {
                    Interlocked.Increment(ref owner._reads);
                    getter(ref value);
                };
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing) inner.Dispose();
                base.Dispose(disposing);
            }
        }

        private readonly string _column = column;
    }
}
