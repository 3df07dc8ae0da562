using System.Globalization;
using System.Security.Cryptography;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace MlNetSsl.AutoML;

/// <summary>
/// The labeled rows of a dataset, read once: dense feature vectors and 1-based class keys, with the
/// <c>MapValueToKey</c> transformer that produced the keys (the final model starts with it).
/// </summary>
internal sealed class LabeledRows
{
    private LabeledRows(float[][] features, uint[] labels, int classCount, int unlabeledCount, ITransformer labelToKey)
    {
        Features = features;
        Labels = labels;
        ClassCount = classCount;
        UnlabeledCount = unlabeledCount;
        LabelToKey = labelToKey;
    }

    public float[][] Features { get; }

    /// <summary>Class keys, 1..<see cref="ClassCount"/>.</summary>
    public uint[] Labels { get; }

    public int ClassCount { get; }

    /// <summary>Rows whose label is missing (NaN, empty text): the unlabeled pool, unused by plain trainers.</summary>
    public int UnlabeledCount { get; }

    public ITransformer LabelToKey { get; }

    public int FeatureLength => Features.Length == 0 ? 0 : Features[0].Length;

    /// <summary>Reads and checks the label and feature columns.</summary>
    public static LabeledRows Read(MLContext ml, IDataView data, string labelColumn, string featureColumn)
    {
        DataViewSchema.Column feature = data.Schema.GetColumnOrNull(featureColumn)
            ?? throw new ArgumentException($"The dataset has no column '{featureColumn}'; it has: {string.Join(", ", data.Schema.Select(c => c.Name))}.");
        if (feature.Type is not VectorDataViewType { ItemType: NumberDataViewType number, IsKnownSize: true } || number != NumberDataViewType.Single)
            throw new ArgumentException($"Column '{featureColumn}' is {feature.Type}; the experiment needs a known-size vector of Single (use Concatenate).");
        if (data.Schema.GetColumnOrNull(labelColumn) is null)
            throw new ArgumentException($"The dataset has no label column '{labelColumn}'; it has: {string.Join(", ", data.Schema.Select(c => c.Name))}.");
        // MapValueToKey also maps a vector column (to a vector of keys), which then failed below as an InvalidCastException.
        if (data.Schema[labelColumn].Type is not PrimitiveDataViewType)
            throw new ArgumentException($"Label column '{labelColumn}' is {data.Schema[labelColumn].Type}; the experiment takes one class per row: " +
                "a text, number, boolean or key column (a missing value marks a row unlabeled).");

        ITransformer labelToKey = ml.Transforms.Conversion.MapValueToKey(labelColumn, labelColumn).Fit(data);
        IDataView keyed = labelToKey.Transform(data);
        int classCount = (int)((KeyDataViewType)keyed.Schema[labelColumn].Type).Count;
        uint[] allLabels = keyed.GetColumn<uint>(labelColumn).ToArray();
        float[][] allFeatures = keyed.GetColumn<VBuffer<float>>(featureColumn).Select(v => v.DenseValues().ToArray()).ToArray();

        var features = new List<float[]>();
        var labels = new List<uint>();
        for (int row = 0; row < allLabels.Length; row++)
        {
            if (allLabels[row] == 0) continue; // key 0: the label is missing, the row is unlabeled
            int bad = Array.FindIndex(allFeatures[row], v => !float.IsFinite(v));
            if (bad >= 0)
                throw new InvalidOperationException($"Row {row} of column '{featureColumn}' has a non-finite value at index {bad}.");
            features.Add(allFeatures[row]);
            labels.Add(allLabels[row]);
        }
        if (labels.Count == 0) throw new InvalidOperationException($"No row has a label in column '{labelColumn}'.");
        return new LabeledRows(features.ToArray(), labels.ToArray(), classCount, allLabels.Length - labels.Count, labelToKey);
    }

    /// <summary>A SHA-256 of the labeled rows, so a checkpoint is not resumed on other data.</summary>
    public string ContentHash()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int row = 0; row < Labels.Length; row++)
        {
            hash.AppendData(BitConverter.GetBytes(Labels[row]));
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Features[row].AsSpan()));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }
}

/// <summary>
/// Scores a <see cref="LinearTrainerParameters"/> configuration by stratified k-fold cross-validated accuracy.
/// Folds are built once: each fold's training rows fit a mean-variance normalizer that is applied to both sides. With a
/// scheduler the fidelity is the number of iterations; an L-BFGS trial that continues from a lower rung loads each
/// fold's model from its state folder and runs only the remaining iterations from those weights.
/// </summary>
internal sealed class CrossValidationTrialRunner : ITrialRunner
{
    internal const string FeatureColumn = "Features";
    internal const string LabelColumn = "Label";

    private readonly (IDataView Train, IDataView Test)[] _folds;

    public CrossValidationTrialRunner(MLContext ml, LabeledRows rows, int requestedFolds, int seed)
    {
        var (foldOfRow, foldCount) = StratifiedFolds.Assign(rows.Labels, requestedFolds, seed);
        FoldCount = foldCount;
        _folds = CrossValidation.BuildFolds(ml, rows.Features, rows.Labels, rows.ClassCount, foldOfRow, foldCount);
    }

