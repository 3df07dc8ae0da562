using SkiaSharp;

namespace MlNetSsl.Cli.Data;

/// <summary>
/// The report's pictures of an image file as the model reads it: turned by the file's EXIF orientation (JPEG and WebP,
/// as the library's stage turns them), after resizing in the stored orientation so that a large photo is turned small.
/// </summary>
internal static class ImageOrientation
{
    /// <summary>The file decoded and resized so that, once turned, it is <paramref name="shownSize"/> of its shown size
    /// (width, height); null when the file is not an image.</summary>
    public static SKBitmap? DecodeShown(string path, Func<int, int, (int Width, int Height)> shownSize, SKColorType colorType = SKColorType.Rgba8888)
    {
        SKEncodedOrigin origin;
        using (SKCodec? codec = SKCodec.Create(path)) origin = codec?.EncodedOrigin ?? SKEncodedOrigin.TopLeft;
        using SKBitmap? decoded = SKBitmap.Decode(path);
        if (decoded is null) return null;
        bool swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        var (width, height) = swap ? shownSize(decoded.Height, decoded.Width) : shownSize(decoded.Width, decoded.Height);
        var stored = new SKImageInfo(swap ? height : width, swap ? width : height, colorType, SKAlphaType.Premul);
        SKBitmap resized = decoded.Resize(stored, SKFilterQuality.Medium);
        if (origin == SKEncodedOrigin.TopLeft) return resized;
        using (resized)
        {
            var turned = new SKBitmap(new SKImageInfo(width, height, colorType, SKAlphaType.Premul));
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    // Where the shown pixel (x, y) is stored (EXIF: where the stored first row and column are shown).
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
                    turned.SetPixel(x, y, resized.GetPixel(sx, sy));
                }
            return turned;
        }
    }
}
