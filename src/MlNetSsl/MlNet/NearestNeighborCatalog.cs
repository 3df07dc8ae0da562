using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MlNetSsl.MlNet;

namespace MlNetSsl;

/// <summary>Settings of the nearest-neighbour multiclass trainer
/// (<see cref="NearestNeighborCatalog.NearestNeighbor(MulticlassClassificationCatalog.MulticlassClassificationTrainers, string, string, NearestNeighborOptions?)"/>).</summary>
public sealed class NearestNeighborOptions
{
    /// <summary>Rows whose distances to every training row are computed at once (one matrix product). Default 256.</summary>
    public int BatchSize { get; set; } = 256;

    /// <summary>Training rows, evenly spaced, that fit the score scale by leave-one-out (each row's distance to its
    /// nearest other training row of every class). More rows cost a distance matrix of this many rows by all training rows.
    /// Default 2,000 (every row of a smaller training set).</summary>
    public int ScaleRows { get; set; } = 2000;

    /// <summary>The scale <c>t</c> of the scores, softmax(-d_c / t); null (the default) fits it on the training rows: the
    /// value, on a grid around the median leave-one-out nearest distance, that minimizes the leave-one-out log-loss.
    /// It changes the probabilities only, never the predicted class.</summary>
    public double? Scale { get; set; }

    internal NearestNeighborOptions Clone() => (NearestNeighborOptions)MemberwiseClone();

    internal void Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize is at least 1.");
        if (ScaleRows < 2) throw new ArgumentOutOfRangeException(nameof(ScaleRows), ScaleRows, "ScaleRows is at least 2.");
        if (Scale is double scale && !(double.IsFinite(scale) && scale > 0))
            throw new ArgumentOutOfRangeException(nameof(Scale), scale, "Scale is a positive finite number, or null to fit it.");
    }
}

/// <summary>Catalog extension for the nearest-neighbour (1-NN, Euclidean) multiclass trainer.</summary>
public static class NearestNeighborCatalog
{
    /// <summary>
    /// A 1-nearest-neighbour classifier with the Euclidean distance: each row takes the class of its nearest training
    /// row (on an exact tie between classes, the class with the lower key). It writes ML.NET's standard <c>Score</c>
    /// (class probabilities in the label's key order, with the class names as slot names) and <c>PredictedLabel</c> (the
    /// label's key type, with its key values), so <c>MulticlassClassification.Evaluate</c>, <c>MapKeyToValue</c>,
    /// <c>PredictionEngine</c>, <c>Model.Save/Load</c> and <c>ConvertToOnnx</c> work as after any trainer. Class c's
    /// score is softmax(-d_c / t) over the classes, d_c the distance to the nearest training row of class c and t a scale
    /// fitted on the training rows (<see cref="NearestNeighborOptions.Scale"/>); its arg max is the predicted class. The
    /// features are used as they are: standardize them first (<c>Transforms.NormalizeMeanVariance</c>) when their units
    /// differ. The model keeps every training row (rows x features floats).
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">A key-typed label column of UInt32, as <c>Conversion.MapValueToKey</c> makes it; rows whose key is
    /// missing are skipped.</param>
    /// <param name="featureColumnName">A known-size vector of Single. Missing values (NaN) and infinities are refused:
    /// replace them first (<c>Transforms.ReplaceMissingValues</c>).</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    /// <example><code>
    /// var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    ///     .Append(ml.MulticlassClassification.Trainers.NearestNeighbor("Label", "Features"))
    ///     .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
    /// </code></example>
    public static NearestNeighborEstimator NearestNeighbor(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", NearestNeighborOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumnName);
        ArgumentException.ThrowIfNullOrWhiteSpace(featureColumnName);
        options = options?.Clone() ?? new NearestNeighborOptions();
        options.Validate();
        return new NearestNeighborEstimator(CatalogUtils.GetEnvironment(catalog), labelColumnName, featureColumnName, options);
    }
}

