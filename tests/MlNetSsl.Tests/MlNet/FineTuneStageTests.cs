using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>The ML.NET fine-tuning trainer: standard Score/PredictedLabel columns, Evaluate, save/load, PredictionEngine, unlabeled rows.</summary>
public sealed class FineTuneStageTests : IDisposable
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-finetune-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    public sealed class Prediction
    {
        public float[] Score { get; set; } = [];
        public float PredictedValue { get; set; }
    }

    /// <summary>1,500 HIGGS training rows, one in <paramref name="labeledEvery"/> labeled (300 by default), 300 test rows,
    /// and a SCARF stage pretrained on the training rows.</summary>
    private (IDataView Train, IDataView Test, SelfSupervisedTransformer Stage) Setup(int labeledEvery = 5)
    {
        var rows = StageData.HiggsRows("train", 1500);
        for (int i = 0; i < rows.Length; i++)
            if (i % labeledEvery != 0) rows[i].Label = float.NaN;
        var train = _ml.Data.LoadFromEnumerable(rows);
        var test = _ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 300));
        var stage = _ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => { o.Epochs = 2; o.BatchSize = 128; }).Fit(train);
        return (train, test, stage);
    }

    [SkippableFact]
    public void FineTunedModelEvaluatesSavesLoadsAndPredictsLikeAnMlNetTrainer()
    {
        // Half the rows labeled (750): with 300 the test accuracy over pretraining and fine-tuning seeds 1-8 ran from 0.533
        // to 0.633 (0.607 for the seeds used), so a host whose kernels round otherwise, and so train another trajectory,
        // could fall below the 0.55 floor; with 750 it ran from 0.613 to 0.653.
        var (train, test, stage) = Setup(labeledEvery: 2);
        using var stageOwner = stage;
        var pipeline = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(_ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey", o => { o.Epochs = 8; o.BatchSize = 64; }))
            .Append(_ml.Transforms.Conversion.MapKeyToValue("PredictedValue", "PredictedLabel"));
        var model = pipeline.Fit(train);
        var fineTuned = model.OfType<SelfSupervisedFineTuneTransformer>().Single();
        Assert.Equal(2, fineTuned.ClassCount);
        Assert.Equal(["0", "1"], fineTuned.ClassNames.Order(StringComparer.Ordinal)); // key order is first appearance
        Assert.Equal(8, fineTuned.History.Count);

        var scored = model.Transform(test);
        var metrics = _ml.MulticlassClassification.Evaluate(scored, "LabelKey");
        Assert.InRange(metrics.MicroAccuracy, 0.55, 1.0);
        float[] predictedValues = scored.GetColumn<float>("PredictedValue").ToArray();
        Assert.All(predictedValues, v => Assert.True(v is 0f or 1f)); // key values map back to the original labels
        float[][] scores = StageData.Vectors(scored, "Score");
        Assert.All(scores, s => Assert.Equal(1.0, s.Sum(), 4));

        // Score names its slots by class, in key order, as ML.NET's trainers do (the CLI's evaluate and predict read them).
        static string[] SlotNames(IDataView view)
        {
            VBuffer<ReadOnlyMemory<char>> names = default;
            view.Schema["Score"].GetSlotNames(ref names);
            return names.DenseValues().Select(n => n.ToString()).ToArray();
        }
        Assert.Equal(fineTuned.ClassNames, SlotNames(scored));

        string path = Path.Combine(_folder, "finetuned.zip");
        _ml.Model.Save(model, train.Schema, path);
        var loaded = new MLContext(seed: 5).Model.Load(path, out _);
        Assert.Equal(fineTuned.ClassNames, SlotNames(loaded.Transform(test)));
        float[][] reloaded = StageData.Vectors(loaded.Transform(test), "Score");
        for (int i = 0; i < scores.Length; i++)
            Assert.True(scores[i].Zip(reloaded[i], (a, b) => Math.Abs(a - b)).Max() <= 1e-6, $"row {i}");

        using var engine = _ml.Model.CreatePredictionEngine<HiggsRow, Prediction>(loaded);
        var testRows = StageData.HiggsRows("test", 20);
        for (int i = 0; i < testRows.Length; i++)
        {
            var prediction = engine.Predict(testRows[i]);
            // One row at a time runs other kernels than the batched transform: relative to the scores' norm.
            Assert.True(Close.RelativeDifference(prediction.Score, scores[i]) <= Close.AcrossKernels, $"row {i}");
            Assert.Equal(predictedValues[i], prediction.PredictedValue);
        }
    }

    public sealed class BoolLabelRow
    {
        [VectorType(28)] public float[] Features { get; set; } = [];
        public bool Label { get; set; }
    }

    public sealed class IntLabelRow
    {
        [VectorType(28)] public float[] Features { get; set; } = [];
        public int Label { get; set; }
    }

    public sealed class LongLabelRow
    {
        [VectorType(28)] public float[] Features { get; set; } = [];
        public long Label { get; set; }
    }

    public sealed class PairRow
    {
        [VectorType(28)] public float[] Features { get; set; } = [];
        public float Label { get; set; }
        [VectorType(2)] public float[] Pair { get; set; } = [];
    }

    [SkippableFact]
    public void ReadingTheClassNamesIntoABufferThatAnotherColumnThenFillsLeavesThemIntact()
    {
        // ML.NET reads the slot names of several columns into one buffer (Concatenate does): the Score slot names and the
        // PredictedLabel key values were handed out as the model's own arrays, so the next column's names were written over
        // them, and Score then named its classes after the other column's slots.
        HiggsRow[] higgs = StageData.HiggsRows("train", 400);
        var definition = SchemaDefinition.Create(typeof(PairRow));
        definition[nameof(PairRow.Pair)].AddAnnotation(AnnotationUtils.Kinds.SlotNames,
            new VBuffer<ReadOnlyMemory<char>>(2, ["x".AsMemory(), "y".AsMemory()]), new VectorDataViewType(TextDataViewType.Instance, 2));
        IDataView data = _ml.Data.LoadFromEnumerable(higgs.Select(r => new PairRow { Features = r.Features, Label = r.Label, Pair = [1, 2] }), definition);
        using var stage = _ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => { o.Epochs = 1; o.BatchSize = 128; }).Fit(data);
        var model = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(_ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey", o => { o.Epochs = 1; o.BatchSize = 64; }))
            .Fit(data);
        string[] classes = [.. model.OfType<SelfSupervisedFineTuneTransformer>().Single().ClassNames];
        IDataView scored = model.Transform(data);
        IDataView both = _ml.Transforms.Concatenate("Both", "Score", "Pair").Fit(scored).Transform(scored);
        VBuffer<ReadOnlyMemory<char>> names = default;
        both.Schema["Both"].GetSlotNames(ref names);
        Assert.Equal("Pair.y", names.GetItemOrDefault(3).ToString());
        VBuffer<ReadOnlyMemory<char>> scoreNames = default;
        both.Schema["Score"].GetSlotNames(ref scoreNames);
        Assert.Equal(classes, scoreNames.DenseValues().Select(n => n.ToString()));

        // The key values, read into a buffer that another getter then fills.
        VBuffer<float> keyValues = default;
        both.Schema["PredictedLabel"].Annotations.GetValue(AnnotationUtils.Kinds.KeyValues, ref keyValues);
        var editor = VBufferEditor.Create(ref keyValues, keyValues.Length);
        editor.Values.Fill(-1);
        keyValues = editor.Commit();
        VBuffer<float> again = default;
        both.Schema["PredictedLabel"].Annotations.GetValue(AnnotationUtils.Kinds.KeyValues, ref again);
        Assert.Equal(classes, again.DenseValues().Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
    }

    [SkippableTheory]
    [InlineData("bool")]
    [InlineData("int")]
    [InlineData("long")]
    public void LabelsOfEveryKeyValueTypeMapBackThroughMapKeyToValue(string type)
    {
        // A bool or int label lost its class names (only text and floating-point ones were kept), so MapKeyToValue after
        // the trainer threw "Metadata KeyValues does not exist", and so did an experiment's refit of a fine-tuned network.
        HiggsRow[] higgs = StageData.HiggsRows("train", 400);
        IDataView data = type switch
        {
            "bool" => _ml.Data.LoadFromEnumerable(higgs.Select(r => new BoolLabelRow { Features = r.Features, Label = r.Label == 1f })),
            "int" => _ml.Data.LoadFromEnumerable(higgs.Select(r => new IntLabelRow { Features = r.Features, Label = (int)r.Label + 3 })),
            _ => _ml.Data.LoadFromEnumerable(higgs.Select(r => new LongLabelRow { Features = r.Features, Label = (long)r.Label - 7 })),
        };
        using var stage = _ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => { o.Epochs = 1; o.BatchSize = 128; }).Fit(data);
        var model = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(_ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey", o => { o.Epochs = 2; o.BatchSize = 64; }))
            .Append(_ml.Transforms.Conversion.MapKeyToValue("PredictedValue", "PredictedLabel"))
            .Fit(data);
        string[] expected = type switch { "bool" => ["False", "True"], "int" => ["3", "4"], _ => ["-6", "-7"] };
        Assert.Equal(expected, model.OfType<SelfSupervisedFineTuneTransformer>().Single().ClassNames.Order(StringComparer.Ordinal));

        string path = Path.Combine(_folder, $"{type}.zip");
        _ml.Model.Save(model, data.Schema, path);
        foreach (ITransformer m in new[] { model, new MLContext(seed: 5).Model.Load(path, out _) })
        {
            IDataView scored = m.Transform(data);
            DataViewType labelType = data.Schema["Label"].Type;
            Assert.Equal(labelType, scored.Schema["PredictedValue"].Type);
            string[] predicted = type switch
            {
                "bool" => scored.GetColumn<bool>("PredictedValue").Select(v => v.ToString()).ToArray(),
                "int" => scored.GetColumn<int>("PredictedValue").Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
                _ => scored.GetColumn<long>("PredictedValue").Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
            };
            Assert.All(predicted, v => Assert.Contains(v, expected));
            VBuffer<ReadOnlyMemory<char>> slotNames = default;
            scored.Schema["Score"].GetSlotNames(ref slotNames);
            Assert.Equal(expected, slotNames.DenseValues().Select(n => n.ToString()).Order(StringComparer.Ordinal));
        }
    }

    [SkippableFact]
    public void RowsWithoutALabelFeedSemiSupervisedTrainingAndALabelThatIsNotAKeyIsRejected()
    {
        var (train, _, stage) = Setup();
        using var stageOwner = stage;
        var model = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(_ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey", o =>
            {
                o.Epochs = 3;
                o.BatchSize = 64;
                o.SemiSupervised = new SemiSupervisedOptions { Threshold = 0.5 };
            }))
            .Fit(train);
        var fineTuned = model.OfType<SelfSupervisedFineTuneTransformer>().Single();
        Assert.True(fineTuned.History.Sum(h => h.PseudoLabelsConsidered) > 0, "the unlabeled rows were not used");

        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "Label").Fit(train));
        Assert.Contains("'Label'", error.Message);
        Assert.Contains("MapValueToKey", error.Message);

        // The key's count decides the classes; a ClassCount that disagrees used to be replaced without a word.
        var keyed = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(train).Transform(train);
        var classCount = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey", o => { o.Epochs = 1; o.ClassCount = 5; }).Fit(keyed));
        Assert.Contains("FineTuneOptions.ClassCount is 5", classCount.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void SemiSupervisedOptionsWithEveryRowLabeledAreRefusedInTheTermsOfTheData()
    {
        var (train, test, stage) = Setup();
        using var stageOwner = stage;
        // Only the 300 labeled rows: FixMatch and self-training have nothing to learn from. The engine's own message spoke of
        // "rows with label -1" and FineTuneOptions.UnlabeledRows, which this trainer refuses.
        var labeledOnly = _ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(train)
            .Transform(_ml.Data.FilterRowsByMissingValues(train, "Label"));
        foreach (Action<FineTuneOptions> configure in new Action<FineTuneOptions>[]
        {
            o => { o.Epochs = 1; o.SemiSupervised = new SemiSupervisedOptions(); },
            o => { o.Epochs = 1; o.PseudoLabelThreshold = 0.9; },
        })
        {
            var error = Assert.Throws<ArgumentException>(() =>
                _ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey", configure).Fit(labeledOnly));
            Assert.Contains("every one of the 300 rows", error.Message, StringComparison.Ordinal);
            Assert.Contains("'LabelKey'", error.Message, StringComparison.Ordinal);
            Assert.Contains("unlabeledData", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("-1", error.Message, StringComparison.Ordinal);
        }

        // The same rows with unlabeled rows passed as unlabeledData (the test rows' features) train.
        using var model = _ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey",
            o => { o.Epochs = 1; o.BatchSize = 64; o.SemiSupervised = new SemiSupervisedOptions(); }, unlabeledData: test).Fit(labeledOnly);
        Assert.True(model.History.Sum(h => h.PseudoLabelsConsidered) > 0, "the unlabeledData rows were not used");
    }
}
