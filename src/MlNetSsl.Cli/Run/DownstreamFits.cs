using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MlNetSsl.AutoML;
using MlNetSsl.Cli.Data;

namespace MlNetSsl.Cli.Run;

/// <summary>
/// Refits a downstream trainer the way the search's refit does (its standardization, the trainer,
/// <c>MapKeyToValue(PredictedLabel)</c>) on the output of a label-free featurizer, on all labeled training rows or a
/// subset of them, and scores the result on test rows in the chosen model's class order. Used for the no-SSL comparison
/// and the label curve.
/// </summary>
internal sealed class DownstreamFits
{
    private const string KeyColumn = "Ssl_Key";

    /// <summary>The iteration cap of the L-BFGS refits here, for the console's description: they are built by
    /// <c>SslDownstreamParameters.CreateTrainer</c>, whose linear probe stops at 100 iterations (uncapped, L-BFGS on raw
    /// 32 x 32 pixels, 3,072 features and 2,500 images, ran for minutes on 2 busy cores).</summary>
    public const int MaxLbfgsIterations = 100;
    private const string RawFeatureColumn = "Ssl_RawFeatures";
    private readonly MLContext _ml;
    private readonly ITransformer _prepared;
    private readonly IDataView _trainPrepared;
    private readonly ITransformer _labelMap;
    private readonly string[] _keyOrder;
    private readonly bool _balanced;
    // Null when each featurizer's test rows are scored once: a cache would hold every test row's vector for nothing.
    private readonly Dictionary<(Featurizer, TrainingData), IDataView>? _testFeatures;

    /// <param name="ml">The run's context.</param>
    /// <param name="prepared">The fitted preparation of the input columns.</param>
    /// <param name="trainPrepared">The prepared training rows.</param>
    /// <param name="labelColumn">The label column.</param>
    /// <param name="reuseTestFeatures">Whether test rows are scored by several fits of one featurizer (--label-curve), so
    /// their features are worth keeping (for 20,000 images of raw pixels, 246 MB).</param>
    /// <param name="balanced">Whether the fits score and decide as the experiment's model does for macro accuracy: class
    /// probabilities divided by the classes' shares of the fit's labeled rows, normalized (<c>ReweightClassScores</c>).</param>
    public DownstreamFits(MLContext ml, ITransformer prepared, IDataView trainPrepared, string labelColumn, bool reuseTestFeatures, bool balanced = false)
    {
        _balanced = balanced;
        _testFeatures = reuseTestFeatures ? [] : null;
        _ml = ml;
        _prepared = prepared;
        _trainPrepared = trainPrepared;
        // One label map for every fit, so a subset missing a class still scores in the same order.
        _labelMap = ml.Transforms.Conversion.MapValueToKey(KeyColumn, labelColumn).Fit(trainPrepared);
        VBuffer<ReadOnlyMemory<char>> keyNames = default;
        _labelMap.Transform(trainPrepared).Schema[KeyColumn].GetKeyValues(ref keyNames);
        _keyOrder = keyNames.DenseValues().Select(v => v.ToString()).ToArray();
    }

    /// <summary>A fitted label-free featurizer and the column it writes, which the trainer reads; <paramref name="RawSeries"/>:
    /// the column is a series' raw values, which the nearest neighbour reads unstandardized, as the search does
    /// (<c>SslDownstream.ReadsUnscaled</c> in MlNetSsl.AutoML).</summary>
    public sealed record Featurizer(ITransformer Transformer, string Column, bool RawSeries = false);

    /// <summary>The labeled rows' features, cached: the trainers pass over them many times.</summary>
    public sealed record LabeledFeatures(Featurizer Featurizer, IDataView Rows);

