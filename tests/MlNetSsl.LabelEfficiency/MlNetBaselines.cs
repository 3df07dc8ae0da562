using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.LabelEfficiency;

/// <summary>The classical ML.NET trainers of the benchmark, on any fixed feature vectors (raw inputs or SSL embeddings).</summary>
public static class MlNetBaselines
{
    /// <summary>Which ML.NET trainer to fit.</summary>
    public enum Trainer
    {
        /// <summary>Multiclass logistic regression (L-BFGS maximum entropy) on standardized features.</summary>
        LbfgsMaximumEntropy,

        /// <summary>LightGBM multiclass gradient-boosted trees.</summary>
        LightGbm,
    }

    private sealed class Row
    {
        public float[] Features { get; set; } = [];
        public float LabelValue { get; set; }
    }

    private sealed class Prediction
    {
        public float PredictedValue { get; set; }
    }

    /// <summary>Fits <paramref name="trainer"/> on the training rows and returns the test accuracy.</summary>
    /// <param name="trainer">The trainer.</param>
    /// <param name="trainFeatures">Training rows, <paramref name="width"/> floats each.</param>
    /// <param name="trainLabels">Training labels, 0..K-1.</param>
    /// <param name="testFeatures">Test rows.</param>
    /// <param name="testLabels">Test labels.</param>
    /// <param name="width">Features per row.</param>
    /// <param name="classCount">K.</param>
    /// <param name="seed">ML.NET seed.</param>
    /// <param name="threads">LightGBM threads (the machine is shared; more threads than cores thrash).</param>
    public static double Accuracy(Trainer trainer, float[] trainFeatures, int[] trainLabels, float[] testFeatures, int[] testLabels,
        int width, int classCount, int seed, int threads = 2)
    {
        var ml = new MLContext(seed);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        IDataView train = ml.Data.LoadFromEnumerable(Rows(trainFeatures, trainLabels, width), schema);
        IDataView test = ml.Data.LoadFromEnumerable(Rows(testFeatures, testLabels, width), schema);

        IEstimator<ITransformer> learner = trainer switch
        {
            Trainer.LbfgsMaximumEntropy => ml.Transforms.NormalizeMeanVariance("Features")
                .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()),
            // Defaults want 20 rows per leaf; with a few dozen labels that leaves a stump, so scale it with the data.
            Trainer.LightGbm => ml.MulticlassClassification.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmMulticlassTrainer.Options
            {
                MinimumExampleCountPerLeaf = Math.Clamp(trainLabels.Length / 20, 2, 20),
                NumberOfLeaves = 31,
                NumberOfIterations = 200,
                LearningRate = 0.05,
                Seed = seed,
                Verbose = false,
                Silent = true,
                NumberOfThreads = threads,
            }),
            _ => throw new ArgumentOutOfRangeException(nameof(trainer)),
        };
        // Labels become keys in value order; the predicted key maps back to the class value.
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Row.LabelValue), keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(learner)
            .Append(ml.Transforms.Conversion.MapKeyToValue(nameof(Prediction.PredictedValue), "PredictedLabel"));
        ITransformer model = pipeline.Fit(train);
        int[] predicted = ml.Data.CreateEnumerable<Prediction>(model.Transform(test), reuseRowObject: false)
            .Select(p => (int)p.PredictedValue).ToArray();
        return Enumerable.Range(0, testLabels.Length).Count(i => predicted[i] == testLabels[i]) / (double)testLabels.Length;
    }

    private static IEnumerable<Row> Rows(float[] features, int[] labels, int width) =>
        Enumerable.Range(0, labels.Length).Select(i => new Row { Features = features.AsSpan(i * width, width).ToArray(), LabelValue = labels[i] });
}
