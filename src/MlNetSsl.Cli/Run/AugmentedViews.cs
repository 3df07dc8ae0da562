using MlNetSsl.Cli.Report;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl.Cli.Run;

/// <summary>
/// The report's grid of augmented views: a few training images, each followed by views made with an SSL stage's own
/// augmentation policy (<see cref="AugmentationPolicy.Apply"/> on a batch made from the pixels, as the stage feeds it:
/// planar RGB in [0, 1] at the stage's input size).
/// </summary>
internal static class AugmentedViews
{
    /// <summary>Side in pixels of every picture in the grid (the stage's inputs are small; 32 x 32 by default).</summary>
    private const int DisplaySide = 64;

    /// <summary>Views of <paramref name="imagePaths"/> (unreadable files skipped); the same seed gives the same views.</summary>
    public static IReadOnlyList<AugmentedExample> Make(AugmentationPolicy policy, SslInputShape shape, IReadOnlyList<(string Name, string Path)> imagePaths,
        int viewsPerImage, int seed)
    {
        int channels = shape.Channels, height = shape.Height, width = shape.Width;
        if (shape.Kind != SslInputKind.Image || channels is not (1 or 3)) return [];
        var sources = new List<(string Name, float[] Pixels)>();
        foreach (var (name, path) in imagePaths)
            if (Pixels(path, channels, width, height) is { } pixels) sources.Add((name, pixels));
        if (sources.Count == 0) return [];

        using var scope = NewDisposeScope();
        Tensor batch = tensor(sources.SelectMany(s => s.Pixels).ToArray(), [sources.Count, channels, height, width]);
        using var generator = new Generator((ulong)seed);
        var context = new AugmentationContext(generator, shape);
        var views = sources.Select(_ => new List<byte[]>()).ToArray();
        for (int v = 0; v < viewsPerImage; v++)
        {
            // Some augmentations work in place: each view starts from a fresh copy of the originals.
            Tensor view = policy.Apply(batch.clone(), context).detach().contiguous();
            if (view.dim() != 4 || view.shape[0] != sources.Count) return [];
            for (int i = 0; i < sources.Count; i++) views[i].Add(Png(view[i]));
        }
        return sources.Select((s, i) => new AugmentedExample(s.Name, Png(batch[i]), views[i])).ToList();
    }

    /// <summary>Planar pixels in [0, 1], resized to the stage's input size; null when the file is not an image.</summary>
    private static float[]? Pixels(string path, int channels, int width, int height)
    {
        using SKBitmap? resized = Data.ImageOrientation.DecodeShown(path, (_, _) => (width, height));
        if (resized is null) return null;
        var pixels = new float[channels * width * height];
        int plane = width * height;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                SKColor c = resized.GetPixel(x, y);
                int at = y * width + x;
                if (channels == 1)
                {
                    pixels[at] = (0.299f * c.Red + 0.587f * c.Green + 0.114f * c.Blue) / 255f;
                    continue;
                }
                pixels[at] = c.Red / 255f;
                pixels[plane + at] = c.Green / 255f;
                pixels[2 * plane + at] = c.Blue / 255f;
            }
        }
        return pixels;
    }

    /// <summary>One [C, H, W] image in [0, 1] (values outside are clipped) as a PNG, enlarged to the display size.</summary>
    private static byte[] Png(Tensor image)
    {
        int channels = (int)image.shape[0], height = (int)image.shape[1], width = (int)image.shape[2];
        // Scalars made explicitly and disposed after the calls: TorchSharp does not keep an implicitly converted one alive
        // through the native call (see HeldScalars in the library).
        using Scalar low = 0.ToScalar(), high = 1.ToScalar(), toBytes = 255.ToScalar();
        float[] values = image.clamp(low, high).mul(toBytes).to_type(ScalarType.Float32).data<float>().ToArray();
        int plane = width * height;
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int at = y * width + x;
                byte r = (byte)MathF.Round(values[at]);
                byte g = channels == 3 ? (byte)MathF.Round(values[plane + at]) : r;
                byte b = channels == 3 ? (byte)MathF.Round(values[2 * plane + at]) : r;
                bitmap.SetPixel(x, y, new SKColor(r, g, b));
            }
        }
        double scale = (double)DisplaySide / Math.Max(width, height);
        using SKBitmap shown = bitmap.Resize(new SKImageInfo(Math.Max(1, (int)(width * scale)), Math.Max(1, (int)(height * scale))), SKFilterQuality.None);
        using SKImage picture = SKImage.FromBitmap(shown);
        using SKData png = picture.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
