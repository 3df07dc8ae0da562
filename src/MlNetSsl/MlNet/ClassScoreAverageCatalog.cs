using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms;

namespace MlNetSsl;

/// <summary>Catalog extension that combines several multiclass models of one pipeline into an ensemble: the weighted mean
/// of their class scores.</summary>
public static class ClassScoreAverageCatalog
{
    /// <summary>
    /// Replaces <c>Score</c> and <c>PredictedLabel</c> with the weighted mean of the class scores in
    /// <paramref name="scoreColumnNames"/> and its most likely class, as a multiclass trainer writes them (the classes in
    /// the score's annotations, <c>PredictedLabel</c> a key of the label's type, so <c>MapKeyToValue</c> and the
    /// evaluator work as after one trainer). Each score column is one model's <c>Score</c> copied aside before the next
    /// model writes its own: class probabilities in the label's key order, as ML.NET's L-BFGS maximum entropy and
    /// LightGBM multiclass trainers give them. The average is ML.NET's own linear multiclass model with fixed weights, so
    /// it is saved in the model zip and converted to ONNX like any trainer; it learns nothing from the data.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="scoreColumnNames">Two or more known-size vectors of Single, one slot per class of the label.</param>
    /// <param name="weights">Each column's weight (non-negative, not all zero; scaled to sum to 1). Default: equal.</param>
    /// <param name="labelColumnName">The key-typed label the models were trained on: its class count sizes the scores,
    /// and its key values name the classes. Needed at fit time only.</param>
    /// <example><code>
    /// var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    ///     .Append(ml.MulticlassClassification.Trainers.LightGbm())
    ///     .Append(ml.Transforms.CopyColumns("TreeScore", "Score"))
    ///     .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy())
    ///     .Append(ml.Transforms.CopyColumns("LinearScore", "Score"))
    ///     .Append(ml.Transforms.AverageClassScores(["TreeScore", "LinearScore"], [0.7, 0.3]))
    ///     .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
    /// </code></example>
    /// <param name="classWeights">Optional: each class's factor, in the label's key order, applied to the average before
    /// it is normalized to sum to 1 again (see <see cref="ReweightClassScores"/>). Default: none.</param>
    /// <exception cref="ArgumentException">Fewer than two columns, a weight count that does not match, or a negative,
    /// non-finite or all-zero weight or class weight.</exception>
    public static ClassScoreAverageEstimator AverageClassScores(this TransformsCatalog catalog, IReadOnlyList<string> scoreColumnNames,
        IReadOnlyList<double>? weights = null, string labelColumnName = "Label", IReadOnlyList<double>? classWeights = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(scoreColumnNames);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumnName);
        if (scoreColumnNames.Count < 2)
            throw new ArgumentException($"Give two score columns or more to average (got {scoreColumnNames.Count}).", nameof(scoreColumnNames));
        if (scoreColumnNames.Any(string.IsNullOrWhiteSpace))
            throw new ArgumentException("A score column name is empty.", nameof(scoreColumnNames));
        if (scoreColumnNames.Distinct(StringComparer.Ordinal).Count() != scoreColumnNames.Count)
            throw new ArgumentException($"A score column is named twice ({string.Join(", ", scoreColumnNames)}); give each model's once and " +
                "use its weight to count it more.", nameof(scoreColumnNames));
        double[] given = weights?.ToArray() ?? [.. scoreColumnNames.Select(_ => 1.0)];
        if (given.Length != scoreColumnNames.Count)
            throw new ArgumentException($"{given.Length} weights for {scoreColumnNames.Count} score columns; give one per column.", nameof(weights));
        for (int i = 0; i < given.Length; i++)
            if (!double.IsFinite(given[i]) || given[i] < 0)
                throw new ArgumentException($"The weight of '{scoreColumnNames[i]}' is {given[i]}; weights are finite and not negative.", nameof(weights));
        double largest = given.Max();
        if (!(largest > 0)) throw new ArgumentException("Every weight is zero; give at least one column a positive weight.", nameof(weights));
        // Scaled by the largest first: the sum of weights near double.MaxValue is infinite, and every weight then became 0.
        double total = given.Sum(w => w / largest);
        return new ClassScoreAverageEstimator(catalog, [.. scoreColumnNames],
            [.. given.Select(w => w / largest / total)], labelColumnName, CheckClassWeights(classWeights));
    }

    /// <summary>
    /// Replaces <c>Score</c> and <c>PredictedLabel</c> with one model's class scores multiplied by a factor per class and
    /// normalized to sum to 1, and their most likely class. With each class's factor 1 / (its share of the training rows),
    /// the model's probabilities become those of a training set where every class is equally frequent, and the predicted
    /// class is the one that maximizes macro accuracy (balanced accuracy) for well-calibrated scores: a model trained on
    /// 95% of one class otherwise predicts that class for nearly every row. It is ML.NET's own linear multiclass model, an
    /// L1 normalization and a second linear model, so it is saved in the model zip and converted to ONNX like a trainer.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="classWeights">Each class's factor, in the label's key order (finite, not negative, not all zero). A class
    /// of factor 0 is predicted only for a row whose model gives every class of positive factor a probability of exactly 0.</param>
    /// <param name="scoreColumnName">A multiclass model's class probabilities (a known-size vector of Single, one slot per
    /// class); <c>Score</c> by default, read before the new <c>Score</c> replaces it.</param>
    /// <param name="labelColumnName">The key-typed label the model was trained on. Needed at fit time only.</param>
    /// <example><code>
    /// var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    ///     .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy())
    ///     .Append(ml.Transforms.ReweightClassScores([1 / 0.95, 1 / 0.05]))   // class shares 95% and 5%
    ///     .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
    /// </code></example>
    /// <exception cref="ArgumentException">A class weight is negative or not finite, or all are zero.</exception>
    public static ClassScoreAverageEstimator ReweightClassScores(this TransformsCatalog catalog, IReadOnlyList<double> classWeights,
        string scoreColumnName = "Score", string labelColumnName = "Label")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(classWeights);
        ArgumentException.ThrowIfNullOrWhiteSpace(scoreColumnName);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumnName);
        return new ClassScoreAverageEstimator(catalog, [scoreColumnName], [1.0], labelColumnName, CheckClassWeights(classWeights));
    }

    private static double[]? CheckClassWeights(IReadOnlyList<double>? classWeights)
    {
        if (classWeights is null) return null;
        for (int k = 0; k < classWeights.Count; k++)
            if (!double.IsFinite(classWeights[k]) || classWeights[k] < 0)
                throw new ArgumentException($"The weight of class {k} (key {k + 1}) is {classWeights[k]}; class weights are finite and not negative.", nameof(classWeights));
        double largest = classWeights.Count == 0 ? 0 : classWeights.Max();
        if (!(largest > 0)) throw new ArgumentException("Every class weight is zero (or none is given); give each class a weight, at least one positive.", nameof(classWeights));
        // Scaled so the largest is 1: only their ratios matter once the scores are normalized.
        return [.. classWeights.Select(w => w / largest)];
    }
}