    /// <summary>The number of folds actually used.</summary>
    public int FoldCount { get; }

    public Task<double> RunAsync(TrialRequest request, CancellationToken cancellationToken)
    {
        LinearTrainerParameters parameters = request.Parameters.AsType<LinearTrainerParameters>();
        int iterations = request.Fidelity ?? parameters.MaximumNumberOfIterations;
        var ml = new MLContext(request.Seed);
        // The trial's own context: cancelling it stops the trainer at its next iteration, and between folds we check too.
        using CancellationTokenRegistration stop = CrossValidation.CancelWith(ml, cancellationToken);
        long correct = 0, total = 0;
        for (int fold = 0; fold < _folds.Length; fold++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string stateFile = Path.Combine(request.StateDirectory, $"fold-{fold.ToString(CultureInfo.InvariantCulture)}.zip");
            var (train, test) = _folds[fold];
            ITransformer model = CrossValidation.Cancellable(() => Train(ml, parameters, iterations, request.PreviousFidelity, stateFile, train), cancellationToken);
            if (request.Fidelity.HasValue && parameters.Trainer == LinearTrainer.LbfgsMaximumEntropy)
                AtomicFile.Write(stateFile, stream => ml.Model.Save(model, train.Schema, stream));
            IDataView scored = model.Transform(test);
            uint[] predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
            uint[] actual = scored.GetColumn<uint>(LabelColumn).ToArray();
            correct += predicted.Zip(actual).Count(p => p.First == p.Second);
            total += actual.Length;
        }
        return Task.FromResult((double)correct / total);
    }

    private static ITransformer Train(MLContext ml, LinearTrainerParameters p, int iterations, int? previousFidelity, string stateFile, IDataView train)
    {
        if (p.Trainer == LinearTrainer.SdcaMaximumEntropy)
            return CreateSdca(ml, p, LabelColumn, FeatureColumn, iterations).Fit(train);

        if (previousFidelity is int previous && File.Exists(stateFile)
            && ml.Model.Load(stateFile, out _) is MulticlassPredictionTransformer<MaximumEntropyModelParameters> earlier)
        {
            // Continue from this fold's weights at the previous rung: only the remaining iterations run.
            return CreateLbfgs(ml, p, LabelColumn, FeatureColumn, Math.Max(1, iterations - previous)).Fit(train, earlier.Model);
        }
        return CreateLbfgs(ml, p, LabelColumn, FeatureColumn, iterations).Fit(train);
    }

    internal static LbfgsMaximumEntropyMulticlassTrainer CreateLbfgs(MLContext ml, LinearTrainerParameters p, string label, string features, int iterations) =>
        ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
        {
            LabelColumnName = label,
            FeatureColumnName = features,
            L1Regularization = p.L1Regularization,
            L2Regularization = p.L2Regularization,
            OptimizationTolerance = p.OptimizationTolerance,
            HistorySize = p.HistorySize,
            MaximumNumberOfIterations = iterations,
            NumberOfThreads = 1, // deterministic sums, and the experiment already runs trials one at a time
        });

    internal static SdcaMaximumEntropyMulticlassTrainer CreateSdca(MLContext ml, LinearTrainerParameters p, string label, string features, int iterations) =>
        ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options
        {
            LabelColumnName = label,
            FeatureColumnName = features,
            L1Regularization = p.L1Regularization,
            L2Regularization = p.L2Regularization,
            MaximumNumberOfIterations = iterations,
            NumberOfThreads = 1, // SDCA is only reproducible single-threaded
        });
}

