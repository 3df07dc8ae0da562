using System.Collections.Immutable;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace MlNetSsl.AutoML;

/// <summary>
/// <c>NormalizeMeanVariance</c> over a feature vector, except the slots that hold only 0 and 1 in the rows it is fitted on
/// (one-hot indicators, yes/no columns), which pass as they are. Standardizing an indicator divides it by sqrt(p(1-p)), so
/// the rarer a category the larger its values and the less the L2 penalty holds its weight down: with few labels the
/// linear probe then fits rare categories. German credit (61 one-hot and numeric features, 70 labels, 20 label draws):
/// 68.3% test standardized so, 70.6% with the indicators left alone (better in 18 draws); adult (105 features, 800
/// labels, 10 draws): 83.9% and 84.6% (better in all 10). A vector without indicator slots, or of indicators alone (leaving
/// those unscaled moved nothing beyond noise on two such tables, docs/automl.md), is standardized as before.
/// The result is ML.NET's own normalizer, so it saves, loads and converts to ONNX as before (ML.NET's slot selection,
/// the other way to leave slots out, converts to an ONNX graph that returns one row for a batch): it is fitted on the
/// rows with each indicator slot replaced by values of mean 0 and deviation 1, which give that slot offset 0 and scale 1.
/// </summary>
internal sealed class IndicatorKeepingStandardizer : IEstimator<ITransformer>
{
    private readonly MLContext _ml;
    private readonly string _column;
    private readonly bool _fixZero;

    public IndicatorKeepingStandardizer(MLContext ml, string column, bool fixZero)
    {
        _ml = ml;
        _column = column;
        _fixZero = fixZero;
    }

    public ITransformer Fit(IDataView input)
    {
        var plain = _ml.Transforms.NormalizeMeanVariance(_column, fixZero: _fixZero);
        if (input.Schema[_column].Type is not VectorDataViewType { IsKnownSize: true } type || type.ItemType != NumberDataViewType.Single)
            return plain.Fit(input);
        float[][] rows = input.GetColumn<float[]>(_column).ToArray();
        bool[] indicator = Enumerable.Range(0, type.Size).Select(slot => rows.All(r => r[slot] == 0 || r[slot] == 1)).ToArray();
        int indicators = indicator.Count(i => i);
        if (indicators == 0 || indicators == indicator.Length || rows.Length < 2) return plain.Fit(input);

        // Alternating +a and -a (0 in the last of an odd count) have mean 0; a is set from a first fit so that the
        // normalizer's own deviation (or root mean square, with fixZero) of the slot is 1.
        var amplitude = Enumerable.Repeat(1f, type.Size).ToArray();
        ITransformer fitted = plain.Fit(Replaced(rows, indicator, amplitude, type));
        var scale = ((NormalizingTransformer.AffineNormalizerModelParameters<ImmutableArray<float>>)((NormalizingTransformer)fitted).GetNormalizerModelParameters(0)).Scale;
        for (int slot = 0; slot < type.Size; slot++)
            if (indicator[slot]) amplitude[slot] = scale[slot];
        return plain.Fit(Replaced(rows, indicator, amplitude, type));
    }

    public SchemaShape GetOutputSchema(SchemaShape inputSchema) =>
        _ml.Transforms.NormalizeMeanVariance(_column, fixZero: _fixZero).GetOutputSchema(inputSchema);

    private IDataView Replaced(float[][] rows, bool[] indicator, float[] amplitude, VectorDataViewType type)
    {
        int pairs = rows.Length / 2 * 2;
        var schema = SchemaDefinition.Create(typeof(VectorRow));
        schema[0].ColumnName = _column;
        schema[0].ColumnType = type;
        return _ml.Data.LoadFromEnumerable(rows.Select((row, r) => new VectorRow
        {
            Values = row.Select((v, slot) => !indicator[slot] ? v : r >= pairs ? 0f : r % 2 == 0 ? amplitude[slot] : -amplitude[slot]).ToArray(),
        }).ToArray(), schema);
    }

    private sealed class VectorRow
    {
        public float[] Values { get; set; } = [];
    }
}
