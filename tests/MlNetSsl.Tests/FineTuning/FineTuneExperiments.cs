using System.Diagnostics;
using System.Globalization;
using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.FineTuning;

/// <summary>
/// The measurements behind docs/fine-tuning.md. They take minutes, so they run only when MLNETSSL_EXPERIMENTS=1:
/// <c>MLNETSSL_EXPERIMENTS=1 dotnet test -c Release --filter FullyQualifiedName~FineTuneExperiments</c>.
/// Knobs (environment variables): FT_RECIPES (comma-separated: probe, finetune, fixmatch, selftrain, distill,
/// distill-small, scratch, fixmatch-scratch, fixmatch-distill, finetune-proj), FT_PRETRAIN_EPOCHS, FT_EPOCHS, FT_SEED, FT_THRESHOLD, FT_MU, FT_LR, FT_POOL (images per
/// class), FT_LABELS (labels per class), FT_VAL (validation fraction), FT_ENC_SCALE (encoder learning-rate scale), FT_THREADS. Each result goes to the test output and to mlnetssl-finetune-experiments.log
/// in the temp folder; the pretrained encoder is cached there too.
/// </summary>
public sealed class FineTuneExperiments(ITestOutputHelper output)
{
    private static bool Enabled => Environment.GetEnvironmentVariable("MLNETSSL_EXPERIMENTS") == "1";

    private const string SkipReason = "a measurement that takes minutes; set MLNETSSL_EXPERIMENTS=1 to run it";

    private static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;

