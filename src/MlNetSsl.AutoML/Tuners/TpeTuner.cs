namespace MlNetSsl.AutoML;

/// <summary>Options of <see cref="TpeTuner"/>; the defaults follow hyperopt and Optuna.</summary>
public sealed class TpeTunerOptions
{
    /// <summary>Random trials before the model is used (at least 2). Default: 10.</summary>
    public int StartupTrials { get; set; } = 10;

    /// <summary>Candidates drawn from the "good" density per proposal; the one with the largest l(x)/g(x) wins. Default: 24.</summary>
    public int CandidateCount { get; set; } = 24;

    /// <summary>The fraction of observations (best first) that form the "good" group, in (0, 1). Default: 0.25.</summary>
    public double Gamma { get; set; } = 0.25;

    /// <summary>Weight of the uniform prior component in each density, relative to one observation. Default: 1.</summary>
    public double PriorWeight { get; set; } = 1.0;

    internal void Validate()
    {
        if (StartupTrials < 2) throw new ArgumentOutOfRangeException(nameof(StartupTrials), "TPE needs at least 2 startup trials.");
        if (CandidateCount < 1) throw new ArgumentOutOfRangeException(nameof(CandidateCount), "TPE needs at least 1 candidate.");
        if (!(Gamma > 0 && Gamma < 1)) throw new ArgumentOutOfRangeException(nameof(Gamma), "Gamma must be in (0, 1).");
        if (!(PriorWeight > 0)) throw new ArgumentOutOfRangeException(nameof(PriorWeight), "The prior weight must be positive.");
    }

    internal TpeTunerOptions Clone() => (TpeTunerOptions)MemberwiseClone();

    internal string Describe() => $"Tpe(startup={StartupTrials},candidates={CandidateCount},gamma={Gamma:R},prior={PriorWeight:R})";
}

/// <summary>
/// Tree-structured Parzen estimator (Bergstra et al., 2011), univariate as in hyperopt: after
/// <see cref="TpeTunerOptions.StartupTrials"/> random trials, observations are ranked (see the leaderboard order: higher
/// fidelity, then lower loss) and split into the best <see cref="TpeTunerOptions.Gamma"/> fraction ("good", density l)
/// and the rest ("bad", density g). Each unit-cube coordinate gets a Parzen density per group: a mixture of normals
/// truncated to [0, 1] centred on the observations (bandwidth: the larger gap to a neighbour, clipped) plus a broad
/// prior; categorical coordinates get smoothed category frequencies. The tuner draws
/// <see cref="TpeTunerOptions.CandidateCount"/> candidates from l and proposes the one maximizing
/// log l(x) - log g(x) summed over coordinates. Failed trials are not modelled.
/// </summary>
public sealed class TpeTuner : UnitSpaceTuner
{
    private readonly TpeTunerOptions _options;
    private readonly List<(double[] Features, TrialResult Result)> _observations = new();

    /// <summary>Creates the tuner.</summary>
    /// <param name="searchSpace">The space to search.</param>
    /// <param name="seed">The seed of all randomness.</param>
    /// <param name="options">Options; null means the defaults.</param>
    public TpeTuner(SearchSpace searchSpace, int seed, TpeTunerOptions? options = null) : base(searchSpace, seed)
    {
        _options = options ?? new TpeTunerOptions();
        _options.Validate();
    }

    /// <inheritdoc/>
    protected override double[] ProposeFeatures(TrialContext context)
    {
        var ranked = _observations.Where(o => o.Result.Loss.HasValue).ToList();
        if (ranked.Count < _options.StartupTrials || Dimensions.Count == 0) return SampleUniform();
        ranked.Sort((a, b) => TrialRanking.Compare(a.Result, b.Result));
        int goodCount = Math.Clamp((int)Math.Ceiling(_options.Gamma * ranked.Count), 1, ranked.Count - 1);

        var good = new IDensity[Dimensions.Count];
        var bad = new IDensity[Dimensions.Count];
        for (int d = 0; d < Dimensions.Count; d++)
        {
            double[] goodValues = ranked.Take(goodCount).Select(o => o.Features[d]).ToArray();
            double[] badValues = ranked.Skip(goodCount).Select(o => o.Features[d]).ToArray();
            FeatureDimension dimension = Dimensions[d];
            good[d] = dimension.Kind == FeatureKind.Categorical
                ? new CategoricalDensity(goodValues, dimension.Cardinality, _options.PriorWeight)
                : new TruncatedParzenDensity(goodValues, _options.PriorWeight);
            bad[d] = dimension.Kind == FeatureKind.Categorical
                ? new CategoricalDensity(badValues, dimension.Cardinality, _options.PriorWeight)
                : new TruncatedParzenDensity(badValues, _options.PriorWeight);
        }

        double[]? best = null;
        double bestScore = double.NegativeInfinity;
        for (int c = 0; c < _options.CandidateCount; c++)
        {
            var candidate = new double[Dimensions.Count];
            double score = 0;
            for (int d = 0; d < candidate.Length; d++)
            {
                candidate[d] = good[d].Sample(Random);
                score += good[d].LogDensity(candidate[d]) - bad[d].LogDensity(candidate[d]);
            }
            if (best is null || score > bestScore)
            {
                best = candidate;
                bestScore = score;
            }
        }
        return best!;
    }

