using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>The outcome of <see cref="SslPretrainer.Run"/>.</summary>
public sealed class SslPretrainingResult
{
    /// <summary>One record per epoch, including epochs restored from a checkpoint.</summary>
    public required IReadOnlyList<SslEpochRecord> History { get; init; }

    /// <summary>Epochs restored from a checkpoint instead of trained in this call (0 when starting fresh).</summary>
    public required int ResumedEpochs { get; init; }

    /// <summary>Optimizer steps in the whole run.</summary>
    public required long Steps { get; init; }

    /// <summary>Wall-clock time of this call.</summary>
    public required TimeSpan Duration { get; init; }

    /// <summary>Collapse warnings raised during the run, by epoch.</summary>
    public IReadOnlyList<string> Warnings => [.. History.Where(h => h.CollapseWarning is not null).Select(h => $"epoch {h.Epoch}: {h.CollapseWarning}")];
}

/// <summary>
/// The pretraining loop: shuffled batches each epoch, augmented views, the method's loss, warm-up plus cosine
/// learning rate, gradient clipping, target updates, checkpoints with exact resume, a kNN monitor, collapse
/// detection, progress and cancellation. Every step runs inside its own dispose scope so native memory stays flat.
/// Randomness is derived from the seed, the epoch and the step index alone, which is what makes a resumed run
/// bitwise identical to an uninterrupted one on the CPU.
/// </summary>
public static class SslPretrainer
{
    /// <summary>Pretrains <paramref name="method"/> on <paramref name="data"/>.</summary>
    /// <param name="method">The method, with its encoder; moved to the training device.</param>
    /// <param name="data">Unlabeled rows (labels, if any, are ignored here).</param>
    /// <param name="policy">Augmentations that make the views.</param>
    /// <param name="options">Schedule, optimizer, checkpoints, progress and cancellation.</param>
    /// <param name="monitor">Optional labeled rows: half are the kNN reference, half are classified each epoch.</param>
    /// <exception cref="OperationCanceledException">Cancelled; checkpoints written so far remain.</exception>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite, or the encoder's eval-mode embeddings did.</exception>
    public static SslPretrainingResult Run(ISslMethod method, SslTensorDataset data, AugmentationPolicy policy,
        PretrainingOptions options, SslTensorDataset? monitor = null)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (data.Count < 2)
            throw new ArgumentException($"Pretraining needs at least 2 rows; the data has {data.Count}.", nameof(data));
        if (data.Shape != method.Encoder.InputShape)
            throw new ArgumentException($"The data's rows are {data.Shape} but the encoder expects {method.Encoder.InputShape}.", nameof(data));
        if (monitor is not null && (monitor.Labels is null || monitor.Labels.Count(l => l >= 0) < 2))
            throw new ArgumentException("Monitor data needs at least 2 labeled rows.", nameof(monitor));

        if (options.CheckpointDirectory is { } checkpoints) RequireWritable(checkpoints);
        SslEnvironment.EnsureInitialized();
        var clock = Stopwatch.StartNew();
        Device device = SslEnvironment.SelectDevice(options.AllowCuda);
        method.Module.to(device);
        method.Module.train();

        int batchSize = (int)Math.Min(options.BatchSize, data.Count);
        long stepsPerEpoch = data.Count / batchSize; // the last partial batch is dropped: BatchNorm and in-batch negatives need full batches
        long totalSteps = stepsPerEpoch * options.Epochs;
        // Learning-rate and momentum schedules span ScheduleEpochs, so a run stopped early and later continued to more
        // epochs (multi-fidelity search) follows the same curve as one that ran straight through.
        long scheduleSteps = stepsPerEpoch * options.ResolvedScheduleEpochs;
        long warmupSteps = (long)Math.Round(options.WarmupEpochs * stepsPerEpoch);

        List<Parameter> parameters = method.TrainableParameters().ToList();
        using TrainingOptimizer optimizer = TrainingOptimizer.Create(parameters, options);
        // Only checkpointed runs need it (it hashes the data).
        string? fingerprint = options.CheckpointDirectory is null ? null : Fingerprint(method, data, policy, options, batchSize);

