using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>Bad input gives a .NET exception that names the column, row or file; never a native crash.</summary>
public sealed class StageErrorTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private readonly MLContext _ml = new(seed: 1);

    private static void Quick(SelfSupervisedOptions o)
    {
        o.Epochs = 1;
        o.BatchSize = 32;
    }

    private IDataView Higgs(int rows) => _ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", rows));

    [SkippableFact]
    public void EncodedImageBytesAreRefusedPointingAtLoadImages()
    {
        // LoadRawImageBytes gives each file's encoded bytes: a variable-size byte vector that no conversion turns into pixels.
        var ml = new MLContext(1);
        var rows = ml.Data.LoadFromEnumerable(StageData.CifarRows(perClass: 1));
        IDataView bytes = ml.Transforms.LoadRawImageBytes("Image", StageData.CifarFolder, nameof(ImageRow.ImagePath)).Fit(rows).Transform(rows);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.SelfSupervised("E", "Image").Fit(bytes));
        Assert.Contains("Byte", error.Message, StringComparison.Ordinal);
        Assert.Contains("Transforms.LoadImages from a column of file paths", Assert.Throws<ArgumentOutOfRangeException>(
            () => ml.Transforms.SelfSupervised("E", "Image").GetOutputSchema(SchemaShape.Create(bytes.Schema))).Message, StringComparison.Ordinal);
        Assert.Contains("Transforms.LoadImages from a column of file paths", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ConvertType", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void SeriesChannelsOnAnImageColumnIsRefusedNotIgnored()
    {
        // The images trained as images and the setting was dropped without a word.
        var ml = new MLContext(1);
        var rows = ml.Data.LoadFromEnumerable(StageData.CifarRows(perClass: 1));
        IDataView images = ml.Transforms.LoadImages("Image", StageData.CifarFolder, nameof(ImageRow.ImagePath)).Fit(rows).Transform(rows);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, o =>
        {
            Quick(o);
            o.SeriesChannels = 3;
        }).Fit(images));
        Assert.Contains("Column 'Image' holds images, but SeriesChannels is 3", error.Message, StringComparison.Ordinal);
        Assert.Equal("seriesChannels", error.ParamName);
    }

    [SkippableFact]
    public void MissingColumnIsNamedByTheEstimatorAndTheTransformer()
    {
        var estimator = _ml.Transforms.SelfSupervised("Embedding", "Pixels", SslMethod.SimClr, Quick);
        var data = Higgs(64);

        var schemaError = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(SchemaShape.Create(data.Schema)));
        Assert.Contains("'Pixels'", schemaError.Message);
        Assert.Contains("not found", schemaError.Message);
        Assert.Contains("'Pixels'", Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(data)).Message);

        using var model = _ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, Quick).Fit(data);
        var other = _ml.Data.LoadFromEnumerable(new[] { new { Other = 1f } });
        Assert.Contains("'Features'", Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(other)).Message);
        Assert.Contains("'Features'", Assert.Throws<ArgumentOutOfRangeException>(() => model.GetOutputSchema(other.Schema)).Message);
    }

    [SkippableFact]
    public void FineTuningInAChainOnDataWithoutTheStagesColumnsNamesTheColumnsPresent()
    {
        // In a chain, ML.NET asks every estimator for its output schema before any fit: that check must say as much as Fit's.
        var data = Higgs(64);
        using var stage = _ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, Quick).Fit(data);
        var renamed = _ml.Transforms.CopyColumns("Values", "Features").Append(_ml.Transforms.DropColumns("Features")).Fit(data).Transform(data);
        var chain = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(_ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey", o => o.Epochs = 1));
        var inputError = Assert.Throws<ArgumentOutOfRangeException>(() => chain.Fit(renamed));
        output.WriteLine(inputError.Message);
        Assert.Contains("'Features'", inputError.Message, StringComparison.Ordinal);
        Assert.Contains("Columns present: Label, Values, LabelKey", inputError.Message, StringComparison.Ordinal);
        Assert.Contains("pretrained stage was fitted on", inputError.Message, StringComparison.Ordinal);

        var noLabel = _ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "Class", o => o.Epochs = 1);
        var labelError = Assert.Throws<ArgumentOutOfRangeException>(() => noLabel.GetOutputSchema(SchemaShape.Create(data.Schema)));
        Assert.Contains("'Class'", labelError.Message, StringComparison.Ordinal);
        Assert.Contains("Columns present: Features, Label", labelError.Message, StringComparison.Ordinal);
        Assert.Contains("Columns present: Features, Label", Assert.Throws<ArgumentOutOfRangeException>(() => noLabel.Fit(data)).Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void UnlabeledDataWithoutTheStagesColumnIsNamedAsTheViewAtFault()
    {
        // The training view has the stage's column; the extra unlabeled view does not: the message must say which view is at fault.
        var data = Higgs(64);
        using var stage = _ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, Quick).Fit(data);
        var renamed = _ml.Transforms.CopyColumns("Values", "Features").Append(_ml.Transforms.DropColumns("Features")).Fit(data).Transform(data);
        var keyed = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(data).Transform(data);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.MulticlassClassification.Trainers
            .SelfSupervisedFineTune(stage, "LabelKey", o => o.Epochs = 1, unlabeledData: renamed).Fit(keyed));
        output.WriteLine(error.Message);
        Assert.Equal("unlabeledData", error.ParamName);
        Assert.Contains("unlabeledData view", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Features'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Columns present: Label, Values", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void FitOnImagesDroppedByACacheSaysWhatDroppedThem()
    {
        // ML.NET's cache and ShuffleRows keep no image column; Fit said only "not found", though the docs promise the why.
        IDataView images = StageData.Images(_ml, StageData.CifarRows(perClass: 2));
        var estimator = _ml.Transforms.SelfSupervised("Embedding", "Image", SslMethod.SimClr, Quick);
        foreach (IDataView dropped in new[] { _ml.Data.Cache(images), _ml.Data.ShuffleRows(images, seed: 1) })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(dropped));
            Assert.Contains("'Image'", error.Message, StringComparison.Ordinal);
            Assert.Contains("ml.Data.Cache or ml.Data.ShuffleRows", error.Message, StringComparison.Ordinal);
            Assert.Contains("PreloadImages", error.Message, StringComparison.Ordinal);
        }

        // A misspelt column beside a vector says nothing about images.
        var typo = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.SelfSupervised("Embedding", "Featurs", SslMethod.Scarf, Quick).Fit(Higgs(64)));
        Assert.DoesNotContain("ml.Data.Cache", typo.Message, StringComparison.Ordinal);
    }

    public sealed class TextRow
    {
        public string Comment { get; set; } = "";
    }

    [SkippableFact]
    public void TextAndVariableSizeVectorsAreRejectedWithTheColumnNameAndWhatToDo()
    {
        var text = _ml.Data.LoadFromEnumerable(new[] { new TextRow { Comment = "a" }, new TextRow { Comment = "b" } });
        var textError = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.SelfSupervised("E", "Comment", SslMethod.SimClr, Quick).GetOutputSchema(SchemaShape.Create(text.Schema)));
        Assert.Contains("'Comment'", textError.Message);
        Assert.Contains("FeaturizeText", textError.Message);

        var builder = new ArrayDataViewBuilder(_ml);
        builder.AddColumn("Values", NumberDataViewType.Single, new VBuffer<float>(3, [1f, 2f, 3f]), new VBuffer<float>(2, [1f, 2f]));
        var ragged = builder.GetDataView();
        var raggedError = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.SelfSupervised("E", "Values", SslMethod.Scarf, Quick).Fit(ragged));
        Assert.Contains("'Values'", raggedError.Message);
        Assert.Contains("known-size", raggedError.Message);
    }

    [SkippableFact]
    public void ADivergedPretrainingIsWarnedAbout()
    {
        // VICReg at learning rate 10 without clipping: the loss climbs by orders of magnitude while the embeddings stay finite,
        // which used to show only in History.
        using var diverged = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Vicreg, o =>
        {
            Quick(o);
            o.Epochs = 4;
            o.LearningRate = 10;
            o.GradientClipNorm = 0;
        }).Fit(Higgs(256));
        output.WriteLine(string.Join("; ", diverged.History.Select(h => $"{h.MeanLoss:G4}")));
        Assert.Contains(diverged.Warnings, w => w.Contains("training diverged", StringComparison.Ordinal));

        // The same at the default rate: no warning.
        using var healthy = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Vicreg, o => { Quick(o); o.Epochs = 4; }).Fit(Higgs(256));
        Assert.DoesNotContain(healthy.Warnings, w => w.Contains("diverged", StringComparison.Ordinal));

        Assert.Null(SslPretrainer.DivergenceWarning(null, 1e9, 0.1));
        // The bar is a rise of 1,000 times the larger of the first loss's size and 1, from the first loss: so a loss that
        // starts below zero (BYOL, SimSiam) or near it is measured on the scale of 1.
        Assert.Null(SslPretrainer.DivergenceWarning(-0.9, 999, 0.1));
        Assert.NotNull(SslPretrainer.DivergenceWarning(-0.9, 1000, 0.1));
        Assert.Null(SslPretrainer.DivergenceWarning(22.3, 22.3 + 22_299, 10));
        Assert.NotNull(SslPretrainer.DivergenceWarning(22.3, 22.3 + 22_301, 10));
    }

    [SkippableFact]
    public void NanOrInfinityInAVectorNamesTheColumnAndTheRow()
    {
        var rows = StageData.HiggsRows("train", 64);
        rows[37].Features[5] = float.NaN;
        var error = Assert.Throws<InvalidDataException>(() =>
            _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(_ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("Row 37", error.Message);
        Assert.Contains("'Features'", error.Message);
        Assert.Contains("ReplaceMissingValues", error.Message);

        using var model = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(Higgs(64));
        var test = StageData.HiggsRows("test", 10);
        test[4].Features[0] = float.PositiveInfinity;
        var transformError = Assert.Throws<InvalidDataException>(() =>
            StageData.Vectors(model.Transform(_ml.Data.LoadFromEnumerable(test)), "E"));
        Assert.Contains("Row 4", transformError.Message);
        // ML.NET's missing-value transforms keep an infinity, so the advice for NaN would not help (an audit tried both).
        Assert.DoesNotContain("Transforms.ReplaceMissingValues", transformError.Message, StringComparison.Ordinal);
        Assert.Contains("an infinity is not a missing value", transformError.Message, StringComparison.Ordinal);

        // A PredictionEngine's row is the one passed to Predict: its position counts the engine's calls, so the message
        // named "Row 1" on the second call, a row the caller never had.
        using var engine = _ml.Model.CreatePredictionEngine<HiggsRow, EmbeddingOnly>(model);
        Assert.Equal(model.EmbeddingSize, engine.Predict(StageData.HiggsRows("test", 1)[0]).E.Length);
        var predictError = Assert.Throws<InvalidDataException>(() => engine.Predict(test[4]));
        Assert.StartsWith("Column 'Features' of the row to predict holds", predictError.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Row ", predictError.Message, StringComparison.Ordinal);
    }

    public sealed class EmbeddingOnly
    {
        public float[] E { get; set; } = [];
    }

    [SkippableFact]
    public void MissingAndCorruptImageFilesNameTheRow()
    {
        string folder = Directory.CreateTempSubdirectory("mlnetssl-bad-img-").FullName;
        try
        {
            for (int i = 0; i < 4; i++)
                ImageFiles.Write(Path.Combine(folder, $"ok{i}.png"), 32, 32, (x, y) => ((byte)(x * 8), (byte)(y * 8), (byte)(i * 60), 255));
            File.WriteAllBytes(Path.Combine(folder, "corrupt.jpg"), Enumerable.Range(0, 500).Select(i => (byte)(i * 7)).ToArray());
            ImageRow Row(string name) => new() { ImagePath = name };

            var missing = StageData.Images(_ml, new[] { Row("ok0.png"), Row("ok1.png"), Row("gone.png"), Row("ok3.png") }, folder);
            var missingError = Assert.Throws<InvalidDataException>(() => _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, Quick).Fit(missing));
            Assert.Contains("Row 2", missingError.Message);
            Assert.Contains("'Image'", missingError.Message);

            var corrupt = StageData.Images(_ml, new[] { Row("ok0.png"), Row("corrupt.jpg"), Row("ok2.png") }, folder);
            var corruptError = Assert.Throws<InvalidDataException>(() => _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, Quick).Fit(corrupt));
            Assert.Contains("Row 1", corruptError.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [SkippableFact]
    public void EmptyDataIsRejectedAndABatchLargerThanTheDataIsClamped()
    {
        var empty = _ml.Data.LoadFromEnumerable(Array.Empty<HiggsRow>());
        var error = Assert.Throws<ArgumentException>(() => _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(empty));
        Assert.Contains("at least 2 rows", error.Message);
        Assert.Contains("'Features'", error.Message);

        var small = Higgs(40);
        using var model = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o => { o.Epochs = 2; o.BatchSize = 256; }).Fit(small);
        Assert.Equal(2, model.History.Count);
        Assert.Equal(40, StageData.Vectors(model.Transform(small), "E").Length);
    }

    [SkippableFact]
    public void AVectorOfAnotherLengthOrAnIndivisibleSeriesIsRejected()
    {
        using var model = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, Quick).Fit(Higgs(64));
        var builder = new ArrayDataViewBuilder(_ml);
        builder.AddColumn("Features", NumberDataViewType.Single, new float[27], new float[27]);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(builder.GetDataView()));
        Assert.Contains("'Features'", error.Message);
        Assert.Contains("Tabular", error.Message);

        var series = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.SelfSupervised("E", "Features", SslMethod.SimClr, o => { Quick(o); o.SeriesChannels = 5; }).Fit(Higgs(64)));
        Assert.Contains("SeriesChannels", series.Message);
    }

    [SkippableFact]
    public void TabularOnlyMethodsOnImagesAndBadOptionsFailBeforeAnyWork()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.SelfSupervised("E", "Features", SslMethod.SimClr, o => o.BatchSize = 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.SelfSupervised("E", "Features", SslMethod.SimClr, o => o.Epochs = -1));

        var images = StageData.Images(_ml, StageData.CifarRows(2));
        var error = Assert.Throws<ArgumentException>(() => _ml.Transforms.SelfSupervised("E", "Image", SslMethod.Scarf, Quick).Fit(images));
        Assert.Contains("tabular", error.Message);
    }
}
