using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.FineTuning;

/// <summary>
/// <see cref="FineTuner"/> on real data: fine-tuning beats a linear probe, FixMatch and self-training use the
/// unlabeled rows, distillation reproduces the teacher, freezing freezes, early stopping restores the best epoch, the
/// same seed gives the same weights, and bad inputs fail with clear exceptions.
/// </summary>
public sealed class FineTunerTests(ITestOutputHelper output) : IDisposable
{
    private readonly SingleThreadScope _threads = new();

    /// <inheritdoc />
    public void Dispose() => _threads.Dispose();

    [SkippableFact]
    public void FineTuningBeatsALinearProbeOnTheSameFrozenEncoder()
    {
        using var scope = torch.NewDisposeScope();
        using SslTensorDataset pool = FineTuneTestData.Mnist(2000, 0, labeled: false);
        using SslTensorDataset labeled = FineTuneTestData.Mnist(500, 0);
        using SslTensorDataset test = FineTuneTestData.Mnist(1000, 9000);
        torch.manual_seed(5);
        using SslEncoder encoder = EncoderFactory.Create(labeled.Shape, new EncoderOptions { WidthMultiplier = 0.5, Depth = 3 });
        using (var method = new SimClrMethod(encoder))
            SslPretrainer.Run(method, pool, DefaultAugmentations.For(SslMethod.SimClr, pool.Shape),
                new PretrainingOptions { Epochs = 2, BatchSize = 128, LearningRate = 2e-3, Seed = 5, AllowCuda = false });

        double Run(bool freeze)
        {
            var options = new FineTuneOptions { Epochs = 15, Seed = 5, AllowCuda = false, FreezeEncoder = freeze, LearningRate = freeze ? 1e-2 : 3e-3, ValidationFraction = 0 };
            FineTuneResult result = FineTuner.Train(encoder, labeled, options);
            using SslClassifier classifier = result.Classifier;
            return classifier.Accuracy(test);
        }

        double frozen = Run(freeze: true), fineTuned = Run(freeze: false);
        using Tensor trainEmbeddings = encoder.EmbedAll(labeled), testEmbeddings = encoder.EmbedAll(test);
        double probe = LinearProbe.Accuracy(trainEmbeddings, labeled.Labels!, testEmbeddings, test.Labels!);
        output.WriteLine($"MNIST, SimCLR 2 epochs on 2,000 images, 500 labels: L-BFGS linear probe {probe:P1}, " +
            $"frozen-encoder FineTuner {frozen:P1}, fine-tuned {fineTuned:P1}");
        Assert.True(fineTuned >= probe + 0.04, $"fine-tuned {fineTuned:P1} vs L-BFGS probe {probe:P1}");
        Assert.True(fineTuned >= frozen + 0.1, $"fine-tuned {fineTuned:P1} vs frozen encoder {frozen:P1}");
    }

    [SkippableFact]
    public void FixMatchUsesTheUnlabeledRowsAndChangesTheResult()
    {
        using var scope = torch.NewDisposeScope();
        var table = FineTuneTestData.Banknote();
        using SslTensorDataset labeled = FineTuneTestData.Slice(table, 0, 8);
        using SslTensorDataset unlabeled = FineTuneTestData.Slice(table, 16, 800); // true labels kept for the diagnostic only
        using SslTensorDataset test = FineTuneTestData.Slice(table, 1000, 372);
        torch.manual_seed(3);
        using SslEncoder encoder = EncoderFactory.Create(labeled.Shape, new EncoderOptions { HiddenSize = 128 });

        FineTuneResult Run(bool semi) => FineTuner.Train(encoder, labeled, new FineTuneOptions
        {
            Epochs = 10, Seed = 3, AllowCuda = false,
            UnlabeledRows = semi ? unlabeled : null,
            SemiSupervised = semi ? new SemiSupervisedOptions() : null,
        });

        FineTuneResult supervised = Run(semi: false), fixMatch = Run(semi: true);
        using SslClassifier a = supervised.Classifier, b = fixMatch.Classifier;
        long accepted = fixMatch.History.Sum(h => h.PseudoLabelsAccepted);
        foreach (var record in fixMatch.History) output.WriteLine(record.ToString());
        double supervisedAccuracy = a.Accuracy(test), fixMatchAccuracy = b.Accuracy(test);
        output.WriteLine($"banknote, 8 labels + 800 unlabeled: supervised {supervisedAccuracy:P1}, FixMatch {fixMatchAccuracy:P1}, {accepted} pseudo-labels accepted");

        Assert.All(supervised.History, h => Assert.Equal(0, h.PseudoLabelsConsidered));
        Assert.True(accepted > 0, "FixMatch accepted no pseudo-label");
        Assert.True(fixMatch.History[^1].AcceptanceRate > 0.5, $"acceptance rate {fixMatch.History[^1].AcceptanceRate}");
        Assert.True(fixMatch.History[^1].PseudoLabelAccuracy > 0.9, $"pseudo-label accuracy {fixMatch.History[^1].PseudoLabelAccuracy}");
        Assert.True(fixMatch.History.All(h => h.UnlabeledLoss > 0 || h.PseudoLabelsAccepted == 0));
        Assert.False(ModuleState.ToBytes(a).AsSpan().SequenceEqual(ModuleState.ToBytes(b)), "the unlabeled rows did not change the weights");
        Assert.True(fixMatchAccuracy >= supervisedAccuracy + 0.03, $"FixMatch {fixMatchAccuracy:P1} vs supervised {supervisedAccuracy:P1}");
    }

