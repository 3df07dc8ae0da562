using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using SkiaSharp;

namespace MlNetSsl.MlNet.Data;

/// <summary>
/// Turns one IDataView column into engine rows: an <see cref="MLImage"/> column into RGB bytes of a fixed size, a
/// known-size float vector into floats (a tabular row, or a series of C channels by T steps). It decides the input
/// shape from the column type and reports bad values with the column name and row number.
/// </summary>
internal sealed class InputColumnReader
{
    private InputColumnReader(string columnName, SslInputShape shape)
    {
        ColumnName = columnName;
        Shape = shape;
    }

    /// <summary>The column read.</summary>
    public string ColumnName { get; }

    /// <summary>The shape of one row as the encoder sees it.</summary>
    public SslInputShape Shape { get; }

    /// <summary>Images are held as bytes (0..255); vectors as floats.</summary>
    public bool IsImage => Shape.Kind == SslInputKind.Image;

    /// <summary>The reader for a column of this type, or an explanation of why the type cannot be used.</summary>
    public static InputColumnReader ForType(string columnName, DataViewType type, int imageWidth, int imageHeight, int seriesChannels)
    {
        if (type is ImageDataViewType)
        {
            // Set for an image column it was ignored without a word (the images trained as images): a caller who set it
            // meant another column, or a series.
            if (seriesChannels > 0)
                throw new ArgumentOutOfRangeException(nameof(seriesChannels), $"Column '{columnName}' holds images, but SeriesChannels is " +
                    $"{seriesChannels}: SeriesChannels is for a vector column of series (C*T values, channel after channel). Leave it 0 for " +
                    "images, or give the series column as the input.");
            return new InputColumnReader(columnName, SslInputShape.Image(3, imageHeight, imageWidth));
        }
        if (type is VectorDataViewType { ItemType: NumberDataViewType n } vector && n.RawType == typeof(float) && vector.IsKnownSize)
        {
            int size = vector.Size;
            if (seriesChannels <= 0) return new InputColumnReader(columnName, SslInputShape.Tabular(size));
            if (size % seriesChannels != 0)
                throw new ArgumentOutOfRangeException(nameof(seriesChannels),
                    $"Column '{columnName}' holds {size} values per row, which is not a whole number of steps for SeriesChannels = " +
                    $"{seriesChannels}. A series column holds C*T values, channel after channel; set SeriesChannels to C, or to 0 for tabular rows.");
            return new InputColumnReader(columnName, SslInputShape.Series(seriesChannels, size / seriesChannels));
        }
        throw new ArgumentOutOfRangeException(nameof(type), $"Schema mismatch for input column '{columnName}': expected an MLImage " +
            $"(from LoadImages) or a known-size vector of Single, got {type}. {Hint(type)}");
    }

    /// <summary>
    /// The reader for column <paramref name="columnName"/> of <paramref name="schema"/>, which a fitted model expects to
    /// hold rows of <paramref name="shape"/>; <paramref name="model"/> names the model in the error.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing or holds rows of another shape.</exception>
    public static InputColumnReader ForModel(DataViewSchema schema, string columnName, SslInputShape shape, string model)
    {
        var column = schema.GetColumnOrNull(columnName)
            ?? throw new ArgumentOutOfRangeException("inputSchema", $"Input column '{columnName}' not found in the data. " +
                $"Columns present: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}." +
                // ML.NET's cache keeps numbers, text, keys and vectors only, and drops image columns without a word; ShuffleRows
                // keeps the same types (a shuffled image view was told about a cache it never had).
                (shape.Kind == SslInputKind.Image && !schema.Any(c => c.Type is ImageDataViewType)
                    ? " If the images were loaded before ml.Data.Cache or ml.Data.ShuffleRows, that step dropped them (neither keeps an image column): " +
                      "give the stage the view before it (LoadImages' or PreloadImages') and cache or shuffle after the stage."
                    : ""));
        var reader = ForType(columnName, column.Type, shape.Width, shape.Height, shape.Kind == SslInputKind.Series ? shape.Channels : 0);
        if (reader.Shape != shape)
            throw new ArgumentOutOfRangeException("inputSchema", $"Schema mismatch for input column '{columnName}': {model} was " +
                $"trained on {shape} rows but the column holds {reader.Shape} rows ({column.Type}).");
        return reader;
    }