/// <summary>The estimator of <see cref="ClassScoreAverageCatalog.AverageClassScores"/> and
/// <see cref="ClassScoreAverageCatalog.ReweightClassScores"/>. Its fitted pipeline is ML.NET transformers: a
/// <c>Concatenate</c> of the score columns into <see cref="StackedColumnName"/> and a linear multiclass model on it whose
/// weights are the averaging weights; with class weights, that model's weighted scores are copied to
/// <see cref="WeightedColumnName"/>, an L1 normalization writes <see cref="NormalizedColumnName"/>, and an identity linear
/// model <c>Score</c> and <c>PredictedLabel</c>.</summary>
public sealed class ClassScoreAverageEstimator : IEstimator<TransformerChain<ITransformer>>
{
    /// <summary>The column that holds the score columns side by side (an intermediate of the average; it stays in the
    /// output).</summary>
    public const string StackedColumnName = "ClassScoreAverage.Inputs";

    /// <summary>With class weights: the weighted scores before they are normalized (an intermediate; it stays in the output).</summary>
    public const string WeightedColumnName = "ClassScoreAverage.Weighted";

    /// <summary>With class weights: the weighted scores normalized to sum to 1 (an intermediate; it stays in the output).</summary>
    public const string NormalizedColumnName = "ClassScoreAverage.Normalized";

    // A class weight of 0 scales by this instead (the weights are scaled so the largest is 1): the class still loses to any
    // class of positive weight and probability, but a row whose model gives every such class a probability of exactly 0
    // (a softmax that underflowed) keeps its own class and a Score that sums to 1. With 0 that row scored all zeros and
    // took the first class, one its model had ruled out.
    private const double ZeroWeightFactor = 1e-30;

    private readonly TransformsCatalog _catalog;
    private readonly IHostEnvironment _env;
    private readonly string[] _columns;
    private readonly double[] _weights;
    private readonly string _label;
    private readonly double[]? _classWeights;

