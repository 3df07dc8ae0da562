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
    /// <exception cref="ArgumentException">Fewer than two columns, a weight count that does not match, or a negative,
    /// non-finite or all-zero weight.</exception>
    public static ClassScoreAverageEstimator AverageClassScores(this TransformsCatalog catalog, IReadOnlyList<string> scoreColumnNames,
        IReadOnlyList<double>? weights = null, string labelColumnName = "Label")
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
        return new ClassScoreAverageEstimator(CatalogUtils.GetEnvironment(catalog), [.. scoreColumnNames],
            [.. given.Select(w => w / largest / total)], labelColumnName);
    }
}

/// <summary>The estimator of <see cref="ClassScoreAverageCatalog.AverageClassScores"/>. Its fitted pipeline is two
/// ML.NET transformers: a <c>Concatenate</c> of the score columns into <see cref="StackedColumnName"/>, and a
/// linear multiclass model on it whose weights are the averaging weights.</summary>
public sealed class ClassScoreAverageEstimator : IEstimator<TransformerChain<ITransformer>>
{
    /// <summary>The column that holds the score columns side by side (an intermediate of the average; it stays in the
    /// output).</summary>
    public const string StackedColumnName = "ClassScoreAverage.Inputs";

    private readonly IHostEnvironment _env;
    private readonly string[] _columns;
    private readonly double[] _weights;
    private readonly string _label;

    internal ClassScoreAverageEstimator(IHostEnvironment env, string[] columns, double[] weights, string label)
    {
        _env = env;
        _columns = columns;
        _weights = weights;
        _label = label;
    }

    /// <summary>The averaging weights, in the order of the score columns, summing to 1.</summary>
    public IReadOnlyList<double> Weights => _weights;

    /// <summary>Checks the columns and builds the average.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing, the label is not a key, or a score column is not a
    /// vector of Single with one slot per class of the label.</exception>
    public TransformerChain<ITransformer> Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        int classes = ClassCount(input.Schema.GetColumnOrNull(_label)?.Type, input.Schema.Select(c => c.Name));
        foreach (string column in _columns)
            CheckScore(column, input.Schema.GetColumnOrNull(column)?.Type, classes, input.Schema.Select(c => c.Name));

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
        var model = new LinearMulticlassModelParameters(_env, rows, new float[classes], classes, width, labelNames: null, stats: null);
        var average = new MulticlassPredictionTransformer<LinearMulticlassModelParameters>(_env, model, concatenate.GetOutputSchema(input.Schema),
            StackedColumnName, _label, DefaultColumnNames.Score, DefaultColumnNames.PredictedLabel);
        return new TransformerChain<ITransformer>([concatenate, average]);
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