        var history = new List<SslEpochRecord>();
        int startEpoch = 0;
        long step = 0;
        if (options.CheckpointDirectory is { } checkpointDirectory && PretrainingCheckpoint.TryRead(checkpointDirectory) is { } checkpoint)
        {
            if (checkpoint.Fingerprint != fingerprint)
                throw new InvalidOperationException(
                    $"The checkpoint in {checkpointDirectory} belongs to a different run: the method or its options, the " +
                    "encoder, the data (its rows or their values), the augmentation policy, or a pretraining option that " +
                    "shapes the weights (ScheduleEpochs, BatchSize, LearningRate, Optimizer, WeightDecay, Momentum, " +
                    "LarsTrustCoefficient, WarmupEpochs, FinalLearningRateFraction, GradientClipNorm, Seed) differs, or it was written " +
                    "by an earlier MlNetSsl that recorded fewer of these. Use another CheckpointDirectory, or delete the checkpoint to start over.");
            // With ScheduleEpochs set, a longer run's checkpoint matches a shorter one's fingerprint; resumed, it returned the
            // longer run's weights and history as if they were the Epochs asked for.
            if (checkpoint.CompletedEpochs > options.Epochs)
                throw new InvalidOperationException(
                    $"The checkpoint in {checkpointDirectory} has {checkpoint.CompletedEpochs} completed epochs, more than Epochs = {options.Epochs}: " +
                    $"resuming it would return the longer run. Set Epochs to {checkpoint.CompletedEpochs} or more to continue it, or use another " +
                    $"CheckpointDirectory (or delete the checkpoint) to train {options.Epochs} epochs.");
            ModuleState.Load(method.Module, checkpoint.ModuleState, $"The pretraining checkpoint {PretrainingCheckpoint.FileName}");
            using (var reader = new BinaryReader(new MemoryStream(checkpoint.OptimizerState)))
                optimizer.Load(reader);
            history.AddRange(checkpoint.History);
            startEpoch = checkpoint.CompletedEpochs;
            step = checkpoint.Step;
        }
        int resumedEpochs = startEpoch;

        using var featureBank = data.Shape.Kind == SslInputKind.Tabular ? FeatureBank(data, options.Seed, device) : null;
        using var generator = new Generator((ulong)options.Seed, device);
        double learningRate = 0;
        // The loss before this run's first update, the reference for the divergence warning (a run can diverge within its
        // first epoch); a resumed run measures from where it resumed. Only runaway growth (1,000 times) is flagged.
        double? firstLoss = null;

        for (int epoch = startEpoch; epoch < options.Epochs; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            double lossSum = 0;
            using Tensor order = EpochOrder(data.Count, options.Seed, epoch);
            for (long s = 0; s < stepsPerEpoch; s++, step++)
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                learningRate = LearningRateSchedule.WarmupCosine(step, scheduleSteps, warmupSteps, options.LearningRate, options.FinalLearningRateFraction);
                double loss;
                using (var scope = torch.NewDisposeScope())
                {
                    generator.manual_seed(StepSeed(options.Seed, step));
                    Tensor batch = data.Batch(order.narrow(0, s * batchSize, batchSize), device);
                    var views = new ViewGenerator(policy, new AugmentationContext(generator, data.Shape, featureBank));
                    Tensor lossTensor = method.ComputeLoss(batch, views);
                    loss = lossTensor.item<float>();
                    if (!double.IsFinite(loss))
                        throw new InvalidOperationException(
                            $"The {method.MethodName} loss became {loss} at epoch {epoch + 1}, step {step + 1}. Lower LearningRate " +
                            $"(now {learningRate:G3}), keep GradientClipNorm on, or check the input data for extreme values.");
                    optimizer.ZeroGrad();
                    lossTensor.backward();
                    if (options.GradientClipNorm > 0)
                        torch.nn.utils.clip_grad_norm_(parameters, options.GradientClipNorm);
                    optimizer.Step(learningRate);
                    method.AfterOptimizerStep(step, scheduleSteps);
                }
                lossSum += loss;
                firstLoss ??= loss;
                if (options.Progress is { } progress)
                {
                    double rate = (s + 1) * batchSize / Math.Max(epochClock.Elapsed.TotalSeconds, 1e-9);
                    progress.Report(new SslProgress
                    {
                        Epoch = epoch + 1, TotalEpochs = options.Epochs, Step = step + 1, TotalSteps = totalSteps,
                        Loss = loss, LearningRate = learningRate, SamplesPerSecond = rate,
                        EstimatedTimeRemaining = TimeSpan.FromSeconds((totalSteps - step - 1) * batchSize / rate),
                    });
                }
            }
            double trainSeconds = epochClock.Elapsed.TotalSeconds;

