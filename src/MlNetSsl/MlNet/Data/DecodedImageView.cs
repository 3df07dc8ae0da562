using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using SkiaSharp;

namespace MlNetSsl.MlNet.Data;

/// <summary>
/// A data view whose image column holds every image decoded once, in memory, at the size a stage of one image size reads
/// it (<see cref="ImagePixels.Stored"/>: resized in the stored orientation, straight colours, opaque); every other column
/// comes from the source, row for row. An image keeps its tag (the file's path), so the stage still turns it by the
/// file's EXIF orientation. Each read hands out a new <see cref="MLImage"/> and disposes the previous one, as
/// <c>LoadImages</c> does. Rows come in the source's order and are never shuffled: rows are matched by position.
/// </summary>
internal sealed class DecodedImageView : IDataView
{
    private readonly IDataView _source;
    private readonly int _imageColumn;
    private readonly Decoded[] _images;

    private DecodedImageView(IDataView source, int imageColumn, Decoded[] images)
    {
        _source = source;
        _imageColumn = imageColumn;
        _images = images;
    }

    private sealed record Decoded(int Width, int Height, MLPixelFormat Format, byte[] Pixels, string? Tag);

    /// <summary>Decodes every row's image of <paramref name="imageColumnName"/> once and keeps it at the size the stage
    /// reads for <paramref name="width"/> x <paramref name="height"/>.</summary>
    /// <exception cref="InvalidDataException">An image that cannot be loaded; the message names the row, the column and what to do.</exception>
    public static DecodedImageView Create(IDataView source, string imageColumnName, int width, int height, CancellationToken cancellationToken) =>
        Create(source, imageColumnName, width, height, DataViewRows.Count(source, cancellationToken), cancellationToken);

    /// <summary>The most memory <see cref="ForOneRead"/> spends on images held at the stage's size (4 bytes a pixel): 1 GiB.</summary>
    internal const long MaxHeldBytesForOneRead = 1L << 30;

    /// <summary>
    /// <paramref name="data"/> with its image column decoded once by every core, for a single read of every row (the
    /// stage's <c>Fit</c>), where a cursor would decode them on one; <paramref name="data"/> itself when the column holds
    /// no images, is decoded already, or when the images held would pass <see cref="MaxHeldBytesForOneRead"/>.
    /// </summary>
    public static IDataView ForOneRead(IDataView data, string imageColumnName, int width, int height, CancellationToken cancellationToken)
    {
        if (data is DecodedImageView || data.Schema.GetColumnOrNull(imageColumnName) is not { Type: ImageDataViewType }) return data;
        long rows = DataViewRows.Count(data, cancellationToken);
        if (rows < MinRowsPerWorker * 2 || Environment.ProcessorCount < 2 || rows * 4L * width * height > MaxHeldBytesForOneRead) return data;
        return Create(data, imageColumnName, width, height, rows, cancellationToken);
    }