    [SkippableFact]
    public void SelfTrainingAddsConfidentPseudoLabeledRows()
    {
        using var scope = torch.NewDisposeScope();
        var table = FineTuneTestData.Banknote();
        using SslTensorDataset labeled = FineTuneTestData.Slice(table, 0, 16);
        using SslTensorDataset unlabeled = FineTuneTestData.Slice(table, 16, 800);
        torch.manual_seed(4);
        using SslEncoder encoder = EncoderFactory.Create(labeled.Shape, new EncoderOptions { HiddenSize = 64 });

        FineTuneResult result = FineTuner.Train(encoder, labeled, new FineTuneOptions
        {
            Epochs = 30, BatchSize = 16, Seed = 4, AllowCuda = false, ValidationFraction = 0, LearningRate = 1e-2,
            UnlabeledRows = unlabeled, PseudoLabelThreshold = 0.9, SelfTrainingRounds = 2,
        });
        using SslClassifier classifier = result.Classifier;
        foreach (var record in result.History.Where(h => h.Epoch % 10 == 0)) output.WriteLine(record.ToString());

        Assert.Equal(FineTuneStage.SelfTraining, result.FinalStage);
        Assert.Equal(30 * 3, result.History.Count);
        Assert.Equal([1, 2], result.History.Where(h => h.Stage == FineTuneStage.SelfTraining).Select(h => h.Round).Distinct());
        Assert.True(result.PseudoLabeledRows > 100, $"{result.PseudoLabeledRows} pseudo-labeled rows");
        Assert.True(result.History[^1].PseudoLabeledRowsAccuracy > 0.9, $"pseudo-label accuracy {result.History[^1].PseudoLabeledRowsAccuracy}");
    }