    /// <summary>Raw features, as the search's raw-feature trials read them: 32 x 32 pixels for images, the prepared vector otherwise.</summary>
    public Featurizer Raw(DatasetKind kind)
    {
        IEstimator<ITransformer> raw = kind == DatasetKind.Images
            ? _ml.Transforms.ResizeImages("Ssl_Resized", 32, 32, ModelParts.ImageColumn).Append(_ml.Transforms.ExtractPixels(RawFeatureColumn, "Ssl_Resized"))
            : _ml.Transforms.CopyColumns(RawFeatureColumn, kind == DatasetKind.Series ? ModelParts.SeriesColumn : ModelParts.TableColumn);
        return new Featurizer(raw.Fit(_trainPrepared), RawFeatureColumn, kind == DatasetKind.Series);
    }

    /// <summary>The label-free front of a refitted model (everything before its normalizer, trainer and key-to-value map)
    /// and the column its normalizer reads; null for a fine-tuned network, whose encoder was trained with the labels.</summary>
    public static Featurizer? FrontOf(ITransformer trainedWithoutLabelMap)
    {
        List<ITransformer> parts = ModelParts.Flatten(trainedWithoutLabelMap);
        int normalizer = parts.FindLastIndex(p => p is NormalizingTransformer);
        // A macro-accuracy model ends in ReweightClassScores' six parts (concatenate, weighting, copy, L1 norm, identity,
        // key-to-value) after the trainer's key-to-value map; the fits here decide that way themselves (balanced).
        int end = parts.Count >= 6 && parts[^3] is LpNormNormalizingTransformer ? parts.Count - 6 : parts.Count;
        // The normalizer works in place, so the trainer's feature column is the one the front writes.
        string? features = normalizer < 0 || end - normalizer != 3 ? null : parts[normalizer + 1] switch
        {
            ISingleFeaturePredictionTransformer<object> trainer => trainer.FeatureColumnName,
            NearestNeighborTransformer nearest => nearest.FeatureColumnName,
            _ => null,
        };
        return features is null ? null : new Featurizer(new TransformerChain<ITransformer>([.. parts.Take(normalizer)]), features);
    }

    /// <summary>Featurizes the labeled training rows once (images decoded and embedded once).</summary>
    public LabeledFeatures Labeled(Featurizer featurizer)
    {
        IDataView keyed = _labelMap.Transform(featurizer.Transformer.Transform(_trainPrepared));
        IDataView labeled = _ml.Data.FilterRowsByMissingValues(keyed, KeyColumn);
        return new LabeledFeatures(featurizer, _ml.Data.Cache(_ml.Transforms.SelectColumns(KeyColumn, featurizer.Column).Fit(labeled).Transform(labeled)));
    }

    /// <summary>The test rows' features, cached per featurizer when they are reused: --label-curve scores eight fits on
    /// them, and each had decoded and embedded every test image again.</summary>
    private IDataView TestFeatures(Featurizer featurizer, TrainingData test)
    {
        if (_testFeatures is null) return featurizer.Transformer.Transform(_prepared.Transform(test.View));
        if (!_testFeatures.TryGetValue((featurizer, test), out IDataView? rows))
        {
            IDataView featurized = featurizer.Transformer.Transform(_prepared.Transform(test.View));
            rows = _ml.Data.Cache(_ml.Transforms.SelectColumns(featurizer.Column).Fit(featurized).Transform(featurized));
            _testFeatures[(featurizer, test)] = rows;
        }
        return rows;
    }

    /// <summary>How many featurizers' test features are kept.</summary>
    internal int KeptTestFeatureSets => _testFeatures?.Count ?? 0;

    private static long CountRows(IDataView rows)
    {
        using DataViewRowCursor cursor = rows.GetRowCursor([]);
        long count = 0;
        while (cursor.MoveNext()) count++;
        return count;
    }

