using SkiaSharp;

namespace MlNetSsl.Tests.MlNet;

/// <summary>Writes small image files with SkiaSharp for the image-input tests.</summary>
internal static class ImageFiles
{
    /// <summary>Writes a PNG of <paramref name="width"/> x <paramref name="height"/>; with <paramref name="grey"/> an 8-bit grey PNG (red channel used).</summary>
    public static void Write(string path, int width, int height, Func<int, int, (byte R, byte G, byte B, byte A)> pixel, bool grey = false)
    {
        var info = new SKImageInfo(width, height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, grey ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var (r, g, b, a) = pixel(x, y);
                bitmap.SetPixel(x, y, grey ? new SKColor(r, r, r) : new SKColor(r, g, b, a));
            }
        using var image = SKImage.FromBitmap(bitmap);
        using var encoded = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        encoded.SaveTo(file);
    }
}