    /// <summary>Checks the type as <see cref="ForType"/> does, against an estimator's schema shape.</summary>
    public static void CheckSchemaShape(string columnName, SchemaShape.Column column)
    {
        bool ok = column.Kind == SchemaShape.Column.VectorKind.Scalar && column.ItemType is ImageDataViewType
            || column.Kind == SchemaShape.Column.VectorKind.Vector && column.ItemType is NumberDataViewType n && n.RawType == typeof(float);
        if (!ok)
        {
            string got = column.Kind == SchemaShape.Column.VectorKind.VariableVector ? $"a variable-size vector of {column.ItemType}"
                : column.Kind == SchemaShape.Column.VectorKind.Vector ? $"a vector of {column.ItemType}" : column.ItemType.ToString() ?? "an unknown type";
            DataViewType type = column.Kind == SchemaShape.Column.VectorKind.VariableVector && column.ItemType is PrimitiveDataViewType item
                ? new VectorDataViewType(item) : column.ItemType;
            throw new ArgumentOutOfRangeException("inputSchema", $"Schema mismatch for input column '{columnName}': expected an MLImage " +
                $"(from LoadImages) or a known-size vector of Single, got {got}. {Hint(type)}");
        }
    }

    private static string Hint(DataViewType type) => type switch
    {
        TextDataViewType => "Text must be featurized first (for example Transforms.Text.FeaturizeText) or loaded as images with Transforms.LoadImages.",
        // LoadRawImageBytes: encoded files, not pixels.
        VectorDataViewType { IsKnownSize: false, ItemType.RawType: var item } when item == typeof(byte) =>
            "Bytes of varying length look like encoded image files (Transforms.LoadRawImageBytes); load the images with " +
            "Transforms.LoadImages from a column of file paths instead, so the stage gets decoded pixels.",
        VectorDataViewType { IsKnownSize: false } => "Give the loader a fixed size (for example [LoadColumn(0, 27)] or TextLoader ranges; " +
            "[VectorType(28)] on a class for LoadFromEnumerable) so every row has the same length; series of different lengths " +
            "are brought to one with Transforms.ResampleSeries.",
        // One number per row: the stage reads a row's vector, so the columns are joined (ConvertType alone changes nothing).
        NumberDataViewType { RawType: var raw } when raw == typeof(float) =>
            "A column of one Single per row is a scalar: join the numeric columns into one vector with Transforms.Concatenate.",
        _ => "Convert numbers with Transforms.Conversion.ConvertType to Single and join columns with Transforms.Concatenate.",
    };

    /// <summary>"Row 5 of column 'X'" for a row of a data view; "Column 'X' of the row to predict" for a row given to a
    /// PredictionEngine (<paramref name="row"/> null), whose position counts the engine's calls.</summary>
    internal static string RowDescription(long? row, string column) =>
        row is long position ? $"Row {position} of column '{column}'" : $"Column '{column}' of the row to predict";

    /// <summary>Binds the reader to a row; the returned filler copies the current row into a buffer. With
    /// <paramref name="source"/>, the data view <paramref name="row"/> is a cursor of, an image that fails to load is
    /// named by its row's file path as well as its position.</summary>
    public RowFiller Bind(DataViewRow row, IDataView? source = null)
    {
        var column = row.Schema[ColumnName];
        return IsImage ? new ImageFiller(this, row.GetGetter<MLImage>(column), row, source) : new VectorFiller(this, row.GetGetter<VBuffer<float>>(column), row);
    }

    /// <summary>Copies the current row of a cursor or row into a batch buffer.</summary>
    internal abstract class RowFiller : IDisposable
    {
        /// <summary>"Row 5 of column 'X'" for a cursor over a data view; a PredictionEngine's row is not a cursor, and
        /// its position counts the engine's calls, which names nothing the caller passed.</summary>
        protected static string Where(DataViewRow row, string column) => RowDescription(row is DataViewRowCursor ? row.Position : null, column);

