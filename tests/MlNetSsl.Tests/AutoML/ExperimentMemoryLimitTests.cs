using MlNetSsl.AutoML;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>
/// The experiment's memory limit. The limit is on the whole process's working set, so this test runs alone (the
/// serial collection runs after the parallel ones, with no other test allocating): its baseline and the 768 MiB the
/// trial adds are then the only things that move the reading.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class ExperimentMemoryLimitTests
{
    [Fact]
    public async Task ATrialOverTheMemoryLimitFailsWithAClearMessageAndTheSearchGoesOn()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        double limitMegabytes = Environment.WorkingSet / (1024.0 * 1024.0) + 256;
        const int Allocation = 768 * 1024 * 1024;

        bool cancelledByTheMonitor = false;
        var (space, tuner) = ScriptedTuner.ForIds(2);
        SearchResult result = await new SearchExperiment().SetSearchSpace(space).SetTuner(tuner).SetMaxTrials(2)
            .SetTrialRunner(async (request, token) =>
            {
                if (request.Parameters.GetInt32("id") == 1) return 0.7;
                // Native memory, like libtorch's tensors, but mapped on its own: with the allocator tuning the library
                // applies (freed blocks stay in the heap), a malloc'd block would keep the working set above the limit
                // after it is freed, and whether the next trial then starts depends on what earlier tests left in the heap.
                using var mapping = System.IO.MemoryMappedFiles.MemoryMappedFile.CreateNew(null, Allocation);
                using var view = mapping.CreateViewAccessor();
                try
                {
                    for (long offset = 0; offset < Allocation; offset += 4096) view.Write(offset, (byte)1); // make it resident
                    // Only the memory monitor can end this wait early; without it the trial would complete with 0.9.
                    await Task.Delay(TimeSpan.FromSeconds(30), token);
                    return 0.9;
                }
                catch (OperationCanceledException)
                {
                    cancelledByTheMonitor = true;
                    throw;
                }
            })
            .SetMaximumMemoryUsageInMegaByte(limitMegabytes)
            .RunAsync();

        Assert.True(cancelledByTheMonitor, "the trial over the limit was not cancelled");
        TrialRecord failed = result.Trials.Single(t => t.TrialId == 0);
        Assert.Equal(TrialStatus.Failed, failed.Status);
        Assert.Null(failed.Metric);
        Assert.Contains("exceeded the memory limit", failed.ErrorMessage);
        Assert.Contains($"limit of {limitMegabytes:F0} MiB", failed.ErrorMessage);
        Assert.Equal(TrialStatus.Completed, result.Trials.Single(t => t.TrialId == 1).Status);
        Assert.Equal(1, result.BestTrial!.TrialId);
    }
}
