// Shared by the test project and the label-efficiency benchmark (linked into both): reads a CIFAR-10 folder in
// Model Builder's layout (<split>/<class>/*.jpg, 32x32) into planar RGB floats in [0, 1].
using SkiaSharp;

namespace MlNetSsl.TestData;

internal static class CifarPixels
{
    /// <summary>The first <paramref name="perClass"/> images of each class (classes and files in ordinal order):
    /// pixels [rows x 3 x 1024] channel-major, labels the class index.</summary>
    public static (float[] Pixels, int[] Labels) Load(string splitFolder, int perClass)
    {
        string[] classes = Directory.GetDirectories(splitFolder).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();
        var pixels = new float[classes.Length * perClass * 3 * 1024];
        var labels = new int[classes.Length * perClass];
        int row = 0;
        for (int label = 0; label < classes.Length; label++)
        {
            string[] files = Directory.GetFiles(Path.Combine(splitFolder, classes[label]), "*.jpg").Order(StringComparer.Ordinal).Take(perClass).ToArray();
            if (files.Length < perClass) throw new InvalidOperationException($"{classes[label]} has only {files.Length} images.");
            foreach (string file in files)
            {
                using SKBitmap bitmap = SKBitmap.Decode(file) ?? throw new InvalidDataException($"Cannot decode {file}.");
                if (bitmap.Width != 32 || bitmap.Height != 32) throw new InvalidDataException($"{file} is not 32x32.");
                SKColor[] colors = bitmap.Pixels;
                int baseIndex = row * 3 * 1024;
                for (int p = 0; p < 1024; p++)
                {
                    pixels[baseIndex + p] = colors[p].Red / 255f;
                    pixels[baseIndex + 1024 + p] = colors[p].Green / 255f;
                    pixels[baseIndex + 2048 + p] = colors[p].Blue / 255f;
                }
                labels[row++] = label;
            }
        }
        return (pixels, labels);
    }
}
