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
    /// <param name="fromTheNativeHeap">
    /// The trial's memory is libtorch tensors. With the allocator tuning the library applies on Linux (freed blocks stay
    /// in the heap), disposing them leaves the working set above the limit until the experiment hands free heap memory
    /// back; before it did, the next trial was refused at its start. When false, the memory is mapped on its own,
    /// released on dispose whatever the allocator keeps.
    /// </param>
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ATrialOverTheMemoryLimitFailsWithAClearMessageAndTheSearchGoesOn(bool fromTheNativeHeap)
    {
        SslEnvironment.EnsureInitialized(); // applies the allocator tuning, as any training call would
        GC.Collect();
        GC.WaitForPendingFinalizers();
        // The baseline without what earlier tests left free in the native heap: the experiment hands that back when a
        // reading is over the limit, which would otherwise lower the working set below this test's limit mid-trial.
        if (OperatingSystem.IsLinux())
        {
            try
            {
                _ = TrimNativeHeap(0);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // not glibc: nothing retained this way
            }
        }
        double limitMegabytes = Environment.WorkingSet / (1024.0 * 1024.0) + 256;
        const int Allocation = 768 * 1024 * 1024;

        bool cancelledByTheMonitor = false;
        var (space, tuner) = ScriptedTuner.ForIds(2);
        SearchResult result = await new SearchExperiment().SetSearchSpace(space).SetTuner(tuner).SetMaxTrials(2)
            .SetTrialRunner(async (request, token) =>
            {
                if (request.Parameters.GetInt32("id") == 1) return 0.7;
                using var memory = new NativeBlock(Allocation, fromTheNativeHeap);
                try
                {
                    memory.MakeResident();
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

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int TrimNativeHeap(nuint bytesToKeep);

    private sealed class NativeBlock : IDisposable
    {
        private const int TensorBytes = 8 << 20;
        private readonly int _bytes;
        private readonly List<TorchSharp.torch.Tensor> _tensors = new();
        private readonly System.IO.MemoryMappedFiles.MemoryMappedFile? _mapping;
        private readonly System.IO.MemoryMappedFiles.MemoryMappedViewAccessor? _view;

        public NativeBlock(int bytes, bool fromTheNativeHeap)
        {
            _bytes = bytes;
            if (fromTheNativeHeap) return;
            _mapping = System.IO.MemoryMappedFiles.MemoryMappedFile.CreateNew(null, bytes);
            _view = _mapping.CreateViewAccessor();
        }

        public void MakeResident()
        {
            if (_view is null)
            {
                // Tensors of the size a training step's activations have, filled, as a trial's would be.
                for (int i = 0; i < _bytes / TensorBytes; i++) _tensors.Add(TorchSharp.torch.ones(TensorBytes / sizeof(float)));
                return;
            }
            for (long offset = 0; offset < _bytes; offset += 4096) _view.Write(offset, (byte)1);
        }

        public void Dispose()
        {
            foreach (var tensor in _tensors) tensor.Dispose();
            _view?.Dispose();
            _mapping?.Dispose();
        }
    }
}
