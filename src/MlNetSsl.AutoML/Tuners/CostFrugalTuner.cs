namespace MlNetSsl.AutoML;

/// <summary>Options of <see cref="CostFrugalTuner"/>.</summary>
public sealed class CostFrugalTunerOptions
{
    /// <summary>
    /// The low-cost starting point (FLAML's <c>low_cost_partial_config</c>): values for the options that drive cost
    /// (few epochs, a small encoder), the others taken from the space's defaults. Default: null, meaning the space's
    /// defaults.
    /// </summary>
    public Parameters? InitialPoint { get; set; }

    /// <summary>The initial step in the unit cube, as a multiple of sqrt(d). Default: 0.1 (FLAML's value).</summary>
    public double InitialStepSize { get; set; } = 0.1;

    /// <summary>Below this step (also a multiple of sqrt(d)) the local search has converged and restarts from a random
    /// point. Default: 0.001.</summary>
    public double MinimumStepSize { get; set; } = 0.001;

    /// <summary>The factor applied to the step after too many probes without improvement. Default: 0.5.</summary>
    public double StepReduction { get; set; } = 0.5;

    internal void Validate()
    {
        if (!(InitialStepSize > 0)) throw new ArgumentOutOfRangeException(nameof(InitialStepSize), "The initial step must be positive.");
        if (!(MinimumStepSize > 0 && MinimumStepSize < InitialStepSize))
            throw new ArgumentOutOfRangeException(nameof(MinimumStepSize), "The minimum step must be positive and below the initial step.");
        if (!(StepReduction > 0 && StepReduction < 1)) throw new ArgumentOutOfRangeException(nameof(StepReduction), "The step reduction must be in (0, 1).");
    }

    internal CostFrugalTunerOptions Clone() => (CostFrugalTunerOptions)MemberwiseClone();

    internal string Describe() =>
        $"CostFrugal(init={InitialPoint?.ToJson() ?? "default"},step={InitialStepSize:R},minStep={MinimumStepSize:R},reduction={StepReduction:R})";
}

/// <summary>
/// Cost-frugal optimization in the style of FLAML's CFO (Wu et al., 2021): a randomized direct search (FLOW2) that
/// starts at a low-cost point and moves only when a probe improves, so expensive regions (many epochs, big encoders)
/// are reached only if cheaper ones stop paying off. Each step draws a random unit direction u and probes
/// x + s*u, then x - s*u; the incumbent moves to the first probe that improves. After 2^min(d, 9) probes without
/// improvement (FLAML's count) the step s shrinks by <see cref="CostFrugalTunerOptions.StepReduction"/>; below
/// <see cref="CostFrugalTunerOptions.MinimumStepSize"/> the search has converged and restarts from a uniformly random
/// point. Choices are unordered, so a probe switches a choice to any other one alike, with probability
/// min(1, |s * u_i| * choices) (our adaptation; numeric and integer options move along their coordinate). Pruned and
/// failed trials count as no improvement. When asked for more trials than its sequential probing
/// has results for (Hyperband fills a rung before reporting), the extra proposals are random directions around the
/// incumbent.
/// </summary>
public sealed class CostFrugalTuner : UnitSpaceTuner
{
    private enum Probe { Start, Plus, Minus }

    private readonly CostFrugalTunerOptions _options;
    private readonly double _initialStep;
    private readonly double _minimumStep;
    private readonly int _probesBeforeShrink;
    private readonly double[] _initialPoint;

    private double[]? _incumbent;
    private double _incumbentLoss = double.PositiveInfinity;
    private double _step;
    private double[] _direction = [];
    private Probe _nextProbe = Probe.Start;
    private (int TrialId, Probe Kind)? _outstanding;
    private int _probesWithoutImprovement;

    /// <summary>Creates the tuner.</summary>
    /// <param name="searchSpace">The space to search.</param>
    /// <param name="seed">The seed of all randomness.</param>
    /// <param name="options">Options; null means the defaults.</param>
    public CostFrugalTuner(SearchSpace searchSpace, int seed, CostFrugalTunerOptions? options = null) : base(searchSpace, seed)
    {
        _options = options ?? new CostFrugalTunerOptions();
        _options.Validate();
        double scale = Math.Sqrt(Math.Max(1, Dimensions.Count));
        _initialStep = _options.InitialStepSize * scale;
        _minimumStep = _options.MinimumStepSize * scale;
        _step = _initialStep;
        _probesBeforeShrink = 1 << Math.Min(Math.Max(Dimensions.Count, 1), 9);
        Parameters start = _options.InitialPoint is null ? SearchSpace.Default : SearchSpace.WithDefaults(_options.InitialPoint);
        _initialPoint = SearchSpace.MapToFeatureSpace(start);
    }

    /// <summary>How many times the local search has converged and restarted from a random point.</summary>
    public int Restarts { get; private set; }

    /// <summary>The current step size in the unit cube.</summary>
    public double StepSize => _step;

