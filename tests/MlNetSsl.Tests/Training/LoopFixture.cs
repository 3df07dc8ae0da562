using TorchSharp;
using MlNetSsl.Tests.Infrastructure;

namespace MlNetSsl.Tests.Training;

/// <summary>The small tabular pretraining set-up shared by the loop tests and their child process.</summary>
internal static class LoopFixture
{
    public static SslTensorDataset Higgs(int rows, bool withLabels = false)
    {
        var raw = SharedData.ReadHiggs("train", rows);
        float[] flat = raw.SelectMany(r => r.Features).ToArray();
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(flat, new long[] { rows, 28 });
        x = (x - x.mean(new long[] { 0 })) / (x.std(0) + 1e-6);
        return new SslTensorDataset(x.MoveToOuterDisposeScope(), SslInputShape.Tabular(28),
            withLabels ? raw.Select(r => (int)r.Label).ToArray() : null);
    }

    public static MomentumTestMethod NewMethod(int seed)
    {
        SslEnvironment.EnsureInitialized();
        torch.manual_seed(seed);
        return new MomentumTestMethod(new SmallMlpEncoder(28, 12));
    }

    public static AugmentationPolicy Policy => new(new NoiseAndScale());

    public static PretrainingOptions Options(int epochs, string? checkpoint = null, SslOptimizer optimizer = SslOptimizer.AdamW) => new()
    {
        Epochs = epochs, BatchSize = 64, LearningRate = optimizer == SslOptimizer.Lars ? 0.5 : 3e-3, Optimizer = optimizer,
        Seed = 5, CheckpointDirectory = checkpoint, AllowCuda = false, WarmupEpochs = 1,
    };

    /// <summary>Child side: trains toward <paramref name="epochs"/> and kills its own process after epoch <paramref name="dieAfterEpoch"/>.</summary>
    public static void PretrainAndDie(string directory, int epochs, int dieAfterEpoch)
    {
        using var data = Higgs(512);
        using var method = NewMethod(1);
        var options = Options(epochs, directory);
        options.Progress = new SyncProgress(p =>
        {
            if (p.EpochSummary?.Epoch == dieAfterEpoch) System.Diagnostics.Process.GetCurrentProcess().Kill(); // SIGKILL: no cleanup runs
        });
        SslPretrainer.Run(method, data, Policy, options);
    }
}
