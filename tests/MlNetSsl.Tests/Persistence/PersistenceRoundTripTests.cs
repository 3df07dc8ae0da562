using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Persistence;

/// <summary>
/// The ML.NET persistence plumbing (publicized references + IgnoresAccessChecksTo + checksummed streams) on a
/// transformer that holds a TorchSharp module, exercised on real HIGGS rows.
/// </summary>
public sealed class PersistenceRoundTripTests : IDisposable
{
    private const string Input = "Features";
    private const string Output = "Embedding";
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-persist-").FullName;
    private readonly float[][] _rows = SharedData.ReadHiggs("test", 64).Select(r => r.Features).ToArray();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private (string Path, float[][] Expected) SaveChain(int seed = 7)
    {
        var ml = new MLContext(seed: 1);
        IDataView data = VectorData.Create(ml, Input, _rows);
        var transformer = new TorchLinearTransformer(ml, Output, Input, inputSize: _rows[0].Length, outputSize: 5, seed: seed);
        var chain = new TransformerChain<ITransformer>(transformer);
        float[][] expected = VectorData.ReadVectors(chain.Transform(data), Output);
        string path = Path.Combine(_folder, "model.zip");
        ml.Model.Save(chain, data.Schema, path);
        return (path, expected);
    }

    [SkippableFact]
    public void SavedChainGivesSameOutputsInAFreshMLContext()
    {
        var (path, expected) = SaveChain();

        var fresh = new MLContext(seed: 99);
        ITransformer loaded = fresh.Model.Load(path, out DataViewSchema inputSchema);
        float[][] actual = VectorData.ReadVectors(loaded.Transform(VectorData.Create(fresh, Input, _rows)), Output);

        Assert.Equal(Input, inputSchema[0].Name);
        Assert.IsType<TransformerChain<ITransformer>>(loaded);
        AssertClose(expected, actual);
        // The outputs depend on the weights: a transformer with other weights must differ, or the test proves nothing.
        var other = new TorchLinearTransformer(fresh, Output, Input, _rows[0].Length, 5, seed: 8);
        float[][] otherOutputs = VectorData.ReadVectors(other.Transform(VectorData.Create(fresh, Input, _rows)), Output);
        Assert.True(MaxAbsDifference(expected, otherOutputs) > 1e-2);
    }

    [SkippableFact]
    public void SavedChainGivesSameOutputsInASeparateProcess()
    {
        var (path, expected) = SaveChain();
        string inputJson = Path.Combine(_folder, "rows.json");
        File.WriteAllText(inputJson, JsonSerializer.Serialize(_rows));

        string stdout = ChildProcess.Run(TimeSpan.FromMinutes(2), "transform-vectors", path, inputJson, Input, Output);
        float[][] actual = JsonSerializer.Deserialize<float[][]>(stdout.Trim())!;

        AssertClose(expected, actual);
    }

    [SkippableFact]
    public void TruncatedZipGivesAClearException()
    {
        var (path, _) = SaveChain();
        byte[] bytes = File.ReadAllBytes(path);
        string truncated = Path.Combine(_folder, "truncated.zip");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);

        // ML.NET itself rejects the damaged archive before any MlNetSsl code or native TorchSharp code runs.
        var ex = Assert.Throws<FormatException>(() => new MLContext().Model.Load(truncated, out _));

        Assert.Contains("zip", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [SkippableFact]
    public void TamperedWeightsGiveAnExceptionNamingTheStream()
    {
        var (path, _) = SaveChain();
        string tampered = Path.Combine(_folder, "tampered.zip");
        File.Copy(path, tampered);
        using (var zip = ZipFile.Open(tampered, ZipArchiveMode.Update))
        {
            ZipArchiveEntry entry = zip.Entries.Single(e => e.FullName.EndsWith("Weights.bin", StringComparison.Ordinal));
            byte[] content;
            using (var stream = entry.Open()) { using var copy = new MemoryStream(); stream.CopyTo(copy); content = copy.ToArray(); }
            content[^10] ^= 0xFF; // one byte of the last weight
            entry.Delete();
            using var rewritten = zip.CreateEntry(entry.FullName).Open();
            rewritten.Write(content);
        }

        var ex = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(tampered, out _));

        var cause = Innermost<InvalidDataException>(ex);
        Assert.NotNull(cause);
        Assert.Contains("Weights.bin", cause!.Message);
        Assert.Contains("checksum", cause.Message);
    }

    [SkippableFact]
    public void ZipWithoutTheWeightsStreamGivesAnExceptionNamingIt()
    {
        var (path, _) = SaveChain();
        string stripped = Path.Combine(_folder, "stripped.zip");
        File.Copy(path, stripped);
        using (var zip = ZipFile.Open(stripped, ZipArchiveMode.Update))
            zip.Entries.Single(e => e.FullName.EndsWith("Weights.bin", StringComparison.Ordinal)).Delete();

        var ex = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(stripped, out _));

        Assert.Contains("Weights.bin", Innermost<InvalidDataException>(ex)?.Message ?? ex.ToString());
    }

    private static T? Innermost<T>(Exception ex) where T : Exception
    {
        T? found = null;
        for (Exception? e = ex; e is not null; e = e.InnerException)
            if (e is T t) found = t;
        return found;
    }

    private static void AssertClose(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        // The child process may run with another thread count (kernels): each row relative to its norm.
        Close.RowsEqual(expected, actual);
    }

    private static double MaxAbsDifference(float[][] a, float[][] b) =>
        a.Zip(b).SelectMany(p => p.First.Zip(p.Second, (x, y) => Math.Abs((double)x - y))).Max();
}