    internal ClassScoreAverageEstimator(TransformsCatalog catalog, string[] columns, double[] weights, string label, double[]? classWeights)
    {
        _catalog = catalog;
        _env = CatalogUtils.GetEnvironment(catalog);
        _columns = columns;
        _weights = weights;
        _label = label;
        _classWeights = classWeights;
    }

    /// <summary>The averaging weights, in the order of the score columns, summing to 1.</summary>
    public IReadOnlyList<double> Weights => _weights;

    /// <summary>The factor of each class in the label's key order, scaled so the largest is 1; null without class weights.</summary>
    public IReadOnlyList<double>? ClassWeights => _classWeights;

    /// <summary>Checks the columns and builds the average.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing, the label is not a key, or a score column is not a
    /// vector of Single with one slot per class of the label.</exception>
    public TransformerChain<ITransformer> Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        int classes = ClassCount(input.Schema.GetColumnOrNull(_label)?.Type, input.Schema.Select(c => c.Name));
        foreach (string column in _columns)
            CheckScore(column, input.Schema.GetColumnOrNull(column)?.Type, classes, input.Schema.Select(c => c.Name));
        if (_classWeights is not null && _classWeights.Length != classes)
            throw new ArgumentOutOfRangeException(nameof(input), $"{_classWeights.Length} class weights for the {classes} classes of label column '{_label}'; " +
                "give one per class, in the label's key order.");

        var concatenate = new ColumnConcatenatingEstimator(_env, StackedColumnName, _columns).Fit(input);
        // Class k's score is the weighted sum of slot k of every input: weight i at position i*classes + k.
        int width = _columns.Length * classes;
        var rows = new VBuffer<float>[classes];
        for (int k = 0; k < classes; k++)
        {
            var row = new float[width];
            for (int i = 0; i < _columns.Length; i++) row[i * classes + k] = (float)_weights[i];
            rows[k] = new VBuffer<float>(width, row);
        }
        DataViewSchema stacked = concatenate.GetOutputSchema(input.Schema);
        if (_classWeights is null)
            return new TransformerChain<ITransformer>([concatenate, Linear(rows, stacked, StackedColumnName, DefaultColumnNames.Score, DefaultColumnNames.PredictedLabel)]);