    /// <summary>Fits the downstream trainer on the labeled rows (or those at <paramref name="subset"/>, positions among the
    /// labeled rows) and scores it on <paramref name="test"/>, scores in <paramref name="classNames"/> order.</summary>
    public List<TestMetrics.Scored> FitAndScore(LabeledFeatures features, SslDownstreamParameters downstream, int[]? subset, TrainingData test,
        string[] classNames)
    {
        ITransformer fitted = Fit(features, downstream, subset);
        // The fit's scores follow the label map's key order; map them to the chosen model's class names.
        return TrainingRun.Score(fitted.Transform(TestFeatures(features.Featurizer, test)), test, _keyOrder)
            .Select(r => new TestMetrics.Scored(
                r.Actual < 0 ? r.Actual : Array.IndexOf(classNames, _keyOrder[r.Actual]),
                r.Predicted < 0 ? -1 : Array.IndexOf(classNames, _keyOrder[r.Predicted]),
                classNames.Select(c => Array.IndexOf(_keyOrder, c) is int i && i >= 0 ? r.Scores[i] : 0f).ToArray()))
            .ToList();
    }

    /// <summary>The standardization, the trainer and the key-to-value map fitted on the labeled rows (or those at
    /// <paramref name="subset"/>, positions among the labeled rows), as the search's refit builds them.</summary>
    internal ITransformer Fit(LabeledFeatures features, SslDownstreamParameters downstream, int[]? subset)
    {
        IDataView rows = subset is null ? features.Rows : new RowSubsetView(features.Rows, subset.Select(r => (long)r).ToHashSet());
        string column = features.Featurizer.Column;
        // Standardized as the experiment's own refit is (centred from 10 labeled rows, one-hot indicators unscaled), but
        // for the nearest neighbour on a series' raw values, which the search reads unscaled.
        long count = subset?.Length ?? rows.GetRowCount() ?? CountRows(rows);
        IEstimator<ITransformer> fit = downstream.Trainer == DownstreamTrainer.NearestNeighbor && features.Featurizer.RawSeries
            ? Trainer(downstream, column)
            : downstream.CreateStandardizedTrainer(_ml, KeyColumn, column, count);
        // Scores and decisions as the experiment's macro-accuracy model makes them, from this fit's labeled rows.
        if (_balanced) fit = fit.Append(_ml.Transforms.ReweightClassScores(BalancingWeights(rows), "Score", KeyColumn));
        return fit.Append(_ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(rows);
    }

    /// <summary>Each class's factor in key order: the inverse of its share of <paramref name="rows"/>' labels, as the
    /// experiment weighs its macro-accuracy decisions (a class without rows gets the factor of one row).</summary>
    private double[] BalancingWeights(IDataView rows)
    {
        var counts = new int[_keyOrder.Length];
        foreach (uint key in rows.GetColumn<uint>(KeyColumn)) if (key >= 1 && key <= counts.Length) counts[key - 1]++;
        double total = counts.Sum();
        return [.. counts.Select(c => total / (counts.Length * (double)Math.Max(1, c)))];
    }

    /// <summary>The trainer a trial's downstream parameters name, as the search builds it (L-BFGS or LightGBM; fine-tuning
    /// is not a separate trainer).</summary>
    private IEstimator<ITransformer> Trainer(SslDownstreamParameters downstream, string features) => downstream.Trainer == DownstreamTrainer.FineTune
        ? throw new InvalidOperationException("A fine-tuned network has no separate downstream trainer to refit.")
        : downstream.CreateTrainer(_ml, KeyColumn, features);

    /// <summary>Positions among <paramref name="labels"/> (the labeled rows' classes) of a stratified, seeded share: per class
    /// the first ceil(share x count) rows of one seeded permutation (at least one), so smaller shares are subsets of larger ones.</summary>
    public static int[] StratifiedShare(IReadOnlyList<string> labels, double share, int seed)
    {
        var random = new Random(seed);
        var chosen = new List<int>();
        foreach (var group in Enumerable.Range(0, labels.Count).GroupBy(i => labels[i], StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            int[] order = [.. group];
            random.Shuffle(order);
            chosen.AddRange(order.Take(Math.Max(1, (int)Math.Ceiling(share * order.Length))));
        }
        chosen.Sort();
        return [.. chosen];
    }
}
