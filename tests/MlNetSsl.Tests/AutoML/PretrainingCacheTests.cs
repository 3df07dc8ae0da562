using Microsoft.ML;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.MlNet;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>The pretraining cache shared by trials: a damaged entry is rebuilt, never handed to every later trial of its key.</summary>
public sealed class PretrainingCacheTests : IDisposable
{
    [SkippableTheory]
    [InlineData(256, 400, 100)] // 400 images: four steps an epoch, not one
    [InlineData(256, 50, 16)] // GunPoint's 50 series: at least 16 a batch
    [InlineData(64, 400, 64)]
    [InlineData(256, 1024, 256)] // from 1,024 rows on, the configured batch
    [InlineData(256, 20000, 256)]
    public void ASmallPoolIsPretrainedInBatchesOfAQuarterOfItsRows(int configured, long rows, int expected) =>
        Assert.Equal(expected, SslTrialRunner.PoolBatchSize(configured, rows));

    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-cache-").FullName;
    private readonly MLContext _ml = new(seed: 1);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static SelfSupervisedOptions Options(int epochs) => new()
    {
        OutputColumnName = "E", InputColumnName = nameof(HiggsRow.Features), Method = SslMethod.Scarf,
        Epochs = epochs, ScheduleEpochs = 2, BatchSize = 64, Seed = 3, AllowCuda = false,
    };

    private static float[][] Embed(SelfSupervisedTransformer stage, IDataView rows)
    {
        using (stage) return StageData.Vectors(stage.Transform(rows), "E");
    }

    [SkippableFact]
    public async Task TwoWorkersAskingForOneKeyAtOnceTrainItOnce()
    {
        // Two caches on one folder, as two worker processes sharing it: the key's lease makes the second wait for the
        // first's snapshot instead of pretraining the same configuration beside it.
        string root = Path.Combine(_folder, "shared");
        var rows = StageData.HiggsRows("train", 256);
        Task<PretrainingOutcome> Worker() => Task.Run(() =>
        {
            var ml = new MLContext(seed: 1);
            return new PretrainingCache(root).Pretrain(ml, ml.Data.LoadFromEnumerable(rows), Options(2), "key", default);
        });
        PretrainingOutcome[] outcomes = await Task.WhenAll(Worker(), Worker());
        foreach (PretrainingOutcome outcome in outcomes) outcome.Transformer.Dispose();
        Assert.Equal(new[] { (0, 2), (2, 0) }, outcomes.Select(o => (o.EpochsTrained, o.EpochsReused)).Order());
    }

    [SkippableFact]
    public void APretrainingStoppedAtAnEpochsEndKeepsThatEpochAndALaterCallContinuesItAsTheStraightRun()
    {
        // The budget's stop after epoch 1 of 2: the stage of epoch 1 comes back (published as its snapshot), and a call for
        // both epochs continues from it to the weights of a straight 2-epoch run.
        IDataView data = _ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 256));
        IDataView test = _ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 16));
        float[][] straight = Embed(new PretrainingCache(Path.Combine(_folder, "straight")).Pretrain(_ml, data, Options(2), "key", default).Transformer, test);

        var cache = new PretrainingCache(Path.Combine(_folder, "cache"));
        var asked = new List<int>();
        PretrainingOutcome stopped = cache.Pretrain(_ml, data, Options(2), "key", default, (trained, _) =>
        {
            asked.Add(trained);
            return true;
        });
        Assert.Equal(1, Assert.Single(asked)); // after epoch 1 only: the last epoch is never the one to stop after
        Assert.Single(stopped.Transformer.History);
        Assert.Equal((1, 0), (stopped.EpochsTrained, stopped.EpochsReused));
        Assert.Equal(1, cache.SnapshotEpochs("key", 2));
        Embed(stopped.Transformer, test);

        PretrainingOutcome continued = cache.Pretrain(_ml, data, Options(2), "key", default, (_, _) => false);
        Assert.Equal((1, 1), (continued.EpochsTrained, continued.EpochsReused));
        float[][] resumed = Embed(continued.Transformer, test);
        Assert.Equal(straight, resumed);
    }

    [SkippableTheory]
    [InlineData(10, 1, 30, false)] // the next epoch priced to end at 20 s of 30
    [InlineData(20, 1, 30, true)] // at 40 s
    [InlineData(40, 1, 30, true)] // the first epoch alone outlasted the budget
    [InlineData(50, 2, 80, false)] // the third at 75 s of 80
    [InlineData(60, 2, 80, true)] // at 90 s
    [InlineData(5, 0, 1, false)] // nothing trained yet: there is no stage to keep
    public void APretrainingStopsBeforeAnEpochThatWouldEndPastTheBudget(double elapsed, int trained, double budget, bool stops) =>
        Assert.Equal(stops, SslTrialRunner.StopsBeforeNextEpoch(TimeSpan.FromSeconds(elapsed), trained, TimeSpan.FromSeconds(budget)));

    [SkippableFact]
    public void ATruncatedCacheEntryIsDetectedAndRebuiltToTheStraightRun()
    {
        IDataView data = _ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 256));
        IDataView test = _ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 16));
        float[][] straight = Embed(new PretrainingCache(Path.Combine(_folder, "straight")).Pretrain(_ml, data, Options(2), "key", default).Transformer, test);

        string root = Path.Combine(_folder, "cache");
        var cache = new PretrainingCache(root);
        Embed(cache.Pretrain(_ml, data, Options(1), "key", default).Transformer, test);
        string keyFolder = Directory.GetDirectories(root, "pretraining-*").Single();
        string snapshotFile = Directory.GetFiles(Path.Combine(keyFolder, "epoch-0001")).Single();
        byte[] whole = File.ReadAllBytes(snapshotFile);

        // An earlier version's copy into the next rung's work folder, cut short by a crash.
        string work = Path.Combine(keyFolder, "to-0002");
        Directory.CreateDirectory(work);
        File.WriteAllBytes(Path.Combine(work, Path.GetFileName(snapshotFile)), whole[..(whole.Length / 2)]);

        PretrainingOutcome continued = cache.Pretrain(_ml, data, Options(2), "key", default);
        Assert.Equal((1, 1), (continued.EpochsReused, continued.EpochsTrained)); // the intact snapshot was used, the torn copy dropped
        Assert.Equal(straight, Embed(continued.Transformer, test));

        // A damaged snapshot: the trial that reads it rebuilds from the next older one, and so do later trials.
        string snapshot2 = Directory.GetFiles(Path.Combine(keyFolder, "epoch-0002")).Single();
        byte[] bytes = File.ReadAllBytes(snapshot2);
        File.WriteAllBytes(snapshot2, bytes[..(bytes.Length - 100)]);
        PretrainingOutcome rebuilt = cache.Pretrain(_ml, data, Options(2), "key", default);
        Assert.Equal((1, 1), (rebuilt.EpochsReused, rebuilt.EpochsTrained));
        Assert.Equal(straight, Embed(rebuilt.Transformer, test));
        PretrainingOutcome later = cache.Pretrain(_ml, data, Options(2), "key", default);
        Assert.Equal((2, 0), (later.EpochsReused, later.EpochsTrained));
        Assert.Equal(straight, Embed(later.Transformer, test));
        Assert.Empty(Directory.GetFiles(root, "*.tmp", SearchOption.AllDirectories));
    }
}