        /// <summary>Writes the current row's image as C x H x W RGB bytes.</summary>
        public virtual void Fill(Span<byte> destination) => throw new InvalidOperationException("This column holds vectors, not images.");

        /// <summary>Writes the current row's values.</summary>
        public virtual void Fill(Span<float> destination) => throw new InvalidOperationException("This column holds images, not vectors.");

        /// <inheritdoc />
        public virtual void Dispose() { }
    }

    private sealed class VectorFiller(InputColumnReader reader, ValueGetter<VBuffer<float>> getter, DataViewRow row) : RowFiller
    {
        private VBuffer<float> _buffer;

        public override void Fill(Span<float> destination)
        {
            getter(ref _buffer);
            if (_buffer.Length != destination.Length)
                throw new InvalidDataException($"{Where(row, reader.ColumnName)} has {_buffer.Length} values; {destination.Length} were expected.");
            _buffer.CopyTo(destination);
            for (int i = 0; i < destination.Length; i++)
            {
                if (!float.IsFinite(destination[i]))
                    throw new InvalidDataException(
                        $"{Where(row, reader.ColumnName)} holds {destination[i]} at index {i}. The stage needs finite numbers: " +
                        (float.IsNaN(destination[i])
                            ? "replace missing values first (Transforms.ReplaceMissingValues) or filter those rows out (Data.FilterRowsByMissingValues)."
                            // Neither of those touches an infinity: ML.NET counts only NaN as missing.
                            : "an infinity is not a missing value to ML.NET (ReplaceMissingValues and FilterRowsByMissingValues keep it); " +
                              "clip it where the data is made, or drop such rows (Data.FilterByCustomPredicate)."));
            }
        }
    }

    private sealed class ImageFiller(InputColumnReader reader, ValueGetter<MLImage> getter, DataViewRow row, IDataView? source) : RowFiller
    {
        private MLImage _image = null!;

        public override void Fill(Span<byte> destination)
        {
            try
            {
                getter(ref _image);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new InvalidDataException(
                    $"{Where(row, reader.ColumnName)}{ImageRowSource.Describe(source, row)}: the image could not be loaded ({e.Message}). Check that the " +
                    "file exists and is a readable JPEG, PNG, BMP, GIF or WEBP image, or remove the row.", e);
            }
            if (_image is null || _image.Width == 0 || _image.Height == 0)
                throw new InvalidDataException(
                    $"{Where(row, reader.ColumnName)}{ImageRowSource.Describe(source, row)} has no image: the file is missing, empty or not an image. " +
                    "Fix or remove the row (LoadImages yields an empty image for a path that does not exist).");
            ImagePixels.CopyRgb(_image, reader.Shape.Width, reader.Shape.Height, destination, ImagePixels.OriginOf(_image));
        }

        // The upstream loader owns the images it hands out; it disposes the previous one when it loads the next.
    }
}

/// <summary>Pixel copying from <see cref="MLImage"/> (BGRA or RGBA, any size) to planar RGB bytes of a fixed size, the
/// image as viewers show it: turned by its EXIF orientation, and without its alpha channel.</summary>
internal static class ImagePixels
{
    /// <summary>
    /// The EXIF orientation of the file <paramref name="image"/> was loaded from (<c>LoadImages</c> tags each image with
    /// its path, and <c>ResizeImages</c> and <c>ConvertToGrayscale</c> keep the tag and the stored orientation): phones
    /// store photos in sensor order with a tag that every viewer applies, and <see cref="MLImage"/> does not apply it.
    /// <see cref="SKEncodedOrigin.TopLeft"/> (as stored) when the image has no tag naming a readable file (an image made
    /// from a stream or from pixels: its caller turns it).
    /// </summary>
    public static SKEncodedOrigin OriginOf(MLImage image)
    {
        string? path = image.Tag;
        if (string.IsNullOrEmpty(path) || !File.Exists(path)) return SKEncodedOrigin.TopLeft;
        try
        {
            // Creating a codec costs more than decoding a small JPEG: only files that may hold the tag get one.
            if (!MayHoldExif(path)) return SKEncodedOrigin.TopLeft;
            using SKCodec? codec = SKCodec.Create(path);
            return codec?.EncodedOrigin ?? SKEncodedOrigin.TopLeft;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return SKEncodedOrigin.TopLeft;
        }
    }