        // Class weights: scale class k's row, normalize the result to sum 1 (L1; the scores are not negative), and pass it
        // through an identity model, which writes Score and PredictedLabel with a trainer's annotations.
        for (int k = 0; k < classes; k++)
        {
            VBuffer<float> row = rows[k];
            double factor = _classWeights[k] > 0 ? _classWeights[k] : ZeroWeightFactor;
            rows[k] = new VBuffer<float>(width, [.. row.DenseValues().Select(v => (float)(v * factor))]);
        }
        // A prediction transformer always writes Score (its scoreColumn argument names what its scorer reads), so the
        // weighted scores are copied aside before the last model writes Score again.
        var weighted = Linear(rows, stacked, StackedColumnName, DefaultColumnNames.Score, DefaultColumnNames.PredictedLabel);
        DataViewSchema scored = weighted.GetOutputSchema(stacked);
        var copy = new ColumnCopyingEstimator(_env, (WeightedColumnName, DefaultColumnNames.Score)).Fit(new EmptyDataView(_env, scored));
        DataViewSchema weightedSchema = copy.GetOutputSchema(scored);
        var normalize = _catalog.NormalizeLpNorm(NormalizedColumnName, WeightedColumnName, LpNormNormalizingEstimatorBase.NormFunction.L1, ensureZeroMean: false)
            .Fit(new EmptyDataView(_env, weightedSchema));
        var identity = new VBuffer<float>[classes];
        for (int k = 0; k < classes; k++)
        {
            var row = new float[classes];
            row[k] = 1;
            identity[k] = new VBuffer<float>(classes, row);
        }
        var named = Linear(identity, normalize.GetOutputSchema(weightedSchema), NormalizedColumnName, DefaultColumnNames.Score, DefaultColumnNames.PredictedLabel);
        return new TransformerChain<ITransformer>([concatenate, weighted, copy, normalize, named]);
    }

    private MulticlassPredictionTransformer<LinearMulticlassModelParameters> Linear(VBuffer<float>[] rows, DataViewSchema schema, string features,
        string score, string predictedLabel)
    {
        int classes = rows.Length, width = rows[0].Length;
        var model = new LinearMulticlassModelParameters(_env, rows, new float[classes], classes, width, labelNames: null, stats: null);
        return new MulticlassPredictionTransformer<LinearMulticlassModelParameters>(_env, model, schema, features, _label, score, predictedLabel);
    }

    /// <summary>The input schema plus the stacked scores, <c>Score</c> and <c>PredictedLabel</c>.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var names = inputSchema.Select(c => c.Name);
        if (!inputSchema.TryFindColumn(_label, out var label))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{_label}' not found in the data. Columns present: {string.Join(", ", names)}.");
        if (!label.IsKey)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{_label}' is {label.ItemType}, not a key; map it with " +
                "MapValueToKey as the models' trainers did.");
        foreach (string column in _columns)
        {
            if (!inputSchema.TryFindColumn(column, out var score))
                throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Score column '{column}' not found in the data. Columns present: {string.Join(", ", names)}.");
            if (score.Kind == SchemaShape.Column.VectorKind.Scalar && score.ItemType == NumberDataViewType.Single)
                throw new ArgumentOutOfRangeException(nameof(inputSchema), ScalarScore(column));
            if (score.Kind != SchemaShape.Column.VectorKind.Vector || score.ItemType != NumberDataViewType.Single)
                throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Score column '{column}' is {Describe(score)}, not a known-size " +
                    "vector of Single; copy a multiclass trainer's Score there.");
        }
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[StackedColumnName] = new SchemaShape.Column(StackedColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, isKey: false);
        if (_classWeights is not null)
        {
            columns[WeightedColumnName] = new SchemaShape.Column(WeightedColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, isKey: false,
                new SchemaShape(AnnotationUtils.AnnotationsForMulticlassScoreColumn(label)));
            columns[NormalizedColumnName] = new SchemaShape.Column(NormalizedColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, isKey: false);
        }
        columns[DefaultColumnNames.Score] = new SchemaShape.Column(DefaultColumnNames.Score, SchemaShape.Column.VectorKind.Vector,
            NumberDataViewType.Single, isKey: false, new SchemaShape(AnnotationUtils.AnnotationsForMulticlassScoreColumn(label)));
        // The label's class names carry over, as a multiclass trainer's, so MapKeyToValue can follow.
        columns[DefaultColumnNames.PredictedLabel] = new SchemaShape.Column(DefaultColumnNames.PredictedLabel, SchemaShape.Column.VectorKind.Scalar,
            NumberDataViewType.UInt32, isKey: true, new SchemaShape(label.Annotations.Where(a => a.Name == AnnotationUtils.Kinds.KeyValues)
                .Concat(AnnotationUtils.GetTrainerOutputAnnotation())));
        return new SchemaShape(columns.Values);
    }

    private int ClassCount(DataViewType? type, IEnumerable<string> names) => type switch
    {
        null => throw new ArgumentOutOfRangeException("input", $"Label column '{_label}' not found in the data. Columns present: {string.Join(", ", names)}."),
        KeyDataViewType { Count: > 0 and <= int.MaxValue } key => (int)key.Count,
        _ => throw new ArgumentOutOfRangeException("input", $"Label column '{_label}' is {type}, not a key with a known class count; map it with " +
            "MapValueToKey as the models' trainers did."),
    };

    // A binary trainer's Score is one number per row: the likeliest mistake, so the message says what to use instead.
    private static string ScalarScore(string column) => $"Score column '{column}' is one Single per row, as a binary classifier's " +
        "Score; the average needs one score per class: train a multiclass trainer (LbfgsMaximumEntropy, LightGbm) on the key " +
        "label, which gives two classes a score each, and copy its Score there.";

    private static string Describe(SchemaShape.Column column) => column.Kind switch
    {
        SchemaShape.Column.VectorKind.Scalar => $"{column.ItemType}",
        SchemaShape.Column.VectorKind.Vector => $"a vector of {column.ItemType}",
        _ => $"a variable-size vector of {column.ItemType}",
    };

    private static void CheckScore(string column, DataViewType? type, int classes, IEnumerable<string> names)
    {
        if (type is null)
            throw new ArgumentOutOfRangeException("input", $"Score column '{column}' not found in the data. Columns present: {string.Join(", ", names)}.");
        if (type == NumberDataViewType.Single) throw new ArgumentOutOfRangeException("input", ScalarScore(column));
        if (type is not VectorDataViewType { ItemType: NumberDataViewType item, Size: int size } || item != NumberDataViewType.Single || size != classes)
            throw new ArgumentOutOfRangeException("input", $"Score column '{column}' is {type}; a multiclass model's Score for this label is a vector of " +
                $"{classes} Single (one per class).");
    }
}
