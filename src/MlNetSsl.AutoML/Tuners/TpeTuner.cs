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

    /// <summary>
    /// Model the coordinates jointly (product kernels around each observation, as in BOHB and Optuna's multivariate
    /// TPE) rather than independently (hyperopt). Joint modelling lets a choice that only looked bad because of the
    /// other values it was tried with come back when tried with good ones; independent modelling can lock onto the first
    /// choice that scored well. Default: true.
    /// </summary>
    public bool Multivariate { get; set; } = true;

    /// <summary>
    /// How strongly a candidate's expected cost lowers its score (cost-aware search, as FLAML's CFO and BlendSearch weigh
    /// improvement against cost): the score becomes log l(x) - log g(x) - CostWeight * (log c(x) - median log cost), where
    /// c(x) is the duration the observed trials near x took (a kernel-weighted mean of their log durations, with the
    /// median as a prior). 0 is plain TPE; 1 ranks by improvement per second. At least 0. Default: 0.
    /// </summary>
    public double CostWeight { get; set; }

    internal void Validate()
    {
        if (StartupTrials < 2) throw new ArgumentOutOfRangeException(nameof(StartupTrials), "TPE needs at least 2 startup trials.");
        if (CandidateCount < 1) throw new ArgumentOutOfRangeException(nameof(CandidateCount), "TPE needs at least 1 candidate.");
        if (!(Gamma > 0 && Gamma < 1)) throw new ArgumentOutOfRangeException(nameof(Gamma), "Gamma must be in (0, 1).");
        if (!(PriorWeight > 0)) throw new ArgumentOutOfRangeException(nameof(PriorWeight), "The prior weight must be positive.");
        if (!(CostWeight >= 0) || double.IsInfinity(CostWeight)) throw new ArgumentOutOfRangeException(nameof(CostWeight), "The cost weight must be a finite number >= 0.");
    }

    internal TpeTunerOptions Clone() => (TpeTunerOptions)MemberwiseClone();

    internal string Describe() =>
        $"Tpe(startup={StartupTrials},candidates={CandidateCount},gamma={Gamma:R},prior={PriorWeight:R},multivariate={Multivariate}" + (CostWeight > 0 ? $",cost={CostWeight:R})" : ")");
}

