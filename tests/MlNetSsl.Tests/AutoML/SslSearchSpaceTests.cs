using Microsoft.ML;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.Infrastructure;
using MlNetSsl.Tests.MlNet;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.AutoML;

/// <summary>The self-supervised search space: defaults per input kind, sampled configurations that train, edits checked.</summary>
public sealed class SslSearchSpaceTests
{
    private readonly ITestOutputHelper _output;

    public SslSearchSpaceTests(ITestOutputHelper output) => _output = output;

    public sealed class SeriesRow
    {
        [Microsoft.ML.Data.VectorType(600)]
        public float[] Values { get; set; } = [];

        public float Label { get; set; }
    }

    private static SslInputShape ShapeOf(SslInputKind kind) => kind switch
    {
        SslInputKind.Image => SslInputShape.Image(3, 32, 32),
        SslInputKind.Tabular => SslInputShape.Tabular(28),
        _ => SslInputShape.Series(6, 100),
    };

    [SkippableTheory]
    [InlineData(SslInputKind.Image)]
    [InlineData(SslInputKind.Tabular)]
    [InlineData(SslInputKind.Series)]
    public void TheDefaultSpaceHoldsOnlyWhatFitsTheInputKindAndDefaultsToTheLibraryDefaults(SslInputKind kind)
    {
        SslSearchSpace space = SslSearchSpace.For(kind);
        var methods = ((ChoiceOption)space.Pretraining["Method"]).Choices.Select(c => Enum.Parse<SslMethod>((string)c)).ToArray();
        Assert.Equal(SslMethodFactory.MethodsFor(kind).OrderBy(m => m), methods.OrderBy(m => m));
        var encoders = ((ChoiceOption)space.Pretraining["Encoder"]).Choices.Select(c => Enum.Parse<EncoderKind>((string)c)).ToArray();
        Assert.NotEmpty(encoders);
        Assert.All(encoders, e => Assert.Contains(e, EncoderOptions.KindsFor(kind)));
        Assert.Equal(["SelfSupervised", "RawFeatures", "SupervisedFromScratch", "RawAndSelfSupervised"], ((ChoiceOption)space[SslSearchSpace.FeaturesOption]).Choices.Cast<string>());

        // Every template of every method builds a policy of this kind's augmentations, each at the requested strength.
        SslInputShape shape = ShapeOf(kind);
        foreach (SslMethod method in methods)
            foreach (AugmentationTemplate template in Enum.GetValues<AugmentationTemplate>())
            {
                AugmentationPolicy policy = SslAugmentationTemplates.Build(template, method.ToString(), shape, 0.4);
                Assert.NotEmpty(policy.Steps);
                Assert.All(policy.Steps, s => Assert.Equal(kind, s.Augmentation.InputKind));
                Assert.All(policy.Steps, s => Assert.Equal(0.4, s.Augmentation.Strength));
            }

        // The space's default configuration is what the stage does untuned.
        SslTrialParameters defaults = space.Default.AsType<SslTrialParameters>();
        Assert.Equal(SslFeatureSource.SelfSupervised, defaults.Features);
        Assert.Equal((kind == SslInputKind.Tabular ? SslMethod.Scarf : SslMethod.SimClr).ToString(), defaults.Pretraining.Method);
        SelfSupervisedOptions options = defaults.Pretraining.ToOptions(shape, "Input", "Output");
        var library = new SelfSupervisedOptions();
        Assert.Equal((library.Epochs, library.LearningRate, library.EmbeddingSize),
            (options.Epochs, options.LearningRate, options.EmbeddingSize));
        // The library's default batch (0) is chosen from the pool's rows, as the search's small-pool rule chooses from its 256.
        foreach (long rows in new long[] { 40, 400, 5000 })
            Assert.Equal(library.ResolveBatchSize(rows), SslTrialRunner.PoolBatchSize(options.BatchSize, rows));
        Assert.Equal(DefaultAugmentations.For(defaults.Pretraining.Method, shape).ToJson(), options.Augmentations!.ToJson());
        Assert.Equal(kind == SslInputKind.Series ? 6 : 0, options.SeriesChannels);

        // Serializable and editable: a JSON round trip keeps every option, and the typed edits check the input kind.
        Assert.Equal(space.ToJson(), SearchSpace.FromJson(space.ToJson()).ToJson());
        if (kind != SslInputKind.Tabular)
            Assert.Contains("does not work on", Assert.Throws<ArgumentException>(() => space.WithMethods(SslMethod.Scarf)).Message);
        Assert.Contains("does not accept", Assert.Throws<ArgumentException>(() =>
            space.WithEncoders(kind == SslInputKind.Image ? EncoderKind.Mlp : EncoderKind.ResNet)).Message);
    }