    /// <inheritdoc/>
    protected override void Observe(double[] features, TrialResult result) => _observations.Add((features, result));

    private interface IDensity
    {
        double Sample(Random random);

        double LogDensity(double x);
    }

    /// <summary>hyperopt's adaptive Parzen estimator on [0, 1]: normals truncated to the interval.</summary>
    private sealed class TruncatedParzenDensity : IDensity
    {
        private const double PriorMean = 0.5;
        private const double PriorSigma = 1.0; // the width of the unit interval, as hyperopt uses (high - low)
        private readonly double[] _means;
        private readonly double[] _sigmas;
        private readonly double[] _weights;
        private readonly double[] _logNormalizers;

        public TruncatedParzenDensity(double[] points, double priorWeight)
        {
            // Sort observations together with the prior; each kernel is as wide as the larger gap to a neighbour
            // (the only gap at either end), clipped between a floor that shrinks with more data and the prior's width.
            var components = points.Select(p => (Mean: p, IsPrior: false)).Append((Mean: PriorMean, IsPrior: true))
                .OrderBy(c => c.Mean).ToArray();
            var means = components.Select(c => c.Mean).ToArray();
            var sigmas = new double[means.Length];
            double minSigma = PriorSigma / Math.Min(100.0, 1.0 + means.Length);
            for (int i = 0; i < means.Length; i++)
            {
                double left = i > 0 ? means[i] - means[i - 1] : 0;
                double right = i < means.Length - 1 ? means[i + 1] - means[i] : 0;
                sigmas[i] = components[i].IsPrior ? PriorSigma : Math.Clamp(Math.Max(left, right), minSigma, PriorSigma);
            }
            var weights = components.Select(c => c.IsPrior ? priorWeight : 1.0).ToArray();
            double total = weights.Sum();
            _means = means;
            _sigmas = sigmas;
            _weights = weights.Select(w => w / total).ToArray();
            _logNormalizers = means.Select((m, i) =>
                Math.Log(Math.Max(TunerMath.NormalCdf((1 - m) / sigmas[i]) - TunerMath.NormalCdf(-m / sigmas[i]), 1e-300))).ToArray();
        }

        public double Sample(Random random)
        {
            int k = PickComponent(random);
            for (int attempt = 0; attempt < 100; attempt++)
            {
                double x = _means[k] + _sigmas[k] * TunerMath.NextGaussian(random);
                if (x >= 0 && x <= 1) return x;
            }
            return Math.Clamp(_means[k], 0, 1); // practically unreachable: every kernel keeps >= 15% of its mass inside
        }

        public double LogDensity(double x)
        {
            double result = double.NegativeInfinity;
            for (int k = 0; k < _means.Length; k++)
            {
                double z = (x - _means[k]) / _sigmas[k];
                double log = Math.Log(_weights[k]) - 0.5 * z * z - Math.Log(_sigmas[k] * Math.Sqrt(2 * Math.PI)) - _logNormalizers[k];
                result = TunerMath.LogAddExp(result, log);
            }
            return result;
        }

        private int PickComponent(Random random)
        {
            double u = random.NextDouble();
            for (int k = 0; k < _weights.Length - 1; k++)
            {
                u -= _weights[k];
                if (u < 0) return k;
            }
            return _weights.Length - 1;
        }
    }

    /// <summary>Smoothed category frequencies; a sample is the centre of the category's bin.</summary>
    private sealed class CategoricalDensity : IDensity
    {
        private readonly double[] _probabilities;

        public CategoricalDensity(double[] points, int cardinality, double priorWeight)
        {
            var counts = Enumerable.Repeat(priorWeight / cardinality, cardinality).ToArray();
            foreach (double x in points) counts[Bin(x, cardinality)] += 1;
            double total = counts.Sum();
            _probabilities = counts.Select(c => c / total).ToArray();
        }

        public double Sample(Random random)
        {
            double u = random.NextDouble();
            int k = 0;
            for (; k < _probabilities.Length - 1; k++)
            {
                u -= _probabilities[k];
                if (u < 0) break;
            }
            return (k + 0.5) / _probabilities.Length;
        }

        public double LogDensity(double x) => Math.Log(_probabilities[Bin(x, _probabilities.Length)]);

        private static int Bin(double x, int cardinality) => Math.Min((int)Math.Floor(Math.Clamp(x, 0, 1) * cardinality), cardinality - 1);
    }
}
