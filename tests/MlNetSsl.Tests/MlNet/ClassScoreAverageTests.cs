using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.MlNet;

/// <summary>
/// <c>AverageClassScores</c> on abalone's three-class rings (shared data, banded as below): the weighted mean of two trainers'
/// class probabilities, its most likely class, the class names, a save/load round trip in a fresh context, and ONNX; and
/// <c>ReweightClassScores</c>, one trainer's probabilities times a factor per class, normalized.
/// </summary>
public sealed class ClassScoreAverageTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-average-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private sealed class AbaloneRow
    {
        [LoadColumn(1, 7), VectorType(7)] public float[] Features { get; set; } = [];
        [LoadColumn(8)] public float Rings { get; set; }
    }

    /// <summary>The first 600 abalone rows, rings banded into three classes (young, adult, old) named by words.</summary>
    private static IDataView Abalone(MLContext ml)
    {
        IDataView rows = ml.Data.LoadFromTextFile<AbaloneRow>(Path.Combine(SharedData.DataRoot, "tabular", "abalone.csv"), separatorChar: ',');
        var banded = ml.Data.CreateEnumerable<AbaloneRow>(ml.Data.TakeRows(rows, 600), reuseRowObject: false)
            .Select(r => new { r.Features, Label = r.Rings < 9 ? "young" : r.Rings < 11 ? "adult" : "old" });
        return ml.Data.LoadFromEnumerable(banded.Select(r => new LabeledRow { Features = r.Features, Label = r.Label }));
    }

    private sealed class LabeledRow
    {
        [VectorType(7)] public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    private sealed class FeaturesOnly
    {
        [VectorType(7)] public float[] Features { get; set; } = [];
    }

    private sealed class BinaryScore
    {
        public float Score { get; set; }
    }

    private static IEstimator<ITransformer> Ensemble(MLContext ml, double[] weights) =>
        ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.MulticlassClassification.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmMulticlassTrainer.Options
            {
                NumberOfIterations = 20, NumberOfThreads = 1, Seed = 1, Silent = true,
            }))
            .Append(ml.Transforms.CopyColumns("TreeScore", "Score"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new Microsoft.ML.Trainers.LbfgsMaximumEntropyMulticlassTrainer.Options
            {
                NumberOfThreads = 1,
            }))
            .Append(ml.Transforms.CopyColumns("LinearScore", "Score"))
            .Append(ml.Transforms.AverageClassScores(["TreeScore", "LinearScore"], weights))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

    [SkippableFact]
    public void ScoresAreTheWeightedMeanAndThePredictionItsMostLikelyNamedClass()
    {
        var ml = new MLContext(1);
        IDataView data = Abalone(ml);
        IDataView scored = Ensemble(ml, [3, 1]).Fit(data).Transform(data);

        float[][] tree = StageData.Vectors(scored, "TreeScore"), linear = StageData.Vectors(scored, "LinearScore"), mean = StageData.Vectors(scored, "Score");
        string[] predicted = [.. scored.GetColumn<string>("PredictedLabel")];
        VBuffer<ReadOnlyMemory<char>> slots = default;
        scored.Schema["Score"].GetSlotNames(ref slots);
        string[] classes = [.. slots.DenseValues().Select(s => s.ToString())];
        Assert.Equal(["adult", "old", "young"], classes.Order(StringComparer.Ordinal));
        int disagreements = 0;
        for (int row = 0; row < mean.Length; row++)
        {
            Assert.Equal(3, mean[row].Length);
            for (int k = 0; k < 3; k++)
                Assert.Equal(0.75 * tree[row][k] + 0.25 * linear[row][k], mean[row][k], 1e-5);
            Assert.Equal(classes[Array.IndexOf(mean[row], mean[row].Max())], predicted[row]);
            if (Array.IndexOf(tree[row], tree[row].Max()) != Array.IndexOf(linear[row], linear[row].Max())) disagreements++;
        }
        output.WriteLine($"{mean.Length} rows; the two trainers disagree on {disagreements}");
        Assert.True(disagreements > 0, "the two trainers never disagree, so the average is not exercised");
    }

    [SkippableFact]
    public void TheAverageSurvivesSaveAndLoadInAFreshContextAndOnnx()
    {
        var ml = new MLContext(1);
        IDataView data = Abalone(ml);
        ITransformer model = Ensemble(ml, [1, 1]).Fit(data);
        float[][] expected = StageData.Vectors(model.Transform(data), "Score");
        string zip = Path.Combine(_folder, "ensemble.zip");
        ml.Model.Save(model, data.Schema, zip);

        var fresh = new MLContext(2);
        ITransformer loaded = fresh.Model.Load(zip, out _);
        IDataView reloaded = loaded.Transform(data);
        float[][] actual = StageData.Vectors(reloaded, "Score");
        Assert.Equal(expected.Length, actual.Length);
        for (int row = 0; row < expected.Length; row++) Assert.Equal(expected[row], actual[row]);
        Assert.Equal(model.Transform(data).GetColumn<string>("PredictedLabel"), reloaded.GetColumn<string>("PredictedLabel"));

        string onnx = Path.Combine(_folder, "ensemble.onnx");
        using (FileStream stream = File.Create(onnx)) ml.Model.ConvertToOnnx(model, data, stream);
        IDataView fromOnnx = ml.Transforms.ApplyOnnxModel(onnx).Fit(data).Transform(data);
        // The graph's outputs come after (and hide) the input view's columns of the same names.
        float[][] onnxScores = StageData.Vectors(fromOnnx, "Score");
        double worst = Close.WorstRowDifference(onnxScores, expected);
        output.WriteLine($"ONNX against ML.NET: max relative difference {worst:E2} over {expected.Length} rows");
        Assert.True(worst <= 1e-4, $"max relative difference {worst:E2}");
        string[] onnxLabels = [.. fromOnnx.GetColumn<string[]>("PredictedLabel").Select(v => v[0])];
        Assert.Equal(model.Transform(data).GetColumn<string>("PredictedLabel"), onnxLabels);
    }

    [SkippableFact]
    public void ReweightedScoresAreTheNormalizedProductAndSurviveSaveLoadAndOnnx()
    {
        var ml = new MLContext(1);
        IDataView data = Abalone(ml);
        IEstimator<ITransformer> trainer = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new Microsoft.ML.Trainers.LbfgsMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = 1 }))
            .Append(ml.Transforms.CopyColumns("Plain", "Score"));
        double[] weights = [4, 1, 0.5];
        ITransformer model = trainer.Append(ml.Transforms.ReweightClassScores(weights))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(data);
        IDataView scored = model.Transform(data);
        float[][] plain = StageData.Vectors(scored, "Plain"), reweighted = StageData.Vectors(scored, "Score");
        string[] predicted = [.. scored.GetColumn<string>("PredictedLabel")];
        VBuffer<ReadOnlyMemory<char>> slots = default;
        scored.Schema["Score"].GetSlotNames(ref slots);
        string[] classes = [.. slots.DenseValues().Select(s => s.ToString())];
        int changed = 0;
        for (int row = 0; row < plain.Length; row++)
        {
            double total = Enumerable.Range(0, 3).Sum(k => plain[row][k] * weights[k]);
            for (int k = 0; k < 3; k++) Assert.Equal(plain[row][k] * weights[k] / total, reweighted[row][k], 1e-5);
            Assert.Equal(classes[Array.IndexOf(reweighted[row], reweighted[row].Max())], predicted[row]);
            if (Array.IndexOf(plain[row], plain[row].Max()) != Array.IndexOf(reweighted[row], reweighted[row].Max())) changed++;
        }
        output.WriteLine($"{plain.Length} rows; the weights changed the prediction of {changed}");
        Assert.True(changed > 0, "the weights never change a prediction, so the reweighting is not exercised");

        string zip = Path.Combine(_folder, "reweighted.zip");
        ml.Model.Save(model, data.Schema, zip);
        IDataView reloaded = new MLContext(2).Model.Load(zip, out _).Transform(data);
        float[][] again = StageData.Vectors(reloaded, "Score");
        for (int row = 0; row < reweighted.Length; row++) Assert.Equal(reweighted[row], again[row]);
        Assert.Equal(predicted, reloaded.GetColumn<string>("PredictedLabel"));

        string onnx = Path.Combine(_folder, "reweighted.onnx");
        using (FileStream stream = File.Create(onnx)) ml.Model.ConvertToOnnx(model, data, stream);
        IDataView fromOnnx = ml.Transforms.ApplyOnnxModel(onnx).Fit(data).Transform(data);
        double worst = Close.WorstRowDifference(StageData.Vectors(fromOnnx, "Score"), reweighted);
        output.WriteLine($"ONNX against ML.NET: max relative difference {worst:E2}");
        Assert.True(worst <= 1e-4, $"max relative difference {worst:E2}");
        Assert.Equal(predicted, fromOnnx.GetColumn<string[]>("PredictedLabel").Select(v => v[0]));

        // Errors name what is wrong.
        Assert.Contains("class 1 (key 2) is -1", Assert.Throws<ArgumentException>(() => ml.Transforms.ReweightClassScores([1, -1, 1])).Message);
        Assert.Contains("Every class weight is zero", Assert.Throws<ArgumentException>(() => ml.Transforms.ReweightClassScores([0, 0, 0])).Message);
        var count = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Append(ml.Transforms.ReweightClassScores([1, 2])).Fit(data));
        Assert.Contains("2 class weights for the 3 classes of label column 'Label'", count.Message);
    }

    private sealed class ScoredRow
    {
        [VectorType(3)] public float[] Score { get; set; } = [];
        [KeyType(3)] public uint Label { get; set; }
    }

    [SkippableFact]
    public void AClassOfWeightZeroIsPredictedOnlyWhereEveryOtherClassHasProbabilityZero()
    {
        // Weights 1, 0, 1. The second row's model rules out classes 1 and 3 (probability exactly 0, as a float softmax
        // underflows): it scored 0, 0, 0 and took class 1, a class its model had ruled out.
        var ml = new MLContext(1);
        IDataView data = ml.Data.LoadFromEnumerable(new[]
        {
            new ScoredRow { Score = [0.2f, 0.7f, 0.1f], Label = 1 },
            new ScoredRow { Score = [0, 1, 0], Label = 2 },
            new ScoredRow { Score = [0, 0.6f, 0.4f], Label = 3 },
        });

        IDataView scored = ml.Transforms.ReweightClassScores([1, 0, 1]).Fit(data).Transform(data);

        float[][] scores = StageData.Vectors(scored, "Score");
        Assert.Equal([1u, 2, 3], scored.GetColumn<uint>("PredictedLabel"));
        Assert.All(scores, s => Assert.Equal(1, s.Sum(), 5));
        float[][] expected = [[2 / 3f, 0, 1 / 3f], [0, 1, 0], [0, 0, 1]];
        for (int row = 0; row < 3; row++)
            for (int k = 0; k < 3; k++) Assert.Equal(expected[row][k], scores[row][k], 5);
    }

    [SkippableFact]
    public void BadColumnsAndWeightsAreNamed()
    {
        var ml = new MLContext(1);
        Assert.Contains("two score columns or more", Assert.Throws<ArgumentException>(() => ml.Transforms.AverageClassScores(["Score"])).Message);
        Assert.Contains("2 weights for 3 score columns", Assert.Throws<ArgumentException>(() => ml.Transforms.AverageClassScores(["A", "B", "C"], [1, 1])).Message);
        Assert.Contains("'B' is -1", Assert.Throws<ArgumentException>(() => ml.Transforms.AverageClassScores(["A", "B"], [1, -1])).Message);
        Assert.Contains("Every weight is zero", Assert.Throws<ArgumentException>(() => ml.Transforms.AverageClassScores(["A", "B"], [0, 0])).Message);
        Assert.Contains("named twice", Assert.Throws<ArgumentException>(() => ml.Transforms.AverageClassScores(["A", "A"])).Message);
        // Weights whose sum overflows a double keep their ratio.
        IReadOnlyList<double> huge = ml.Transforms.AverageClassScores(["A", "B"], [1.5e308, 0.5e308]).Weights;
        Assert.Equal(0.75, huge[0], 1e-12);
        Assert.Equal(0.25, huge[1], 1e-12);

        IDataView data = Abalone(ml);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.CopyColumns("Wide", "Features")).Fit(data).Transform(data);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.AverageClassScores(["Nowhere", "Wide"]).Fit(keyed));
        Assert.Contains("Score column 'Nowhere' not found", missing.Message);
        var wrongSize = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.AverageClassScores(["Wide", "Features"]).Fit(keyed));
        Assert.Contains("Score column 'Wide'", wrongSize.Message);
        Assert.Contains("vector of 3 Single", wrongSize.Message);
        // A binary trainer's Score, one number a row: in a pipeline (GetOutputSchema) and alone (Fit).
        IEstimator<ITransformer> scalarScore = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.CopyColumns("Wide", "Features"))
            .Append(ml.Transforms.CustomMapping<FeaturesOnly, BinaryScore>((row, score) => score.Score = row.Features[0], contractName: null));
        var scalar = Assert.Throws<ArgumentOutOfRangeException>(() => scalarScore.Append(ml.Transforms.AverageClassScores(["Score", "Wide"])).Fit(data));
        Assert.Contains("Score column 'Score' is one Single per row, as a binary classifier's", scalar.Message);
        Assert.Contains("multiclass trainer", scalar.Message);
        IDataView withScalar = scalarScore.Fit(data).Transform(data);
        var scalarFit = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.AverageClassScores(["Score", "Wide"]).Fit(withScalar));
        Assert.Contains("Score column 'Score' is one Single per row", scalarFit.Message);
        var notKey = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.AverageClassScores(["Wide", "Features"]).Fit(data));
        Assert.Contains("Label column 'Label'", notKey.Message);
    }
}
