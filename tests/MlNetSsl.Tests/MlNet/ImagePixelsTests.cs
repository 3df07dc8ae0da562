using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.MlNet.Data;
using SkiaSharp;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>
/// The pixels the stage reads are the picture as viewers show it: a JPEG's EXIF orientation (how phones store photos)
/// is applied, and alpha is dropped rather than multiplied into the colours.
/// </summary>
public sealed class ImagePixelsTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mlnetssl-pixels-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    internal const int Width = 24, Height = 16;

    // The picture as shown: red grows to the right, green downwards, blue marks the top-left quarter.
    internal static (byte R, byte G, byte B) Shown(int x, int y) =>
        ((byte)(20 + 9 * x), (byte)(20 + 13 * y), (byte)(x < Width / 2 && y < Height / 2 ? 220 : 30));

    /// <summary>
    /// The stored pixels that show as <see cref="Shown"/> under EXIF orientation <paramref name="orientation"/>, built from
    /// what viewers do to display them (Pillow's exif_transpose: 2 mirror left-right, 3 turn 180, 4 mirror top-bottom,
    /// 5 transpose, 6 turn a quarter clockwise, 7 transverse, 8 turn a quarter anticlockwise) undone.
    /// </summary>
    internal static (int Width, int Height, Func<int, int, (byte, byte, byte)> Pixel) Stored(int orientation) => orientation switch
    {
        1 => (Width, Height, Shown),
        2 => (Width, Height, (x, y) => Shown(Width - 1 - x, y)),
        3 => (Width, Height, (x, y) => Shown(Width - 1 - x, Height - 1 - y)),
        4 => (Width, Height, (x, y) => Shown(x, Height - 1 - y)),
        5 => (Height, Width, (x, y) => Shown(y, x)),
        // Shown = stored turned clockwise, so stored = shown turned anticlockwise.
        6 => (Height, Width, (x, y) => Shown(Width - 1 - y, x)),
        7 => (Height, Width, (x, y) => Shown(Width - 1 - y, Height - 1 - x)),
        8 => (Height, Width, (x, y) => Shown(y, Height - 1 - x)),
        _ => throw new ArgumentOutOfRangeException(nameof(orientation)),
    };

    /// <summary>A JPEG (quality 100) of the stored pixels that shows as <see cref="Shown"/> under its EXIF orientation.</summary>
    private string WriteJpeg(int orientation)
    {
        var (w, h, pixel) = Stored(orientation);
        string path = Path.Combine(_work, $"o{orientation}.jpg");
        ImageFiles.WriteJpegWithOrientation(path, w, h, pixel, orientation);
        return path;
    }

    private static byte[] Read(string path, int width, int height)
    {
        var ml = new MLContext(0);
        IDataView rows = ml.Data.LoadFromEnumerable([new PathRow { Path = path }]);
        IDataView images = ml.Transforms.LoadImages("Image", null, nameof(PathRow.Path)).Fit(rows).Transform(rows);
        using DataViewRowCursor cursor = images.GetRowCursor(images.Schema);
        ValueGetter<MLImage> getter = cursor.GetGetter<MLImage>(images.Schema["Image"]);
        Assert.True(cursor.MoveNext());
        MLImage image = null!;
        getter(ref image);
        var planes = new byte[3 * width * height];
        ImagePixels.CopyRgb(image, width, height, planes, ImagePixels.OriginOf(image));
        return planes;
    }

    /// <summary>The column as the stage reads it: its reader bound to a cursor over <c>LoadImages</c> (then
    /// <c>ResizeImages</c> to <paramref name="resizedTo"/>, when given), the first row.</summary>
    private static byte[] ReadAsTheStage(string path, (int Width, int Height)? resizedTo = null)
    {
        var ml = new MLContext(0);
        IDataView rows = ml.Data.LoadFromEnumerable([new PathRow { Path = path }]);
        IEstimator<ITransformer> load = ml.Transforms.LoadImages("Image", null, nameof(PathRow.Path));
        if (resizedTo is { } size)
            load = load.Append(ml.Transforms.ResizeImages("Image", size.Width, size.Height, "Image", Microsoft.ML.Transforms.Image.ImageResizingEstimator.ResizingKind.Fill));
        IDataView images = load.Fit(rows).Transform(rows);
        var reader = InputColumnReader.ForType("Image", images.Schema["Image"].Type, Width, Height, 0);
        using DataViewRowCursor cursor = images.GetRowCursor(images.Schema);
        using var filler = reader.Bind(cursor);
        Assert.True(cursor.MoveNext());
        var planes = new byte[3 * Width * Height];
        filler.Fill(planes.AsSpan());
        return planes;
    }

    private static double MeanAbsoluteDifference(byte[] planes)
    {
        double sum = 0;
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
            {
                var (r, g, b) = Shown(x, y);
                int at = y * Width + x, plane = Width * Height;
                sum += Math.Abs(planes[at] - r) + Math.Abs(planes[plane + at] - g) + Math.Abs(planes[2 * plane + at] - b);
            }
        return sum / (3.0 * Width * Height);
    }

    /// <summary>The eight EXIF orientations, 1 (as stored) to 8.</summary>
    public static TheoryData<int> Orientations => [1, 2, 3, 4, 5, 6, 7, 8];

    [SkippableTheory]
    [MemberData(nameof(Orientations))]
    public void EveryExifOrientationIsReadAsTheViewerShowsIt(int orientation)
    {
        string path = WriteJpeg(orientation);
        using (SKCodec codec = SKCodec.Create(path)) Assert.Equal((SKEncodedOrigin)orientation, codec.EncodedOrigin);
        // JPEG at quality 100 (with 4:2:0 chroma) stays within a few levels of the picture; a wrong turn or mirror is
        // off by tens of levels (the gradients run 9 and 13 levels per pixel).
        Assert.InRange(MeanAbsoluteDifference(Read(path, Width, Height)), 0, 6);
    }

    [SkippableFact]
    public void TheStagesReaderTurnsARotatedPhotoAlsoAfterResizeImages()
    {
        // LoadImages -> (ResizeImages ->) the stage: ML.NET's image transforms keep the file's tag and its stored
        // orientation, so the turn still applies after a resize to another size or shape.
        string path = WriteJpeg(6);
        Assert.InRange(MeanAbsoluteDifference(ReadAsTheStage(path)), 0, 6);
        Assert.InRange(MeanAbsoluteDifference(ReadAsTheStage(path, (Height, Width))), 0, 6);
        Assert.InRange(MeanAbsoluteDifference(ReadAsTheStage(path, (32, 32))), 0, 8);
    }

    [SkippableFact]
    public void AnOpaqueUnturnedImageOfTheStagesSizeIsItsDecodedPixels()
    {
        // The reading of ordinary images is unchanged: a CIFAR-10 JPEG at 32 x 32 is exactly SkiaSharp's decoded RGB.
        string file = Directory.GetFiles(Path.Combine(Infrastructure.SharedData.RepoRoot, "samples", "Quickstart", "data", "cifar10-small", "train", "ship"))
            .Order(StringComparer.Ordinal).First();
        byte[] planes = Read(file, 32, 32);
        using SKBitmap decoded = SKBitmap.Decode(file);
        Assert.Equal((32, 32), (decoded.Width, decoded.Height));
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
            {
                SKColor pixel = decoded.GetPixel(x, y);
                int at = y * 32 + x;
                Assert.Equal((pixel.Red, pixel.Green, pixel.Blue), (planes[at], planes[1024 + at], planes[2048 + at]));
            }
    }

    [SkippableFact]
    public void ATranslucentImageKeepsItsColoursThroughTheResize()
    {
        // 16 x 16, the top half at alpha 128: read at 8 x 8 its colours are those of the picture, not darkened by half.
        string path = Path.Combine(_work, "translucent.png");
        ImageFiles.Write(path, 16, 16, (x, y) => (200, 100, 50, y < 8 ? (byte)128 : (byte)255));
        byte[] planes = Read(path, 8, 8);
        for (int at = 0; at < 64; at++)
        {
            Assert.InRange(planes[at], 197, 203);
            Assert.InRange(planes[64 + at], 97, 103);
            Assert.InRange(planes[128 + at], 47, 53);
        }
    }

    [SkippableFact]
    public void OnlyJpegsWithAnExifSegmentAreOpenedForTheirOrientation()
    {
        // The codec is opened only for them (it costs more than decoding a small JPEG); CIFAR-10's JPEGs have no EXIF.
        Assert.True(ImagePixels.MayHoldExif(WriteJpeg(6)));
        string plain = Directory.GetFiles(Path.Combine(Infrastructure.SharedData.RepoRoot, "samples", "Quickstart", "data", "cifar10-small", "train", "cat"))
            .Order(StringComparer.Ordinal).First();
        Assert.False(ImagePixels.MayHoldExif(plain));
        string png = Path.Combine(_work, "plain.png");
        ImageFiles.Write(png, 4, 4, (x, y) => (10, 20, 30, 255));
        Assert.False(ImagePixels.MayHoldExif(png));
        // A file that ends inside its headers: the codec decides.
        string cut = Path.Combine(_work, "cut.jpg");
        File.WriteAllBytes(cut, File.ReadAllBytes(plain)[..6]);
        Assert.True(ImagePixels.MayHoldExif(cut));
    }

    [SkippableFact]
    public void AQuarterTurnIsResizedToTheSidesAsShown()
    {
        // Stored 16 wide and 24 high, shown 24 x 16: read at half the shown size, the picture is still upright.
        string path = WriteJpeg(6);
        byte[] half = Read(path, Width / 2, Height / 2);
        int plane = Width * Height / 4;
        // Top-left quarter blue, bottom-right not; red grows to the right.
        Assert.True(half[2 * plane] > 150, $"blue at the top-left: {half[2 * plane]}");
        Assert.True(half[2 * plane + plane - 1] < 90, $"blue at the bottom-right: {half[2 * plane + plane - 1]}");
        Assert.True(half[Width / 2 - 1] > half[0] + 60, "red grows to the right");
    }

    [SkippableFact]
    public void AlphaIsDroppedNotMultipliedIntoTheColours()
    {
        // Half-transparent pixels keep their colour (image libraries' conversion to RGB); fully transparent ones, whose
        // colour the decoder does not keep, are black.
        string path = Path.Combine(_work, "alpha.png");
        ImageFiles.Write(path, 8, 8, (x, y) => (200, 100, 50, y < 4 ? (byte)128 : x < 4 ? (byte)255 : (byte)0));
        byte[] planes = Read(path, 8, 8);
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++)
            {
                int at = y * 8 + x;
                (int r, int g, int b) = y >= 4 && x >= 4 ? (0, 0, 0) : (200, 100, 50);
                Assert.InRange(planes[at], r - 2, r + 2);
                Assert.InRange(planes[64 + at], g - 2, g + 2);
                Assert.InRange(planes[128 + at], b - 2, b + 2);
            }
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }
}