/// <summary>
/// Tree-structured Parzen estimator (Bergstra et al., 2011). After <see cref="TpeTunerOptions.StartupTrials"/> random
/// trials, observations are ranked (the leaderboard order: higher fidelity, then lower loss) and split into the best
/// <see cref="TpeTunerOptions.Gamma"/> fraction ("good", density l) and the rest ("bad", density g); the tuner draws
/// <see cref="TpeTunerOptions.CandidateCount"/> candidates from l and proposes the one maximizing log l(x) - log g(x).
/// Densities live in the unit cube and include a broad prior component. Multivariate (default): a mixture of product
/// kernels, one per observation: normals truncated to [0, 1] with Optuna's bandwidth 0.2 * n^(-1/(d+4)) for numeric
/// coordinates, and for choices the observed category plus a smoothing mass of prior/(n+1) on every category.
/// Univariate: hyperopt's estimator per coordinate (bandwidth: the larger gap to a neighbouring observation, clipped)
/// and smoothed category frequencies, scores summed over coordinates. Failed trials are not modelled.
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

        double[][] goodPoints = ranked.Take(goodCount).Select(o => o.Features).ToArray();
        double[][] badPoints = ranked.Skip(goodCount).Select(o => o.Features).ToArray();
        IDensity good = _options.Multivariate ? new JointDensity(goodPoints, Dimensions, _options.PriorWeight) : new IndependentDensity(goodPoints, Dimensions, _options.PriorWeight);
        IDensity bad = _options.Multivariate ? new JointDensity(badPoints, Dimensions, _options.PriorWeight) : new IndependentDensity(badPoints, Dimensions, _options.PriorWeight);

        CostModel? cost = _options.CostWeight > 0 ? CostModel.Fit(_observations, Dimensions) : null;
        double[]? best = null;
        double bestScore = double.NegativeInfinity;
        for (int c = 0; c < _options.CandidateCount; c++)
        {
            double[] candidate = good.Sample(Random);
            double score = good.LogDensity(candidate) - bad.LogDensity(candidate);
            if (cost is not null) score -= _options.CostWeight * cost.RelativeLogCost(candidate);
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

    /// <summary>
    /// The expected log duration of a configuration: a Nadaraya-Watson mean of the observed trials' log durations with
    /// product kernels (normal on numeric coordinates, a category's own trials weighted 1 and the others 0.1), plus a
    /// pseudo-observation at the median so that a point far from every trial is predicted to cost the median.
    /// </summary>
    private sealed class CostModel
    {
        private const double Bandwidth = 0.15;
        private const double OtherCategoryWeight = 0.1;
        private readonly (double[] Features, double LogSeconds)[] _points;
        private readonly IReadOnlyList<FeatureDimension> _dimensions;
        private readonly double _medianLogSeconds;

        private CostModel((double[], double)[] points, IReadOnlyList<FeatureDimension> dimensions, double medianLogSeconds)
        {
            _points = points;
            _dimensions = dimensions;
            _medianLogSeconds = medianLogSeconds;
        }

        public static CostModel? Fit(List<(double[] Features, TrialResult Result)> observations, IReadOnlyList<FeatureDimension> dimensions)
        {
            // Every trial that ran costs, failed ones included; a trial that took no measurable time, or was not started,
            // carries no cost signal.
            var points = observations.Where(o => o.Result.Duration > TimeSpan.Zero && o.Result.Status != TrialStatus.NotStarted)
                .Select(o => (o.Features, Math.Log(o.Result.Duration.TotalSeconds))).ToArray();
            if (points.Length < 2) return null;
            double[] sorted = points.Select(p => p.Item2).Order().ToArray();
            return new CostModel(points, dimensions, sorted[sorted.Length / 2]);
        }

        /// <summary>log c(x) minus the median log duration: positive for configurations expected to cost more than usual.</summary>
        public double RelativeLogCost(double[] x)
        {
            double weightSum = 1, weighted = _medianLogSeconds;
            foreach ((double[] features, double logSeconds) in _points)
            {
                double weight = 1;
                for (int d = 0; d < x.Length; d++)
                {
                    FeatureDimension dimension = _dimensions[d];
                    if (dimension.Kind == FeatureKind.Categorical)
                    {
                        if (Bin(x[d], dimension.Cardinality) != Bin(features[d], dimension.Cardinality)) weight *= OtherCategoryWeight;
                    }
                    else
                    {
                        double z = (x[d] - features[d]) / Bandwidth;
                        weight *= Math.Exp(-0.5 * z * z);
                    }
                }
                weightSum += weight;
                weighted += weight * logSeconds;
            }
            return weighted / weightSum - _medianLogSeconds;
        }
    }

    /// <summary>A density over the unit cube.</summary>
    private interface IDensity
    {
        double[] Sample(Random random);

        double LogDensity(double[] x);
    }

    /// <summary>A density over one coordinate.</summary>
    private interface ICoordinateDensity
    {
        double Sample(Random random);

        double LogDensity(double x);
    }

    /// <summary>Independent coordinates (hyperopt): the product of per-coordinate Parzen estimators.</summary>
    private sealed class IndependentDensity : IDensity
    {
        private readonly ICoordinateDensity[] _coordinates;

        public IndependentDensity(double[][] points, IReadOnlyList<FeatureDimension> dimensions, double priorWeight) =>
            _coordinates = dimensions.Select((dimension, d) => dimension.Kind == FeatureKind.Categorical
                ? (ICoordinateDensity)new CategoricalDensity(points.Select(p => p[d]).ToArray(), dimension.Cardinality, priorWeight)
                : new TruncatedParzenDensity(points.Select(p => p[d]).ToArray(), priorWeight)).ToArray();

        public double[] Sample(Random random) => _coordinates.Select(c => c.Sample(random)).ToArray();

        public double LogDensity(double[] x) => _coordinates.Select((c, d) => c.LogDensity(x[d])).Sum();
    }

    /// <summary>
    /// Joint mixture (BOHB, Optuna multivariate): one product kernel per observation plus a prior component, so the
    /// density of a point depends on all its coordinates together.
    /// </summary>
    private sealed class JointDensity : IDensity
    {
        private const double PriorMean = 0.5;
        private const double PriorSigma = 1.0;
        private readonly double[][] _points;
        private readonly IReadOnlyList<FeatureDimension> _dimensions;
        private readonly double[] _logWeights;
        private readonly double _sigma;
        private readonly double _logNormalOfSigma;
        private readonly double _categorySmoothing;

        public JointDensity(double[][] points, IReadOnlyList<FeatureDimension> dimensions, double priorWeight)
        {
            _points = points;
            _dimensions = dimensions;
            double total = points.Length + priorWeight;
            _logWeights = points.Select(_ => Math.Log(1 / total)).Append(Math.Log(priorWeight / total)).ToArray();
            // Optuna's multivariate bandwidth (Scott-like): shrinks slowly with more observations and more coordinates.
            _sigma = Math.Clamp(0.2 * Math.Pow(Math.Max(points.Length, 1), -1.0 / (dimensions.Count + 4)), 0.01, PriorSigma);
            _logNormalOfSigma = Math.Log(_sigma * Math.Sqrt(2 * Math.PI));
            // An observation's category kernel: p(k) = ([k is its category] + e) / (1 + K e) with e = prior/(n+1) (Optuna).
            _categorySmoothing = priorWeight / (points.Length + 1);
        }

        public double[] Sample(Random random)
        {
            int component = PickComponent(random);
            var x = new double[_dimensions.Count];
            for (int d = 0; d < x.Length; d++)
            {
                FeatureDimension dimension = _dimensions[d];
                if (component == _points.Length)
                {
                    x[d] = dimension.Kind == FeatureKind.Categorical ? (random.Next(dimension.Cardinality) + 0.5) / dimension.Cardinality
                        : SampleTruncatedNormal(random, PriorMean, PriorSigma);
                }
                else if (dimension.Kind == FeatureKind.Categorical)
                {
                    int own = Bin(_points[component][d], dimension.Cardinality);
                    double u = random.NextDouble() * (1 + dimension.Cardinality * _categorySmoothing);
                    int category = u < 1 ? own : Math.Min((int)((u - 1) / _categorySmoothing), dimension.Cardinality - 1);
                    x[d] = (category + 0.5) / dimension.Cardinality;
                }
                else
                {
                    x[d] = SampleTruncatedNormal(random, _points[component][d], _sigma);
                }
            }
            return x;
        }

        public double LogDensity(double[] x)
        {
            double result = double.NegativeInfinity;
            for (int component = 0; component <= _points.Length; component++)
            {
                double log = _logWeights[component];
                for (int d = 0; d < x.Length; d++)
                {
                    FeatureDimension dimension = _dimensions[d];
                    if (component == _points.Length)
                    {
                        log += dimension.Kind == FeatureKind.Categorical ? -Math.Log(dimension.Cardinality)
                            : LogTruncatedNormal(x[d], PriorMean, PriorSigma, Math.Log(PriorSigma * Math.Sqrt(2 * Math.PI)));
                    }
                    else if (dimension.Kind == FeatureKind.Categorical)
                    {
                        bool same = Bin(x[d], dimension.Cardinality) == Bin(_points[component][d], dimension.Cardinality);
                        log += Math.Log(((same ? 1 : 0) + _categorySmoothing) / (1 + dimension.Cardinality * _categorySmoothing));
                    }
                    else
                    {
                        log += LogTruncatedNormal(x[d], _points[component][d], _sigma, _logNormalOfSigma);
                    }
                }
                result = TunerMath.LogAddExp(result, log);
            }
            return result;
        }

        private int PickComponent(Random random)
        {
            double u = random.NextDouble();
            for (int k = 0; k < _logWeights.Length - 1; k++)
            {
                u -= Math.Exp(_logWeights[k]);
                if (u < 0) return k;
            }
            return _logWeights.Length - 1;
        }

        private static double LogTruncatedNormal(double x, double mean, double sigma, double logNormalOfSigma)
        {
            double z = (x - mean) / sigma;
            double inside = TunerMath.NormalCdf((1 - mean) / sigma) - TunerMath.NormalCdf(-mean / sigma);
            return -0.5 * z * z - logNormalOfSigma - Math.Log(Math.Max(inside, 1e-300));
        }
    }

    private static double SampleTruncatedNormal(Random random, double mean, double sigma)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            double x = mean + sigma * TunerMath.NextGaussian(random);
            if (x >= 0 && x <= 1) return x;
        }
        return Math.Clamp(mean, 0, 1); // practically unreachable: every kernel keeps >= 15% of its mass inside [0, 1]
    }

    private static int Bin(double x, int cardinality) => Math.Min((int)Math.Floor(Math.Clamp(x, 0, 1) * cardinality), cardinality - 1);

    /// <summary>hyperopt's adaptive Parzen estimator on [0, 1]: normals truncated to the interval.</summary>
    private sealed class TruncatedParzenDensity : ICoordinateDensity
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
            return SampleTruncatedNormal(random, _means[k], _sigmas[k]);
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
    private sealed class CategoricalDensity : ICoordinateDensity
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
    }
}