    /// <summary>
    /// Whether the file is a JPEG with an EXIF segment before its image data (where the orientation is), read from its
    /// first 64 KB (true also when the segments run past them, so the codec decides), or a WebP file whose extended
    /// header flags EXIF data. Other formats: false (the decoder reads an orientation from JPEG and WebP only; a PNG's
    /// eXIf chunk is not read).
    /// </summary>
    internal static bool MayHoldExif(string path)
    {
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int length;
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1))
                length = file.ReadAtLeast(buffer.AsSpan(0, 64 * 1024), 64 * 1024, throwOnEndOfStream: false);
            return HeadHoldsExif(buffer.AsSpan(0, length));
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool HeadHoldsExif(ReadOnlySpan<byte> head)
    {
        int length = head.Length;
        // WebP: "RIFF" size "WEBP", then a "VP8X" chunk whose flags byte has the EXIF bit (0x08).
        if (length >= 21 && head[..4].SequenceEqual("RIFF"u8) && head[8..12].SequenceEqual("WEBP"u8))
            return head[12..16].SequenceEqual("VP8X"u8) && (head[20] & 0x08) != 0;
        if (length < 4 || head[0] != 0xFF || head[1] != 0xD8) return false;
        for (int at = 2; ;)
        {
            if (at + 4 > length) return true;
            if (head[at] != 0xFF) return false;
            byte marker = head[at + 1];
            // Start of scan or end of image: the headers are over.
            if (marker is 0xDA or 0xD9) return false;
            int segment = (head[at + 2] << 8) | head[at + 3];
            if (marker == 0xE1 && at + 10 <= length && head.Slice(at + 4, 6).SequenceEqual("Exif\0\0"u8)) return true;
            at += 2 + segment;
        }
    }

    /// <summary>Whether <paramref name="origin"/> turns the stored image a quarter turn, so the width shown is the stored height.</summary>
    public static bool SwapsAxes(SKEncodedOrigin origin) => origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop
        or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;

    /// <summary>
    /// Writes R, G and B planes of the image turned by <paramref name="origin"/> and resized (bilinear, with mipmaps when
    /// shrinking) to <paramref name="width"/> x <paramref name="height"/>. Alpha is dropped as image libraries drop it
    /// when converting to RGB: the colours are taken back from the premultiplied pixels an <see cref="MLImage"/> holds
    /// (SkiaSharp decodes files that way, and <c>MLImage.CreateFromPixels</c> declares its pixels so), and a fully
    /// transparent pixel, whose colour premultiplying does not keep, is black.
    /// </summary>
    public static void CopyRgb(MLImage image, int width, int height, Span<byte> destination, SKEncodedOrigin origin = SKEncodedOrigin.TopLeft)
    {
        if (destination.Length != 3 * width * height)
            throw new ArgumentException($"The destination holds {destination.Length} bytes; {3 * width * height} are needed.", nameof(destination));
        using StoredPixels stored = Stored(image, width, height, origin);
        Planar(stored.Span, width, height, stored.Bgra, origin, destination);
    }

    /// <summary>
    /// The interleaved pixels <see cref="CopyRgb"/> takes its planes from: straight colours, in the stored orientation,
    /// resized to the stored sides of <paramref name="width"/> x <paramref name="height"/> as shown after the turn. An
    /// image of those sides with opaque pixels is taken as it is, so an image made from these pixels copies to the same planes.
    /// </summary>
    internal static StoredPixels Stored(MLImage image, int width, int height, SKEncodedOrigin origin)
    {
        if (image.BitsPerPixel != 32)
            throw new InvalidDataException($"Images with {image.BitsPerPixel} bits per pixel are not supported; LoadImages produces 32-bit images.");
        bool bgra = image.PixelFormat == MLPixelFormat.Bgra32;
        // Resize in the stored orientation, then turn: a quarter turn swaps the sides to resize to.
        bool swap = SwapsAxes(origin);
        int storedWidth = swap ? height : width, storedHeight = swap ? width : height;
        byte[]? straight = Translucent(image.Pixels) ? Unpremultiplied(image.Pixels) : null;
        if (image.Width == storedWidth && image.Height == storedHeight)
            return new StoredPixels(image, straight, null, storedWidth, storedHeight, bgra);
        var colorType = bgra ? SKColorType.Bgra8888 : SKColorType.Rgba8888;
        using var source = new SKBitmap(new SKImageInfo(image.Width, image.Height, colorType, SKAlphaType.Unpremul));
        // Straight from the image's span into the bitmap: a copy to an array first doubled the cost of a photo
        // (a 2400 x 1800 JPEG is 17 MB of pixels), as much as decoding it.
        using (SKPixmap target = source.PeekPixels())
            (straight is null ? image.Pixels : straight).CopyTo(target.GetPixelSpan<byte>());
        SKBitmap resized = source.Resize(new SKImageInfo(storedWidth, storedHeight, colorType, SKAlphaType.Unpremul), SKFilterQuality.Medium)
            ?? throw new InvalidDataException($"An image of {image.Width}x{image.Height} could not be resized to {storedWidth}x{storedHeight}.");
        return new StoredPixels(null, null, resized, storedWidth, storedHeight, bgra);
    }

    /// <summary>Interleaved 32-bit pixels of <see cref="Stored"/>: the image's own, a straight copy, or a resized bitmap (disposed with this).</summary>
    internal sealed class StoredPixels(MLImage? image, byte[]? array, SKBitmap? bitmap, int width, int height, bool bgra) : IDisposable
    {
        public int Width => width;

        public int Height => height;

        /// <summary>Blue first (BGRA), else RGBA.</summary>
        public bool Bgra => bgra;

        public ReadOnlySpan<byte> Span => bitmap is not null ? bitmap.GetPixelSpan() : array ?? image!.Pixels;

        public void Dispose() => bitmap?.Dispose();
    }

    private static bool Translucent(ReadOnlySpan<byte> pixels)
    {
        for (int i = 3; i < pixels.Length; i += 4)
            if (pixels[i] != 255) return true;
        return false;
    }

    /// <summary>Straight colours from premultiplied ones, every pixel made opaque (alpha 255).</summary>
    private static byte[] Unpremultiplied(ReadOnlySpan<byte> pixels)
    {
        var straight = new byte[pixels.Length];
        for (int i = 0; i < pixels.Length; i += 4)
        {
            int alpha = pixels[i + 3];
            for (int c = 0; c < 3; c++)
                straight[i + c] = alpha == 0 ? (byte)0 : (byte)Math.Min(255, (pixels[i + c] * 255 + alpha / 2) / alpha);
            straight[i + 3] = 255;
        }
        return straight;
    }

    /// <summary>Planar RGB of <paramref name="width"/> x <paramref name="height"/> (as shown) from interleaved pixels
    /// stored in <paramref name="origin"/>'s orientation (EXIF: where the stored first row and column are shown).</summary>
    private static void Planar(ReadOnlySpan<byte> interleaved, int width, int height, bool bgra, SKEncodedOrigin origin, Span<byte> destination)
    {
        int r = bgra ? 2 : 0, b = bgra ? 0 : 2;
        int pixels = width * height;
        int storedWidth = SwapsAxes(origin) ? height : width;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                (int sx, int sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (width - 1 - x, y),
                    SKEncodedOrigin.BottomRight => (width - 1 - x, height - 1 - y),
                    SKEncodedOrigin.BottomLeft => (x, height - 1 - y),
                    SKEncodedOrigin.LeftTop => (y, x),
                    SKEncodedOrigin.RightTop => (y, width - 1 - x),
                    SKEncodedOrigin.RightBottom => (height - 1 - y, width - 1 - x),
                    SKEncodedOrigin.LeftBottom => (height - 1 - y, x),
                    _ => (x, y),
                };
                int from = 4 * (sy * storedWidth + sx), to = y * width + x;
                destination[to] = interleaved[from + r];
                destination[pixels + to] = interleaved[from + 1];
                destination[2 * pixels + to] = interleaved[from + b];
            }
        }
    }
}
