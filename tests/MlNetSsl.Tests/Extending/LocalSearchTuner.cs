// A tuner written outside the library: it tries the space's default configuration, then small random steps around
// the best configuration so far, in the unit cube every search space maps to. docs/extending.md shows this file;
// ExtensionPointTests run it in a self-supervised experiment.
using MlNetSsl;  // the library (this file also compiles outside the MlNetSsl namespace)
using MlNetSsl.AutoML;

namespace MlNetSsl.Tests.Extending;

/// <summary>A local search: the default first, then Gaussian steps (standard deviation <see cref="StepSize"/>) from the best point.</summary>
public sealed class LocalSearchTuner : ITuner
{
    private readonly SearchSpace _space;
    private readonly Random _random;
    private double[]? _best;
    private double _bestLoss = double.PositiveInfinity;

    /// <summary>Creates the tuner; deterministic given <paramref name="seed"/> and the calls it receives.</summary>
    public LocalSearchTuner(SearchSpace space, int seed)
    {
        _space = space;
        _random = new Random(seed);
    }

    /// <summary>Step size in the unit cube. Default 0.15.</summary>
    public double StepSize { get; init; } = 0.15;

    /// <summary>How many results the tuner has been told about.</summary>
    public int Updates { get; private set; }

    /// <inheritdoc />
    public Parameters? Propose(TrialContext context)
    {
        if (_best is null) return _space.Default;
        double[] point = _best.Select(x => Math.Clamp(x + StepSize * Gaussian(), 0, 1)).ToArray();
        return _space.SampleFromFeatureSpace(point);
    }

    /// <inheritdoc />
    public void Update(TrialResult result)
    {
        Updates++;
        if (result.Loss is { } loss && loss < _bestLoss)
        {
            _bestLoss = loss;
            _best = _space.MapToFeatureSpace(result.Parameters);
        }
        else
        {
            _best ??= _space.MapToFeatureSpace(result.Parameters);
        }
    }

    private double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble());
}
