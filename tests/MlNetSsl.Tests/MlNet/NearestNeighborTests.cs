using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.MlNet;

/// <summary>
/// <c>MulticlassClassification.Trainers.NearestNeighbor</c> on the shared UEA series: its classes against a brute-force
/// 1-NN computed here, its scores (probabilities whose arg max is that class), a save/load round trip in a fresh context,
/// PredictionEngine, ONNX (ConvertToOnnx run by ONNX Runtime), and the errors for bad input.
/// </summary>
public sealed class NearestNeighborTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-nn-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string Uea(string file)
    {
        string path = Path.Combine(SharedData.DataRoot, "uea", file);
        Skip.IfNot(File.Exists(path), $"{path} is not here");
        return path;
    }

    private static EstimatorChain<Microsoft.ML.Transforms.KeyToValueMappingTransformer> Pipeline(MLContext ml, NearestNeighborOptions? options = null) =>
        ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.NearestNeighbor("Label", "Features", options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

    /// <summary>Each test row's class by brute force: the label of the training row at the smallest Euclidean distance
    /// (double precision, the first such row on a tie).</summary>
    private static string[] BruteForce(float[][] train, string[] labels, float[][] test) => [.. test.Select(row =>
    {
        int best = -1;
        double bestDistance = double.PositiveInfinity;
        for (int i = 0; i < train.Length; i++)
        {
            double sum = 0;
            for (int j = 0; j < row.Length; j++)
            {
                double d = (double)row[j] - train[i][j];
                sum += d * d;
            }
            if (sum < bestDistance)
            {
                bestDistance = sum;
                best = i;
            }
        }
        return labels[best];
    })];

    private static string[] Labels(IDataView data, string column = "Label") =>
        [.. data.GetColumn<ReadOnlyMemory<char>>(column).Select(l => l.ToString())];

    [SkippableFact]
    public void GunPointClassesAreTheBruteForceNearestNeighboursAndTheScoresTheirProbabilities()
    {
        var ml = new MLContext(0);
        IDataView train = ml.Data.LoadFromTsFile(Uea("GunPoint_TRAIN.ts")), test = ml.Data.LoadFromTsFile(Uea("GunPoint_TEST.ts"));
        var model = Pipeline(ml).Fit(train);
        IDataView scored = model.Transform(test);

        string[] expected = BruteForce(StageData.Vectors(train, "Features"), Labels(train), StageData.Vectors(test, "Features"));
        string[] actual = Labels(scored, "PredictedLabel"), truth = Labels(test);
        Assert.Equal(expected, actual);
        double reference = expected.Zip(truth).Count(p => p.First == p.Second) / (double)truth.Length;
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        output.WriteLine($"GunPoint 1-NN accuracy {metrics.MicroAccuracy:F4} (brute force {reference:F4}), log-loss {metrics.LogLoss:F4}");
        Assert.Equal(reference, metrics.MicroAccuracy, 10);
        Assert.InRange(reference, 0.85, 0.97); // 1-NN Euclidean on GunPoint is 0.913 in the UCR archive's tables

        var transformer = model.OfType<NearestNeighborTransformer>().Single();
        Assert.Equal(50, transformer.TrainingRowsPerClass.Sum());
        Assert.True(transformer.Scale > 0);
        // Probabilities: they sum to 1, and the predicted class has the largest (the nearest class has the largest score).
        float[][] scores = StageData.Vectors(scored, "Score");
        VBuffer<ReadOnlyMemory<char>> slots = default;
        scored.Schema["Score"].GetSlotNames(ref slots);
        string[] classes = [.. slots.DenseValues().Select(s => s.ToString())];
        for (int i = 0; i < scores.Length; i++)
        {
            Assert.Equal(1.0, scores[i].Sum(), 4);
            Assert.Equal(actual[i], classes[Array.IndexOf(scores[i], scores[i].Max())]);
        }
        // Scores are not all 0/1: the log-loss is finite and below that of a constant 1/2 guess.
        Assert.InRange(metrics.LogLoss, 0, Math.Log(2));
    }

    [SkippableFact]
    public void SavedModelReloadsInAFreshContextWithTheSameScoresAndServesAPredictionEngine()
    {
        var ml = new MLContext(0);
        IDataView train = ml.Data.LoadFromTsFile(Uea("BasicMotions_TRAIN.ts")), test = ml.Data.LoadFromTsFile(Uea("BasicMotions_TEST.ts"));
        var model = Pipeline(ml, new NearestNeighborOptions { BatchSize = 7 }).Fit(train);
        IDataView scored = model.Transform(test);
        float[][] scores = StageData.Vectors(scored, "Score");
        string[] labels = Labels(scored, "PredictedLabel");

        string path = Path.Combine(_folder, "nn.zip");
        ml.Model.Save(model, train.Schema, path);
        var fresh = new MLContext(1);
        ITransformer loaded = fresh.Model.Load(path, out _);
        IDataView rescored = loaded.Transform(fresh.Data.LoadFromTsFile(Uea("BasicMotions_TEST.ts")));
        Assert.Equal(scores, StageData.Vectors(rescored, "Score"));
        Assert.Equal(labels, Labels(rescored, "PredictedLabel"));
        output.WriteLine(string.Join(",", labels.GroupBy(l => l).Select(g => $"{g.Key}:{g.Count()}")));
        string[] brute = BruteForce(StageData.Vectors(train, "Features"), Labels(train), StageData.Vectors(test, "Features"));
        Assert.Equal(brute, labels);
        Assert.True(labels.Distinct().Count() > 2, "BasicMotions' classes should be predicted, or equal labels prove little");

        // A PredictionEngine (one row at a time) gives the batch's answer.
        using var engine = fresh.Model.CreatePredictionEngine<SeriesRow, Prediction>(loaded);
        float[][] series = StageData.Vectors(test, "Features");
        for (int i = 0; i < series.Length; i += 9)
        {
            var prediction = engine.Predict(new SeriesRow { Features = series[i], Label = "" });
            Assert.Equal(labels[i], prediction.PredictedLabel);
            Assert.Equal(scores[i], prediction.Score);
        }
    }

    private sealed class SeriesRow
    {
        [VectorType(600)] public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    private sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    [SkippableFact]
    public void ConvertToOnnxGivesTheSameClassesAndProbabilitiesInOnnxRuntime()
    {
        var ml = new MLContext(0);
        IDataView train = ml.Data.LoadFromTsFile(Uea("GunPoint_TRAIN.ts")), test = ml.Data.LoadFromTsFile(Uea("GunPoint_TEST.ts"));
        var model = Pipeline(ml).Fit(train);
        IDataView scored = model.Transform(test);
        float[][] expectedScores = StageData.Vectors(scored, "Score");
        string[] expectedLabels = Labels(scored, "PredictedLabel");

        string onnx = Path.Combine(_folder, "nn.onnx");
        using (FileStream stream = File.Create(onnx)) ml.Model.ConvertToOnnx(model, train, stream);
        // ApplyOnnxModel runs the graph in ONNX Runtime; its outputs hide the input view's columns of the same names.
        IDataView fromOnnx = ml.Transforms.ApplyOnnxModel(onnx).Fit(test).Transform(test);
        float[][] onnxScores = StageData.Vectors(fromOnnx, "Score");
        string[] onnxLabels = [.. fromOnnx.GetColumn<string[]>("PredictedLabel").Select(v => v[0])];
        double worst = Close.WorstRowDifference(onnxScores, expectedScores);
        output.WriteLine($"ONNX vs model: worst row score difference {worst:E2}; {onnxLabels.Zip(expectedLabels).Count(p => p.First != p.Second)} class differences");
        Assert.Equal(expectedLabels, onnxLabels);
        Assert.True(worst < 1e-4, $"ONNX scores differ from the model's by {worst:E2} (relative, worst row)");
        Assert.True(expectedLabels.Distinct().Count() == 2, "both classes should be predicted, or equal labels prove little");
    }

    private sealed class LabelOnly
    {
        public string Label { get; set; } = "";
    }

    private sealed class TableRow
    {
        [VectorType(3)] public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    private static IDataView Rows(MLContext ml, params (float[] Features, string Label)[] rows) =>
        ml.Data.LoadFromEnumerable(rows.Select(r => new TableRow { Features = r.Features, Label = r.Label }));

    [SkippableFact]
    public void BadInputFailsWithAMessageNamingTheColumnAndRow()
    {
        var ml = new MLContext(0);
        // GunPoint's first rows, one of them with a missing value.
        float[][] series = StageData.Vectors(ml.Data.LoadFromTsFile(Uea("GunPoint_TRAIN.ts")), "Features");
        float[] Take(int i) => series[i][..3];
        float[] missing = Take(2);
        missing[1] = float.NaN;
        var withNaN = Rows(ml, (Take(0), "a"), (Take(1), "b"), (missing, "a"), (Take(3), "b"));
        var error = Assert.Throws<InvalidDataException>(() => Pipeline(ml).Fit(withNaN));
        Assert.Contains("Row 2 of column 'Features'", error.Message);
        Assert.Contains("index 1", error.Message);

        var oneClass = Rows(ml, (Take(0), "a"), (Take(1), "a"));
        var single = Assert.Throws<ArgumentException>(() => Pipeline(ml).Fit(oneClass));
        Assert.Contains("'Label'", single.Message);

        // Every label missing (empty text maps to the missing key): no rows to learn from.
        var unlabeled = Rows(ml, (Take(0), ""), (Take(1), ""));
        var keys = ml.Transforms.Conversion.MapValueToKey("Label", keyData: ml.Data.LoadFromEnumerable(new[] { new LabelOnly { Label = "a" }, new LabelOnly { Label = "b" } })).Fit(unlabeled).Transform(unlabeled);
        var none = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.NearestNeighbor().Fit(keys));
        Assert.Contains("no rows with a label in column 'Label'", none.Message);

        // A label that is not a key, and a missing feature column, name the column.
        var notKey = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.NearestNeighbor().Fit(withNaN));
        Assert.Contains("'Label'", notKey.Message);
        var absent = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.NearestNeighbor("Label", "Pixels").Fit(keys));
        Assert.Contains("'Pixels'", absent.Message);

        // At prediction time a NaN is refused with the row named too.
        var model = Pipeline(ml).Fit(Rows(ml, (Take(0), "a"), (Take(1), "b"), (Take(3), "b")));
        var scoredError = Assert.Throws<InvalidDataException>(() => StageData.Vectors(model.Transform(withNaN), "Score"));
        Assert.Contains("Row 2 of column 'Features'", scoredError.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new NearestNeighborOptions { BatchSize = 0 } is var o
            ? ml.MulticlassClassification.Trainers.NearestNeighbor(options: o) : null);
    }

    [SkippableFact]
    public void RowsOfOneClassOfALargerKeyPredictThatClassAlsoInOnnx()
    {
        // A fold that holds out a rare class's only labeled row trains on the other class: a model of that class, as ML.NET's
        // trainers fit it (it threw "a classifier needs rows of two classes or more"). One training row is enough.
        var ml = new MLContext(0);
        float[][] series = StageData.Vectors(ml.Data.LoadFromTsFile(Uea("GunPoint_TRAIN.ts")), "Features");
        float[] Take(int i) => series[i][..3];
        var keys = ml.Transforms.Conversion.MapValueToKey("Label",
            keyData: ml.Data.LoadFromEnumerable(new[] { new LabelOnly { Label = "a" }, new LabelOnly { Label = "b" } }));
        var pipeline = keys.Append(ml.MulticlassClassification.Trainers.NearestNeighbor("Label", "Features"))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var test = Rows(ml, (Take(5), ""), (Take(6), ""), (Take(7), ""));
        foreach ((IDataView train, int index) in new[] { Rows(ml, (Take(0), "b"), (Take(1), "b"), (Take(2), "b")), Rows(ml, (Take(0), "b")) }
            .Select((t, i) => (t, i)))
        {
            var model = pipeline.Fit(train);
            IDataView scored = model.Transform(test);
            Assert.Equal(["b", "b", "b"], Labels(scored, "PredictedLabel"));
            Assert.All(StageData.Vectors(scored, "Score"), s => Assert.Equal([0f, 1f], s));
            string onnx = Path.Combine(_folder, $"one-class-{index}.onnx");
            using (FileStream stream = File.Create(onnx)) ml.Model.ConvertToOnnx(model, train, stream);
            IDataView fromOnnx = ml.Transforms.ApplyOnnxModel(onnx).Fit(test).Transform(test);
            Assert.Equal(["b", "b", "b"], fromOnnx.GetColumn<string[]>("PredictedLabel").Select(v => v[0]));
            Assert.All(StageData.Vectors(fromOnnx, "Score"), s => Assert.Equal([0f, 1f], s));
        }
    }

    private sealed class ByteKeyRow
    {
        [VectorType(3)] public float[] Features { get; set; } = [];
        [KeyType(2)] public byte Label { get; set; }
    }

    private sealed class WideKeyRow
    {
        [VectorType(3)] public float[] Features { get; set; } = [];
        [KeyType(2)] public ulong Label { get; set; }
    }

    [SkippableFact]
    public void ALabelKeyOfAnotherRawTypeIsRefusedWithTheColumnNamed()
    {
        // A key of Byte or UInt64 (a [KeyType] property, TextLoader's DataKind.Byte with a key count) passed the key check and
        // then failed inside ML.NET's cursor with "Invalid TValue in GetGetter"; ML.NET's trainers ask for a key of UInt32.
        var ml = new MLContext(0);
        float[][] series = StageData.Vectors(ml.Data.LoadFromTsFile(Uea("GunPoint_TRAIN.ts")), "Features");
        IDataView bytes = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 4).Select(i => new ByteKeyRow { Features = series[i][..3], Label = (byte)(1 + i % 2) }));
        IDataView longs = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 4).Select(i => new WideKeyRow { Features = series[i][..3], Label = (ulong)(1 + i % 2) }));
        foreach ((IDataView data, string raw) in new[] { (bytes, "Byte"), (longs, "UInt64") })
        {
            var trainer = ml.MulticlassClassification.Trainers.NearestNeighbor();
            var fit = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(data));
            Assert.Contains($"Label column 'Label' is a key of {raw}", fit.Message);
            Assert.Contains("MapValueToKey", fit.Message);
            var shape = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(SchemaShape.Create(data.Schema)));
            Assert.Contains($"is a key of {raw}", shape.Message);
        }
    }

    [SkippableFact]
    public void The_distance_tables_are_built_once_and_a_build_that_fails_is_built_again_on_the_next_use()
    {
        // The transformer's distance tables: Lazy<T> (ExecutionAndPublication) kept a failed build's exception (out of
        // memory) and rethrew it on every later prediction, so one failure broke the transformer for good.
        int builds = 0;
        var tables = new BuiltOnSuccess<object>(() =>
        {
            Thread.Sleep(20);
            return Interlocked.Increment(ref builds) == 1 ? throw new OutOfMemoryException("the first build") : new object();
        });
        Assert.Throws<OutOfMemoryException>(() => tables.Value);
        // Concurrent first uses after the failure: one build, one value for all.
        var values = new object[8];
        Parallel.For(0, values.Length, new ParallelOptions { MaxDegreeOfParallelism = values.Length }, i => values[i] = tables.Value);
        Assert.Equal(2, builds);
        Assert.All(values, v => Assert.Same(values[0], v));
        Assert.Same(values[0], tables.Value);
    }
}
