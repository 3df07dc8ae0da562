namespace MlNetSsl.AutoML;

/// <summary>
/// Which tuner an experiment uses: a recipe rather than an instance, because a resumed experiment builds a fresh
/// tuner and replays its journal into it. Pick one of <see cref="Random"/>, <see cref="Grid"/>, <see cref="Tpe"/>,
/// <see cref="CostFrugal"/>, configure one with <c>FromOptions</c>, or plug in your own with <see cref="Custom"/>.
/// </summary>
public sealed class SslTuner
{
    private readonly Func<SearchSpace, int, ITuner> _create;

    private SslTuner(string name, Func<SearchSpace, int, ITuner> create)
    {
        Name = name;
        _create = create;
    }

    /// <summary>Uniform random search.</summary>
    public static SslTuner Random { get; } = new("Random", (space, seed) => new RandomTuner(space, seed));

    /// <summary>Grid search with 5 values per numeric option.</summary>
    public static SslTuner Grid { get; } = FromOptions(new GridTunerOptions());

    /// <summary>Tree-structured Parzen estimator with default options (10 random trials first).</summary>
    public static SslTuner Tpe { get; } = FromOptions(new TpeTunerOptions());

    /// <summary>Cost-frugal local search (FLAML CFO style) from the space's defaults.</summary>
    public static SslTuner CostFrugal { get; } = FromOptions(new CostFrugalTunerOptions());

    /// <summary>Grid search with the given steps.</summary>
    public static SslTuner FromOptions(GridTunerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        GridTunerOptions copy = options.Clone(); // later edits to the caller's object must not change this recipe
        return new SslTuner(copy.Describe(), (space, _) => new GridTuner(space, copy));
    }

    /// <summary>TPE with the given options.</summary>
    public static SslTuner FromOptions(TpeTunerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        TpeTunerOptions copy = options.Clone();
        copy.Validate();
        return new SslTuner(copy.Describe(), (space, seed) => new TpeTuner(space, seed, copy));
    }

    /// <summary>Cost-frugal search with the given options (for example a low-cost <see cref="CostFrugalTunerOptions.InitialPoint"/>).</summary>
    public static SslTuner FromOptions(CostFrugalTunerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        CostFrugalTunerOptions copy = options.Clone();
        copy.Validate();
        return new SslTuner(copy.Describe(), (space, seed) => new CostFrugalTuner(space, seed, copy));
    }

    /// <summary>A tuner of your own. It must be deterministic given the seed and the calls it receives, or a resumed
    /// experiment will refuse its journal.</summary>
    /// <param name="name">A name that changes whenever the tuner's behaviour does; it is part of the checkpoint's identity.</param>
    /// <param name="create">Creates the tuner for a search space and seed.</param>
    public static SslTuner Custom(string name, Func<SearchSpace, int, ITuner> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        return new SslTuner($"Custom({name})", create);
    }

    /// <summary>
    /// This tuner, except that the first trial is the search space's default configuration (as ML.NET AutoML and FLAML
    /// evaluate a default point first), so the search never ends below the untuned defaults on its own metric; the inner
    /// tuner learns from that trial like from its own. Useful for <see cref="Random"/> and <see cref="Tpe"/>;
    /// <see cref="CostFrugal"/> already starts there. <c>ml.SelfSupervisedExperiment()</c> instead runs a portfolio of baselines
    /// that ends with the default configuration, then TPE, unless told otherwise (<see cref="SslExperiment.SetPortfolio"/>).
    /// </summary>
    public SslTuner WithDefaultFirst() =>
        new($"{Name}+DefaultFirst", (space, seed) => new DefaultFirstTuner(_create(space, seed), space.Default));

    /// <summary>This tuner after a fixed list of configurations (the experiment's portfolio): each is proposed once, in
    /// order, and the inner tuner learns from their trials.</summary>
    /// <param name="label">Names the list in <see cref="Name"/> (so a checkpoint of another list is refused).</param>
    /// <param name="configurations">The configurations, in order.</param>
    internal SslTuner WithPortfolioFirst(string label, IReadOnlyList<Parameters> configurations) =>
        new($"{Name}+Portfolio({label})", (space, seed) => new PortfolioFirstTuner(_create(space, seed), configurations));

    /// <summary>This tuner, except that after <paramref name="scaleAfter"/> proposals the best configuration so far is
    /// lengthened (<paramref name="scaleUp"/> by one of <paramref name="factors"/>) while its longer versions keep winning
    /// (see <see cref="ScaleUpIncumbentTuner"/>).</summary>
    /// <param name="label">Names the rule in <see cref="Name"/> (so a checkpoint of another rule is refused).</param>
    /// <param name="scaleAfter">Proposals before the first lengthening.</param>
    /// <param name="factors">How much longer, largest first; a smaller one follows a lengthening that failed.</param>
    /// <param name="scaleUp">The version of a configuration trained a factor longer, or null when it has none.</param>
    internal SslTuner WithIncumbentScaleUp(string label, int scaleAfter, IReadOnlyList<double> factors, Func<Parameters, double, Parameters?> scaleUp) =>
        new($"{Name}+ScaleUp({label},after {scaleAfter})", (space, seed) => new ScaleUpIncumbentTuner(_create(space, seed), scaleAfter, factors, scaleUp));

    /// <summary>A description of the tuner and its options (recorded in checkpoints).</summary>
    public string Name { get; }

    /// <summary>Creates a fresh tuner for <paramref name="searchSpace"/>.</summary>
    public ITuner CreateTuner(SearchSpace searchSpace, int seed) => _create(searchSpace, seed);

    /// <inheritdoc/>
    public override string ToString() => Name;
}
