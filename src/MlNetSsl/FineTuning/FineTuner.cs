using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// Label-efficient learning on top of a pretrained encoder: fine-tuning or a linear probe on the labeled rows, FixMatch
/// consistency training, self-training on pseudo-labels, and distillation into a student (see
/// <see cref="FineTuneOptions"/>). The pretrained encoder is never modified: every model trained here starts from a
/// deep copy. Every step runs in its own dispose scope; randomness comes from generators derived from
/// <see cref="FineTuneOptions.Seed"/>, so the same seed on the CPU gives bitwise-identical weights.
/// </summary>
public static class FineTuner
{
    /// <summary>Trains a classifier on <paramref name="labeledData"/> starting from <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The pretrained encoder; copied, never modified. Its class must support
    /// <see cref="SslEncoder.CreateUntrained"/> (every built-in encoder does).</param>
    /// <param name="labeledData">Rows with labels 0..K-1; rows labeled -1 are treated as unlabeled rows.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="projectionHead">The pretrained method's projection head, needed when
    /// <see cref="FineTuneOptions.HeadFromProjectionLayer"/> is positive (see <see cref="FindProjectionHead"/>); copied, never modified.</param>
    /// <returns>The classifier (owned by the caller), the per-epoch history and the best epoch.</returns>
    /// <exception cref="ArgumentException">No labeled rows, a class with a single labeled row, a label out of range,
    /// rows whose shape differs from the encoder's, or unlabeled rows missing for an option that needs them.</exception>
    /// <exception cref="OperationCanceledException">Cancelled through <see cref="FineTuneOptions.CancellationToken"/>.</exception>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite.</exception>
    public static FineTuneResult Train(SslEncoder encoder, SslTensorDataset labeledData, FineTuneOptions? options = null,
        ProjectionHead? projectionHead = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(labeledData);
        options ??= new FineTuneOptions();
        options.Validate();
        var clock = Stopwatch.StartNew();

        var plan = Plan.Create(encoder, labeledData, options, projectionHead);
        SslEnvironment.EnsureInitialized();
        Device device = SslEnvironment.SelectDevice(options.AllowCuda);
        using var stage = new StageRunner(plan, options, device);

        SslClassifier? current = null, teacher = null;
        try
        {
            current = NewClassifier(plan, device);
            StageOutcome outcome = stage.Run(current, FineTuneStage.FineTune, 1, plan.LabeledTrain, null);
            FineTuneStage finalStage = FineTuneStage.FineTune;
            bool stoppedEarly = outcome.StoppedEarly;
            int pseudoRows = 0;

            if (options.PseudoLabelThreshold is { } threshold)
            {
                for (int round = 1; round <= options.SelfTrainingRounds; round++)
                {
                    options.CancellationToken.ThrowIfCancellationRequested();
                    PseudoLabels pseudo = stage.PseudoLabel(current, threshold);
                    if (pseudo.Rows.Count == 0)
                        Trace.TraceWarning($"MlNetSsl fine-tuning: no unlabeled row reached PseudoLabelThreshold {threshold} in self-training round {round}; the round trains on the labeled rows only.");
                    pseudoRows = pseudo.Rows.Count;
                    SslClassifier next = NewClassifier(plan, device);
                    try
                    {
                        outcome = stage.Run(next, FineTuneStage.SelfTraining, round, plan.LabeledTrain.Concat(pseudo.Rows), null, pseudo);
                    }
                    catch
                    {
                        next.Dispose();
                        throw;
                    }
                    current.Dispose();
                    current = next;
                    finalStage = FineTuneStage.SelfTraining;
                    stoppedEarly |= outcome.StoppedEarly;
                }
            }

            if (options.Distill is { } distill)
            {
                teacher = current;
                current = null;
                current = NewStudent(plan, distill, device);
                outcome = stage.Run(current, FineTuneStage.Distillation, 1, plan.LabeledTrain, teacher);
                finalStage = FineTuneStage.Distillation;
                stoppedEarly |= outcome.StoppedEarly;
                teacher.eval();
            }

            current.eval();
            return new FineTuneResult
            {
                Classifier = current, Teacher = teacher, History = stage.History.ToArray(), FinalStage = finalStage,
                BestEpoch = outcome.BestEpoch, StoppedEarly = stoppedEarly, ClassCount = plan.ClassCount,
                ValidationRows = plan.ValidationRows, PseudoLabeledRows = pseudoRows, Duration = clock.Elapsed,
            };
        }
        catch
        {
            current?.Dispose();
            teacher?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The projection head of a pretrained method (its <c>projector</c>: SimCLR, MoCo v2, BYOL, SimSiam, Barlow Twins,
    /// VICReg, SCARF), for <see cref="FineTuneOptions.HeadFromProjectionLayer"/>; null when the method has none
    /// (VIME, masked autoencoder). The head still belongs to the method.
    /// </summary>
    /// <param name="method">A pretrained method.</param>
    public static ProjectionHead? FindProjectionHead(ISslMethod method)
    {
        ArgumentNullException.ThrowIfNull(method);
        var heads = method.Module.named_children().Where(c => c.module is ProjectionHead).ToList();
        return (heads.FirstOrDefault(c => c.name == "projector").module ?? heads.FirstOrDefault().module) as ProjectionHead;
    }

    /// <summary>A copy of the pretrained encoder with the kept projection blocks and a zero-initialized output layer.</summary>
    private static SslClassifier NewClassifier(Plan plan, Device device)
    {
        SslEncoder copy = FineTuneHelpers.CopyEncoder(plan.Encoder, device);
        SslClassifier classifier;
        try
        {
            classifier = new SslClassifier(copy, new ClassifierHeadLayout(copy.EmbeddingSize, plan.HiddenSizes, plan.ClassCount));
        }
        catch
        {
            copy.Dispose();
            throw;
        }
        try
        {
            if (plan.ProjectionHead is { } head && plan.HiddenSizes.Length > 0)
                CopyProjectionBlocks(head, classifier, plan.HiddenSizes.Length);
            classifier.to(device);
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    private static SslClassifier NewStudent(Plan plan, DistillationOptions distill, Device device)
    {
        if (distill.StudentEncoder is null)
            return NewClassifier(plan, device);
        SslEncoder student = EncoderFactory.Create(plan.Encoder.InputShape, distill.StudentEncoder);
        try
        {
            using var generator = new Generator((ulong)SeedMixer.Derive(plan.Seed, StageRunner.StreamOf(FineTuneStage.Distillation, 1), 7));
            FineTuneHelpers.Reinitialize(student, generator);
            student.to(device);
            var classifier = new SslClassifier(student, new ClassifierHeadLayout(student.EmbeddingSize, [], plan.ClassCount));
            classifier.to(device);
            return classifier;
        }
        catch
        {
            student.Dispose();
            throw;
        }
    }

    /// <summary>Copies the first <paramref name="blocks"/> Linear-BatchNorm blocks of a projection head into the classifier's head.</summary>
    private static void CopyProjectionBlocks(ProjectionHead source, SslClassifier target, int blocks)
    {
        var sourceModules = source.named_modules().ToDictionary(m => m.name.Split('.')[^1], m => m.module);
        var targetModules = target.named_modules().Where(m => m.name.StartsWith("head.", StringComparison.Ordinal))
            .ToDictionary(m => m.name.Split('.')[^1], m => m.module);
        using var noGrad = torch.no_grad();
        for (int i = 0; i < blocks; i++)
        {
            CopyTensors(sourceModules[$"linear{i}"], targetModules[$"hidden{i}"]);
            CopyTensors(sourceModules[$"bn{i}"], targetModules[$"bn{i}"]);
        }

        static void CopyTensors(nn.Module from, nn.Module to)
        {
            var fromTensors = from.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(from.named_buffers()).ToDictionary(t => t.Item1, t => t.Item2);
            foreach ((string name, Tensor tensor) in to.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(to.named_buffers()))
                tensor.copy_(fromTensors[name]);
        }
    }

    /// <summary>The checked inputs of one call: datasets split into row sets, class count and head structure.</summary>
    internal sealed class Plan
    {
        public required SslEncoder Encoder { get; init; }
        public required ProjectionHead? ProjectionHead { get; init; }
        public required int[] HiddenSizes { get; init; }
        public required int ClassCount { get; init; }
        public required int Seed { get; init; }
        public required RowSet LabeledTrain { get; init; }
        public required RowSet Validation { get; init; }
        public required int[] ValidationRows { get; init; }

        /// <summary>Unlabeled rows; their labels are diagnostic only.</summary>
        public required RowSet Unlabeled { get; init; }

        public static Plan Create(SslEncoder encoder, SslTensorDataset labeledData, FineTuneOptions options, ProjectionHead? projectionHead)
        {
            if (labeledData.Shape != encoder.InputShape)
                throw new ArgumentException($"The labeled rows are {labeledData.Shape} but the encoder expects {encoder.InputShape}.", nameof(labeledData));
            if (options.UnlabeledRows is { } extra && extra.Shape != encoder.InputShape)
                throw new ArgumentException($"FineTuneOptions.UnlabeledRows are {extra.Shape} but the encoder expects {encoder.InputShape}.", nameof(options));
            int[] labels = labeledData.Labels
                ?? throw new ArgumentException("The labeled data has no labels: create the SslTensorDataset with labels 0..K-1 (-1 for unlabeled rows).", nameof(labeledData));
            int[] labeled = Enumerable.Range(0, labels.Length).Where(i => labels[i] >= 0).ToArray();
            if (labeled.Length == 0)
                throw new ArgumentException($"The labeled data has no labeled rows: all {labels.Length} labels are -1.", nameof(labeledData));
            int bad = labels.FirstOrDefault(l => l < -1, 0);
            if (bad != 0)
                throw new ArgumentException($"Label {bad} is invalid: labels are 0..K-1, or -1 for an unlabeled row.", nameof(labeledData));
            int classCount = options.ClassCount ?? labeled.Max(i => labels[i]) + 1;
            if (classCount < 2)
                throw new ArgumentException("Every labeled row has class 0: a classifier needs at least 2 classes (or set FineTuneOptions.ClassCount).", nameof(labeledData));
            int tooLarge = labeled.Select(i => labels[i]).FirstOrDefault(l => l >= classCount, -1);
            if (tooLarge >= 0)
                throw new ArgumentException($"Label {tooLarge} is out of range for FineTuneOptions.ClassCount = {classCount}.", nameof(labeledData));
            var perClass = labeled.GroupBy(i => labels[i]).ToDictionary(g => g.Key, g => g.ToArray());
            foreach ((int label, int[] rows) in perClass.OrderBy(p => p.Key))
                if (rows.Length == 1)
                    throw new ArgumentException(
                        $"Class {label} has a single labeled row (row {rows[0]}); fine-tuning needs at least 2 per class. Label another row of that class, or drop the class.",
                        nameof(labeledData));

            int[] hidden = [];
            if (options.HeadFromProjectionLayer > 0)
            {
                if (projectionHead is null)
                    throw new ArgumentException($"FineTuneOptions.HeadFromProjectionLayer = {options.HeadFromProjectionLayer} needs the pretrained projection head (see FineTuner.FindProjectionHead).", nameof(projectionHead));
                if (projectionHead.InputSize != encoder.EmbeddingSize)
                    throw new ArgumentException($"The projection head takes inputs of size {projectionHead.InputSize}, but the encoder's embeddings have size {encoder.EmbeddingSize}.", nameof(projectionHead));
                var linears = projectionHead.named_modules()
                    .Where(m => m.module is Linear && m.name.Split('.')[^1].StartsWith("linear", StringComparison.Ordinal))
                    .Select(m => (Linear)m.module).ToArray();
                if (options.HeadFromProjectionLayer > linears.Length)
                    throw new ArgumentOutOfRangeException(nameof(options), options.HeadFromProjectionLayer,
                        $"FineTuneOptions.HeadFromProjectionLayer must be less than the projection head's number of Linear layers ({linears.Length + 1}); its hidden blocks are the ones that can be kept.");
                hidden = linears.Take(options.HeadFromProjectionLayer).Select(l => (int)l.weight!.shape[0]).ToArray();
            }

            // Stratified hold-out: each class gives round(fraction * n) rows to validation but keeps at least 2 for training.
            var validation = new List<int>();
            if (options.ValidationFraction > 0)
            {
                using var generator = new Generator((ulong)SeedMixer.Derive(options.Seed, 1, 0));
                foreach ((int _, int[] rows) in perClass.OrderBy(p => p.Key))
                {
                    int take = Math.Min((int)Math.Round(options.ValidationFraction * rows.Length, MidpointRounding.AwayFromZero), rows.Length - 2);
                    if (take <= 0) continue;
                    using var scope = torch.NewDisposeScope();
                    long[] order = torch.randperm(rows.Length, generator: generator).data<long>().ToArray();
                    validation.AddRange(order.Take(take).Select(o => rows[o]));
                }
            }
            validation.Sort();
            var validationSet = validation.ToHashSet();
            int[] train = labeled.Where(i => !validationSet.Contains(i)).ToArray();

            RowSet unlabeled = RowSet.From(labeledData, Enumerable.Range(0, labels.Length).Where(i => labels[i] < 0), null);
            if (options.UnlabeledRows is { } more)
                unlabeled = unlabeled.Concat(RowSet.From(more, Enumerable.Range(0, (int)more.Count), more.Labels));
            if (unlabeled.Count == 0 && options.SemiSupervised is not null)
                throw new ArgumentException("FineTuneOptions.SemiSupervised needs unlabeled rows: set UnlabeledRows, or give rows with label -1.", nameof(options));
            if (unlabeled.Count == 0 && options.PseudoLabelThreshold is not null)
                throw new ArgumentException("FineTuneOptions.PseudoLabelThreshold needs unlabeled rows: set UnlabeledRows, or give rows with label -1.", nameof(options));

            return new Plan
            {
                Encoder = encoder, ProjectionHead = projectionHead, HiddenSizes = hidden, ClassCount = classCount, Seed = options.Seed,
                LabeledTrain = RowSet.From(labeledData, train, labels), Validation = RowSet.From(labeledData, validation, labels),
                ValidationRows = [.. validation], Unlabeled = unlabeled,
            };
        }
    }
}

/// <summary>Confident predictions on the unlabeled rows, used as labels by a self-training round.</summary>
internal sealed record PseudoLabels(RowSet Rows, double? Accuracy);

/// <summary>The best epoch of a stage and whether it stopped early.</summary>
internal readonly record struct StageOutcome(int BestEpoch, bool StoppedEarly);
