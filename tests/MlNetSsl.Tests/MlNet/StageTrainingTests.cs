using Microsoft.ML;
using MlNetSsl.Tests.Training;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>Fit's training controls through the ML.NET stage: seeds, pretraining data, cancellation and resume.</summary>
public sealed class StageTrainingTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-stage-train-").FullName;
    private readonly MLContext _ml = new(seed: 1);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private IDataView Higgs(int rows, string split = "train") => _ml.Data.LoadFromEnumerable(StageData.HiggsRows(split, rows));

    private float[][] Embed(Action<SelfSupervisedOptions> configure, IDataView train, IDataView test)
    {
        using var model = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o =>
        {
            o.Epochs = 3;
            o.BatchSize = 64;
            configure(o);
        }).Fit(train);
        return StageData.Vectors(model.Transform(test), "E");
    }

    [SkippableFact]
    public void SameSeedGivesTheSameModelAndAnotherSeedDoesNot()
    {
        var train = Higgs(400);
        var test = Higgs(20, "test");
        float[][] first = Embed(o => o.Seed = 4, train, test), second = Embed(o => o.Seed = 4, train, test), other = Embed(o => o.Seed = 5, train, test);
        Assert.Equal(first, second);
        Assert.NotEqual(first, other);
    }

    [SkippableFact]
    public void ZeroEpochsKeepsTheSeededRandomEncoderAndNegativeEpochsAreRejected()
    {
        var train = Higgs(300);
        var test = Higgs(20, "test");
        using (var untrained = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o => o.Epochs = 0).Fit(train))
        {
            Assert.Empty(untrained.History);
            // The options read back name the architecture that was built, not the Auto the options left it at.
            Assert.Equal(EncoderKind.Mlp, untrained.EncoderOptions.Kind);
            // The input normalization is still learned from the rows, so the untrained stage is a usable featurizer.
            Assert.Equal(20, StageData.Vectors(untrained.Transform(test), "E").Length);
        }
        float[][] first = Embed(o => { o.Epochs = 0; o.Seed = 4; }, train, test), again = Embed(o => { o.Epochs = 0; o.Seed = 4; }, train, test);
        float[][] trained = Embed(o => { o.Epochs = 1; o.Seed = 4; }, train, test);
        Assert.Equal(first, again);
        Assert.NotEqual(first, trained);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o => o.Epochs = -1));
        Assert.Contains("0 (no pretraining)", error.Message);
    }

    [SkippableFact]
    public void PretrainingDataReplacesTheFitRowsForPretraining()
    {
        var pool = Higgs(500);
        var few = Higgs(30, "test");
        using var model = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o =>
        {
            o.Epochs = 1;
            o.PretrainingData = pool;
        }).Fit(few);
        Assert.Equal(500, model.PretrainingRows);
        Assert.Equal(30, StageData.Vectors(model.Transform(few), "E").Length);
    }

    [SkippableFact]
    public void CancelledFitResumesFromTheCheckpointToTheUninterruptedModel()
    {
        var train = Higgs(400);
        var test = Higgs(20, "test");
        float[][] straight = Embed(_ => { }, train, test);

        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => Embed(o =>
        {
            o.CheckpointDirectory = _folder;
            o.CancellationToken = cts.Token;
            o.Progress = new SyncProgress(p => { if (p.EpochSummary?.Epoch == 2) cts.Cancel(); });
        }, train, test));
        Assert.NotEmpty(Directory.GetFiles(_folder));

        var log = new List<string>();
        _ml.Log += (_, e) => log.Add(e.Message);
        float[][] resumed = Embed(o => o.CheckpointDirectory = _folder, train, test);
        Assert.Equal(straight, resumed);
        Assert.Contains(log, m => m.Contains("(2 resumed from the checkpoint)", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void AShortFitOnALongScheduleContinuesToTheStraightRunsModel()
    {
        var train = Higgs(400);
        var test = Higgs(20, "test");
        float[][] straight = Embed(o => o.Epochs = 4, train, test);

        float[][] early = Embed(o => { o.Epochs = 2; o.ScheduleEpochs = 4; o.CheckpointDirectory = _folder; }, train, test);
        float[][] continued = Embed(o => { o.Epochs = 4; o.ScheduleEpochs = 4; o.CheckpointDirectory = _folder; }, train, test);

        Assert.NotEqual(straight, early);
        Assert.Equal(straight, continued);

        // Back to 2 epochs on the 4-epoch checkpoint: refused, not the longer run's model returned as a 2-epoch one.
        var e = Assert.ThrowsAny<InvalidOperationException>(() => Embed(o => { o.Epochs = 2; o.ScheduleEpochs = 4; o.CheckpointDirectory = _folder; }, train, test));
        Assert.Contains("4 completed epochs, more than Epochs = 2", e.Message, StringComparison.Ordinal);
    }
}
