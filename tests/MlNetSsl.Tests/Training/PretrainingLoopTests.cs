using MlNetSsl.MlNet.Persistence;
using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Training;

/// <summary>Mechanics of the pretraining loop on real HIGGS rows: determinism, resume, cancellation, memory, monitoring.</summary>
public sealed class PretrainingLoopTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-train-").FullName;
    private readonly ITestOutputHelper _output = output;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static SslTensorDataset Higgs(int rows, bool withLabels = false) => LoopFixture.Higgs(rows, withLabels);
    private static MomentumTestMethod NewMethod(int seed) => LoopFixture.NewMethod(seed);
    private static AugmentationPolicy Policy => LoopFixture.Policy;
    private static PretrainingOptions Options(int epochs, string? checkpoint = null, SslOptimizer optimizer = SslOptimizer.AdamW) =>
        LoopFixture.Options(epochs, checkpoint, optimizer);

    [SkippableFact]
    public void SameSeedGivesBitwiseIdenticalWeightsAndOtherSeedDiffers()
    {
        using var data = Higgs(512);
        byte[] Train(int seed)
        {
            using var method = NewMethod(1);
            var options = Options(2);
            options.Seed = seed;
            SslPretrainer.Run(method, data, Policy, options);
            return ModuleState.ToBytes(method);
        }

        byte[] first = Train(5), second = Train(5), other = Train(6);

        Assert.Equal(first, second);
        Assert.NotEqual(first, other);
    }

    [SkippableTheory]
    [InlineData(SslOptimizer.AdamW)]
    [InlineData(SslOptimizer.Sgd)]
    [InlineData(SslOptimizer.Lars)]
    public void InterruptedAndResumedRunEqualsUninterruptedRun(SslOptimizer optimizer)
    {
        using var data = Higgs(512);
        string straightDir = Path.Combine(_folder, "straight"), resumedDir = Path.Combine(_folder, "resumed");

        using var straight = NewMethod(1);
        var straightResult = SslPretrainer.Run(straight, data, Policy, Options(4, straightDir, optimizer));

        using var cts = new CancellationTokenSource();
        var interrupted = Options(4, resumedDir, optimizer);
        interrupted.CancellationToken = cts.Token;
        interrupted.Progress = new SyncProgress(p => { if (p.EpochSummary?.Epoch == 2) cts.Cancel(); });
        using (var first = NewMethod(1))
            Assert.ThrowsAny<OperationCanceledException>(() => SslPretrainer.Run(first, data, Policy, interrupted));
        Assert.True(File.Exists(Path.Combine(resumedDir, PretrainingCheckpoint.FileName)));

        using var resumed = NewMethod(1); // a fresh process would start from a fresh module too
        var result = SslPretrainer.Run(resumed, data, Policy, Options(4, resumedDir, optimizer));

        Assert.Equal(2, result.ResumedEpochs);
        Assert.Equal(4, result.History.Count);
        Assert.Equal(ModuleState.ToBytes(straight), ModuleState.ToBytes(resumed));
        Assert.Equal(straightResult.History.Select(h => h.MeanLoss), result.History.Select(h => h.MeanLoss));
        Assert.True(straightResult.History[^1].MeanLoss < straightResult.History[0].MeanLoss, "loss did not go down");
    }

    [SkippableFact]
    public void ProcessKilledAfterACheckpointResumesToTheUninterruptedWeights()
    {
        using var data = Higgs(512);
        string dir = Path.Combine(_folder, "killed");
        int exit = ChildProcess.RunForExitCode(TimeSpan.FromMinutes(2), "pretrain-and-die", dir, "4", "2");
        Assert.NotEqual(0, exit);
        Assert.True(File.Exists(Path.Combine(dir, PretrainingCheckpoint.FileName)));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

        using var straight = NewMethod(1);
        SslPretrainer.Run(straight, data, Policy, Options(4));
        using var resumed = NewMethod(1);
        var result = SslPretrainer.Run(resumed, data, Policy, Options(4, dir));

        Assert.Equal(2, result.ResumedEpochs);
        Assert.Equal(ModuleState.ToBytes(straight), ModuleState.ToBytes(resumed));
    }

    [SkippableFact]
    public void CancellationStopsWithinOneStep()
    {
        using var data = Higgs(1024);
        using var method = NewMethod(1);
        using var cts = new CancellationTokenSource();
        long lastStep = 0;
        var options = Options(3);
        options.CancellationToken = cts.Token;
        options.Progress = new SyncProgress(p => { lastStep = p.Step; if (p.Step == 5) cts.Cancel(); });

        Assert.ThrowsAny<OperationCanceledException>(() => SslPretrainer.Run(method, data, Policy, options));

        Assert.Equal(5, lastStep);
    }

    // The kNN monitor embeds every labeled row each epoch (seconds on tens of thousands of images): a cancel during the
    // epoch's evaluation stops before the monitor's next batch, not after its last.
    [SkippableFact]
    public void CancellationStopsTheMonitorWithinOneBatch()
    {
        using var data = Higgs(128);
        using var monitor = Higgs(1500, withLabels: true);
        using var cts = new CancellationTokenSource();
        int evalForwards = 0;
        using var encoder = new Methods.EvalCountingEncoder(data.Shape, () =>
        {
            evalForwards++;
            cts.Cancel();
        });
        using ISslMethod method = SslMethodFactory.Create(SslMethod.SimClr, encoder);
        var options = Options(2);
        options.CancellationToken = cts.Token;

        Assert.ThrowsAny<OperationCanceledException>(() => SslPretrainer.Run(method, data, Policy, options, monitor));

        // The collapse check's forward cancels; the monitor's 1,500 rows would take 3 more forwards of 512.
        Assert.Equal(1, evalForwards);
    }

    [SkippableFact]
    public void ProgressReportsEveryStepAndEachEpochWithMonitorAccuracy()
    {
        using var data = Higgs(512);
        using var monitor = Higgs(400, withLabels: true);
        using var method = NewMethod(1);
        var reports = new List<SslProgress>();
        var options = Options(2);
        options.Progress = new SyncProgress(reports.Add);

        var result = SslPretrainer.Run(method, data, Policy, options, monitor);

        var steps = reports.Where(r => r.EpochSummary is null).ToList();
        Assert.Equal(2 * (512 / 64), steps.Count);
        Assert.Equal(Enumerable.Range(1, 16).Select(i => (long)i), steps.Select(s => s.Step));
        Assert.All(steps, s => Assert.True(s.SamplesPerSecond > 0 && s.LearningRate > 0 && double.IsFinite(s.Loss)));
        Assert.Equal(TimeSpan.Zero, steps[^1].EstimatedTimeRemaining);
        Assert.True(steps[0].EstimatedTimeRemaining > TimeSpan.Zero);
        var epochs = reports.Where(r => r.EpochSummary is not null).Select(r => r.EpochSummary!).ToList();
        Assert.Equal(new[] { 1, 2 }, epochs.Select(e => e.Epoch));
        Assert.All(epochs, e => Assert.NotNull(e.MonitorAccuracy));
        Assert.Equal(epochs, result.History);

        // The monitor is a kNN vote of every other labeled row of each class for the rest, on the encoder's embeddings. Recomputed
        // here on the final encoder it gives the last epoch's value (within one of the 200 votes: another thread count
        // may break a near-tie another way); a monitor that read other rows or labels would not. Two epochs on 512
        // rows teach this encoder nothing about HIGGS's label (measured 52.5%, and 49-56% with the voters' labels
        // shuffled), so the value itself is not compared with chance; ImageStageTests does that on CIFAR-10.
        int[] labels = monitor.Labels!;
        var (voters, queries) = SslPretrainer.MonitorSplit(labels);
        using var scope = torch.NewDisposeScope();
        Tensor embeddings;
        using (torch.no_grad()) embeddings = method.Encoder.EmbedAll(monitor);
        Tensor Rows(int[] index) => embeddings.index_select(0, torch.tensor(index.Select(i => (long)i).ToArray()));
        int[] voterLabels = voters.Select(i => labels[i]).ToArray(), queryLabels = queries.Select(i => labels[i]).ToArray();
        double recomputed = KnnClassifier.Accuracy(Rows(voters), voterLabels, Rows(queries), queryLabels, options.KnnNeighbors);
        _output.WriteLine($"kNN monitor {result.History[^1].MonitorAccuracy:P1}, recomputed {recomputed:P1}");
        Assert.InRange(Math.Abs(result.History[^1].MonitorAccuracy!.Value - recomputed), 0, 1.0 / queries.Length + 1e-9);
    }

    [SkippableFact]
    public void TheMonitorSplitsEachClassBetweenReferenceAndQueriesWhateverTheRowOrder()
    {
        // Classes cycling 0, 1, 0, 1 (a file sorted round-robin): alternating over all rows put every 0 among the
        // references and every 1 among the queries, so no query had a reference of its class (0% on any encoder).
        int[] cycling = [0, 1, 0, 1, 0, 1, 0, 1, -1, 0, 1];
        var (reference, queries) = SslPretrainer.MonitorSplit(cycling);
        Assert.Equal([0, 1, 4, 5, 9, 10], reference);
        Assert.Equal([2, 3, 6, 7], queries);
        Assert.Equal(cycling.Where(l => l >= 0).Distinct().Order(), queries.Select(i => cycling[i]).Distinct().Order());
        Assert.Equal(cycling.Where(l => l >= 0).Distinct().Order(), reference.Select(i => cycling[i]).Distinct().Order());
        // Sorted by class: each class still on both sides; an unlabeled row (-1) on neither.
        int[] sorted = [0, 0, 0, 0, 1, 1, 1, -1];
        (reference, queries) = SslPretrainer.MonitorSplit(sorted);
        Assert.Equal([0, 2, 4, 6], reference);
        Assert.Equal([1, 3, 5], queries);
        // One labeled row per class: nothing to query (the epoch then records no monitor figure).
        Assert.Empty(SslPretrainer.MonitorSplit([0, 1, 2, -1]).Queries);
    }

    [SkippableFact]
    public void CheckpointOfAnotherRunIsRefusedAndDamagedCheckpointIsReported()
    {
        using var data = Higgs(256);
        string dir = Path.Combine(_folder, "ckpt");
        using (var method = NewMethod(1))
            SslPretrainer.Run(method, data, Policy, Options(1, dir));

        var otherRun = Options(1, dir);
        otherRun.LearningRate = 1e-2;
        using (var method = NewMethod(1))
        {
            var ex = Assert.Throws<InvalidOperationException>(() => SslPretrainer.Run(method, data, Policy, otherRun));
            Assert.Contains(dir, ex.Message);
        }

        string path = Path.Combine(dir, PretrainingCheckpoint.FileName);
        byte[] bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(path, bytes);
        using (var method = NewMethod(1))
        {
            var ex = Assert.Throws<InvalidDataException>(() => SslPretrainer.Run(method, data, Policy, Options(1, dir)));
            Assert.Contains("damaged", ex.Message);
        }
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [SkippableTheory]
    [InlineData(nameof(PretrainingOptions.GradientClipNorm))]
    [InlineData(nameof(PretrainingOptions.FinalLearningRateFraction))]
    [InlineData(nameof(PretrainingOptions.LarsTrustCoefficient))]
    public void CheckpointIsRefusedWhenAWeightShapingOptionChanged(string option)
    {
        using var data = Higgs(256);
        string dir = Path.Combine(_folder, option);
        using (var method = NewMethod(1))
            SslPretrainer.Run(method, data, Policy, Options(1, dir, SslOptimizer.Lars));

        var changed = Options(1, dir, SslOptimizer.Lars);
        switch (option)
        {
            case nameof(PretrainingOptions.GradientClipNorm): changed.GradientClipNorm = 1; break;
            case nameof(PretrainingOptions.FinalLearningRateFraction): changed.FinalLearningRateFraction = 0.5; break;
            default: changed.LarsTrustCoefficient = 2e-3; break;
        }
        using var other = NewMethod(1);
        var ex = Assert.Throws<InvalidOperationException>(() => SslPretrainer.Run(other, data, Policy, changed));
        Assert.Contains(option, ex.Message);

        using var same = NewMethod(1);
        Assert.Equal(1, SslPretrainer.Run(same, data, Policy, Options(1, dir, SslOptimizer.Lars)).ResumedEpochs);
    }

    [SkippableFact]
    public void CheckpointIsRefusedWhenTheDataChangedButNotItsRowCount()
    {
        using var data = Higgs(256);
        string dir = Path.Combine(_folder, "data");
        using (var method = NewMethod(1))
            SslPretrainer.Run(method, data, Policy, Options(1, dir));
        // Same rows, same count, one value changed.
        Tensor rows = data.Slice(0, data.Count, torch.CPU).clone();
        rows[100, 3] = rows[100, 3] + 0.5f;
        using var edited = new SslTensorDataset(rows, data.Shape);
        Assert.Equal(data.Count, edited.Count);

        using var other = NewMethod(1);
        var ex = Assert.Throws<InvalidOperationException>(() => SslPretrainer.Run(other, edited, Policy, Options(1, dir)));
        Assert.Contains("data", ex.Message);

        // An equal copy hashes the same: the check compares values, not instances.
        using var copy = new SslTensorDataset(data.Slice(0, data.Count, torch.CPU).clone(), data.Shape);
        Assert.Equal(data.ContentHash(), copy.ContentHash());
        using var same = NewMethod(1);
        Assert.Equal(1, SslPretrainer.Run(same, copy, Policy, Options(1, dir)).ResumedEpochs);
    }

    [SkippableFact]
    public void CheckpointRecordsTheMethodOptionsAndResumesBitwiseWhenTheyAreUnchanged()
    {
        using var data = Higgs(256);
        static SimClrMethod NewSimClr(double temperature)
        {
            SslEnvironment.EnsureInitialized();
            torch.manual_seed(1);
            return new SimClrMethod(new SmallMlpEncoder(28, 12),
                new SimClrOptions { Temperature = temperature, ProjectionHiddenSize = 32, ProjectionSize = 16 });
        }
        PretrainingOptions Schedule(int epochs, string? dir)
        {
            var options = Options(epochs, dir);
            options.ScheduleEpochs = 2;
            return options;
        }

        using var straight = NewSimClr(0.5);
        Assert.Same(straight.Options, ((ISslMethod)straight).Options);
        SslPretrainer.Run(straight, data, Policy, Schedule(2, null));

        string dir = Path.Combine(_folder, "simclr");
        using (var first = NewSimClr(0.5))
            SslPretrainer.Run(first, data, Policy, Schedule(1, dir));

        using (var hotter = NewSimClr(0.2))
        {
            var ex = Assert.Throws<InvalidOperationException>(() => SslPretrainer.Run(hotter, data, Policy, Schedule(2, dir)));
            Assert.Contains("method or its options", ex.Message);
        }

        using var resumed = NewSimClr(0.5); // equal options in a new instance: the same run
        var result = SslPretrainer.Run(resumed, data, Policy, Schedule(2, dir));
        Assert.Equal(1, result.ResumedEpochs);
        Assert.Equal(ModuleState.ToBytes(straight), ModuleState.ToBytes(resumed));
    }

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(0)]
    [InlineData(-5)]
    public void ACollapseCheckOfFewerThanTwoRowsIsRefusedBeforeTraining(int rows)
    {
        // One row has no spread (NaN) and none no embeddings: every epoch of a healthy run was reported as "embeddings
        // contain NaN", and a negative count reached libtorch's linspace.
        using var data = Higgs(128);
        using var method = NewMethod(1);
        var options = Options(1);
        options.CollapseCheckRows = rows;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => SslPretrainer.Run(method, data, Policy, options));
        Assert.Equal(nameof(PretrainingOptions.CollapseCheckRows), error.ParamName);
    }

    [SkippableFact]
    public void CollapsedEmbeddingsAreReported()
    {
        Assert.Equal(0, EmbeddingQuality.Spread(torch.ones(10, 4)), 6);
        Assert.NotNull(EmbeddingQuality.CollapseWarning(0.0, 1.0, 4));
        Assert.Null(EmbeddingQuality.CollapseWarning(0.9, 3.5, 4));
        // Three orthogonal directions with equal singular values: effective rank exactly 3.
        var known = torch.zeros(6, 5);
        known[0, 0] = 1; known[1, 1] = 1; known[2, 2] = 1; known[3, 0] = 1; known[4, 1] = 1; known[5, 2] = 1;
        Assert.Equal(3.0, EmbeddingQuality.EffectiveRank(known), 4);
    }
}

