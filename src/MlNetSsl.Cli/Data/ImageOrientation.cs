using SkiaSharp;

namespace MlNetSsl.Cli.Data;

/// <summary>
/// The report's pictures of an image file as the model reads it: turned by the file's EXIF orientation (JPEG and WebP,
/// as the library's stage turns them), after resizing in the stored orientation so that a large photo is turned small.
/// </summary>
internal static class ImageOrientation
{
    /// <summary>Whether <paramref name="origin"/> shows the stored picture a quarter turn round: its shown width is the
    /// stored height.</summary>
    public static bool IsQuarterTurn(SKEncodedOrigin origin) =>
        origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;

    /// <summary>The file decoded and resized so that, once turned, it is <paramref name="shownSize"/> of its shown size
    /// (width, height); null when the file is not an image.</summary>
    public static SKBitmap? DecodeShown(string path, Func<int, int, (int Width, int Height)> shownSize, SKColorType colorType = SKColorType.Rgba8888)
    {
        using SKCodec? codec = SKCodec.Create(path);
        if (codec is null) return null;
        SKEncodedOrigin origin = codec.EncodedOrigin;
        using SKBitmap? decoded = SKBitmap.Decode(codec);
        if (decoded is null) return null;
        bool swap = IsQuarterTurn(origin);
        var (width, height) = swap ? shownSize(decoded.Height, decoded.Width) : shownSize(decoded.Width, decoded.Height);
        var stored = new SKImageInfo(swap ? height : width, swap ? width : height, colorType, SKAlphaType.Premul);
        SKBitmap resized = decoded.Resize(stored, SKFilterQuality.Medium);
        if (origin == SKEncodedOrigin.TopLeft) return resized;
        using (resized)
        {
            // Shown = the stored picture turned clockwise by degrees, then mirrored left-right (EXIF 2, 4, 5 and 7).
            var (degrees, mirror) = origin switch
            {
                SKEncodedOrigin.TopRight => (0, true),
                SKEncodedOrigin.BottomRight => (180, false),
                SKEncodedOrigin.BottomLeft => (180, true),
                SKEncodedOrigin.LeftTop => (90, true),
                SKEncodedOrigin.RightTop => (90, false),
                SKEncodedOrigin.RightBottom => (270, true),
                SKEncodedOrigin.LeftBottom => (270, false),
                _ => (0, false),
            };
            var turned = new SKBitmap(new SKImageInfo(width, height, colorType, SKAlphaType.Premul));
            using var canvas = new SKCanvas(turned);
            // Applied to the stored picture from the last call up: centre it, turn, mirror, move to the shown centre.
            canvas.Translate(width / 2f, height / 2f);
            if (mirror) canvas.Scale(-1, 1);
            canvas.RotateDegrees(degrees);
            canvas.Translate(-resized.Width / 2f, -resized.Height / 2f);
            canvas.DrawBitmap(resized, 0, 0);
            return turned;
        }
    }
}
