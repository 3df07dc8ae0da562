namespace MlNetSsl.AutoML;

// Proposal screening: a configuration that already ran, or cannot run, is handed back to the tuner, and each trial gets its own seed.
internal sealed partial class ExperimentRun
{
    /// <summary>
    /// The tuner's proposal for <paramref name="trialId"/>, unless it cannot run or repeats a configuration that already
    /// ran (compared as the runner reads them, see <see cref="Settings.EffectiveConfiguration"/>): a repeat would only
    /// repeat its result (its pretraining is cached), so the tuner is asked again. A tuner that keeps repeating itself
    /// (TPE's best candidate on a small discrete space) is followed by configurations drawn uniformly, seeded by the
    /// trial, so a replay draws the same; null, and the search stops as exhausted, when none of those is new either.
    /// </summary>
    private Parameters? ProposeUntried(int trialId) => ProposeUntried(_settings, _trials.Values.Select(t => t.Parameters), trialId);

    /// <summary>The screened proposal for <paramref name="trialId"/> given the configurations of every trial so far
    /// (<paramref name="triedConfigurations"/>); shared with <see cref="DistributedRun"/>, which replays it from the store.</summary>
    internal static Parameters? ProposeUntried(Settings settings, IEnumerable<Parameters> triedConfigurations, int trialId)
    {
        const int tunerAttempts = 20, uniformAttempts = 200;
        Parameters? Effective(Parameters configuration) =>
            settings.EffectiveConfiguration is { } effective ? effective(configuration) : configuration;
        // The trials do not change while proposals are screened, so each is reduced once per call.
        var tried = new HashSet<Parameters>(triedConfigurations.Select(Effective).OfType<Parameters>());
        bool Acceptable(Parameters candidate) => Effective(candidate) is { } key && !tried.Contains(key);
        for (int attempt = 0; attempt < tunerAttempts; attempt++)
        {
            Parameters? proposed = settings.Tuner.Propose(new TrialContext(trialId));
            if (proposed is null || Acceptable(proposed)) return proposed;
            settings.Tuner.Withdraw(trialId);
        }
        var random = new Random(TrialSeed(settings.Seed, trialId));
        var features = new double[settings.SearchSpace.FeatureDimensions.Count];
        for (int attempt = 0; attempt < uniformAttempts; attempt++)
        {
            for (int i = 0; i < features.Length; i++) features[i] = random.NextDouble();
            Parameters candidate = settings.SearchSpace.SampleFromFeatureSpace(features);
            if (Acceptable(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>A per-trial seed from the experiment seed and the trial id (SplitMix64 finalizer, process-independent).</summary>
    internal static int TrialSeed(int experimentSeed, int trialId)
    {
        ulong z = unchecked(((ulong)(uint)experimentSeed << 32 | (uint)trialId) + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }
}
