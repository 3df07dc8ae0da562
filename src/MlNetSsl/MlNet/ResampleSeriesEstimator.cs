using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MlNetSsl.MlNet;

namespace MlNetSsl;

/// <summary>The estimator of <see cref="ResampleSeriesCatalog.ResampleSeries(TransformsCatalog, ResampleSeriesOptions)"/>:
/// it learns nothing, so <see cref="Fit"/> only checks the input column.</summary>
public sealed class ResampleSeriesEstimator : IEstimator<ResampleSeriesTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly ResampleSeriesOptions _options;

    internal ResampleSeriesEstimator(IHostEnvironment env, ResampleSeriesOptions options)
    {
        _env = env;
        _options = options;
    }

    /// <summary>The transformer for data with <paramref name="input"/>'s schema.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a vector of Single.</exception>
    public ResampleSeriesTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ResampleSeriesTransformer.CheckInputType(input.Schema, _options.InputColumnName);
        return new ResampleSeriesTransformer(_env, _options);
    }

    /// <summary>The input schema plus the known-size output vector.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        if (!inputSchema.TryFindColumn(_options.InputColumnName, out var input))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Input column '{_options.InputColumnName}' not found in the data. " +
                ColumnsPresent.In(inputSchema));
        if (input.Kind == SchemaShape.Column.VectorKind.Scalar || input.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(inputSchema),
                $"Schema mismatch for input column '{_options.InputColumnName}': expected a vector of Single, got {input.ItemType}.");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[_options.OutputColumnName] = new SchemaShape.Column(_options.OutputColumnName, SchemaShape.Column.VectorKind.Vector,
            NumberDataViewType.Single, isKey: false);
        return new SchemaShape(columns.Values);
    }
}