    /// <inheritdoc/>
    protected override double[] ProposeFeatures(TrialContext context)
    {
        if (_outstanding is not null)
            return _incumbent is null ? SampleUniform() : Move(_incumbent, RandomDirection(), _step);

        double[] point;
        switch (_nextProbe)
        {
            case Probe.Start:
                point = Restarts == 0 ? (double[])_initialPoint.Clone() : SampleUniform();
                break;
            case Probe.Plus:
                point = ProbeAlongNewDirection();
                break;
            default:
                point = Move(_incumbent!, _direction, -_step);
                break;
        }
        _outstanding = (context.TrialId, _nextProbe);
        return point;
    }

    /// <inheritdoc/>
    protected override void Observe(double[] features, TrialResult result)
    {
        // Only a completed trial's loss is comparable with the incumbent's; pruned or failed ones are no improvement.
        double loss = result.Status == TrialStatus.Completed && result.Loss is double l ? l : double.PositiveInfinity;
        bool improved = loss < _incumbentLoss;
        if (_outstanding is not { } probe || probe.TrialId != result.TrialId)
        {
            // An extra proposal: it can move the incumbent but does not advance the probing sequence.
            if (improved) MoveIncumbent(features, loss);
            return;
        }

        _outstanding = null;
        Advance(probe.Kind, features, loss, improved);
    }

    /// <inheritdoc/>
    protected override void OnWithdrawn(int trialId, double[] features)
    {
        // The probe repeats a configuration that already ran: count it as no improvement, so the next proposal is the
        // next probe of the sequence (the opposite direction, a new direction, or a new start) instead of an extra one.
        if (_outstanding is not { } probe || probe.TrialId != trialId) return;
        _outstanding = null;
        Advance(probe.Kind, features, double.PositiveInfinity, improved: false);
    }

    private void Advance(Probe kind, double[] features, double loss, bool improved)
    {
        switch (kind)
        {
            case Probe.Start:
                // A (re)start point becomes the incumbent even if an earlier region was better: the local search begins here.
                _incumbent = features;
                _incumbentLoss = loss;
                _probesWithoutImprovement = 0;
                _nextProbe = double.IsPositiveInfinity(loss) ? Probe.Start : Probe.Plus;
                if (_nextProbe == Probe.Start) Restarts++;
                break;
            case Probe.Plus when improved:
            case Probe.Minus when improved:
                MoveIncumbent(features, loss);
                _nextProbe = Probe.Plus;
                break;
            case Probe.Plus:
                _probesWithoutImprovement++;
                _nextProbe = Probe.Minus;
                break;
            default:
                _probesWithoutImprovement++;
                _nextProbe = Probe.Plus;
                break;
        }

        if (_probesWithoutImprovement >= _probesBeforeShrink)
        {
            _probesWithoutImprovement = 0;
            _step *= _options.StepReduction;
            if (_step < _minimumStep)
            {
                _step = _initialStep;
                _nextProbe = Probe.Start;
                Restarts++;
            }
        }
    }

    private void MoveIncumbent(double[] features, double loss)
    {
        _incumbent = features;
        _incumbentLoss = loss;
        _probesWithoutImprovement = 0;
    }

    private double[] ProbeAlongNewDirection()
    {
        // A direction whose probe rounds back to the incumbent's configuration (small steps on integer or choice
        // options) would waste a trial; try a few others first.
        Parameters incumbentConfiguration = SearchSpace.SampleFromFeatureSpace(_incumbent!);
        double[] point = [];
        for (int attempt = 0; attempt < 16; attempt++)
        {
            _direction = RandomDirection();
            point = Move(_incumbent!, _direction, _step);
            if (!SearchSpace.SampleFromFeatureSpace(point).Equals(incumbentConfiguration)) break;
        }
        return point;
    }

    private double[] RandomDirection()
    {
        var direction = new double[Dimensions.Count];
        double norm = 0;
        while (norm < 1e-12)
        {
            norm = 0;
            for (int i = 0; i < direction.Length; i++)
            {
                direction[i] = TunerMath.NextGaussian(Random);
                norm += direction[i] * direction[i];
            }
            if (direction.Length == 0) return direction;
            norm = Math.Sqrt(norm);
        }
        for (int i = 0; i < direction.Length; i++) direction[i] /= norm;
        return direction;
    }

    private double[] Move(double[] from, double[] direction, double step)
    {
        var point = new double[from.Length];
        for (int i = 0; i < point.Length; i++)
        {
            FeatureDimension dimension = Dimensions[i];
            if (dimension.Kind != FeatureKind.Categorical || dimension.Cardinality < 2)
            {
                point[i] = Math.Clamp(from[i] + step * direction[i], 0.0, 1.0);
                continue;
            }
            // Choices have no order, so moving along their coordinate would favour neighbours in the list: instead a
            // step switches to any other choice alike, with a probability that grows with the bins the step would span.
            int cardinality = dimension.Cardinality;
            int current = Math.Min((int)(from[i] * cardinality), cardinality - 1);
            if (Random.NextDouble() < Math.Min(1.0, Math.Abs(step * direction[i]) * cardinality))
            {
                int other = Random.Next(cardinality - 1);
                if (other >= current) other++;
                point[i] = (other + 0.5) / cardinality;
            }
            else
            {
                point[i] = from[i];
            }
        }
        return point;
    }
}