/// <summary>
/// No tensor outlives its epoch, and resident memory after epoch 5 stays within a small margin of epoch 2. The latter
/// measures the whole process, so this runs alone (after the parallel tests, with nothing else allocating), on Linux.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class NativeMemoryTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void NativeMemoryStaysFlatAcrossEpochs()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "reads resident memory from /proc/self/status");
        using var data = LoopFixture.Higgs(4000);
        using var method = LoopFixture.NewMethod(1);
        var resident = new Dictionary<int, long>();
        var live = new Dictionary<int, long>();
        var options = LoopFixture.Options(6);
        options.BatchSize = 128;
        options.Progress = new SyncProgress(p =>
        {
            if (p.EpochSummary is not { } e) return;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            resident[e.Epoch] = ResidentBytes();
            live[e.Epoch] = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        });

        SslPretrainer.Run(method, data, LoopFixture.Policy, options);

        output.WriteLine($"live tensors per epoch: {string.Join(", ", live.OrderBy(kv => kv.Key).Select(kv => kv.Value))}");
        // Deterministic on any host: an epoch leaves no TorchSharp tensor alive that the previous one did not.
        Assert.True(live[5] == live[2], $"live tensors on the training thread grew from {live[2]} after epoch 2 to {live[5]} after epoch 5");
        // The whole process's resident memory also catches native memory no tensor owns (allocator-dependent, hence the margin).
        long growth = resident[5] - resident[2];
        Assert.True(growth < 20L << 20, $"resident memory grew by {growth >> 20} MiB from epoch 2 to epoch 5");
    }

    private static long ResidentBytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}

/// <summary>An <see cref="IProgress{T}"/> that runs its callback synchronously, on the training thread.</summary>
internal sealed class SyncProgress(Action<SslProgress> callback) : IProgress<SslProgress>
{
    public void Report(SslProgress value) => callback(value);
}
