namespace MlNetSsl.AutoML;

/// <summary>
/// Which multi-fidelity scheduler an experiment uses: a recipe, because a resumed experiment builds a fresh scheduler
/// and replays its journal into it. The fidelity is the number of training epochs (or iterations) a trial runs.
/// </summary>
public sealed class SslScheduler
{
    private readonly Func<ITrialScheduler> _create;

    private SslScheduler(string name, Func<ITrialScheduler> create)
    {
        Name = name;
        _create = create;
    }

    /// <summary>No early stopping: every trial trains fully as configured (the trial function gets no fidelity).</summary>
    public static SslScheduler None { get; } = new("None", () => new SingleFidelityScheduler());

    /// <summary>Asynchronous successive halving: rungs minEpochs * reduction^k up to maxEpochs; after each rung a trial
    /// continues only if it is in the top 1/reduction of that rung's results so far. See <see cref="AshaScheduler"/>.</summary>
    public static SslScheduler Asha(int minEpochs, int maxEpochs, int reduction = 3)
    {
        _ = FidelityLadder.Rungs(minEpochs, maxEpochs, reduction); // validate now rather than at run time
        return new SslScheduler($"Asha(min={minEpochs},max={maxEpochs},reduction={reduction})",
            () => new AshaScheduler(minEpochs, maxEpochs, reduction));
    }

    /// <summary>Hyperband: brackets of successive halving from many short trials to few full ones.
    /// See <see cref="HyperbandScheduler"/>.</summary>
    public static SslScheduler Hyperband(int minEpochs, int maxEpochs, int reduction = 3)
    {
        _ = FidelityLadder.Rungs(minEpochs, maxEpochs, reduction);
        return new SslScheduler($"Hyperband(min={minEpochs},max={maxEpochs},reduction={reduction})",
            () => new HyperbandScheduler(minEpochs, maxEpochs, reduction));
    }

    /// <summary>A scheduler of your own; it must be deterministic given the calls it receives.</summary>
    /// <param name="name">A name that changes whenever the scheduler's behaviour does; it is part of the checkpoint's identity.</param>
    /// <param name="create">Creates a fresh scheduler.</param>
    public static SslScheduler Custom(string name, Func<ITrialScheduler> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        return new SslScheduler($"Custom({name})", create);
    }

    /// <summary>A description of the scheduler and its settings (recorded in checkpoints).</summary>
    public string Name { get; }

    /// <summary>Creates a fresh scheduler.</summary>
    public ITrialScheduler CreateScheduler() => _create();

    /// <inheritdoc/>
    public override string ToString() => Name;
}