    [SkippableFact]
    public void LeavingOutAChoiceKeepsTheDefaultAndNeverEmptiesTheChoice()
    {
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular);
        var sources = (ChoiceOption)space.WithoutRawFeatures().WithoutRawFeatures()[SslSearchSpace.FeaturesOption];
        Assert.Equal(["SelfSupervised", "SupervisedFromScratch"], sources.Choices.Cast<string>());
        Assert.Equal("SelfSupervised", sources.DefaultChoice);
        sources = (ChoiceOption)space.WithoutSupervisedFromScratch()[SslSearchSpace.FeaturesOption];
        Assert.Equal(["SelfSupervised"], sources.Choices.Cast<string>());

        // A non-first default survives; removing the default falls back to the first remaining choice.
        var batch = new ChoiceOption([64, 128, 256], 128);
        Assert.Equal(128.0, batch.Without(64, 128).DefaultChoice);
        Assert.Equal(64.0, batch.Without(128, 128).DefaultChoice);
        Assert.Equal([32.0], new ChoiceOption(64).Without(64, 32).Choices);

        // The experiment's edits go through the same helper: a missing option or value changes nothing.
        Assert.False(SslSearchSpace.RemoveChoice(space, "NoSuchOption", "x", "y"));
        Assert.False(SslSearchSpace.RemoveChoice(space, SslSearchSpace.FeaturesOption, "RawFeatures", "SelfSupervised"));
        Assert.True(SslSearchSpace.RemoveChoice(space.Downstream, "Trainer", "FineTune", "LinearProbe"));
        Assert.DoesNotContain("FineTune", ((ChoiceOption)space.Downstream["Trainer"]).Choices);
    }

    [SkippableFact]
    public void ConfigurationsAreComparedOnTheOptionsTheirTrialReads()
    {
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular);
        Parameters defaults = space.Default;
        Parameters Set(Parameters p, string nested, string name, object value) => p.With(nested, p.GetNested(nested).With(name, value));
        Parameters? Effective(Parameters p) => SslSearchSpace.EffectiveConfiguration(p);

        // The default trains a linear probe: LightGBM and fine-tuning settings are not read, its L2 is.
        Assert.Equal(Effective(defaults), Effective(Set(defaults, "Downstream", "LightGbmLeaves", 8)));
        Assert.Equal(Effective(defaults), Effective(Set(defaults, "Downstream", "FineTuneEpochs", 20)));
        Assert.NotEqual(Effective(defaults), Effective(Set(defaults, "Downstream", "L2Regularization", 0.01)));
        Assert.NotEqual(Effective(defaults), Effective(Set(defaults, "Pretraining", "LearningRate", 3e-3)));
        Parameters fineTune = Set(defaults, "Downstream", "Trainer", "FineTune");
        Assert.Equal(Effective(fineTune), Effective(Set(fineTune, "Downstream", "L2Regularization", 0.01)));
        Assert.NotEqual(Effective(fineTune), Effective(Set(fineTune, "Downstream", "FreezeEncoder", true)));

        // Raw features read no pretraining option and cannot be fine-tuned.
        Parameters raw = defaults.With(SslSearchSpace.FeaturesOption, "RawFeatures");
        Assert.Equal(Effective(raw), Effective(Set(raw, "Pretraining", "Method", "Vicreg")));
        Assert.Null(Effective(Set(raw, "Downstream", "Trainer", "FineTune")));
        Assert.NotEqual(Effective(raw), Effective(Set(raw, "Downstream", "Trainer", "LightGbm")));

        // Training from scratch always fine-tunes the whole encoder: the trainer choice, the freeze and the pretraining
        // learning rate are not read; the encoder and the fine-tuning settings are.
        Parameters scratch = defaults.With(SslSearchSpace.FeaturesOption, "SupervisedFromScratch");
        Assert.Equal(Effective(scratch), Effective(Set(Set(scratch, "Downstream", "Trainer", "LightGbm"), "Downstream", "FreezeEncoder", true)));
        Assert.Equal(Effective(scratch), Effective(Set(scratch, "Pretraining", "LearningRate", 3e-3)));
        Assert.NotEqual(Effective(scratch), Effective(Set(scratch, "Pretraining", "EncoderWidth", 2.0)));
        Assert.NotEqual(Effective(scratch), Effective(Set(scratch, "Downstream", "FineTuneEpochs", 20)));
    }

    [SkippableTheory]
    [InlineData(SslInputKind.Image)]
    [InlineData(SslInputKind.Tabular)]
    [InlineData(SslInputKind.Series)]
    public void EveryMethodWithSampledSettingsBuildsOptionsThatPretrainOnRealData(SslInputKind kind)
    {
        var ml = new MLContext(seed: 1);
        (IDataView data, string column, int channels) = kind switch
        {
            SslInputKind.Image => (StageData.Images(ml, StageData.CifarRows(perClass: 3)), "Image", 0),
            SslInputKind.Tabular => (ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 32)), "Features", 0),
            _ => (ml.Data.LoadFromEnumerable(BasicMotionsRows()), "Values", 6),
        };
        SslSearchSpace space = SslSearchSpace.For(data, column, channels);
        Assert.Equal(kind, space.InputKind);
        SslInputShape shape = SslSearchSpace.InputShapeOf(data.Schema, column, channels);
        var random = new Random(11);
        foreach (object method in ((ChoiceOption)space.Pretraining["Method"]).Choices)
        {
            // A random point of the space with this method: random encoder, width, embedding size, augmentations, scale...
            double[] point = Enumerable.Range(0, space.FeatureCount).Select(_ => random.NextDouble()).ToArray();
            Parameters sampled = space.SampleFromFeatureSpace(point);
            sampled = sampled.With("Pretraining", sampled.GetNested("Pretraining").With("Method", method));
            SslPretrainingParameters pretraining = sampled.AsType<SslTrialParameters>().Pretraining;
            SelfSupervisedOptions options = pretraining.ToOptions(shape, column, "Embedding");
            options.Epochs = 1;
            using SelfSupervisedTransformer stage = ml.Transforms.SelfSupervised(options).Fit(data);
            _output.WriteLine($"{method}: {stage.EncoderOptions.ResolveKind(kind)} -> {stage.EmbeddingSize}, {stage.Augmentations}, loss {stage.History[0].MeanLoss:F3}");
            Assert.Equal(pretraining.Method, stage.Method);
            Assert.Single(stage.History);
            Assert.True(double.IsFinite(stage.History[0].MeanLoss));
            if (pretraining.EmbeddingSize > 0) Assert.Equal(pretraining.EmbeddingSize, stage.EmbeddingSize);
        }
    }

    [SkippableFact]
    public async Task AnEditedSpaceThatDoesNotFitTheDataIsRefusedBeforeAnyTrialRuns()
    {
        var ml = new MLContext(seed: 1);
        IDataView images = StageData.Images(ml, StageData.CifarRows(perClass: 2));
        // SCARF is tabular-only: a space edited (or deserialized) with it must be refused with the methods that fit.
        SearchSpace space = SearchSpace.FromJson(SslSearchSpace.For(SslInputKind.Image).ToJson());
        ((SearchSpace)space["Pretraining"])["Method"] = new ChoiceOption("SimClr", "Scarf");
        var error = await Assert.ThrowsAsync<ArgumentException>(() => ml.SelfSupervisedExperiment()
            .SetDataset(images).SetInputColumn("Image").SetSearchSpace(space).SetMaxTrials(1).RunAsync());
        Assert.Contains("Scarf", error.Message);
        Assert.Contains("SimClr", error.Message);

        ((SearchSpace)space["Pretraining"])["Method"] = new ChoiceOption("SimClr");
        ((SearchSpace)space["Pretraining"])["AugmentationStrength"] = new NumericRangeOption(0.5, 2);
        error = await Assert.ThrowsAsync<ArgumentException>(() => ml.SelfSupervisedExperiment()
            .SetDataset(images).SetInputColumn("Image").SetSearchSpace(space).SetMaxTrials(1).RunAsync());
        Assert.Contains("AugmentationStrength", error.Message);

        error = await Assert.ThrowsAsync<ArgumentException>(() => ml.SelfSupervisedExperiment()
            .SetDataset(images).SetInputColumn("ImagePath").SetMaxTrials(1).RunAsync());
        Assert.Contains("ImagePath", error.Message);
    }

    private static SeriesRow[] BasicMotionsRows()
    {
        var (series, labels) = RealData.BasicMotions();
        using (series)
        {
            float[] flat = series.data<float>().ToArray();
            return Enumerable.Range(0, labels.Length).Select(i => new SeriesRow { Values = flat[(i * 600)..((i + 1) * 600)], Label = labels[i] }).ToArray();
        }
    }

    public sealed class AbaloneRow
    {
        public string Sex { get; set; } = "";

        [Microsoft.ML.Data.VectorType(7)]
        public float[] Measures { get; set; } = [];

        public string Label { get; set; } = "";
    }

    [SkippableFact]
    public void ATextColumnAsInputSaysHowToTurnItIntoNumbers()
    {
        // Abalone's sex (M/F/I) is the usual first try of a table user; the message names ML.NET's one-hot encoding.
        var rows = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "abalone.csv")).Where(l => l.Length > 0).Take(50).Select(l => l.Split(','))
            .Select(c => new AbaloneRow { Sex = c[0], Measures = c[1..8].Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray(), Label = c[8] });
        IDataView data = new MLContext(0).Data.LoadFromEnumerable(rows);

        var text = Assert.Throws<ArgumentException>(() => SslSearchSpace.InputShapeOf(data.Schema, "Sex"));

        Assert.Contains("OneHotEncoding", text.Message, StringComparison.Ordinal);
        Assert.Contains("'Sex'", text.Message, StringComparison.Ordinal);
        Assert.Equal(SslInputKind.Tabular, SslSearchSpace.InputShapeOf(data.Schema, "Measures").Kind);
    }

    [SkippableFact]
    public void SeriesChannelsForAnImageColumnIsRefused()
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Image", new Microsoft.ML.Transforms.Image.ImageDataViewType(32, 32));
        DataViewSchema schema = builder.ToSchema();
        Assert.Equal(SslInputKind.Image, SslSearchSpace.InputShapeOf(schema, "Image").Kind);
        var error = Assert.Throws<ArgumentException>(() => SslSearchSpace.InputShapeOf(schema, "Image", seriesChannels: 3));
        Assert.Contains("Column 'Image' holds images, but seriesChannels is 3", error.Message, StringComparison.Ordinal);
    }

    public sealed class BanknoteColumns
    {
        public float Variance { get; set; }

        public float Skewness { get; set; }

        public float Curtosis { get; set; }

        public bool Label { get; set; }
    }

    [SkippableFact]
    public void AMissingInputColumnBesideSeparateNumericColumnsSaysToConcatenateThem()
    {
        // A CSV class with one property per column has no "Features" vector; the message shows the Concatenate call.
        var rows = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv")).Where(l => l.Length > 0).Take(20).Select(l => l.Split(','))
            .Select(c => new BanknoteColumns { Variance = float.Parse(c[0], System.Globalization.CultureInfo.InvariantCulture),
                Skewness = float.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture), Curtosis = float.Parse(c[2], System.Globalization.CultureInfo.InvariantCulture), Label = c[4] == "1" });
        IDataView data = new MLContext(0).Data.LoadFromEnumerable(rows);

        var missing = Assert.Throws<ArgumentException>(() => SslSearchSpace.InputShapeOf(data.Schema, "Features"));

        Assert.Contains("no column 'Features'", missing.Message, StringComparison.Ordinal);
        Assert.Contains("Transforms.Concatenate(\"Features\", \"Variance\", \"Skewness\", \"Curtosis\")", missing.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AVariableSizeOrScalarInputSaysWhatGivesItOneVectorOfKnownSize()
    {
        // PLAID's series have 100 to 1,344 steps, so LoadFromTsFile gives a variable-size vector. Without seriesChannels the
        // advice was "use Concatenate, ConvertType or ReplaceMissingValues first", none of which gives the rows one length.
        var ml = new MLContext(0);
        IDataView plaid = ml.Data.LoadFromTsFile(Path.Combine(SharedData.DataRoot, "uea", "PLAID_TRAIN.ts"));

        var variable = Assert.Throws<ArgumentException>(() => SslSearchSpace.InputShapeOf(plaid.Schema, "Features"));

        Assert.Contains("'Features'", variable.Message, StringComparison.Ordinal);
        Assert.Contains("Transforms.ResampleSeries(\"FeaturesFixed\", \"Features\"", variable.Message, StringComparison.Ordinal);
        Assert.Contains("fixed size", variable.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ReplaceMissingValues", variable.Message, StringComparison.Ordinal);

        // One Single per row (a CSV class's property) needs joining, not converting.
        var rows = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv")).Where(l => l.Length > 0).Take(20).Select(l => l.Split(','))
            .Select(c => new BanknoteColumns { Variance = float.Parse(c[0], System.Globalization.CultureInfo.InvariantCulture),
                Skewness = float.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture), Curtosis = float.Parse(c[2], System.Globalization.CultureInfo.InvariantCulture), Label = c[4] == "1" });
        IDataView table = ml.Data.LoadFromEnumerable(rows);
        var scalar = Assert.Throws<ArgumentException>(() => SslSearchSpace.InputShapeOf(table.Schema, "Variance"));
        Assert.Contains("Transforms.Concatenate", scalar.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ConvertType", scalar.Message, StringComparison.Ordinal);
        var boolean = Assert.Throws<ArgumentException>(() => SslSearchSpace.InputShapeOf(table.Schema, "Label"));
        Assert.Contains("ConvertType", boolean.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ImagesDroppedByACacheAreExplainedWhereTheColumnIsMissing()
    {
        // ML.NET's cache keeps no image column: the experiment said only that the dataset has no column 'Image'.
        var ml = new MLContext(0);
        IDataView images = StageData.Images(ml, StageData.CifarRows(perClass: 1));

        var error = Assert.Throws<ArgumentException>(() => SslSearchSpace.InputShapeOf(ml.Data.Cache(images).Schema, "Image"));

        Assert.Contains("no column 'Image'", error.Message, StringComparison.Ordinal);
        Assert.Contains("ml.Data.Cache or ml.Data.ShuffleRows", error.Message, StringComparison.Ordinal);
        Assert.Equal(SslInputKind.Image, SslSearchSpace.InputShapeOf(images.Schema, "Image").Kind);
    }
}