    private static int EnvInt(string name, int fallback) => int.Parse(Env(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    private static double EnvDouble(string name, double fallback) => double.Parse(Env(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    [SkippableFact]
    public void CifarLabelEfficiencyRecipes()
    {
        Skip.IfNot(Enabled, SkipReason);
        SslEnvironment.EnsureInitialized();
        torch.set_num_threads(EnvInt("FT_THREADS", 1));
        using var scope = torch.NewDisposeScope();
        int perClass = EnvInt("FT_POOL", 300), labelsPerClass = EnvInt("FT_LABELS", 30), pretrainEpochs = EnvInt("FT_PRETRAIN_EPOCHS", 15);
        int epochs = EnvInt("FT_EPOCHS", 30), seed = EnvInt("FT_SEED", 1);
        var (poolImages, poolLabels) = RealData.CifarImages(perClass, "train");
        var (testImages, testLabels) = RealData.CifarImages(100, "test");
        var shape = SslInputShape.Image(3, 32, 32);
        using var pool = new SslTensorDataset(poolImages, shape, poolLabels);
        using var test = new SslTensorDataset(testImages, shape, testLabels);
        LabelDraw draw = LabelFractionExperiment.Draw(poolLabels, labelsPerClass / (double)perClass, seed);
        using SslTensorDataset labeled = draw.Labeled(pool);
        // The unlabeled rows keep their true labels only for the pseudo-label accuracy diagnostic; they never reach a loss.
        using var unlabeled = new SslTensorDataset(pool.Batch(torch.tensor(draw.UnlabeledRows.Select(i => (long)i).ToArray()), torch.CPU),
            shape, draw.UnlabeledRows.Select(i => poolLabels[i]).ToArray());
        Log($"CIFAR-10: pool {pool.Count}, labels {draw.LabeledRows.Length}, test {test.Count}, SimCLR {pretrainEpochs} epochs, {SslEnvironment.Describe()}");

        using SimClrMethod method = PretrainedCifarMethod(pool, pretrainEpochs);
        using SslEncoder encoder = method.Encoder;
        ProjectionHead? head = FineTuner.FindProjectionHead(method);
        using (var noGrad = torch.no_grad())
        {
            Tensor train = encoder.EmbedAll(labeled), testEmbeddings = encoder.EmbedAll(test);
            Log($"L-BFGS linear probe on embeddings: {LinearProbe.Accuracy(train, draw.Labels, testEmbeddings, testLabels):P1}");
        }

        foreach (string recipe in Env("FT_RECIPES", "probe,finetune,fixmatch").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var options = new FineTuneOptions { UnlabeledRows = unlabeled, Epochs = epochs, Seed = seed, AllowCuda = false, LearningRate = EnvDouble("FT_LR", 3e-3), ValidationFraction = EnvDouble("FT_VAL", 0), EncoderLearningRateScale = EnvDouble("FT_ENC_SCALE", 1) };
            var semi = new SemiSupervisedOptions { Threshold = EnvDouble("FT_THRESHOLD", 0.8), UnlabeledRatio = EnvInt("FT_MU", 3) };
            SslEncoder start = encoder;
            SslEncoder? scratch = null;
            switch (recipe)
            {
                case "probe": options.FreezeEncoder = true; options.LearningRate = 1e-2; break;
                case "finetune": break;
                case "finetune-proj": options.HeadFromProjectionLayer = 1; break;
                case "scratch":
                    torch.manual_seed(seed);
                    start = scratch = EncoderFactory.Create(shape);
                    break;
                case "fixmatch": options.SemiSupervised = semi; break;
                case "fixmatch-scratch":
                    torch.manual_seed(seed);
                    start = scratch = EncoderFactory.Create(shape);
                    options.SemiSupervised = semi;
                    break;
                case "selftrain": options.PseudoLabelThreshold = EnvDouble("FT_THRESHOLD", 0.8); break;
                case "fixmatch-distill":
                    options.SemiSupervised = semi;
                    options.Distill = new DistillationOptions { Epochs = EnvInt("FT_DISTILL_EPOCHS", 10) };
                    break;
                case "distill": options.Distill = new DistillationOptions { Epochs = EnvInt("FT_DISTILL_EPOCHS", 10) }; break;
                case "distill-small":
                    options.Distill = new DistillationOptions { Epochs = EnvInt("FT_DISTILL_EPOCHS", 10), StudentEncoder = new EncoderOptions { WidthMultiplier = 0.5 } };
                    break;
                default: throw new ArgumentException($"Unknown recipe {recipe}.");
            }
            options.Progress = new SyncProgress<FineTuneProgress>(r => { if (r.EpochSummary is { } e) Log("    " + e); });
            var clock = Stopwatch.StartNew();
            FineTuneResult result = FineTuner.Train(start, labeled, options, head);
            double accuracy = result.Classifier.Accuracy(test);
            string teacher = result.Teacher is { } t ? $", teacher {t.Accuracy(test):P1}" : "";
            Log($"{recipe}: test accuracy {accuracy:P1}{teacher} (best epoch {result.BestEpoch} of {result.FinalStage}, " +
                $"{result.History.Count} epochs in all, {clock.Elapsed.TotalSeconds:0} s)");
            result.Classifier.Dispose();
            result.Teacher?.Dispose();
            scratch?.Dispose();
        }
    }

    [SkippableFact]
    public void BanknoteLabelFractions()
    {
        Skip.IfNot(Enabled, SkipReason);
        SslEnvironment.EnsureInitialized();
        torch.set_num_threads(EnvInt("FT_THREADS", 1));
        using var scope = torch.NewDisposeScope();
        var table = FineTuneTestData.Banknote();
        using SslTensorDataset pool = FineTuneTestData.Slice(table, 0, 1000);
        using SslTensorDataset test = FineTuneTestData.Slice(table, 1000, 372);
        Tensor testRows = test.Slice(0, test.Count, torch.CPU);
        torch.manual_seed(1);
        using SslEncoder encoder = EncoderFactory.Create(pool.Shape, new EncoderOptions { HiddenSize = 128 });

        double FineTune(LabelDraw draw, bool semi)
        {
            using SslTensorDataset labeled = draw.Labeled(pool), unlabeled = draw.Unlabeled(pool);
            FineTuneResult result = FineTuner.Train(encoder, labeled, new FineTuneOptions
            {
                Epochs = 10, Seed = draw.Seed, AllowCuda = false,
                UnlabeledRows = semi && unlabeled.Count > 0 ? unlabeled : null,
                SemiSupervised = semi && unlabeled.Count > 0 ? new SemiSupervisedOptions() : null,
            });
            using SslClassifier classifier = result.Classifier;
            return classifier.Accuracy(test);
        }

        LabelFractionReport report = LabelFractionExperiment.Run(pool.Labels!, [0.01, 0.1, 1.0], [1, 2, 3, 4, 5],
        [
            new LabelFractionCandidate("L-BFGS logistic regression on the raw features", d =>
            {
                using SslTensorDataset labeled = d.Labeled(pool);
                return LinearProbe.Accuracy(labeled.Slice(0, labeled.Count, torch.CPU), labeled.Labels!, testRows, test.Labels!);
            }),
            new LabelFractionCandidate("MLP fine-tuned on the labels", d => FineTune(d, semi: false)),
            new LabelFractionCandidate("MLP with FixMatch on the unlabeled rest", d => FineTune(d, semi: true)),
        ], progress: new SyncProgress<string>(Log));
        Log("banknote (1,000-row pool, 372 test rows), mean ± std over 5 label draws:" + Environment.NewLine + report.ToMarkdown());
    }

    private SimClrMethod PretrainedCifarMethod(SslTensorDataset pool, int epochs)
    {
        string cache = Path.Combine(Path.GetTempPath(), $"mlnetssl-ft-simclr-cifar-{pool.Count}-{epochs}.bin");
        torch.manual_seed(11);
        SslEncoder encoder = EncoderFactory.Create(pool.Shape, new EncoderOptions());
        var method = new SimClrMethod(encoder);
        if (File.Exists(cache))
        {
            using var reader = new BinaryReader(File.OpenRead(cache));
            method.load(reader);
            Log($"loaded the pretrained SimCLR encoder from the cache ({epochs} epochs)");
        }
        else if (epochs > 0)
        {
            var clock = Stopwatch.StartNew();
            SslPretrainer.Run(method, pool, DefaultAugmentations.For(SslMethod.SimClr, pool.Shape), new PretrainingOptions
            {
                Epochs = epochs, BatchSize = 128, LearningRate = 2e-3, Seed = 11, AllowCuda = false,
                Progress = new SyncProgress<SslProgress>(p => { if (p.EpochSummary is { } e) Log("    pretrain " + e); }),
            });
            method.save(cache);
            Log($"pretrained SimCLR for {epochs} epochs in {clock.Elapsed.TotalSeconds:0} s");
        }
        method.eval();
        return method;
    }

    private void Log(string line)
    {
        output.WriteLine(line);
        File.AppendAllText(Path.Combine(Path.GetTempPath(), "mlnetssl-finetune-experiments.log"), $"{DateTime.Now:HH:mm:ss} {line}{Environment.NewLine}");
    }

    private sealed class SyncProgress<T>(Action<T> callback) : IProgress<T>
    {
        public void Report(T value) => callback(value);
    }
}
