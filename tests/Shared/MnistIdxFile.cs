// Shared by the test project and the benchmark programs (linked into each): the gzipped IDX files of ../shared/data/mnist, which
// hold MNIST's official test split (10,000 digits of 28x28 grey pixels).
using System.IO.Compression;

namespace MlNetSsl.TestData;

internal static class MnistIdxFile
{
    /// <summary>The split's pixels (row after row of 784 bytes, 0 black to 255 white) and its labels (0-9), read from
    /// <c>t10k-images-idx3-ubyte.gz</c> and <c>t10k-labels-idx1-ubyte.gz</c> in <paramref name="mnistFolder"/>.</summary>
    public static (byte[] Pixels, byte[] Labels) ReadTestSplit(string mnistFolder) =>
        (Read(Path.Combine(mnistFolder, "t10k-images-idx3-ubyte.gz"), headerInts: 4), Read(Path.Combine(mnistFolder, "t10k-labels-idx1-ubyte.gz"), headerInts: 2));

    // The payload after the big-endian header (magic number and dimensions, 4 bytes each).
    private static byte[] Read(string file, int headerInts)
    {
        using var stream = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray()[(4 * headerInts)..];
    }
}
