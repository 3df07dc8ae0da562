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

    /// <summary>Writes a JPEG (quality 100) of <paramref name="width"/> x <paramref name="height"/> stored pixels with an
    /// EXIF APP1 segment that holds only the orientation tag (1 to 8), as a phone writes a photo it did not turn.</summary>
    public static void WriteJpegWithOrientation(string path, int width, int height, Func<int, int, (byte R, byte G, byte B)> pixel, int orientation)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var (r, g, b) = pixel(x, y);
                bitmap.SetPixel(x, y, new SKColor(r, g, b));
            }
        using SKData encoded = bitmap.Encode(SKEncodedImageFormat.Jpeg, 100);
        byte[] jpeg = encoded.ToArray();
        // TIFF header (little-endian), one IFD entry: tag 0x0112 (Orientation), type SHORT, count 1, the value.
        byte[] tiff = [0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (byte)orientation, 0, 0, 0, 0, 0, 0, 0];
        byte[] payload = [.. "Exif"u8, 0, 0, .. tiff];
        int length = payload.Length + 2;
        byte[] app1 = [0xFF, 0xE1, (byte)(length >> 8), (byte)length, .. payload];
        File.WriteAllBytes(path, [.. jpeg[..2], .. app1, .. jpeg[2..]]);
    }
}