            SslEpochRecord record = EvaluateEpoch(method, data, monitor, options, epoch + 1, lossSum / stepsPerEpoch, learningRate);
            record = record with
            {
                Seconds = epochClock.Elapsed.TotalSeconds,
                SamplesPerSecond = stepsPerEpoch * batchSize / Math.Max(trainSeconds, 1e-9),
                CollapseWarning = record.CollapseWarning ?? DivergenceWarning(firstLoss, record.MeanLoss, learningRate),
            };
            history.Add(record);
            if (record.CollapseWarning is not null)
                Trace.TraceWarning($"MlNetSsl {method.MethodName}: {record.CollapseWarning} (epoch {record.Epoch}).");

            bool last = epoch + 1 == options.Epochs;
            if (options.CheckpointDirectory is { } directory && ((epoch + 1) % options.CheckpointEveryEpochs == 0 || last))
            {
                try
                {
                    WriteCheckpoint(directory, fingerprint!, epoch + 1, step, history, method, optimizer);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new IOException($"The checkpoint after epoch {epoch + 1} could not be written to CheckpointDirectory " +
                        $"'{directory}' ({e.Message}); the previous checkpoint, if any, is intact. Free disk space or choose another folder.", e);
                }
            }

            options.Progress?.Report(new SslProgress
            {
                Epoch = epoch + 1, TotalEpochs = options.Epochs, Step = step, TotalSteps = totalSteps,
                Loss = record.MeanLoss, LearningRate = learningRate, SamplesPerSecond = record.SamplesPerSecond,
                EstimatedTimeRemaining = TimeSpan.FromSeconds(record.Seconds * (options.Epochs - epoch - 1)),
                EpochSummary = record,
            });
        }

        method.Module.eval();
        return new SslPretrainingResult { History = history, ResumedEpochs = resumedEpochs, Steps = totalSteps, Duration = clock.Elapsed };
    }

    // Found before the first epoch, not after it: a folder that cannot take a checkpoint would otherwise cost an epoch.
    private static void RequireWritable(string directory)
    {
        string probe = Path.Combine(directory, $".write-probe-{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(directory);
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"CheckpointDirectory '{directory}' cannot be written ({e.Message}). Choose a folder this process " +
                "can create and write to, or leave CheckpointDirectory unset to train without checkpoints.", e);
        }
    }

    /// <summary>
    /// The kNN monitor's reference rows and queries: within each class, its labeled rows alternate between the two, so
    /// every class with two rows or more is on both sides whatever the order of the rows. (Alternating over all labeled
    /// rows put every query of a file whose classes cycle 0, 1, 0, 1 among references of the other class: 0% on a
    /// good encoder.)
    /// </summary>
    internal static (int[] Reference, int[] Queries) MonitorSplit(int[] labels)
    {
        var reference = new List<int>();
        var queries = new List<int>();
        foreach (var rows in Enumerable.Range(0, labels.Length).Where(i => labels[i] >= 0).GroupBy(i => labels[i]))
            foreach (var (row, n) in rows.Select((row, n) => (row, n)))
                (n % 2 == 0 ? reference : queries).Add(row);
        reference.Sort();
        queries.Sort();
        return ([.. reference], [.. queries]);
    }

    /// <summary>
    /// A warning when an epoch's mean loss has grown far above the loss of the run's first step: a learning rate too high
    /// for the method (an audit's VICReg at 10 without clipping went from 22.3 to 1.7e18 with no word, 4.7e16 already in
    /// its first epoch; its embeddings stayed finite). Losses that fall below zero (BYOL, SimSiam) are measured from that
    /// first value, so a rise of 1,000 times the larger of its size and 1 is never noise. Null otherwise.
    /// </summary>
    internal static string? DivergenceWarning(double? firstLoss, double loss, double learningRate) =>
        firstLoss is double first && double.IsFinite(first) && double.IsFinite(loss) && loss - first > 1000 * Math.Max(1, Math.Abs(first))
            ? string.Create(CultureInfo.InvariantCulture,
                $"the training loss grew from {first:G4} (this run's first step) to {loss:G4}: training diverged; lower LearningRate (now {learningRate:G3}) or keep GradientClipNorm on")
            : null;

    // Finite but huge embeddings: weights pushed far out of range while a bounded loss (InfoNCE's) shows nothing (an audit's
    // SCARF at learning rate 1e6 reached 2e12). No encoder's output comes near 1e6 on standardized inputs.
    private static string? OutOfRangeWarning(Tensor sample, double learningRate)
    {
        double largest = sample.abs().max().item<float>();
        return largest > 1e6
            ? string.Create(CultureInfo.InvariantCulture, $"embeddings reach {largest:G3} in size: training diverged; lower LearningRate (now {learningRate:G3}) or keep GradientClipNorm on")
            : null;
    }

    private static SslEpochRecord EvaluateEpoch(ISslMethod method, SslTensorDataset data, SslTensorDataset? monitor,
        PretrainingOptions options, int epoch, double meanLoss, double learningRate)
    {
        using var scope = torch.NewDisposeScope();
        SslEncoder encoder = method.Encoder;
        long rows = Math.Min(data.Count, options.CollapseCheckRows);
        // Evenly spaced rows: the same sample every epoch, so spread and rank are comparable across epochs.
        var sampleIndex = torch.linspace(0, data.Count - 1, rows).to_type(ScalarType.Int64);
        Tensor sample;
        using (torch.no_grad())
        {
            bool wasTraining = encoder.training;
            encoder.eval();
            Device device = encoder.parameters().First().device;
            sample = encoder.forward(data.Batch(sampleIndex, device)).cpu();
            encoder.train(wasTraining);
        }
        // A finite loss with non-finite embeddings: the eval-mode path (BatchNorm's running statistics) overflowed. Say so
        // here rather than write NaN into the history, the checkpoint and every downstream trainer's features.
        if (!sample.isfinite().all().item<bool>())
            throw new InvalidOperationException(
                $"The {method.MethodName} encoder's embeddings became NaN or infinite at epoch {epoch} although the training loss " +
                $"({meanLoss:G4}) is finite. Lower LearningRate (now {learningRate:G3}), keep GradientClipNorm on, or check the input data for extreme values.");
        double spread = EmbeddingQuality.Spread(sample);
        double rank = EmbeddingQuality.EffectiveRank(sample);

        double? accuracy = null;
        // Without a class of two labeled rows there is no query to vote on: no figure rather than a NaN.
        if (monitor is not null && MonitorSplit(monitor.Labels!) is { Queries.Length: > 0 } split)
        {
            // Every labeled row, every epoch: tens of thousands of images take seconds, so a cancel stops between batches.
            Tensor embeddings = encoder.EmbedAll(monitor, 512, options.CancellationToken);
            int[] labels = monitor.Labels!;
            var (reference, queries) = split;
            Tensor Rows(int[] index) => embeddings.index_select(0, torch.tensor(index.Select(i => (long)i).ToArray()));
            accuracy = KnnClassifier.Accuracy(Rows(reference), reference.Select(i => labels[i]).ToArray(),
                Rows(queries), queries.Select(i => labels[i]).ToArray(), options.KnnNeighbors);
        }

        return new SslEpochRecord
        {
            Epoch = epoch, MeanLoss = meanLoss, LearningRate = learningRate, MonitorAccuracy = accuracy,
            EmbeddingSpread = spread, EffectiveRank = rank,
            CollapseWarning = EmbeddingQuality.CollapseWarning(spread, rank, encoder.EmbeddingSize) ?? OutOfRangeWarning(sample, learningRate),
        };
    }

    private static void WriteCheckpoint(string directory, string fingerprint, int completedEpochs, long step,
        List<SslEpochRecord> history, ISslMethod method, TrainingOptimizer optimizer)
    {
        using var optimizerState = new MemoryStream();
        using (var writer = new BinaryWriter(optimizerState, Encoding.UTF8, leaveOpen: true))
            optimizer.Save(writer);
        new PretrainingCheckpoint
        {
            Fingerprint = fingerprint, CompletedEpochs = completedEpochs, Step = step, History = [.. history],
            ModuleState = ModuleState.ToBytes(method.Module), OptimizerState = optimizerState.ToArray(),
        }.Write(directory);
    }

    // A permutation that depends only on (seed, epoch): resuming at any epoch replays the same order.
    private static Tensor EpochOrder(long count, int seed, int epoch)
    {
        using var generator = new Generator((ulong)StepSeed(seed, -1 - epoch));
        return torch.randperm(count, generator: generator);
    }

    // Stream 0 of the engine's seed mixer: the step seeds of every run so far stay as they were.
    private static long StepSeed(int seed, long step) => SeedMixer.Derive(seed, 0, step);

    private static Tensor FeatureBank(SslTensorDataset data, int seed, Device device)
    {
        using var scope = torch.NewDisposeScope();
        long rows = Math.Min(data.Count, 4096);
        using var generator = new Generator((ulong)StepSeed(seed, long.MinValue / 2));
        var index = torch.randperm(data.Count, generator: generator).narrow(0, 0, rows);
        return data.Batch(index, device).MoveToOuterDisposeScope();
    }

    // Everything that shapes the trained weights: a checkpoint written under a different value must not be resumed.
    // Left out on purpose: Epochs (a run may continue to more epochs within ScheduleEpochs), AllowCuda, checkpoint,
    // monitor and progress settings, which change neither the steps nor their order.
    private static string Fingerprint(ISslMethod method, SslTensorDataset data, AugmentationPolicy policy, PretrainingOptions options, int batchSize)
    {
        var text = new StringBuilder()
            .Append(method.MethodName).Append('|').Append(method.Encoder.Kind).Append('|').Append(Number(method.Encoder.EmbeddingSize))
            .Append('|').Append(data.Shape.RecordText()).Append('|').Append(Number(data.Count)).Append('|').Append(data.ContentHash())
            .Append('|').Append(policy.ToJson())
            .Append('|').Append(Number(options.ResolvedScheduleEpochs)).Append('|').Append(Number(batchSize)).Append('|').Append(Number(options.LearningRate))
            .Append('|').Append(options.Optimizer).Append('|').Append(Number(options.WeightDecay)).Append('|').Append(Number(options.Momentum))
            .Append('|').Append(Number(options.LarsTrustCoefficient)).Append('|').Append(Number(options.WarmupEpochs))
            .Append('|').Append(Number(options.FinalLearningRateFraction)).Append('|').Append(Number(options.GradientClipNorm))
            .Append('|').Append(Number(options.Seed))
            .Append('|').Append(MethodOptionsJson(method.Options));
        foreach (var (name, parameter) in method.Module.named_parameters())
            text.Append('|').Append(name).Append(':').Append(string.Join('x', parameter.shape));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    // Round-trip formatting, independent of the current culture.
    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    // Serialized with the runtime type, so the method's own settings (SimClrOptions.Temperature, ...) are included.
    private static string MethodOptionsJson(SslMethodOptions? methodOptions) =>
        methodOptions is null ? "no options" : methodOptions.GetType().FullName + JsonSerializer.Serialize(methodOptions, methodOptions.GetType());
}