    [SkippableFact]
    public void DistilledStudentMatchesTheTeacherOnHeldOutRows()
    {
        using var scope = torch.NewDisposeScope();
        var table = FineTuneTestData.Wine();
        using SslTensorDataset labeled = FineTuneTestData.Slice(table, 0, 600);
        using SslTensorDataset unlabeled = FineTuneTestData.Slice(table, 600, 3000, labeled: false);
        using SslTensorDataset test = FineTuneTestData.Slice(table, 3898, 1000);
        var small = new EncoderOptions { HiddenSize = 64, Depth = 2 };   // a quarter of the teacher's hidden weights
        torch.manual_seed(6);
        using SslEncoder encoder = EncoderFactory.Create(labeled.Shape, new EncoderOptions { HiddenSize = 128 });

        FineTuneResult result = FineTuner.Train(encoder, labeled, new FineTuneOptions
        {
            Epochs = 15, Seed = 6, AllowCuda = false, ValidationFraction = 0, UnlabeledRows = unlabeled, LearningRate = 3e-3,
            Distill = new DistillationOptions { StudentEncoder = small, Epochs = 8, HardLabelWeight = 0 },
        });
        using SslClassifier student = result.Classifier;
        using SslClassifier teacher = result.Teacher!;

        // The same small network trained on the labels alone: how much it agrees with the teacher without distillation.
        torch.manual_seed(6);
        using SslEncoder smallEncoder = EncoderFactory.Create(labeled.Shape, small);
        FineTuneResult alone = FineTuner.Train(smallEncoder, labeled, new FineTuneOptions { Epochs = 15, Seed = 6, AllowCuda = false, ValidationFraction = 0, LearningRate = 3e-3 });
        using SslClassifier independent = alone.Classifier;

        using Tensor ps = student.PredictProbabilities(test), pt = teacher.PredictProbabilities(test), pi = independent.PredictProbabilities(test);
        double agreement = (ps.argmax(1) == pt.argmax(1)).to_type(ScalarType.Float64).mean().item<double>();
        double baseline = (pi.argmax(1) == pt.argmax(1)).to_type(ScalarType.Float64).mean().item<double>();
        double totalVariation = (ps - pt).abs().sum(1).mean().item<float>() / 2;
        double teacherAccuracy = teacher.Accuracy(test), studentAccuracy = student.Accuracy(test);
        output.WriteLine($"wine, 600 labels + 3,000 unlabeled: teacher {teacherAccuracy:P1}, student {studentAccuracy:P1}, agreement {agreement:P1} " +
            $"(independently trained small network: {baseline:P1}), mean total-variation distance {totalVariation:0.###}");
        Assert.Equal(FineTuneStage.Distillation, result.FinalStage);
        Assert.Equal(64, student.Encoder.EmbeddingSize);
        Assert.True(agreement >= 0.85, $"the student agrees with the teacher on {agreement:P1} of held-out rows");
        Assert.True(agreement >= baseline + 0.03, $"distillation agreement {agreement:P1} vs {baseline:P1} without it");
        Assert.True(totalVariation <= 0.1, $"mean total-variation distance {totalVariation}");
        Assert.True(Math.Abs(studentAccuracy - teacherAccuracy) <= 0.03, $"student {studentAccuracy:P1} vs teacher {teacherAccuracy:P1}");
    }

