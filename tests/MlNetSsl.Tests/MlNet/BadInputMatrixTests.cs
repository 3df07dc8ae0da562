using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;
using MlNetSsl.Tests.Training;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>
/// The bad-input matrix: inputs and situations a user meets by accident, each giving a .NET exception that names the
/// option, column, row or file and says what to do, or a correct result; never a native crash, a hang or a partial
/// file. <see cref="StageErrorTests"/> holds the older cases (missing column, text, ragged vectors, NaN, missing and
/// corrupt images, empty data, wrong vector length, tabular methods on images).
/// </summary>
public sealed class BadInputMatrixTests : IDisposable
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-bad-input-").FullName;

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private static void Quick(SelfSupervisedOptions o)
    {
        o.Epochs = 1;
        o.BatchSize = 32;
    }

    private IDataView Higgs(int rows) => _ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", rows));

    private static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    // ---- options ---------------------------------------------------------------------------------------------

    [SkippableTheory]
    [InlineData(100000, 100000, "ImageWidth")]
    [InlineData(32, 5000, "ImageHeight")]
    [InlineData(4, 32, "ImageWidth")]
    [InlineData(32, 0, "ImageHeight")]
    public void ImageSizesOutOfRangeNameTheOptionInsteadOfOverflowing(int width, int height, string option)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, o => { o.ImageWidth = width; o.ImageHeight = height; }));
        Assert.Equal(option, error.ParamName);
        Assert.Contains($"{width}x{height}", error.Message);
    }

    [SkippableTheory]
    [InlineData(double.NaN)]
    [InlineData(0.0)]
    [InlineData(-1e-3)]
    [InlineData(double.PositiveInfinity)]
    public void ALearningRateThatCannotTrainIsRejectedWhenTheStageIsCreated(double learningRate)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o => o.LearningRate = learningRate));
        Assert.Equal("LearningRate", error.ParamName);
    }

    [SkippableFact]
    public void TabularMethodsOnImagesOrSeriesFailBeforeAnyRowIsRead()
    {
        var images = new UnreadableRows(StageData.Images(_ml, StageData.CifarRows(1)));
        var scarf = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.Scarf, Quick);
        var error = Assert.Throws<ArgumentException>(() => scarf.Fit(images));
        Assert.Contains("'Image'", error.Message);
        Assert.Contains("SimClr", error.Message); // says what to use instead
        Assert.Throws<ArgumentException>(() => scarf.GetOutputSchema(SchemaShape.Create(images.Schema)));

        var series = new UnreadableRows(VectorData.Create(_ml, "Signal", [new float[24], new float[24]]));
        var vime = _ml.Transforms.SelfSupervised("E", "Signal", SslMethod.Vime, o => { Quick(o); o.SeriesChannels = 1; });
        Assert.Contains("Series", Assert.Throws<ArgumentException>(() => vime.Fit(series)).Message);
        Assert.Equal(0, images.CursorsOpened + series.CursorsOpened);
    }

    // ---- column types and names ------------------------------------------------------------------------------

    [SkippableFact]
    public void NumericVectorsOfAnotherTypeNameTheColumnAndTheConversion()
    {
        var builder = new ArrayDataViewBuilder(_ml);
        builder.AddColumn("Doubles", NumberDataViewType.Double, new[] { 1.0, 2.0 }, new[] { 3.0, 4.0 });
        builder.AddColumn("Ints", NumberDataViewType.Int32, new[] { 1, 2 }, new[] { 3, 4 });
        builder.AddColumn("Flag", BooleanDataViewType.Instance, new[] { true, false });
        var data = builder.GetDataView();
        foreach (string column in new[] { "Doubles", "Ints", "Flag" })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.SelfSupervised("E", column, SslMethod.Scarf, Quick).Fit(data));
            Assert.Contains($"'{column}'", error.Message);
            Assert.Contains("ConvertType", error.Message);
        }

        // A scalar Single already has the type: the advice is to join the columns, not to convert them.
        builder = new ArrayDataViewBuilder(_ml);
        builder.AddColumn("Height", NumberDataViewType.Single, 1f, 2f, 3f);
        var scalar = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.SelfSupervised("E", "Height", SslMethod.Scarf, Quick).Fit(builder.GetDataView()));
        Assert.Contains("is a scalar: join the numeric columns into one vector with Transforms.Concatenate", scalar.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ConvertType", scalar.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AnOutputNamedLikeAnExistingColumnHidesItAsInMlNet()
    {
        var data = Higgs(64);
        using var model = _ml.Transforms.SelfSupervised("Label", "Features", SslMethod.Scarf, o => { Quick(o); o.EmbeddingSize = 16; }).Fit(data);
        var output = model.Transform(data);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 16), output.Schema["Label"].Type);
        Assert.True(output.Schema.Count(c => c.Name == "Label") == 2, "the input's Label stays, hidden");
        Assert.Equal(64, StageData.Vectors(output, "Label").Length);

        using var inPlace = _ml.Transforms.SelfSupervised("Features", "Features", SslMethod.Scarf, Quick).Fit(data);
        Assert.Equal(inPlace.EmbeddingSize, StageData.Vectors(inPlace.Transform(data), "Features")[0].Length);
    }

    [SkippableFact]
    public void AMissingMonitorLabelColumnIsNamed()
    {
        IDataView higgs = Higgs(64); // read outside the assertion: without the shared data the test reports skipped
        var error = Assert.ThrowsAny<ArgumentException>(() =>
            _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o => { Quick(o); o.MonitorLabelColumnName = "Class"; }).Fit(higgs));
        Assert.Contains("'Class'", error.Message);
    }

    [SkippableFact]
    public void PretrainingDataOfAnotherShapeIsRejectedBeforeReading()
    {
        var other = new UnreadableRows(VectorData.Create(_ml, "Features", [new float[10], new float[10]]));
        var error = Assert.Throws<ArgumentException>(() =>
            _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o => { Quick(o); o.PretrainingData = other; }).Fit(Higgs(64)));
        Assert.Contains("PretrainingData", error.Message);
        Assert.Equal(0, other.CursorsOpened);
    }

    [SkippableFact]
    public void ASingleRowIsRejectedWithTheCount()
    {
        var error = Assert.Throws<ArgumentException>(() => _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(Higgs(1)));
        Assert.Contains("has 1", error.Message);
    }

    [SkippableFact]
    public void NanInASeriesNamesTheRow()
    {
        var rows = Enumerable.Range(0, 40).Select(i => Enumerable.Range(0, 24).Select(t => MathF.Sin(t * 0.3f + i)).ToArray()).ToArray();
        rows[17][3] = float.NaN;
        var error = Assert.Throws<InvalidDataException>(() => _ml.Transforms.SelfSupervised("E", "Signal", SslMethod.SimClr,
            o => { Quick(o); o.SeriesChannels = 1; }).Fit(VectorData.Create(_ml, "Signal", rows)));
        Assert.Contains("Row 17", error.Message);
        Assert.Contains("'Signal'", error.Message);
    }

    // ---- images ----------------------------------------------------------------------------------------------

    private IDataView ImageFolder(params (string Name, Action<string> Write)[] files)
    {
        foreach (var (name, write) in files) write(Path.Combine(_folder, name));
        return StageData.Images(_ml, files.Select(f => new ImageRow { ImagePath = f.Name }).ToArray(), _folder);
    }

    private static Action<string> Png(int width, int height, int seed) =>
        path => ImageFiles.Write(path, width, height, (x, y) => ((byte)(x * 7 + seed * 40), (byte)(y * 5 + seed * 20), (byte)((x + y) * 3), 255));

    [SkippableFact]
    public void OneByOneAndLargeImagesAreResizedAndEmbedded()
    {
        var data = ImageFolder(("tiny0.png", Png(1, 1, 0)), ("tiny1.png", Png(1, 1, 1)), ("large.png", Png(1200, 900, 2)),
            ("wide.png", Png(300, 7, 3)), ("a.png", Png(32, 32, 4)), ("b.png", Png(40, 28, 5)));
        using var model = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, o => { o.Epochs = 1; o.BatchSize = 6; }).Fit(data);
        float[][] embeddings = StageData.Vectors(model.Transform(data), "E");
        Assert.Equal(6, embeddings.Length);
        Assert.All(embeddings, e => Assert.All(e, v => Assert.True(float.IsFinite(v))));
        Assert.NotEqual(embeddings[0], embeddings[2]); // different pictures, different embeddings
    }

    [SkippableFact]
    public void AnEmptyImageFileNamesTheRow()
    {
        var data = ImageFolder(("a.png", Png(32, 32, 0)), ("b.png", Png(32, 32, 1)), ("empty.jpg", path => File.WriteAllBytes(path, [])));
        var error = Assert.Throws<InvalidDataException>(() => _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, Quick).Fit(data));
        Assert.Contains("Row 2", error.Message);
        Assert.Contains("'Image'", error.Message);
        Assert.Contains("(ImagePath 'empty.jpg')", error.Message);
    }

    [SkippableFact]
    public void AFileWithoutAnImageExtensionThatFailsToLoadIsNamedByItsPath()
    {
        // A folder listing taken whole brings notes.txt or Thumbs.db along; the error said only "Row 2 of column 'Image'"
        // because only values with an image extension were taken for the row's path, and a damaged .jfif (a JPEG by
        // another name) the same.
        var data = ImageFolder(("a.png", Png(32, 32, 0)), ("b.png", Png(32, 32, 1)), ("notes.txt", path => File.WriteAllText(path, "not an image")));
        var error = Assert.Throws<InvalidDataException>(() => _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, Quick).Fit(data));
        Assert.StartsWith("Row 2 of column 'Image' (ImagePath 'notes.txt'): the image could not be loaded", error.Message, StringComparison.Ordinal);

        data = ImageFolder(("a.png", Png(32, 32, 0)), ("b.png", Png(32, 32, 1)), ("web.jfif", path => File.WriteAllBytes(path, [0xFF, 0xD8, 0xFF, 0xE0, 0, 1])));
        error = Assert.Throws<InvalidDataException>(() => _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, Quick).Fit(data));
        Assert.Contains("(ImagePath 'web.jfif')", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ADamagedImageFileIsNamedByItsPathWhenFittingTransformingAndPreloading()
    {
        // ML.NET names the path of a missing file but not of a damaged one ("Invalid input stream contents").
        var good = ImageFolder(("a.png", Png(32, 32, 0)), ("b.png", Png(32, 32, 1)), ("c.png", Png(32, 32, 2)));
        var data = ImageFolder(("a.png", Png(32, 32, 0)), ("b.png", Png(32, 32, 1)), ("c.png", Png(32, 32, 2)),
            ("noise.jpg", path => File.WriteAllBytes(path, Enumerable.Range(0, 500).Select(b => (byte)(b * 37 % 251)).ToArray())));
        var fit = Assert.Throws<InvalidDataException>(() => _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, Quick).Fit(data));
        Assert.StartsWith("Row 3 of column 'Image' (ImagePath 'noise.jpg'): the image could not be loaded", fit.Message, StringComparison.Ordinal);

        using var model = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, Quick).Fit(good);
        var transform = Assert.Throws<InvalidDataException>(() => StageData.Vectors(model.Transform(data), "E"));
        Assert.Contains("(ImagePath 'noise.jpg')", transform.Message, StringComparison.Ordinal);

        var preload = Assert.Throws<InvalidDataException>(() => _ml.Data.PreloadImages(data, "Image", 32, 32));
        Assert.StartsWith("Row 3 of column 'Image' (ImagePath 'noise.jpg')", preload.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void GreyAndCmykJpegsDecodeToTheSamePictureAsTheColourOriginal()
    {
        // Fixtures: CIFAR-10 train/cat/0000.jpg converted by ImageMagick to grey and to CMYK JPEG (see Fixtures/README.md).
        string original = Path.Combine(StageData.CifarFolder, "train", "cat", "0000.jpg");
        var rows = StageData.CifarRows(3, skipPerClass: 1); // not cat/0000.jpg itself
        File.Copy(original, Path.Combine(_folder, "rgb.jpg"));
        File.Copy(FixturePath("cat-grey.jpg"), Path.Combine(_folder, "grey.jpg"));
        File.Copy(FixturePath("cat-cmyk.jpg"), Path.Combine(_folder, "cmyk.jpg"));
        foreach (var row in rows) File.Copy(Path.Combine(StageData.CifarFolder, row.ImagePath), Path.Combine(_folder, Path.GetFileName(row.ImagePath) + row.Label + ".jpg"));
        var names = new[] { "rgb.jpg", "grey.jpg", "cmyk.jpg" }.Concat(rows.Select(r => Path.GetFileName(r.ImagePath) + r.Label + ".jpg")).ToArray();
        var data = StageData.Images(_ml, names.Select(n => new ImageRow { ImagePath = n }).ToArray(), _folder);

        using var model = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, o => { o.Epochs = 1; o.BatchSize = 16; }).Fit(data);
        float[][] e = StageData.Vectors(model.Transform(data), "E");
        Assert.All(e, v => Assert.All(v, x => Assert.True(float.IsFinite(x))));
        static double Distance(float[] a, float[] b) => Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum());
        double nearestOther = e.Skip(3).Min(other => Distance(e[0], other));
        // A CMYK file decoded with inverted or dropped channels would land far from its RGB original.
        Assert.True(Distance(e[0], e[2]) < 0.5 * nearestOther, $"CMYK {Distance(e[0], e[2]):F3} vs nearest other image {nearestOther:F3}");
        Assert.True(Distance(e[0], e[1]) < nearestOther, $"grey {Distance(e[0], e[1]):F3} vs nearest other image {nearestOther:F3}");
    }

    // ---- checkpoints and files -------------------------------------------------------------------------------

    [SkippableFact]
    public void ACheckpointDirectoryThatIsAFileFailsBeforeTrainingAndNamesTheOption()
    {
        IDataView higgs = Higgs(64); // read outside the assertion: without the shared data the test reports skipped
        string file = Path.Combine(_folder, "not-a-folder");
        File.WriteAllText(file, "x");
        int steps = 0;
        var error = Assert.ThrowsAny<IOException>(() => _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o =>
        {
            Quick(o);
            o.CheckpointDirectory = Path.Combine(file, "checkpoints");
            o.Progress = new SyncProgress(_ => steps++);
        }).Fit(higgs));
        Assert.Contains("CheckpointDirectory", error.Message);
        Assert.Equal(0, steps);
        Assert.Equal("x", File.ReadAllText(file));
    }

    [SkippableFact]
    public void AReadOnlyCheckpointDirectoryFailsBeforeTraining()
    {
        IDataView higgs = Higgs(64); // read outside the assertion: without the shared data the test reports skipped
        // Permission bits do not stop root (CI runs as root), so use a file system that is read-only for everyone.
        Skip.IfNot(OperatingSystem.IsLinux() && Directory.Exists("/proc/self"), "needs Linux's read-only /proc");
        int steps = 0;
        var error = Assert.ThrowsAny<IOException>(() => _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o =>
        {
            Quick(o);
            o.CheckpointDirectory = "/proc/self/mlnetssl-checkpoints";
            o.Progress = new SyncProgress(_ => steps++);
        }).Fit(higgs));
        Assert.Contains("CheckpointDirectory", error.Message);
        Assert.Equal(0, steps);
    }

    [SkippableFact]
    public void AFullDiskLeavesNoPartialCheckpointAndSaysWhy()
    {
        IDataView higgs = Higgs(64); // read outside the assertion: without the shared data the test reports skipped
        using var disk = TinyDisk.TryMount(Path.Combine(_folder, "tiny"), kilobytes: 64);
        Skip.If(disk is null, "mounting a tmpfs needs root on Linux");
        // The encoder's checkpoint (about 1 MB) cannot fit in 64 KB: the first checkpoint write fails mid-way.
        var error = Assert.ThrowsAny<IOException>(() => _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o =>
        {
            Quick(o);
            o.CheckpointDirectory = disk!.Path;
        }).Fit(higgs));
        Assert.Contains(disk!.Path, error.Message);
        Assert.Empty(Directory.GetFiles(disk.Path, "*", SearchOption.AllDirectories));
    }

    // ---- fine-tuning -----------------------------------------------------------------------------------------

    [SkippableFact]
    public void FineTuningWithoutAnyLabeledRowSaysSoAndHowRowsAreMarked()
    {
        var rows = StageData.HiggsRows("train", 64);
        var unlabeled = rows.Select(r => new TextLabelRow { Features = r.Features, Label = "" }).ToArray();
        unlabeled[0].Label = "signal"; // one value, so the key type exists; its row is then cleared below
        var data = _ml.Data.LoadFromEnumerable(unlabeled);
        var keys = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(data);
        unlabeled[0].Label = "";
        var noLabels = keys.Transform(_ml.Data.LoadFromEnumerable(unlabeled));
        using var stage = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(noLabels);

        var error = Assert.Throws<ArgumentException>(() => _ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey").Fit(noLabels));
        Assert.Contains("No row", error.Message);
        Assert.Contains("'LabelKey'", error.Message);
        Assert.Contains("MapValueToKey", error.Message);
        Assert.DoesNotContain("ClassCount", error.Message);
    }

    [SkippableFact]
    public void AClassWithASingleLabeledRowIsNamedByItsValueNotItsKeyIndex()
    {
        var rows = StageData.HiggsRows("train", 64).Select(r => new TextLabelRow { Features = r.Features, Label = "background" }).ToArray();
        rows[5].Label = "signal"; // the second key value (key 2), with a single row
        var data = _ml.Data.LoadFromEnumerable(rows);
        var keyed = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(data).Transform(data);
        using var stage = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(keyed);

        var error = Assert.Throws<ArgumentException>(() => _ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey").Fit(keyed));
        Assert.Contains("Class 'signal' (key 2) of label column 'LabelKey' has a single labeled row (row 5)", error.Message);
    }

    [SkippableFact]
    public void TheEnginesUnlabeledRowsOptionIsRefusedByTheMlNetTrainerWhichNamesUnlabeledData()
    {
        // Set in configure, the engine's tensor rows would skip the stage's standardization and unlabeledData was ignored.
        var data = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(Higgs(64)).Transform(Higgs(64));
        using var stage = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(data);
        using var rows = new SslTensorDataset(TorchSharp.torch.zeros(8, 28), SslInputShape.Tabular(28));
        var error = Assert.Throws<ArgumentException>(() => _ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey",
            o => o.UnlabeledRows = rows));
        Assert.Contains("FineTuneOptions.UnlabeledRows", error.Message, StringComparison.Ordinal);
        Assert.Contains("unlabeledData", error.Message, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("PredictedLabel")]
    [InlineData("Score")]
    public void ALabelNamedLikeAColumnFineTuningWritesIsRefusedWhenTheTrainerIsMade(string label)
    {
        // A key label named PredictedLabel was fitted, and Evaluate(scored, "PredictedLabel") then read the predictions as the
        // labels: accuracy 1 on HIGGS rows whose labels it scored 0.955 on under another name.
        var data = _ml.Transforms.Conversion.MapValueToKey(label, "Label").Fit(Higgs(64)).Transform(Higgs(64));
        using var stage = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(data);

        var error = Assert.Throws<ArgumentException>(() => _ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, label));

        Assert.Equal("labelColumnName", error.ParamName);
        Assert.Contains($"'{label}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("CopyColumns", error.Message, StringComparison.Ordinal);
    }

    private sealed class ByteKeyRow
    {
        [VectorType(28)] public float[] Features { get; set; } = [];
        [KeyType(2)] public byte Label { get; set; }
    }

    private sealed class ULongKeyRow
    {
        [VectorType(28)] public float[] Features { get; set; } = [];
        [KeyType(2)] public ulong Label { get; set; }
    }

    private sealed class UIntKeyRow
    {
        [VectorType(28)] public float[] Features { get; set; } = [];
        [KeyType(2)] public uint Label { get; set; }
    }

    [SkippableTheory]
    [InlineData("Byte")]
    [InlineData("UInt64")]
    public void KeyLabelsStoredAsAnotherIntegerThanUInt32FeedTheMonitorAndFineTuningAsTheirUInt32Twins(string raw)
    {
        // A key over a byte or ulong field (ML.NET's KeyType attribute, a TextLoader column of DataKind.Byte with a key
        // count) failed the monitor and fine-tuning with "Invalid TValue in GetGetter": the label was read as a UInt32.
        var rows = StageData.HiggsRows("train", 96).Select((r, i) => (r.Features, Key: i % 6 == 5 ? 0u : r.Label > 0.5f ? 2u : 1u)).ToArray();
        IDataView other = raw == "Byte"
            ? _ml.Data.LoadFromEnumerable(rows.Select(r => new ByteKeyRow { Features = r.Features, Label = (byte)r.Key }))
            : _ml.Data.LoadFromEnumerable(rows.Select(r => new ULongKeyRow { Features = r.Features, Label = r.Key }));
        IDataView twin = _ml.Data.LoadFromEnumerable(rows.Select(r => new UIntKeyRow { Features = r.Features, Label = r.Key }));
        Assert.Equal(raw, ((KeyDataViewType)other.Schema["Label"].Type).RawType.Name);

        float[][] Scores(IDataView data)
        {
            var ml = new MLContext(seed: 1);
            using var stage = ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o =>
            {
                Quick(o);
                o.MonitorLabelColumnName = "Label";
            }).Fit(data);
            using var model = ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "Label", o => o.Epochs = 2).Fit(data);
            IDataView scored = model.Transform(data);
            Assert.InRange(ml.MulticlassClassification.Evaluate(scored).MicroAccuracy, 0, 1);
            return StageData.Vectors(scored, "Score");
        }

        Assert.Equal(Scores(twin), Scores(other));
    }

    [SkippableFact]
    public void FineTuningFromADisposedStageThrowsObjectDisposed()
    {
        var data = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(Higgs(64)).Transform(Higgs(64));
        var stage = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(data);
        var trainer = _ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey", o => o.Epochs = 1);
        stage.Dispose();
        Assert.Throws<ObjectDisposedException>(() => trainer.Fit(data));
        Assert.Throws<ObjectDisposedException>(() => stage.Transform(data));
    }

    // ---- cancellation ----------------------------------------------------------------------------------------

    // MLContext.CancelExecution is internal in ML.NET 5; users reach it through MlNetSsl's CancelExecutionWhen (or
    // Microsoft.ML.Experimental), and the stage must stop either way, not only through its own CancellationToken option.
    [SkippableFact]
    public void CancellingTheMlContextStopsPretrainingWithinAFewSteps()
    {
        var rows = StageData.HiggsRows("train", 64); // read outside the assertions: without the shared data the test reports skipped
        var ml = new MLContext(seed: 1);
        using var user = new CancellationTokenSource();
        using var link = ml.CancelExecutionWhen(user.Token);
        int steps = 0;
        var estimator = ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o =>
        {
            o.Epochs = 5000; // far more than can run before the cancellation is seen
            o.BatchSize = 32;
            o.Progress = new SyncProgress(p => { if (Interlocked.Increment(ref steps) == 3) user.Cancel(); });
        });
        Assert.ThrowsAny<OperationCanceledException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.InRange(steps, 3, 2 * 5000 - 1);

        // A context cancelled before Fit does not start at all.
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick)
            .Fit(ml.Data.LoadFromEnumerable(rows)));
    }

    [SkippableFact]
    public void AWatchedContextIsLookedAtAtOnceWhenAskedNotOnlyAtItsPoll()
    {
        var ml = new MLContext(seed: 1);
        using var user = new CancellationTokenSource();
        using var cancel = ml.CancelExecutionWhen(user.Token);
        using MLContextCancellationLink watch = ml.WatchCancellation(CancellationToken.None);
        watch.ThrowIfCancellationRequested(); // not cancelled: returns
        user.Cancel();
        // The next 50 ms poll has not come yet; asking looks now, cancels the token, and throws with it.
        var e = Assert.ThrowsAny<OperationCanceledException>(watch.ThrowIfCancellationRequested);
        Assert.True(watch.Token.IsCancellationRequested);
        Assert.Equal(watch.Token, e.CancellationToken);
    }

    [SkippableFact]
    public void CancellingTheMlContextStopsFineTuning()
    {
        var ml = new MLContext(seed: 1);
        using var user = new CancellationTokenSource();
        using var link = ml.CancelExecutionWhen(user.Token);
        var data = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(Higgs(128)).Transform(Higgs(128));
        using var stage = ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(data);
        int epochs = 0;
        var trainer = ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey", o =>
        {
            o.Epochs = 100000;
            o.BatchSize = 32;
            o.EarlyStoppingPatience = 0;
            o.Progress = new CallbackProgress<FineTuneProgress>(_ => { if (Interlocked.Increment(ref epochs) == 2) user.Cancel(); });
        });
        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Fit(data));
        Assert.True(epochs >= 2);
    }

    [SkippableFact]
    public void TheCancellationCarriesTheUsersOwnToken()
    {
        IDataView higgs = Higgs(64); // read outside the assertion: without the shared data the test reports skipped
        using var user = new CancellationTokenSource();
        var estimator = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o =>
        {
            o.Epochs = 5000;
            o.BatchSize = 32;
            o.CancellationToken = user.Token;
            o.Progress = new SyncProgress(_ => user.Cancel());
        });
        var error = Assert.ThrowsAny<OperationCanceledException>(() => estimator.Fit(higgs));
        Assert.Equal(user.Token, error.CancellationToken); // what Task.Run(..., token) and 'when (e.CancellationToken == token)' match
    }

    // ---- disposal while in use -------------------------------------------------------------------------------

    [SkippableFact]
    public void DisposingWhileAnotherThreadTransformsNeverFreesTensorsUnderIt()
    {
        var data = Higgs(2000);
        var model = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o => { Quick(o); o.BatchSize = 8; }).Fit(Higgs(64));
        using var started = new ManualResetEventSlim();
        Exception? failure = null;
        int rowsRead = 0;
        var reader = new Thread(() =>
        {
            try
            {
                using var cursor = model.Transform(data).GetRowCursor(model.Transform(data).Schema.Where(c => c.Name == "E"));
                var getter = cursor.GetGetter<VBuffer<float>>(cursor.Schema["E"]);
                VBuffer<float> value = default;
                while (cursor.MoveNext())
                {
                    getter(ref value);
                    if (value.GetValues().ToArray().Any(v => !float.IsFinite(v))) throw new InvalidDataException("garbage embedding");
                    if (++rowsRead == 100) started.Set();
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                started.Set();
            }
        });
        reader.Start();
        started.Wait();
        model.Dispose();
        reader.Join();
        // Either the cursor finished before the encoder was freed, or it stopped with the disposed error; nothing else.
        Assert.True(failure is null or ObjectDisposedException, $"unexpected {failure}");
        Assert.True(failure is not null || rowsRead == 2000);
        Assert.Throws<ObjectDisposedException>(() => model.Transform(data));
    }

    [SkippableFact]
    public void DisposingWhilePredictionEnginesRunOnOtherThreadsIsSafe()
    {
        var model = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(Higgs(64));
        var rows = StageData.HiggsRows("test", 50);
        var errors = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        var predictions = 0;
        var threads = Enumerable.Range(0, 3).Select(_ => new Thread(() =>
        {
            try
            {
                var engine = _ml.Model.CreatePredictionEngine<HiggsRow, Embedded>(model, new PredictionEngineOptions { OwnsTransformer = false });
                for (int i = 0; i < 400; i++)
                {
                    var e = engine.Predict(rows[i % rows.Length]).E;
                    Assert.True(e.All(float.IsFinite));
                    Interlocked.Increment(ref predictions);
                }
            }
            catch (Exception e)
            {
                errors.Add(e);
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        SpinWait.SpinUntil(() => Volatile.Read(ref predictions) > 20, TimeSpan.FromSeconds(60));
        model.Dispose();
        foreach (var t in threads) t.Join();
        Assert.All(errors, e => Assert.IsType<ObjectDisposedException>(e));
    }

    private sealed class CallbackProgress<T>(Action<T> callback) : IProgress<T>
    {
        public void Report(T value) => callback(value);
    }

    [SkippableFact]
    public void DisposingAStageFromInsideItsOwnFineTuningIsRefusedInsteadOfHanging()
    {
        var data = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(Higgs(128)).Transform(Higgs(128));
        var stage = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(data);
        var trainer = _ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey", o =>
        {
            o.Epochs = 2;
            o.Progress = new CallbackProgress<FineTuneProgress>(_ => stage.Dispose());
        });
        var error = Assert.Throws<InvalidOperationException>(() => trainer.Fit(data));
        Assert.Contains("cannot be disposed", error.Message);
        Assert.Equal(32, StageData.Vectors(stage.Transform(Higgs(32)), "E").Length); // still usable
        stage.Dispose();
        Assert.Throws<ObjectDisposedException>(() => stage.Transform(data));
    }

    public sealed class Embedded
    {
        public float[] E { get; set; } = [];
    }

    public sealed class TextLabelRow
    {
        [VectorType(28)]
        public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    /// <summary>Passes the schema through and records any attempt to read rows.</summary>
    private sealed class UnreadableRows(IDataView inner) : IDataView
    {
        public int CursorsOpened { get; private set; }

        public bool CanShuffle => inner.CanShuffle;

        public DataViewSchema Schema => inner.Schema;

        public long? GetRowCount() => inner.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            CursorsOpened++;
            return inner.GetRowCursor(columnsNeeded, rand);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        {
            CursorsOpened++;
            return inner.GetRowCursorSet(columnsNeeded, n, rand);
        }
    }

    /// <summary>A tmpfs of a few kilobytes, to simulate a full disk; null where mounting is not allowed.</summary>
    private sealed class TinyDisk : IDisposable
    {
        private TinyDisk(string path) => Path = path;

        public string Path { get; }

        public static TinyDisk? TryMount(string path, int kilobytes)
        {
            if (!OperatingSystem.IsLinux()) return null;
            Directory.CreateDirectory(path);
            return Run("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k", "tmpfs", path) ? new TinyDisk(path) : null;
        }

        public void Dispose() => Run("umount", Path);

        private static bool Run(string program, params string[] args)
        {
            try
            {
                var info = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
                foreach (string a in args) info.ArgumentList.Add(a);
                using var process = Process.Start(info)!;
                process.WaitForExit();
                return process.ExitCode == 0;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return false; // no such program
            }
        }
    }
}