    private static DecodedImageView Create(IDataView source, string imageColumnName, int width, int height, long known, CancellationToken cancellationToken)
    {
        DataViewSchema.Column column = source.Schema.GetColumnOrNull(imageColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(imageColumnName), $"Column '{imageColumnName}' not found in the data.");
        if (column.Type is not ImageDataViewType)
            throw new ArgumentOutOfRangeException(nameof(imageColumnName), $"Column '{imageColumnName}' holds {column.Type}, not images (LoadImages).");
        // Decoding is the cost on photos (a 4-megapixel JPEG: about 50 ms), so each core decodes every n-th row through a
        // cursor of its own: a cursor's getter decodes only the rows it is asked for. A source of unknown length
        // (LoadFromEnumerable over a query) is counted first through a cursor that reads no column, so nothing is decoded:
        // read on one core, 120 photos of 2400 x 1800 took 45 to 50 ms each, against 22 to 31 ms on two.
        int workers = known >= MinRowsPerWorker * 2
            ? (int)Math.Min(Math.Min(Environment.ProcessorCount, MaxWorkers), known / MinRowsPerWorker)
            : 1;
        var decoded = new List<Decoded>[workers];
        var failures = new (long Row, Exception Error)?[workers];
        try
        {
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancellationToken }, worker =>
            {
                var mine = decoded[worker] = [];
                using DataViewRowCursor cursor = source.GetRowCursor([column]);
                ValueGetter<MLImage> getter = cursor.GetGetter<MLImage>(column);
                // Never disposed here: LoadImages disposes the image it handed out when it loads the next, and an image made in
                // memory (LoadFromEnumerable) is the caller's.
                MLImage? image = null;
                for (long row = 0; cursor.MoveNext(); row++)
                {
                    if (row % workers != worker) continue;
                    cancellationToken.ThrowIfCancellationRequested();
                    try
                    {
                        mine.Add(Decode(source, imageColumnName, getter, ref image, row, width, height));
                    }
                    catch (InvalidDataException e)
                    {
                        failures[worker] = (row, e);
                        return;
                    }
                }
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // The exception a single thread would have thrown, not Parallel's wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        // The first failing row in the data's order, whichever core met it.
        if (failures.Where(f => f is not null).OrderBy(f => f!.Value.Row).FirstOrDefault() is { } failure)
            throw failure.Error;
        var images = new Decoded[decoded.Sum(d => d.Count)];
        for (int worker = 0; worker < workers; worker++)
            for (int i = 0; i < decoded[worker].Count; i++) images[i * workers + worker] = decoded[worker][i];
        return new DecodedImageView(source, column.Index, images);
    }

    /// <summary>Rows a core decodes at least, below which one core decodes them all.</summary>
    private const int MinRowsPerWorker = 32;

    /// <summary>The most cores that decode at once (each holds one full-size image).</summary>
    private const int MaxWorkers = 8;

    private static Decoded Decode(IDataView source, string imageColumnName, ValueGetter<MLImage> getter, ref MLImage? image, long row,
        int width, int height)
    {
        try
        {
            getter(ref image!);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"Row {row} of column '{imageColumnName}'{ImageRowSource.Describe(source, row)}: the image could not be loaded ({e.Message}). ") +
                "Check that the file exists and is a readable JPEG, PNG, BMP, GIF or WEBP image, or remove the row.", e);
        }
        if (image is null || image.Width == 0 || image.Height == 0)
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"Row {row} of column '{imageColumnName}'{ImageRowSource.Describe(source, row)} has no image: the file is missing, empty or not an image. ") +
                "Fix or remove the row.");
        SKEncodedOrigin origin = ImagePixels.OriginOf(image);
        using ImagePixels.StoredPixels stored = ImagePixels.Stored(image, width, height, origin);
        byte[] pixels = stored.Span.ToArray();
        // Opaque, so the stage takes these pixels as they are (a resize can leave an alpha of 254 at the edges).
        for (int i = 3; i < pixels.Length; i += 4) pixels[i] = 255;
        return new Decoded(stored.Width, stored.Height, stored.Bgra ? MLPixelFormat.Bgra32 : MLPixelFormat.Rgba32, pixels, image.Tag);
    }

    /// <summary>The images held, for tests: width and height of each row's.</summary>
    internal IEnumerable<(int Width, int Height)> Sizes => _images.Select(i => (i.Width, i.Height));

    public bool CanShuffle => false;

    public DataViewSchema Schema => _source.Schema;

    public long? GetRowCount() => _images.LongLength;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly DecodedImageView _view;
        private readonly DataViewRowCursor _source;
        private readonly bool _imageActive;

        public Cursor(DecodedImageView view, IEnumerable<DataViewSchema.Column> columnsNeeded)
        {
            _view = view;
            var needed = columnsNeeded.ToList();
            _imageActive = needed.Any(c => c.Index == view._imageColumn);
            // The source's image column stays inactive: reading it would decode the file again.
            _source = view._source.GetRowCursor(needed.Where(c => c.Index != view._imageColumn));
        }

        public override DataViewSchema Schema => _view.Schema;

        public override long Position => _source.Position;

        public override long Batch => _source.Batch;

        public override bool MoveNext() => _source.MoveNext();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == _view._imageColumn ? _imageActive : _source.IsColumnActive(column);

        public override ValueGetter<DataViewRowId> GetIdGetter() => _source.GetIdGetter();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != _view._imageColumn) return _source.GetGetter<TValue>(column);
            if (!_imageActive) throw new InvalidOperationException($"Column '{column.Name}' was not requested by the cursor.");
            if (typeof(TValue) != typeof(MLImage)) throw new InvalidOperationException($"Column '{column.Name}' holds MLImage values, not {typeof(TValue).Name}.");
            ValueGetter<MLImage> getter = (ref MLImage value) =>
            {
                Decoded decoded = _view._images[_source.Position];
                value?.Dispose();
                value = MLImage.CreateFromPixels(decoded.Width, decoded.Height, decoded.Format, decoded.Pixels);
                value.Tag = decoded.Tag;
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _source.Dispose();
            base.Dispose(disposing);
        }
    }
}