/// <summary>Fold views for cross-validation over labeled feature vectors, and pooled accuracy over them.</summary>
internal static class CrossValidation
{
    /// <summary>
    /// One (train, test) pair of cached views per fold, with columns <see cref="CrossValidationTrialRunner.FeatureColumn"/>
    /// (standardized by a mean-variance normalizer fitted on the fold's training side only, as in production) and
    /// <see cref="CrossValidationTrialRunner.LabelColumn"/> (keys 1..<paramref name="classCount"/>). With
    /// <paramref name="standardize"/> false the features stay as they are (the nearest neighbour on raw series,
    /// <see cref="SslDownstream.ReadsUnscaled"/>).
    /// </summary>
    public static (IDataView Train, IDataView Test)[] BuildFolds(MLContext ml, float[][] features, uint[] labels, int classCount,
        int[] foldOfRow, int foldCount, bool standardize = true)
    {
        int length = features.Length == 0 ? 0 : features[0].Length;
        var schema = SchemaDefinition.Create(typeof(FoldRow));
        schema[nameof(FoldRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, length);
        schema[nameof(FoldRow.Label)].ColumnType = new KeyDataViewType(typeof(uint), classCount);
        var folds = new (IDataView, IDataView)[foldCount];
        for (int fold = 0; fold < foldCount; fold++)
        {
            var train = new List<FoldRow>();
            var test = new List<FoldRow>();
            for (int row = 0; row < labels.Length; row++)
                (foldOfRow[row] == fold ? test : train).Add(new FoldRow { Features = features[row], Label = labels[row] - 1 });
            IDataView trainView = ml.Data.LoadFromEnumerable(train, schema);
            IDataView testView = ml.Data.LoadFromEnumerable(test, schema);
            if (!standardize)
            {
                folds[fold] = (ml.Data.Cache(trainView), ml.Data.Cache(testView));
                continue;
            }
            // Standardized as the refit on all labeled rows will be (by their count), so the folds score that pipeline.
            ITransformer normalizer = SslDownstream.Standardize(ml, CrossValidationTrialRunner.FeatureColumn, labels.Length).Fit(trainView);
            folds[fold] = (ml.Data.Cache(normalizer.Transform(trainView)), ml.Data.Cache(normalizer.Transform(testView)));
        }
        return folds;
    }

    /// <summary>Correct predictions over all test rows, pooled across folds, of a trainer fitted on each fold's training side.
    /// Cancellation is checked between folds and reaches a running trainer when it was created from a context registered
    /// with <see cref="CancelWith"/>.</summary>
    public static double Accuracy((IDataView Train, IDataView Test)[] folds, Func<IEstimator<ITransformer>> createTrainer, CancellationToken cancellationToken)
    {
        FoldPredictions[] predictions = Predict(folds, createTrainer, cancellationToken);
        long correct = predictions.Sum(f => (long)f.Actual.Zip(f.Predicted).Count(p => p.First == p.Second));
        return (double)correct / predictions.Sum(f => (long)f.Actual.Length);
    }

    /// <summary>The out-of-fold predictions (true and predicted keys, class scores) of a trainer fitted on each fold's
    /// training side, fold by fold; cancellation as in <see cref="Accuracy"/>.</summary>
    public static FoldPredictions[] Predict((IDataView Train, IDataView Test)[] folds, Func<IEstimator<ITransformer>> createTrainer,
        CancellationToken cancellationToken)
    {
        var predictions = new FoldPredictions[folds.Length];
        for (int fold = 0; fold < folds.Length; fold++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (train, test) = folds[fold];
            ITransformer model = Cancellable(() => createTrainer().Fit(train), cancellationToken);
            predictions[fold] = ReadPredictions(model.Transform(test), CrossValidationTrialRunner.LabelColumn);
        }
        return predictions;
    }

    /// <summary>Reads the label keys, <c>PredictedLabel</c> and <c>Score</c> of a scored view in one pass (a pass per
    /// column ran the model once for each of the two it computes).</summary>
    public static FoldPredictions ReadPredictions(IDataView scored, string labelColumn)
    {
        DataViewSchema.Column labelInfo = scored.Schema[labelColumn], predictedInfo = scored.Schema["PredictedLabel"], scoreInfo = scored.Schema["Score"];
        var actual = new List<uint>();
        var predicted = new List<uint>();
        var scores = new List<float[]>();
        using DataViewRowCursor cursor = scored.GetRowCursor([labelInfo, predictedInfo, scoreInfo]);
        ValueGetter<uint> label = cursor.GetGetter<uint>(labelInfo), prediction = cursor.GetGetter<uint>(predictedInfo);
        ValueGetter<VBuffer<float>> score = cursor.GetGetter<VBuffer<float>>(scoreInfo);
        uint labelValue = 0, predictedValue = 0;
        VBuffer<float> scoreValue = default;
        while (cursor.MoveNext())
        {
            label(ref labelValue);
            prediction(ref predictedValue);
            score(ref scoreValue);
            actual.Add(labelValue);
            predicted.Add(predictedValue);
            scores.Add(scoreValue.DenseValues().ToArray());
        }
        return new FoldPredictions([.. actual], [.. predicted], [.. scores]);
    }

    /// <summary>
    /// Cancels <paramref name="ml"/> when <paramref name="cancellationToken"/> is (see
    /// <see cref="MLContextCancellation.CancelExecutionWhen"/>). Only for a context that belongs to one trial: a cancelled
    /// context stays cancelled, and so does every view or model made from it. Dispose the registration when the trial ends.
    /// </summary>
    public static CancellationTokenRegistration CancelWith(MLContext ml, CancellationToken cancellationToken) =>
        ml.CancelExecutionWhen(cancellationToken);

    /// <summary>Runs <paramref name="fit"/>; whatever a fit cancelled through its context throws surfaces as
    /// <see cref="OperationCanceledException"/>, and a fit that ended early without throwing does not count as finished.</summary>
    public static T Cancellable<T>(Func<T> fit, CancellationToken cancellationToken)
    {
        T result;
        try
        {
            result = fit();
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is not OperationCanceledException)
        {
            throw new OperationCanceledException("The trial was cancelled while a trainer was running.", e, cancellationToken);
        }
        cancellationToken.ThrowIfCancellationRequested();
        return result;
    }

    private sealed class FoldRow
    {
        public float[] Features { get; set; } = [];

        /// <summary>The class as a 0-based index: <c>LoadFromEnumerable</c> stores a key column's value v as key v + 1
        /// (0 is the missing key), so class key k is written as k - 1.</summary>
        public uint Label { get; set; }
    }
}
