using MlNetSsl.AutoML;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>Edge cases of the search engine found in review: resume, the shared store and search spaces.</summary>
public sealed class EngineEdgeCaseTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-engine-edge-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A SQLite file may still be closing; the temporary folder is only disk space.
        }
    }

    [SkippableFact]
    public async Task AResumedSearchThatHadUsedUpItsSpaceStillSaysSo()
    {
        // Two configurations and room for ten trials: the grid runs out. Resuming the finished experiment replays it and
        // must end as the first session did (it said MaxTrials: the replay never asks the tuner the proposals it ran out on).
        string folder = Path.Combine(_folder, "exhausted");
        SearchExperiment Experiment() => new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithChoice("a", "x", "y"))
            .SetTuner(SslTuner.Grid).SetMaxTrials(10).SetCheckpoint(folder)
            .SetTrialRunner((request, _) => Task.FromResult(request.Parameters.GetString("a") == "y" ? 1.0 : 0.5));
        SearchResult first = await Experiment().RunAsync();
        Assert.Equal(SearchStopReason.SearchSpaceExhausted, first.StopReason);
        Assert.Equal(2, first.Trials.Count);

        SearchResult resumed = await Experiment().RunAsync();
        Assert.Equal(first.Trials.Select(t => (t.TrialId, t.Status, t.Metric)), resumed.Trials.Select(t => (t.TrialId, t.Status, t.Metric)));
        Assert.Equal(SearchStopReason.SearchSpaceExhausted, resumed.StopReason);

        // A search that reached its trial limit still resumes as MaxTrials.
        string limited = Path.Combine(_folder, "limited");
        SearchExperiment Limited() => new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithChoice("a", "x", "y", "z"))
            .SetTuner(SslTuner.Grid).SetMaxTrials(2).SetCheckpoint(limited)
            .SetTrialRunner((_, _) => Task.FromResult(0.5));
        Assert.Equal(SearchStopReason.MaxTrials, (await Limited().RunAsync()).StopReason);
        Assert.Equal(SearchStopReason.MaxTrials, (await Limited().RunAsync()).StopReason);
    }

    [SkippableFact]
    public async Task APromotionItsRunnerDeclinesLeavesTheTrialPausedInASharedSearchAsInOneProcess()
    {
        // ASHA promotes the best trial at each rung; the runner declines every continuation (as the SSL runner declines a
        // promotion the budget cannot hold). One process lists those trials as Paused at their rung, with its metric; a
        // shared search listed them as NotStarted, and told the tuner so.
        string storage = $"Data Source={Path.Combine(_folder, "declined promotion.db")}";
        var tuners = new List<ScriptedTuner>();
        SearchExperiment Experiment()
        {
            var script = Enumerable.Range(0, 3).Select(i => new Parameters().With("id", i)).ToArray();
            return new SearchExperiment().SetSearchSpace(new SearchSpace().WithInteger("id", 0, 10))
                .SetTuner(SslTuner.Custom("ids", (_, _) =>
                {
                    var tuner = new ScriptedTuner(script);
                    tuners.Add(tuner);
                    return tuner;
                }))
                .SetMaxTrials(3).SetScheduler(SslScheduler.Asha(1, 3, 3))
                .SetTrialRunner((request, _) => request.PreviousFidelity is not null
                    ? throw new TrialNotStartedException("The promotion would not fit.")
                    : Task.FromResult(request.Parameters.GetInt32("id") / 10.0));
        }

        SearchResult single = await Experiment().RunAsync();
        Assert.All(single.Trials, t => Assert.Equal(TrialStatus.Paused, t.Status));
        var singleUpdates = tuners[^1].Updates.Select(u => (u.TrialId, u.Status)).ToList();

        SearchResult shared = await Experiment().SetStorage(storage).SetExperimentName("declined")
            .SetCheckpoint(Path.Combine(_folder, "shared folder")).RunAsync();
        Assert.Equal(single.Trials.Select(t => (t.TrialId, t.Status, t.Metric, t.ErrorMessage)),
            shared.Trials.Select(t => (t.TrialId, t.Status, t.Metric, t.ErrorMessage)));
        Assert.Equal(singleUpdates, tuners[^1].Updates.Select(u => (u.TrialId, u.Status)));
    }
}
