using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.MlNet;

/// <summary>
/// The stage composed with ordinary ML.NET as a new user composes it: regression and binary trainers on the embedding
/// with a save/load round trip, k-means, Preview, cache checkpoints, a split by sampling key, permutation feature
/// importance and cross-validation. Shared real data, one or two epochs, a few hundred rows.
/// </summary>
public sealed class StageCompositionTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-compose-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private sealed class AbaloneRow
    {
        [LoadColumn(0)] public string Sex { get; set; } = "";
        [LoadColumn(1, 7)] [VectorType(7)] public float[] Measurements { get; set; } = [];
        [LoadColumn(8)] public float Rings { get; set; }
    }

    private sealed class BanknoteRow
    {
        [LoadColumn(0, 3)] [VectorType(4)] public float[] Features { get; set; } = [];
        [LoadColumn(4)] public float Label { get; set; }
    }

    private sealed class BanknoteBool
    {
        [VectorType(4)] public float[] Features { get; set; } = [];
        public bool Label { get; set; }
        public int Group { get; set; }
    }

    private static IDataView Abalone(MLContext ml, int rows) => ml.Data.TakeRows(
        ml.Data.LoadFromTextFile<AbaloneRow>(Path.Combine(SharedData.DataRoot, "tabular", "abalone.csv"), separatorChar: ','), rows);

    /// <summary>Banknote rows in shuffled order (the file is sorted by label), label as bool, a group id per 10 rows.</summary>
    private static IDataView Banknote(MLContext ml, int rows)
    {
        var all = ml.Data.CreateEnumerable<BanknoteRow>(
            ml.Data.LoadFromTextFile<BanknoteRow>(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv"), separatorChar: ','),
            reuseRowObject: false).ToArray();
        var picked = Enumerable.Range(0, rows).Select(i => all[(int)((long)i * 7919 % all.Length)])
            .Select((r, i) => new BanknoteBool { Features = r.Features, Label = r.Label > 0.5f, Group = i / 10 }).ToArray();
        return ml.Data.LoadFromEnumerable(picked);
    }

    private static IEstimator<ITransformer> Scarf(MLContext ml, string input = "Features") =>
        ml.Transforms.SelfSupervised("Embedding", input, SslMethod.Scarf, o => { o.Epochs = 1; o.BatchSize = 64; });

    private float[] SaveLoadScores(MLContext ml, ITransformer model, IDataView train, IDataView test, out float[] before)
    {
        before = ml.Data.CreateEnumerable<ScoreRow>(model.Transform(test), reuseRowObject: false).Select(r => r.Score).ToArray();
        string path = Path.Combine(_folder, Guid.NewGuid().ToString("N") + ".zip");
        ml.Model.Save(model, train.Schema, path);
        var loaded = new MLContext(seed: 5).Model.Load(path, out _);
        return ml.Data.CreateEnumerable<ScoreRow>(loaded.Transform(test), reuseRowObject: false).Select(r => r.Score).ToArray();
    }

    private sealed class ScoreRow
    {
        public float Score { get; set; }
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-3f * (1 + Math.Abs(expected[i])), $"row {i}: {expected[i]} vs {actual[i]}");
    }

    public static TheoryData<string> RegressionTrainers => new() { "Sdca", "FastTree", "LightGbm" };

    [SkippableTheory]
    [MemberData(nameof(RegressionTrainers))]
    public void RegressionOnTheEmbeddingEvaluatesAndSurvivesSaveAndLoad(string trainer)
    {
        var ml = new MLContext(seed: 1);
        var data = Abalone(ml, 500);
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: 1);
        IEstimator<ITransformer> regressor = trainer switch
        {
            "Sdca" => ml.Regression.Trainers.Sdca("Label", "All"),
            "FastTree" => ml.Regression.Trainers.FastTree("Label", "All", numberOfLeaves: 4, numberOfTrees: 20),
            _ => ml.Regression.Trainers.LightGbm("Label", "All", numberOfLeaves: 4, numberOfIterations: 20),
        };
        var pipeline = ml.Transforms.Categorical.OneHotEncoding("SexOneHot", "Sex")
            .Append(ml.Transforms.Concatenate("Features", "SexOneHot", "Measurements"))
            .Append(Scarf(ml))
            .Append(ml.Transforms.Concatenate("All", "Embedding", "Features"))
            .Append(ml.Transforms.CopyColumns("Label", "Rings"))
            .Append(regressor);
        var model = pipeline.Fit(split.TrainSet);

        var metrics = ml.Regression.Evaluate(model.Transform(split.TestSet));
        output.WriteLine($"{trainer} RMSE {metrics.RootMeanSquaredError:F3}");
        Assert.InRange(metrics.RootMeanSquaredError, 0.5, 5.0); // rings' standard deviation is about 3.2
        float[] after = SaveLoadScores(ml, model, split.TrainSet, split.TestSet, out float[] before);
        AssertClose(before, after);
    }

    public static TheoryData<string> BinaryTrainers => new() { "SdcaLogisticRegression", "FastTree", "LbfgsLogisticRegression" };

    [SkippableTheory]
    [MemberData(nameof(BinaryTrainers))]
    public void BinaryClassificationOnTheEmbeddingEvaluatesAndSurvivesSaveAndLoad(string trainer)
    {
        var ml = new MLContext(seed: 1);
        var data = Banknote(ml, 500);
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: 1);
        IEstimator<ITransformer> classifier = trainer switch
        {
            "SdcaLogisticRegression" => ml.BinaryClassification.Trainers.SdcaLogisticRegression("Label", "Embedding"),
            "FastTree" => ml.BinaryClassification.Trainers.FastTree("Label", "Embedding", numberOfLeaves: 4, numberOfTrees: 20),
            _ => ml.BinaryClassification.Trainers.LbfgsLogisticRegression("Label", "Embedding"),
        };
        var model = Scarf(ml).Append(classifier).Fit(split.TrainSet);

        var metrics = ml.BinaryClassification.Evaluate(model.Transform(split.TestSet));
        output.WriteLine($"{trainer} AUC {metrics.AreaUnderRocCurve:F3}");
        Assert.True(metrics.AreaUnderRocCurve > 0.8, $"AUC {metrics.AreaUnderRocCurve}");
        float[] after = SaveLoadScores(ml, model, split.TrainSet, split.TestSet, out float[] before);
        AssertClose(before, after);
    }

    [SkippableFact]
    public void KMeansClustersTheEmbedding()
    {
        var ml = new MLContext(seed: 1);
        var data = Banknote(ml, 300);
        var model = Scarf(ml).Append(ml.Clustering.Trainers.KMeans("Embedding", numberOfClusters: 2)).Fit(data);
        var metrics = ml.Clustering.Evaluate(model.Transform(data), scoreColumnName: "Score", featureColumnName: "Embedding");
        Assert.True(double.IsFinite(metrics.AverageDistance));
    }

    [SkippableFact]
    public void PreviewOfThePipelineAndOfTheFittedModelShowsTheEmbedding()
    {
        var ml = new MLContext(seed: 1);
        var data = Banknote(ml, 300);
        var pipeline = Scarf(ml).Append(ml.BinaryClassification.Trainers.LbfgsLogisticRegression("Label", "Embedding"));
        var preview = pipeline.Preview(data, maxRows: 10);
        Assert.Equal(10, preview.RowView.Length);
        Assert.Contains(preview.Schema, c => c.Name == "Embedding");
        var fittedPreview = pipeline.Fit(data).Preview(data, maxRows: 5);
        Assert.Equal(5, fittedPreview.RowView.Length);
        Assert.Contains(fittedPreview.Schema, c => c.Name == "Score");
        // Preview fitted on fewer rows than one batch: must still work or say what to do.
        var tiny = pipeline.Preview(data, maxRows: 3, maxTrainingRows: 10);
        Assert.Equal(3, tiny.RowView.Length);
    }

    [SkippableFact]
    public void TheStageWorksBeforeAndAfterACacheCheckpointAndOnATrainSplitBySamplingKey()
    {
        var ml = new MLContext(seed: 1);
        var data = Banknote(ml, 300);
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.25, samplingKeyColumnName: "Group", seed: 2);
        var after = ml.Transforms.NormalizeMeanVariance("Features").AppendCacheCheckpoint(ml).Append(Scarf(ml))
            .Append(ml.BinaryClassification.Trainers.LbfgsLogisticRegression("Label", "Embedding")).Fit(split.TrainSet);
        var before = Scarf(ml).AppendCacheCheckpoint(ml)
            .Append(ml.BinaryClassification.Trainers.LbfgsLogisticRegression("Label", "Embedding")).Fit(split.TrainSet);
        foreach (var model in new ITransformer[] { after, before })
            Assert.True(ml.BinaryClassification.Evaluate(model.Transform(split.TestSet)).AreaUnderRocCurve > 0.8);
    }

    [SkippableFact]
    public void PermutationFeatureImportanceOverTheEmbeddingGivesOneEntryPerSlot()
    {
        var ml = new MLContext(seed: 1);
        var data = Banknote(ml, 300);
        var stage = Scarf(ml).Fit(data);
        var embedded = stage.Transform(data);
        var linear = ml.BinaryClassification.Trainers.LbfgsLogisticRegression("Label", "Embedding").Fit(embedded);
        var importance = ml.BinaryClassification.PermutationFeatureImportance(linear, embedded, "Label", permutationCount: 1);
        int slots = ((VectorDataViewType)embedded.Schema["Embedding"].Type).Size;
        Assert.Equal(slots, importance.Length);
    }

    [SkippableFact]
    public void CrossValidationPretrainsPerFold()
    {
        var ml = new MLContext(seed: 1);
        var data = Banknote(ml, 300);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Key", "Label")
            .Append(Scarf(ml))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Key", "Embedding"));
        var folds = ml.MulticlassClassification.CrossValidate(data, pipeline, numberOfFolds: 3, labelColumnName: "Key");
        Assert.Equal(3, folds.Count);
        Assert.All(folds, f => Assert.True(f.Metrics.MacroAccuracy > 0.7, $"macro accuracy {f.Metrics.MacroAccuracy}"));
    }
}