/// <summary>The estimator of <see cref="NearestNeighborCatalog.NearestNeighbor"/>: it keeps the labeled training rows
/// and fits the score scale.</summary>
public sealed class NearestNeighborEstimator : IEstimator<NearestNeighborTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly string _label;
    private readonly string _features;
    private readonly NearestNeighborOptions _options;

    internal NearestNeighborEstimator(IHostEnvironment env, string label, string features, NearestNeighborOptions options)
    {
        _env = env;
        _label = label;
        _features = features;
        _options = options;
    }

    /// <summary>The input schema plus <c>Score</c> (a vector of Single) and <c>PredictedLabel</c> (the label's key type).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature or label column is missing or has the wrong type.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        if (!inputSchema.TryFindColumn(_features, out var features))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Feature column '{_features}' not found in the data. " + ColumnsPresent.In(inputSchema));
        if (features.Kind != SchemaShape.Column.VectorKind.Vector || features.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Feature column '{_features}' must be a known-size vector of Single; " +
                "join numeric columns with Transforms.Concatenate and convert them with Transforms.Conversion.ConvertType.");
        if (!inputSchema.TryFindColumn(_label, out var label))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{_label}' not found in the data. " + ColumnsPresent.In(inputSchema));
        if (!label.IsKey)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{_label}' must be a key type; map it with " +
                "Transforms.Conversion.MapValueToKey first.");
        if (label.ItemType.RawType != typeof(uint))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), OtherKeyType(label.ItemType.RawType));
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[DefaultColumnNames.Score] = new SchemaShape.Column(DefaultColumnNames.Score, SchemaShape.Column.VectorKind.Vector,
            NumberDataViewType.Single, isKey: false, new SchemaShape(AnnotationUtils.AnnotationsForMulticlassScoreColumn(label)));
        columns[DefaultColumnNames.PredictedLabel] = new SchemaShape.Column(DefaultColumnNames.PredictedLabel, SchemaShape.Column.VectorKind.Scalar,
            NumberDataViewType.UInt32, isKey: true, new SchemaShape(label.Annotations.Where(a => a.Name == AnnotationUtils.Kinds.KeyValues)));
        return new SchemaShape(columns.Values);
    }

    private string OtherKeyType(Type raw) => $"Label column '{_label}' is a key of {raw.Name}; the nearest-neighbour trainer, like " +
        "ML.NET's trainers, needs a key of UInt32, which Transforms.Conversion.MapValueToKey makes (map the key to its values with " +
        "MapKeyToValue, or convert the column to a number, then MapValueToKey).";

    /// <summary>Reads the labeled rows of <paramref name="input"/> and fits the score scale.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type.</exception>
    /// <exception cref="ArgumentException">No labeled rows, or a label key type of one value. Labeled rows of one class of a
    /// larger key give a model that predicts that class.</exception>
    /// <exception cref="InvalidDataException">A labeled row holds a missing value (NaN) or an infinity; the message names
    /// the row, the column and the index.</exception>
    public NearestNeighborTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var features = input.Schema.GetColumnOrNull(_features)
            ?? throw new ArgumentOutOfRangeException(nameof(input), $"Feature column '{_features}' not found in the data. " + ColumnsPresent.In(input.Schema));
        if (features.Type is not VectorDataViewType { IsKnownSize: true, ItemType: var item } vector || item != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(input), $"Feature column '{_features}' is {features.Type}; it must be a known-size vector of " +
                "Single (join numeric columns with Transforms.Concatenate; give series of different lengths one length with Transforms.ResampleSeries).");
        var label = input.Schema.GetColumnOrNull(_label)
            ?? throw new ArgumentOutOfRangeException(nameof(input), $"Label column '{_label}' not found in the data. " + ColumnsPresent.In(input.Schema));
        if (label.Type is not KeyDataViewType { Count: > 0 and <= int.MaxValue } key)
            throw new ArgumentOutOfRangeException(nameof(input), $"Label column '{_label}' has type {label.Type}; it must be a key type. Map it " +
                "with Transforms.Conversion.MapValueToKey first.");
        // Read as UInt32 below (a key of Byte, UInt16 or UInt64 threw ML.NET's "Invalid TValue in GetGetter"), as ML.NET's own
        // trainers require.
        if (key.RawType != typeof(uint))
            throw new ArgumentOutOfRangeException(nameof(input), OtherKeyType(key.RawType));
        int classes = (int)key.Count, width = vector.Size;

        var rows = new List<float[]>();
        var labels = new List<int>();
        using (var cursor = input.GetRowCursor([features, label]))
        {
            var getFeatures = cursor.GetGetter<VBuffer<float>>(features);
            var getLabel = cursor.GetGetter<uint>(label);
            VBuffer<float> buffer = default;
            uint labelKey = 0;
            while (cursor.MoveNext())
            {
                getLabel(ref labelKey);
                if (labelKey == 0 || labelKey > classes) continue;
                getFeatures(ref buffer);
                var row = new float[width];
                buffer.CopyTo(row);
                for (int i = 0; i < width; i++)
                {
                    if (!float.IsFinite(row[i]))
                        throw new InvalidDataException($"Row {cursor.Position} of column '{_features}' holds {row[i]} at index {i}; the nearest-neighbour " +
                            "trainer needs finite numbers. " + (float.IsNaN(row[i])
                                ? "Replace missing values first (Transforms.ReplaceMissingValues) or filter those rows out (Data.FilterRowsByMissingValues)."
                                : "Clip infinities where the data is made, or drop such rows."));
                }
                rows.Add(row);
                labels.Add((int)labelKey - 1);
            }
        }
        if (rows.Count == 0)
            throw new ArgumentException($"The data has no rows with a label in column '{_label}'; the nearest-neighbour trainer needs labeled rows.", nameof(input));
        // Rows of one class of a key with more are a model that predicts that class (score 1), as ML.NET's trainers fit them: a
        // cross-validation fold that holds out a rare class's only labeled row trains on the other class alone.
        if (classes < 2)
            throw new ArgumentException($"The label column '{_label}' has one class (its key type has one value, key {labels[0] + 1}); a classifier " +
                "needs two classes or more.", nameof(input));
        var names = ClassNames.From(label, classes);
        return NearestNeighborTransformer.Train(_env, _features, width, classes, names, rows, labels, _options);
    }
}
