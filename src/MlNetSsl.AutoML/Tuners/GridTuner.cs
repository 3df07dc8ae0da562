namespace MlNetSsl.AutoML;

/// <summary>Options of <see cref="GridTuner"/>.</summary>
public sealed class GridTunerOptions
{
    /// <summary>Values per numeric option, both ends included (1 means only the default). Integer options use all their
    /// values when they have at most this many; choices always use every choice. Default: 5.</summary>
    public int DefaultSteps { get; set; } = 5;

    /// <summary>Per-option step counts that override <see cref="DefaultSteps"/>, keyed by option path
    /// (<c>trainer.l2</c> for nested options). Default: empty.</summary>
    public IDictionary<string, int> Steps { get; } = new Dictionary<string, int>(StringComparer.Ordinal);

    internal GridTunerOptions Clone()
    {
        var copy = new GridTunerOptions { DefaultSteps = DefaultSteps };
        foreach (var (path, steps) in Steps) copy.Steps[path] = steps;
        return copy;
    }

    internal string Describe() =>
        $"Grid(steps={DefaultSteps}{string.Concat(Steps.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $",{s.Key}={s.Value}"))})";
}

/// <summary>
/// Visits the Cartesian product of per-option grids in a fixed order (the last option varies fastest), then reports
/// exhaustion. Numeric options get evenly spaced points of their (log) scale, integer options evenly spaced values,
/// choices every value. Results are ignored, so the grid is deterministic without a seed.
/// </summary>
public sealed class GridTuner : UnitSpaceTuner
{
    private readonly double[][] _axes;
    private long _next;

    /// <summary>Creates the tuner.</summary>
    /// <param name="searchSpace">The space to search.</param>
    /// <param name="options">Steps per option; null means the defaults.</param>
    public GridTuner(SearchSpace searchSpace, GridTunerOptions? options = null) : base(searchSpace, seed: 0)
    {
        options ??= new GridTunerOptions();
        if (options.DefaultSteps < 1) throw new ArgumentOutOfRangeException(nameof(options), "Grid steps must be at least 1.");
        foreach (var (path, steps) in options.Steps)
        {
            if (steps < 1) throw new ArgumentOutOfRangeException(nameof(options), $"Grid steps for '{path}' must be at least 1.");
            if (!Dimensions.Any(d => d.Path == path)) throw new ArgumentException($"Grid steps name '{path}', which is not an option of the space.", nameof(options));
        }
        var axes = new List<double[]>();
        SearchSpace.CollectGridAxes(string.Empty, path => options.Steps.TryGetValue(path, out int s) ? s : options.DefaultSteps, axes);
        _axes = axes.ToArray();
        long total = 1;
        foreach (double[] axis in _axes) total = total > long.MaxValue / axis.Length ? long.MaxValue : total * axis.Length;
        PointCount = total;
    }

    /// <summary>The number of grid points (saturates at <see cref="long.MaxValue"/>).</summary>
    public long PointCount { get; }

    /// <inheritdoc/>
    protected override double[]? ProposeFeatures(TrialContext context)
    {
        if (_next >= PointCount) return null;
        long index = _next++;
        var features = new double[_axes.Length];
        // Odometer decoding: the last axis turns fastest.
        for (int d = _axes.Length - 1; d >= 0; d--)
        {
            features[d] = _axes[d][index % _axes[d].Length];
            index /= _axes[d].Length;
        }
        return features;
    }

    /// <inheritdoc/>
    protected override void Observe(double[] features, TrialResult result)
    {
        // A grid ignores results.
    }
}
