using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>Save and load of the stage through ML.NET's model zip: same embeddings, clear errors on damaged files.</summary>
public sealed class StagePersistenceTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-stage-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (MLContext Ml, IDataView Train, IDataView Test, TransformerChain<ITransformer> Model) FitHiggsChain()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 600));
        var test = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 50));
        var model = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => { o.Epochs = 1; o.BatchSize = 128; })
            .Append(ml.Transforms.Concatenate("Both", "Embedding", "Features"))
            .Fit(train);
        return (ml, train, test, new TransformerChain<ITransformer>(model.ToArray<ITransformer>()));
    }

    private string SaveHiggs(out float[][] expected, out IDataView test)
    {
        var (ml, train, testData, model) = FitHiggsChain();
        expected = StageData.Vectors(model.Transform(testData), "Embedding");
        test = testData;
        string path = Path.Combine(_folder, "higgs.zip");
        ml.Model.Save(model, train.Schema, path);
        ((IDisposable)model).Dispose();
        return path;
    }

    [SkippableFact]
    public void ChainLoadedInANewContextGivesTheSameEmbeddingsAndKeepsTheRecord()
    {
        string path = SaveHiggs(out float[][] expected, out var test);

        var ml = new MLContext(seed: 99);
        var loaded = ml.Model.Load(path, out var schema);
        float[][] actual = StageData.Vectors(loaded.Transform(test), "Embedding");

        // libtorch's thread count is process-wide and some test classes change it while this one runs, so kernels may
        // differ between the save and the load: compare each row relative to its norm.
        Close.RowsEqual(expected, actual);
        var stage = Assert.IsType<SelfSupervisedTransformer>(((TransformerChain<ITransformer>)loaded).First());
        Assert.Equal(nameof(SslMethod.Scarf), stage.Method);
        Assert.Equal(SslInputShape.Tabular(28), stage.InputShape);
        Assert.Single(stage.History);
        Assert.Equal(600, stage.PretrainingRows);
        Assert.NotEmpty(stage.Augmentations.Steps);
        Assert.NotNull(schema.GetColumnOrNull("Features"));
        ((IDisposable)loaded).Dispose();
    }

    [SkippableFact]
    public void TheEmbeddingNamesItsSlotsForDownstreamTrainersBeforeAndAfterLoading()
    {
        var (ml, train, test, model) = FitHiggsChain();
        using var owned = (IDisposable)model;
        var estimator = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf);
        Assert.True(estimator.GetOutputSchema(SchemaShape.Create(train.Schema)).TryFindColumn("Embedding", out var shape));
        Assert.Contains(shape.Annotations, a => a.Name == AnnotationUtils.Kinds.SlotNames);

        string path = Path.Combine(_folder, "names.zip");
        ml.Model.Save(model, train.Schema, path);
        var loaded = new MLContext(seed: 2).Model.Load(path, out _);
        foreach (var scored in new[] { model.Transform(test), loaded.Transform(test) })
        {
            int size = ((VectorDataViewType)scored.Schema["Embedding"].Type).Size;
            var names = default(VBuffer<ReadOnlyMemory<char>>);
            scored.Schema["Embedding"].GetSlotNames(ref names);
            Assert.Equal(Enumerable.Range(0, size).Select(i => $"e{i}"), names.DenseValues().Select(n => n.ToString()));
            // Concatenated with the raw features, a trainer sees which slots came from the embedding.
            var both = default(VBuffer<ReadOnlyMemory<char>>);
            scored.Schema["Both"].GetSlotNames(ref both);
            Assert.Equal(size + 28, both.Length);
            Assert.Equal("Embedding.e0", both.GetItemOrDefault(0).ToString());
        }
        ((IDisposable)loaded).Dispose();

        // Beside a column with its own slot names, reading the concatenation's names leaves the embedding's intact.
        var definition = SchemaDefinition.Create(typeof(HiggsRow));
        var featureNames = new VBuffer<ReadOnlyMemory<char>>(28, Enumerable.Range(0, 28).Select(i => $"f{i}".AsMemory()).ToArray());
        definition[nameof(HiggsRow.Features)].AddAnnotation(AnnotationUtils.Kinds.SlotNames, featureNames, new VectorDataViewType(TextDataViewType.Instance, 28));
        IDataView named = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 50), definition);
        IDataView embedded = model.First().Transform(named);
        IDataView concatenated = ml.Transforms.Concatenate("Both", "Embedding", "Features").Fit(embedded).Transform(embedded);
        var bothNames = default(VBuffer<ReadOnlyMemory<char>>);
        concatenated.Schema["Both"].GetSlotNames(ref bothNames);
        concatenated.Schema["Both"].GetSlotNames(ref bothNames);
        Assert.Equal("Features.f27", bothNames.GetItemOrDefault(bothNames.Length - 1).ToString());
        var embeddingNames = default(VBuffer<ReadOnlyMemory<char>>);
        concatenated.Schema["Embedding"].GetSlotNames(ref embeddingNames);
        Assert.Equal("e0", embeddingNames.GetItemOrDefault(0).ToString());
        Assert.Equal("Embedding.e0", bothNames.GetItemOrDefault(0).ToString());
    }

    [SkippableFact]
    public void MethodOptionsChangedAfterFitDoNotChangeTheFittedStageOrItsSavedRecord()
    {
        // The stage kept the caller's options object: one object reused for the next model (a loop over projection sizes)
        // rewrote the record of the one fitted before, which then said ProjectionSize 48 beside weights of 32 and did not load.
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 300));
        var test = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 20));
        var methodOptions = new SimClrOptions { ProjectionSize = 32, Temperature = 0.3 };
        using var stage = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.SimClr, o =>
        {
            o.Epochs = 1;
            o.BatchSize = 64;
            o.MethodOptions = methodOptions;
        }).Fit(train);
        float[][] expected = StageData.Vectors(stage.Transform(test), "Embedding");
        methodOptions.ProjectionSize = 48;
        methodOptions.Temperature = 0.9;

        var recorded = Assert.IsType<SimClrOptions>(stage.MethodOptions);
        Assert.Equal(32, recorded.ProjectionSize);
        Assert.Equal(0.3, recorded.Temperature);
        string path = Path.Combine(_folder, "options.zip");
        ml.Model.Save(stage, train.Schema, path);
        using var loaded = (SelfSupervisedTransformer)new MLContext(seed: 2).Model.Load(path, out _);
        Assert.Equal(32, Assert.IsType<SimClrOptions>(loaded.MethodOptions).ProjectionSize);
        Close.RowsEqual(expected, StageData.Vectors(loaded.Transform(test), "Embedding"));
    }

    [SkippableFact]
    public void AnAugmentationChangedAfterFitDoesNotChangeThePolicyTheStageRecords()
    {
        // The stage recorded the caller's policy object: an augmentation tuned for the next model rewrote the record of
        // the stage fitted before, in its Augmentations and in the Augmentations.json its zip saved.
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 200));
        var noise = new GaussianNoise { Strength = 0.8 };
        using var stage = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.SimClr, o =>
        {
            o.Epochs = 1;
            o.BatchSize = 64;
            o.Augmentations = new AugmentationPolicy(noise);
        }).Fit(train);
        string recorded = stage.Augmentations.ToJson();
        noise.Strength = 0.2;

        Assert.Equal(recorded, stage.Augmentations.ToJson());
        string path = Path.Combine(_folder, "policy.zip");
        ml.Model.Save(stage, train.Schema, path);
        using var loaded = (SelfSupervisedTransformer)new MLContext(seed: 2).Model.Load(path, out _);
        Assert.Equal(0.8, loaded.Augmentations.Steps.Single().Augmentation.Strength);
    }

    [SkippableFact]
    public void ChainLoadedInANewProcessGivesTheSameEmbeddings()
    {
        string path = SaveHiggs(out float[][] expected, out _);
        string input = Path.Combine(_folder, "rows.json");
        File.WriteAllText(input, JsonSerializer.Serialize(StageData.HiggsRows("test", 50).Select(r => r.Features).ToArray()));

        string stdout = ChildProcess.Run(TimeSpan.FromMinutes(2), "transform-vectors", path, input, "Features", "Embedding");

        float[][] actual = JsonSerializer.Deserialize<float[][]>(stdout.Trim().Split('\n')[^1])!;
        // Another process may run with another thread count (kernels): each row relative to its norm.
        Close.RowsEqual(expected, actual);
    }

    [SkippableFact]
    public void TheZipHoldsWeightsOptionsNormalizationPolicyAndFormatVersion()
    {
        string path = SaveHiggs(out _, out _);
        using var zip = ZipFile.OpenRead(path);
        var names = zip.Entries.Select(e => e.FullName).ToArray();
        Assert.Contains(names, n => n.EndsWith("Weights.bin", StringComparison.Ordinal));
        Assert.Contains(names, n => n.EndsWith("Augmentations.json", StringComparison.Ordinal));

        var json = JsonNode.Parse(Payload(zip, "SelfSupervised.json"))!;
        Assert.Equal(1, (int)json["FormatVersion"]!);
        Assert.Equal("Scarf", (string)json["Method"]!);
        var means = json["NormalizationMean"]!.AsArray().Select(v => (float)v!).ToArray();
        var rawMeans = Enumerable.Range(0, 28).Select(j => StageData.HiggsRows("train", 600).Average(r => (double)r.Features[j])).ToArray();
        Assert.Equal(28, means.Length);
        // A float mean against a double mean: a tolerance, not rounding to 3 decimals (which can split them at a boundary).
        for (int j = 0; j < 28; j++) Assert.Equal(rawMeans[j], means[j], 1e-4);
        Assert.Contains("ScarfCorruption", Encoding.UTF8.GetString(Payload(zip, "Augmentations.json")));
    }

    [SkippableFact]
    public void TamperedWeightsTruncatedFilesAndNewerFormatsGiveClearErrors()
    {
        string path = SaveHiggs(out _, out _);
        var ml = new MLContext();

        string tampered = Copy(path, "tampered.zip");
        RewriteEntry(tampered, "Weights.bin", bytes => { bytes[^10] ^= 0xFF; return bytes; }, fixChecksum: false);
        // ML.NET calls the loader through reflection, so our exception arrives as the inner exception.
        var damaged = Cause<InvalidDataException>(Assert.ThrowsAny<Exception>(() => ml.Model.Load(tampered, out _)));
        Assert.Contains("Weights.bin", damaged.Message);
        Assert.Contains("checksum", damaged.Message);

        string truncated = Copy(path, "truncated.zip");
        using (var stream = File.OpenWrite(truncated)) stream.SetLength(stream.Length / 2);
        Assert.ThrowsAny<Exception>(() => ml.Model.Load(truncated, out _)); // ML.NET: "Failed to open a zip archive"

        string newer = Copy(path, "newer.zip");
        RewriteEntry(newer, "SelfSupervised.json", payload =>
        {
            var json = JsonNode.Parse(payload)!;
            json["FormatVersion"] = 99;
            return Encoding.UTF8.GetBytes(json.ToJsonString());
        }, fixChecksum: true);
        var tooNew = Cause<InvalidDataException>(Assert.ThrowsAny<Exception>(() => ml.Model.Load(newer, out _)));
        Assert.Contains("newer MlNetSsl", tooNew.Message);
        Assert.Contains("99", tooNew.Message);
    }

    [SkippableFact]
    public void AnUnknownAugmentationInTheRecordIsReportedAsTheStreamItIsIn()
    {
        // AugmentationPolicy.FromJson reports every problem as a FormatException, which the loader's catch did not name, so
        // the documented InvalidDataException naming the stream never came.
        string path = SaveHiggs(out _, out _);
        string unknown = Copy(path, "unknown-augmentation.zip");
        RewriteEntry(unknown, "Augmentations.json", payload =>
            Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(payload).Replace("ScarfCorruption", "NoSuchAugmentation")), fixChecksum: true);
        var error = Cause<InvalidDataException>(Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(unknown, out _)));
        Assert.Contains("Augmentations.json", error.Message);
        Assert.Contains("NoSuchAugmentation", error.Message);
        Assert.Contains("RegisterAugmentation", error.Message);
    }

    private static T Cause<T>(Exception thrown) where T : Exception
    {
        for (Exception? e = thrown; e is not null; e = e.InnerException)
            if (e is T cause) return cause;
        throw new Xunit.Sdk.XunitException($"No {typeof(T).Name} in the chain: {thrown}");
    }

    private string Copy(string path, string name)
    {
        string target = Path.Combine(_folder, name);
        File.Copy(path, target);
        return target;
    }

    // A model stream is: marker (int32), payload length (int64), SHA-256 (32 bytes), payload.
    private const int Header = 4 + 8 + 32;

    private static byte[] Payload(ZipArchive zip, string suffix)
    {
        using var stream = zip.Entries.Single(e => e.FullName.EndsWith(suffix, StringComparison.Ordinal)).Open();
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray()[Header..];
    }

    private static void RewriteEntry(string path, string suffix, Func<byte[], byte[]> change, bool fixChecksum)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith(suffix, StringComparison.Ordinal));
        byte[] whole;
        using (var stream = entry.Open())
        using (var memory = new MemoryStream())
        {
            stream.CopyTo(memory);
            whole = memory.ToArray();
        }
        byte[] payload = change(whole[Header..]);
        string name = entry.FullName;
        entry.Delete();
        using var writer = new BinaryWriter(zip.CreateEntry(name).Open());
        writer.Write(BitConverter.ToInt32(whole, 0));
        writer.Write((long)payload.Length);
        writer.Write(fixChecksum ? SHA256.HashData(payload) : whole[12..Header]);
        writer.Write(payload);
    }
}
