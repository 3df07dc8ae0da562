namespace MlNetSsl.AutoML;

/// <summary>
/// Base class for tuners that work in the unit cube [0, 1]^d of a <see cref="SearchSpace"/>: a subclass proposes
/// points and observes (point, result) pairs; this class turns points into configurations and remembers which point
/// each trial came from (a discrete option maps many points to one configuration, and local search needs the point).
/// Randomness comes from one <see cref="System.Random"/> seeded at construction.
/// </summary>
public abstract class UnitSpaceTuner : ITuner
{
    private readonly Dictionary<int, double[]> _proposedFeatures = new();

    /// <summary>Creates the tuner.</summary>
    /// <param name="searchSpace">The space to search; a snapshot is taken, so later edits do not affect the tuner.</param>
    /// <param name="seed">The seed of all the tuner's randomness.</param>
    protected UnitSpaceTuner(SearchSpace searchSpace, int seed)
    {
        ArgumentNullException.ThrowIfNull(searchSpace);
        SearchSpace = searchSpace.Clone();
        Dimensions = SearchSpace.FeatureDimensions;
        Random = new Random(seed);
    }

    /// <summary>The space being searched.</summary>
    protected SearchSpace SearchSpace { get; }

    /// <summary>The unit-cube coordinates (<see cref="FeatureDimension"/>s) of <see cref="SearchSpace"/>.</summary>
    protected IReadOnlyList<FeatureDimension> Dimensions { get; }

    /// <summary>The tuner's random source.</summary>
    protected Random Random { get; }

    /// <inheritdoc/>
    public Parameters? Propose(TrialContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        double[]? features = ProposeFeatures(context);
        if (features is null) return null;
        if (features.Length != Dimensions.Count)
            throw new InvalidOperationException($"{GetType().Name} proposed {features.Length} coordinates for a space with {Dimensions.Count}.");
        for (int i = 0; i < features.Length; i++)
        {
            if (!double.IsFinite(features[i])) throw new InvalidOperationException($"{GetType().Name} proposed a non-finite coordinate.");
            features[i] = Math.Clamp(features[i], 0.0, 1.0);
        }
        _proposedFeatures[context.TrialId] = features;
        return SearchSpace.SampleFromFeatureSpace(features);
    }

    /// <inheritdoc/>
    public void Update(TrialResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        // A trial this tuner did not propose (for example one given by the user) is observed at its bins' centres.
        double[] features = _proposedFeatures.Remove(result.TrialId, out double[]? proposed) ? proposed
            : SearchSpace.MapToFeatureSpace(result.Parameters);
        Observe(features, result);
    }

    /// <inheritdoc/>
    public void Withdraw(int trialId)
    {
        if (_proposedFeatures.Remove(trialId, out double[]? features)) OnWithdrawn(trialId, features);
    }

    /// <summary>Called when the proposal for <paramref name="trialId"/>, made at <paramref name="features"/>, will not run
    /// (it repeats a configuration that already ran). A tuner that waits for the result of a proposal must stop waiting
    /// here. The default does nothing.</summary>
    protected virtual void OnWithdrawn(int trialId, double[] features)
    {
    }

    /// <summary>The next point of the unit cube, or null when there is nothing left to propose.</summary>
    protected abstract double[]? ProposeFeatures(TrialContext context);

    /// <summary>Learns from a finished trial proposed at <paramref name="features"/>.</summary>
    protected abstract void Observe(double[] features, TrialResult result);

    /// <summary>A point drawn uniformly from the unit cube.</summary>
    protected double[] SampleUniform()
    {
        var features = new double[Dimensions.Count];
        for (int i = 0; i < features.Length; i++) features[i] = Random.NextDouble();
        return features;
    }
}

/// <summary>Proposes points drawn uniformly from the unit cube (log ranges are therefore sampled log-uniformly).</summary>
public sealed class RandomTuner : UnitSpaceTuner
{
    /// <summary>Creates the tuner.</summary>
    public RandomTuner(SearchSpace searchSpace, int seed) : base(searchSpace, seed)
    {
    }

    /// <inheritdoc/>
    protected override double[] ProposeFeatures(TrialContext context) => SampleUniform();

    /// <inheritdoc/>
    protected override void Observe(double[] features, TrialResult result)
    {
        // Random search ignores results.
    }
}

/// <summary>Numerics shared by the tuners.</summary>
internal static class TunerMath
{
    /// <summary>A standard normal draw (Box-Muller), from <paramref name="random"/> only.</summary>
    public static double NextGaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble(); // in (0, 1], so the logarithm is finite
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>The standard normal cumulative distribution function.</summary>
    public static double NormalCdf(double z) => 0.5 * Erfc(-z / Math.Sqrt(2.0));

    /// <summary>The complementary error function (Chebyshev fit, fractional error below 1.2e-7 everywhere).</summary>
    public static double Erfc(double x)
    {
        double z = Math.Abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2.0 - r;
    }

    /// <summary>log(exp(a) + exp(b)) without overflow.</summary>
    public static double LogAddExp(double a, double b)
    {
        if (double.IsNegativeInfinity(a)) return b;
        if (double.IsNegativeInfinity(b)) return a;
        double max = Math.Max(a, b);
        return max + Math.Log(Math.Exp(a - max) + Math.Exp(b - max));
    }
}
