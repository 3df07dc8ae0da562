using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

namespace MlNetSsl.AutoML;

/// <summary>
/// ML.NET's multiclass LightGBM whose trees each see at most <see cref="FeaturesPerTree"/> features (LightGBM's
/// <c>feature_fraction</c>, chosen at <see cref="Fit"/> from the feature column's width). LightGBM builds a histogram of
/// every feature at every split, so its cost grows with the width: on 240 series of 9,000 values with 2 rows per leaf one
/// fit took 13 s, and 2.6 s with a fraction of 0.11, at 0.950 test accuracy against 0.867; on 2,000 raw CIFAR-10 images
/// (3,072 pixels) 40 s against 108 s at 41.4% against 40.0% (docs/automl.md, "Wide rows"). Its minimum rows per leaf is
/// at most a quarter of the rows it fits (<see cref="RowsPerLeaf"/>).
/// </summary>
internal sealed class WideRowLightGbmEstimator : IEstimator<ITransformer>
{
    /// <summary>The features one tree samples from on wider rows; narrower rows give every tree all of them.</summary>
    public const int FeaturesPerTree = 1000;

    private readonly MLContext _ml;
    private readonly Func<LightGbmMulticlassTrainer.Options> _options;

    /// <param name="ml">The context that creates the trainer.</param>
    /// <param name="options">Makes the trainer's options; called for every fit, so fits on other widths (or on other
    /// threads) never share one options object.</param>
    public WideRowLightGbmEstimator(MLContext ml, Func<LightGbmMulticlassTrainer.Options> options)
    {
        _ml = ml;
        _options = options;
    }

    /// <summary>The share of the features each tree samples from on rows of <paramref name="width"/> values.</summary>
    public static double FeatureFraction(int width) => width > FeaturesPerTree ? (double)FeaturesPerTree / width : 1.0;

    /// <summary>The minimum rows per leaf on <paramref name="rows"/> rows: <paramref name="configured"/>, or a quarter of the
    /// rows where that is fewer. A leaf needs that many rows on each side of a split, so 20 rows per leaf on fewer than 40
    /// rows grows no tree and the model predicts the majority class for every row: it happened to a search's pick on 24
    /// labeled images, where every cross-validation fold scored it as the prior.</summary>
    public static int RowsPerLeaf(int configured, long rows) => (int)Math.Clamp(rows / 4, 1, Math.Max(1, configured));

    public ITransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        LightGbmMulticlassTrainer.Options options = _options();
        int width = input.Schema.GetColumnOrNull(options.FeatureColumnName) is { Type: VectorDataViewType vector } ? vector.Size : 0;
        options.Booster = new GradientBooster.Options { FeatureFraction = FeatureFraction(width) };
        if (options.MinimumExampleCountPerLeaf is int perLeaf)
            options.MinimumExampleCountPerLeaf = RowsPerLeaf(perLeaf, input.GetRowCount() ?? CountRows(input));
        try
        {
            return _ml.MulticlassClassification.Trainers.LightGbm(options).Fit(input);
        }
        catch (OverflowException e) when (EveryValueIsZero(input, options.FeatureColumnName))
        {
            // ML.NET's LightGBM loader divides by the count of non-zero values, and standardized constant features have none.
            throw new InvalidOperationException($"LightGBM cannot train on column '{options.FeatureColumnName}': every value of every row is " +
                "zero once standardized, as constant features are, so no tree can split. Give features whose values differ between rows.", e);
        }
    }

    private static bool EveryValueIsZero(IDataView input, string column)
    {
        if (input.Schema.GetColumnOrNull(column) is not { Type: VectorDataViewType { ItemType.RawType: var item } } features
            || item != typeof(float)) return false;
        using DataViewRowCursor cursor = input.GetRowCursor([features]);
        ValueGetter<VBuffer<float>> getter = cursor.GetGetter<VBuffer<float>>(features);
        var row = default(VBuffer<float>);
        while (cursor.MoveNext())
        {
            getter(ref row);
            foreach (float value in row.GetValues())
                if (value != 0) return false;
        }
        return true;
    }

    private static long CountRows(IDataView input)
    {
        long rows = 0;
        using DataViewRowCursor cursor = input.GetRowCursor([]);
        while (cursor.MoveNext())
            rows++;
        return rows;
    }

    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => _ml.MulticlassClassification.Trainers.LightGbm(_options()).GetOutputSchema(inputSchema);
}