    [SkippableFact]
    public void ClassBalancedSamplingDrawsEveryClassEquallyOften()
    {
        int[] labels = [.. Enumerable.Repeat(0, 90), .. Enumerable.Repeat(1, 10)];
        using var balanced = new IndexStream(labels.Length, seed: 1, balanceLabels: labels);
        long[] draws = Enumerable.Range(0, 50).SelectMany(_ => balanced.Next(40)).ToArray();
        double minority = draws.Count(i => labels[i] == 1) / (double)draws.Length;
        Assert.InRange(minority, 0.45, 0.55);

        // Plain passes visit every row once per pass, in a new order each pass.
        using var plain = new IndexStream(labels.Length, seed: 1);
        long[] first = plain.Next(100), second = plain.Next(100);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), first.Order());
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), second.Order());
        Assert.NotEqual(first, second);
    }

    [SkippableFact]
    public void FreezingKeepsTheEncoderBitwiseAndFineTuningNeverTouchesTheOriginal()
    {
        using var scope = torch.NewDisposeScope();
        using SslTensorDataset labeled = FineTuneTestData.Mnist(256, 0);
        torch.manual_seed(7);
        using SslEncoder encoder = EncoderFactory.Create(labeled.Shape, new EncoderOptions { WidthMultiplier = 0.25, Depth = 3 });
        byte[] original = ModuleState.ToBytes(encoder);

        FineTuneResult frozen = FineTuner.Train(encoder, labeled, new FineTuneOptions { Epochs = 2, Seed = 7, AllowCuda = false, FreezeEncoder = true });
        using SslClassifier probe = frozen.Classifier;
        Assert.Equal(original, ModuleState.ToBytes(probe.Encoder));      // weights and BatchNorm statistics
        Assert.All(probe.Encoder.parameters(), p => Assert.False(p.requires_grad));

        FineTuneResult tuned = FineTuner.Train(encoder, labeled, new FineTuneOptions { Epochs = 2, Seed = 7, AllowCuda = false });
        using SslClassifier classifier = tuned.Classifier;
        Assert.NotEqual(original, ModuleState.ToBytes(classifier.Encoder));
        Assert.Equal(original, ModuleState.ToBytes(encoder));            // the pretrained encoder is untouched
        Assert.All(encoder.parameters(), p => Assert.True(p.requires_grad));
    }

    [SkippableFact]
    public void EarlyStoppingRestoresTheBestEpoch()
    {
        using var scope = torch.NewDisposeScope();
        var table = FineTuneTestData.Wine();
        using SslTensorDataset labeled = FineTuneTestData.Slice(table, 0, 400);
        torch.manual_seed(8);
        using SslEncoder encoder = EncoderFactory.Create(labeled.Shape, new EncoderOptions { HiddenSize = 256 });

        // A large learning rate without warm-up overfits 360 rows quickly, so validation accuracy peaks early.
        FineTuneResult result = FineTuner.Train(encoder, labeled, new FineTuneOptions
        {
            Epochs = 60, Seed = 8, AllowCuda = false, ValidationFraction = 0.25, EarlyStoppingPatience = 4, LearningRate = 1e-2, WarmupEpochs = 0,
        });
        using SslClassifier classifier = result.Classifier;
        foreach (var record in result.History) output.WriteLine(record.ToString());

        Assert.True(result.StoppedEarly);
        Assert.Equal(result.BestEpoch + 4, result.History.Count);
        double best = result.History.Max(h => h.ValidationAccuracy!.Value);
        Assert.Equal(best, result.History[result.BestEpoch - 1].ValidationAccuracy);
        Assert.InRange(result.ValidationRows.Count, 98, 102);
        using SslTensorDataset validation = Subset(labeled, result.ValidationRows);
        Assert.Equal(best, classifier.Accuracy(validation), 10);
        // The returned weights are the best epoch's, not the last epoch's: their validation loss is the best record's.
        using Tensor probabilities = classifier.PredictProbabilities(validation);
        using Tensor targets = torch.tensor(validation.Labels!.Select(l => (long)l).ToArray());
        double loss = nn.functional.nll_loss(probabilities.clamp_min(1e-12).log(), targets).item<float>();
        Assert.Equal(result.History[result.BestEpoch - 1].ValidationLoss!.Value, loss, 5);
        Assert.NotEqual(result.History[^1].ValidationLoss!.Value, loss, 5);
    }

    [SkippableFact]
    public void FixMatchForwardsOnlyTheStrongViewsThatPassTheThreshold()
    {
        // With a threshold no prediction reaches, every strong view is masked out; none may enter the network, so the
        // trained parameters equal plain fine-tuning's with the same seed (masked rows in the batch would move
        // BatchNorm's batch statistics and so the weights). Only BatchNorm's running buffers differ: the weak views'
        // forward still runs in training mode.
        using var scope = torch.NewDisposeScope();
        var table = FineTuneTestData.Banknote();
        using SslTensorDataset labeled = FineTuneTestData.Slice(table, 0, 40);
        using SslTensorDataset unlabeled = FineTuneTestData.Slice(table, 40, 400, labeled: false);
        torch.manual_seed(4);
        using SslEncoder encoder = EncoderFactory.Create(labeled.Shape, new EncoderOptions { HiddenSize = 32 });

        FineTuneResult Run(double? threshold) => FineTuner.Train(encoder, labeled, new FineTuneOptions
        {
            Epochs = 2, StepsPerEpoch = 5, BatchSize = 16, Seed = 4, AllowCuda = false,
            UnlabeledRows = threshold is null ? null : unlabeled,
            SemiSupervised = threshold is { } t ? new SemiSupervisedOptions { Threshold = t } : null,
        });

        FineTuneResult supervised = Run(null), none = Run(1.0), all = Run(0.0);
        using SslClassifier a = supervised.Classifier, b = none.Classifier, c = all.Classifier;
        static float[] Parameters(SslClassifier model) => model.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();
        Assert.All(none.History, h => Assert.Equal(0, h.PseudoLabelsAccepted));
        Assert.Equal(Parameters(a), Parameters(b));
        Assert.All(all.History, h => Assert.Equal(h.PseudoLabelsConsidered, h.PseudoLabelsAccepted));
        Assert.NotEqual(Parameters(a), Parameters(c));
    }

    [SkippableFact]
    public void TheSameSeedGivesIdenticalWeightsWhateverTheGlobalGenerator()
    {
        using var scope = torch.NewDisposeScope();
        var table = FineTuneTestData.Banknote();
        using SslTensorDataset labeled = FineTuneTestData.Slice(table, 0, 40);
        using SslTensorDataset unlabeled = FineTuneTestData.Slice(table, 40, 200, labeled: false);
        torch.manual_seed(9);
        using SslEncoder encoder = EncoderFactory.Create(labeled.Shape, new EncoderOptions { HiddenSize = 32 });

        byte[] Run(int seed, int globalSeed)
        {
            torch.manual_seed(globalSeed);
            FineTuneResult result = FineTuner.Train(encoder, labeled, new FineTuneOptions
            {
                Epochs = 2, BatchSize = 16, Seed = seed, AllowCuda = false, UnlabeledRows = unlabeled, ClassBalancedSampling = true,
                SemiSupervised = new SemiSupervisedOptions { Threshold = 0.5 },
                Distill = new DistillationOptions { Epochs = 1, StudentEncoder = new EncoderOptions { HiddenSize = 16 } },
            });
            using SslClassifier student = result.Classifier;
            using SslClassifier teacher = result.Teacher!;
            return [.. ModuleState.ToBytes(teacher), .. ModuleState.ToBytes(student)];
        }

        byte[] first = Run(seed: 1, globalSeed: 100);
        Assert.Equal(first, Run(seed: 1, globalSeed: 200));
        Assert.NotEqual(first, Run(seed: 2, globalSeed: 100));
    }

    [SkippableFact]
    public void TrainingLeavesNoLiveTensorsBehind()
    {
        var table = FineTuneTestData.Banknote();
        using SslTensorDataset labeled = FineTuneTestData.Slice(table, 0, 40);
        using SslTensorDataset unlabeled = FineTuneTestData.Slice(table, 40, 200, labeled: false);
        torch.manual_seed(13);
        using SslEncoder encoder = EncoderFactory.Create(labeled.Shape, new EncoderOptions { HiddenSize = 32 });

        long Run(int epochs)
        {
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            FineTuneResult result = FineTuner.Train(encoder, labeled, new FineTuneOptions
            {
                Epochs = epochs, BatchSize = 16, AllowCuda = false, UnlabeledRows = unlabeled, ValidationFraction = 0.25,
                SemiSupervised = new SemiSupervisedOptions { Threshold = 0.6 }, PseudoLabelThreshold = 0.9,
                Distill = new DistillationOptions { Epochs = epochs, StudentEncoder = new EncoderOptions { HiddenSize = 16 } },
            });
            result.Classifier.Dispose();
            result.Teacher!.Dispose();
            return DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;
        }

        long shortRun = Run(1), longRun = Run(4);
        output.WriteLine($"live tensors left behind: {shortRun} after 1 epoch per stage, {longRun} after 4");
        Assert.Equal(0, shortRun);
        Assert.Equal(0, longRun);
    }

    [SkippableFact]
    public void HeadFromProjectionLayerStartsFromThePretrainedProjectionBlocks()
    {
        using var scope = torch.NewDisposeScope();
        using SslTensorDataset labeled = FineTuneTestData.Mnist(128, 0);
        torch.manual_seed(10);
        using SslEncoder encoder = EncoderFactory.Create(labeled.Shape, new EncoderOptions { WidthMultiplier = 0.25, Depth = 2 });
        using var method = new SimClrMethod(encoder, new SimClrOptions { ProjectionLayers = 3, ProjectionHiddenSize = 48 });
        ProjectionHead head = FineTuner.FindProjectionHead(method)!;
        Tensor projectionWeight = head.named_parameters().Single(p => p.name.EndsWith("linear0.weight", StringComparison.Ordinal)).parameter.detach().clone();

        FineTuneResult result = FineTuner.Train(encoder, labeled, new FineTuneOptions
        {
            Epochs = 1, Seed = 10, AllowCuda = false, HeadFromProjectionLayer = 2, FreezeEncoder = true, LearningRate = 1e-9, ValidationFraction = 0,
        }, head);
        using SslClassifier classifier = result.Classifier;

        Assert.Equal([48, 48], classifier.HeadLayout.HiddenSizes);
        Tensor copied = classifier.named_parameters().Single(p => p.name == "head.hidden0.weight").parameter;
        Assert.True(copied.allclose(projectionWeight, atol: 1e-6));
        Assert.True(head.named_parameters().Single(p => p.name.EndsWith("linear0.weight", StringComparison.Ordinal)).parameter.eq(projectionWeight).all().item<bool>());
        Assert.Throws<ArgumentOutOfRangeException>(() => FineTuner.Train(encoder, labeled, new FineTuneOptions { HeadFromProjectionLayer = 3, AllowCuda = false }, head));
        Assert.Throws<ArgumentException>(() => FineTuner.Train(encoder, labeled, new FineTuneOptions { HeadFromProjectionLayer = 1, AllowCuda = false }));
    }

    [SkippableFact]
    public void TheClassifierPredictsInBatchesAndRebuildsFromItsLayoutAndWeights()
    {
        using var scope = torch.NewDisposeScope();
        var table = FineTuneTestData.Wine();
        using SslTensorDataset labeled = FineTuneTestData.Slice(table, 0, 300);
        using SslTensorDataset test = FineTuneTestData.Slice(table, 4000, 200);
        torch.manual_seed(11);
        using SslEncoder encoder = EncoderFactory.Create(labeled.Shape, new EncoderOptions { HiddenSize = 32 });
        var progress = new List<FineTuneProgress>();
        FineTuneResult result = FineTuner.Train(encoder, labeled, new FineTuneOptions { Epochs = 3, Seed = 11, AllowCuda = false, Progress = new SyncProgress(progress.Add) });
        using SslClassifier classifier = result.Classifier;

        Tensor whole = classifier.PredictProbabilities(test, batchSize: 1000);
        Tensor batched = classifier.PredictProbabilities(test, batchSize: 7);
        Assert.Equal(new long[] { 200, 3 }, whole.shape);
        // Batches of 7 and of 200 run different kernels: each row's probabilities agree relative to their norm.
        Close.RowsEqual(whole, batched);
        Assert.True(whole.sum(1).allclose(torch.ones(200), atol: 1e-5));
        Close.RowsEqual(whole, classifier.PredictProbabilities(test.Slice(0, 200, torch.CPU)));

        // What a saved model needs: the encoder's options, the head layout and the weights.
        using var rebuilt = new SslClassifier(EncoderFactory.Create(test.Shape, classifier.Encoder.Options), classifier.HeadLayout);
        ModuleState.Load(rebuilt, ModuleState.ToBytes(classifier), "test state");
        Assert.True(rebuilt.PredictProbabilities(test).allclose(whole, atol: 1e-6));

        Assert.Equal(3, progress.Count(p => p.EpochSummary is not null));
        Assert.True(progress.Count(p => p.EpochSummary is null) >= 3);
        Assert.All(progress, p => Assert.True(double.IsFinite(p.Loss)));
    }

    [SkippableFact]
    public void BadInputsFailWithClearExceptions()
    {
        using var scope = torch.NewDisposeScope();
        var table = FineTuneTestData.Banknote();
        torch.manual_seed(12);
        using SslEncoder encoder = EncoderFactory.Create(SslInputShape.Tabular(4), new EncoderOptions { HiddenSize = 16 });
        var options = new FineTuneOptions { Epochs = 1, AllowCuda = false };

        using SslTensorDataset none = FineTuneTestData.Slice(table, 0, 20, labeled: false);
        Assert.Contains("no labeled rows", Assert.Throws<ArgumentException>(() => FineTuner.Train(encoder, none, options)).Message);

        using var noLabels = new SslTensorDataset(torch.zeros(10, 4), SslInputShape.Tabular(4));
        Assert.Contains("no labels", Assert.Throws<ArgumentException>(() => FineTuner.Train(encoder, noLabels, options)).Message);

        using var single = new SslTensorDataset(torch.randn(5, 4), SslInputShape.Tabular(4), [0, 0, 1, 1, 2]);
        Assert.Contains("Class 2 has a single labeled row (row 4)", Assert.Throws<ArgumentException>(() => FineTuner.Train(encoder, single, options)).Message);

        using var oneClass = new SslTensorDataset(torch.randn(4, 4), SslInputShape.Tabular(4), [0, 0, 0, -1]);
        Assert.Contains("at least 2 classes", Assert.Throws<ArgumentException>(() => FineTuner.Train(encoder, oneClass, options)).Message);

        using var outOfRange = new SslTensorDataset(torch.randn(4, 4), SslInputShape.Tabular(4), [0, 0, 5, 5]);
        Assert.Contains("out of range", Assert.Throws<ArgumentException>(() => FineTuner.Train(encoder, outOfRange, new FineTuneOptions { ClassCount = 3 })).Message);

        using var wrongShape = new SslTensorDataset(torch.randn(6, 5), SslInputShape.Tabular(5), [0, 0, 0, 1, 1, 1]);
        Assert.Contains("encoder expects", Assert.Throws<ArgumentException>(() => FineTuner.Train(encoder, wrongShape, options)).Message);

        using SslTensorDataset labeled = FineTuneTestData.Slice(table, 0, 40);
        Assert.Contains("UnlabeledRows",
            Assert.Throws<ArgumentException>(() => FineTuner.Train(encoder, labeled, new FineTuneOptions { UnlabeledRows = wrongShape })).Message);
        Assert.Contains("needs unlabeled rows",
            Assert.Throws<ArgumentException>(() => FineTuner.Train(encoder, labeled, new FineTuneOptions { SemiSupervised = new() })).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => FineTuner.Train(encoder, labeled, new FineTuneOptions { ValidationFraction = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => FineTuner.Train(encoder, labeled, new FineTuneOptions { SemiSupervised = new() { UnlabeledRatio = 0 } }));

        FineTuneResult result = FineTuner.Train(encoder, labeled, options);
        using SslClassifier classifier = result.Classifier;
        Assert.Contains("[N, 4]", Assert.Throws<ArgumentException>(() => classifier.PredictProbabilities(torch.zeros(3, 5))).Message);
        Assert.Throws<ArgumentException>(() => classifier.PredictProbabilities(wrongShape));

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => FineTuner.Train(encoder, labeled, new FineTuneOptions { AllowCuda = false, CancellationToken = cancelled.Token }));

        using var custom = new Methods.TinyMlpEncoder(SslInputShape.Tabular(4));
        Assert.Contains("CreateUntrained", Assert.Throws<NotSupportedException>(() => FineTuner.Train(custom, labeled, options)).Message);
    }

    // Validation and pseudo-labelling run a forward per InferenceBatchSize rows over whole row sets (seconds on tens of
    // thousands of images); a cancellation during them must stop at the next batch, not after the last one.
    [SkippableFact]
    public void CancellationStopsValidationWithinOneInferenceBatch()
    {
        var table = FineTuneTestData.Banknote();
        using SslTensorDataset labeled = FineTuneTestData.Slice(table, 0, 80);
        using var cancellation = new CancellationTokenSource();
        int evalForwards = 0;
        using var encoder = new Methods.EvalCountingEncoder(labeled.Shape, () =>
        {
            evalForwards++;
            cancellation.Cancel();
        });
        var options = new FineTuneOptions
        {
            Epochs = 3, BatchSize = 16, AllowCuda = false, ValidationFraction = 0.5, InferenceBatchSize = 2,
            CancellationToken = cancellation.Token,
        };
        Assert.Throws<OperationCanceledException>(() => FineTuner.Train(encoder, labeled, options));
        // About 40 validation rows in batches of 2: 21 forwards when the token was read only before the next training step.
        Assert.Equal(1, evalForwards);
    }

    private static SslTensorDataset Subset(SslTensorDataset data, IReadOnlyList<int> rows)
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = data.Batch(torch.tensor(rows.Select(r => (long)r).ToArray()), torch.CPU);
        return new SslTensorDataset(batch.DetachFromDisposeScope(), data.Shape, rows.Select(r => data.Labels![r]).ToArray());
    }

    private sealed class SyncProgress(Action<FineTuneProgress> callback) : IProgress<FineTuneProgress>
    {
        public void Report(FineTuneProgress value) => callback(value);
    }
}
