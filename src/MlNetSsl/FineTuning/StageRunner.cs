using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// The training loop shared by the fine-tuning stages: supervised steps, optional FixMatch, optional distillation from
/// a teacher, AdamW with warm-up and cosine decay, per-epoch validation with early stopping and best-epoch restore.
/// </summary>
internal sealed class StageRunner : IDisposable
{
    private readonly FineTuner.Plan _plan;
    private readonly FineTuneOptions _options;
    private readonly Device _device;
    private readonly AugmentationPolicy _labeledPolicy;
    private readonly AugmentationPolicy _weakPolicy;
    private readonly AugmentationPolicy _strongPolicy;
    private readonly Tensor? _featureBank;

    public StageRunner(FineTuner.Plan plan, FineTuneOptions options, Device device)
    {
        _plan = plan;
        _options = options;
        _device = device;
        SslInputShape shape = plan.Encoder.InputShape;
        _labeledPolicy = options.Augmentations ?? FineTuneAugmentations.Weak(shape);
        _weakPolicy = options.SemiSupervised?.WeakAugmentations ?? FineTuneAugmentations.Weak(shape);
        _strongPolicy = options.SemiSupervised?.StrongAugmentations ?? FineTuneAugmentations.Strong(shape);
        if (shape.Kind == SslInputKind.Tabular)
        {
            // Tabular augmentations that resample feature marginals (SCARF corruption) draw from real rows.
            using var generator = new Generator((ulong)SeedMixer.Derive(options.Seed, 2, 0));
            _featureBank = plan.LabeledTrain.Concat(plan.Unlabeled).Sample(FeatureBankRows, generator, device).DetachFromDisposeScope();
        }
    }

    private const int FeatureBankRows = 4096;

    public List<FineTuneEpochRecord> History { get; } = [];

    public static long StreamOf(FineTuneStage stage, int round) => 100 * ((int)stage + 1) + round;

    /// <summary>Trains <paramref name="model"/> for one stage and leaves it at its best epoch.</summary>
    /// <param name="model">The model to train (moved to the device already).</param>
    /// <param name="stage">Which stage this is.</param>
    /// <param name="round">Self-training round (1 otherwise).</param>
    /// <param name="train">Labeled training rows (with pseudo-labeled rows in self-training).</param>
    /// <param name="teacher">The teacher, for distillation.</param>
    /// <param name="pseudo">The pseudo-labels of a self-training round, for the records.</param>
    public StageOutcome Run(SslClassifier model, FineTuneStage stage, int round, RowSet train, SslClassifier? teacher, PseudoLabels? pseudo = null)
    {
        FineTuneOptions o = _options;
        bool distill = stage == FineTuneStage.Distillation;
        bool frozen = o.FreezeEncoder && !(distill && o.Distill!.StudentEncoder is not null);
        SemiSupervisedOptions? semi = distill ? null : o.SemiSupervised;
        FixMatchLoss? fixMatch = semi is null ? null : new FixMatchLoss(semi.Threshold, semi.UnlabeledWeight);
        DistillationLoss? distillation = distill ? new DistillationLoss(o.Distill!.Temperature, o.Distill.HardLabelWeight) : null;
        RowSet unlabeled = _plan.Unlabeled;
        // Distillation draws from every row; the unlabeled rows' labels (diagnostic only) are hidden from the loss.
        RowSet source = distill ? train.Concat(unlabeled.Select(Enumerable.Range(0, unlabeled.Count).ToArray(), new int[unlabeled.Count].Select(_ => -1).ToArray())) : train;
        int epochs = distill ? o.Distill!.Epochs ?? o.Epochs : o.Epochs;
        double peak = distill ? o.Distill!.LearningRate ?? o.LearningRate : o.LearningRate;
        int batch = Math.Min(o.BatchSize, source.Count);
        int unlabeledBatch = semi is null ? 0 : semi.UnlabeledRatio * batch;
        long stepsPerEpoch = o.StepsPerEpoch > 0 ? o.StepsPerEpoch : Math.Max(FineTuneOptions.MinimumAutomaticStepsPerEpoch, CeilDiv(source.Count, batch));
        if (o.StepsPerEpoch == 0 && semi is not null)
            stepsPerEpoch = Math.Max(stepsPerEpoch, CeilDiv(unlabeled.Count, unlabeledBatch));
        long totalSteps = stepsPerEpoch * epochs;
        long warmupSteps = (long)Math.Round(o.WarmupEpochs * stepsPerEpoch);
        long stream = StreamOf(stage, round);

        if (frozen)
            foreach (Parameter p in model.Encoder.parameters()) p.requires_grad_(false);
        var groups = ParameterGroups(model, frozen, distill ? 1.0 : o.EncoderLearningRateScale);
        List<Parameter> trainable = groups.SelectMany(g => g.Parameters).ToList();
        using var optimizer = torch.optim.AdamW(groups.Select(g => new AdamW.ParamGroup(g.Parameters, lr: peak * g.Scale, weight_decay: g.Decay ? o.WeightDecay : 0)), lr: peak);
        double[] scales = groups.Select(g => g.Scale).ToArray();

        using var labeledStream = new IndexStream(source.Count, SeedMixer.Derive(o.Seed, stream, 1), o.ClassBalancedSampling && !distill ? source.Labels : null);
        using var unlabeledStream = semi is null ? null : new IndexStream(unlabeled.Count, SeedMixer.Derive(o.Seed, stream, 2));
        using var generator = new Generator((ulong)o.Seed, _device);
        var augmentation = new AugmentationContext(generator, _plan.Encoder.InputShape, _featureBank);
        teacher?.eval();

        byte[]? bestState = null;
        int bestEpoch = 0, sinceBest = 0;
        double bestAccuracy = double.NegativeInfinity, bestLoss = double.PositiveInfinity;
        bool hasValidation = _plan.Validation.Count > 0;
        bool stoppedEarly = false;
        long step = 0;
        double learningRate = 0;

        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            SetTraining(model, frozen);
            double lossSum = 0, supervisedSum = 0, unlabeledSum = 0;
            long accepted = 0, considered = 0, knownAccepted = 0, correctAccepted = 0;
            for (long s = 0; s < stepsPerEpoch; s++, step++)
            {
                o.CancellationToken.ThrowIfCancellationRequested();
                learningRate = LearningRateSchedule.WarmupCosine(step, totalSteps, warmupSteps, peak, 0.01);
                double loss, supervised, unlabeledLoss = 0;
                using (var scope = torch.NewDisposeScope())
                {
                    generator.manual_seed(SeedMixer.Derive(o.Seed, stream + 1_000_000, step));
                    long[] positions = labeledStream.Next(batch);
                    Tensor x = _labeledPolicy.Apply(source.Gather(positions, _device), augmentation);
                    Tensor y = source.LabelTensor(positions, _device);
                    Tensor total;
                    if (teacher is not null)
                    {
                        Tensor teacherLogits;
                        using (torch.no_grad()) teacherLogits = teacher.forward(x);
                        DistillationTerms terms = distillation!.Compute(Forward(model, x, frozen), teacherLogits, y);
                        total = terms.Total;
                        supervised = terms.Hard.item<float>();
                        unlabeledLoss = terms.Soft.item<float>();
                    }
                    else if (semi is not null)
                    {
                        long[] unlabeledPositions = unlabeledStream!.Next(unlabeledBatch);
                        Tensor u = unlabeled.Gather(unlabeledPositions, _device);
                        Tensor weak = _weakPolicy.Apply(u, augmentation);
                        Tensor weakLogits;
                        using (torch.no_grad()) weakLogits = model.forward(weak);
                        // Only the strong views whose weak view is confident enough enter the network: the others
                        // are multiplied by a zero mask in the loss, so their forward and backward (most of a step
                        // while few pseudo-labels pass the threshold) are skipped; they get zero logits instead.
                        // Only those views are made, each as it would be among all of them (the generator is
                        // reseeded before the next step's draws).
                        Tensor confident = fixMatch!.ConfidentRows(weakLogits);
                        long kept = confident.shape[0];
                        Tensor strong = kept == unlabeledBatch ? _strongPolicy.Apply(u, augmentation) : _strongPolicy.ApplyToRows(u, confident, augmentation);
                        Tensor logits = Forward(model, torch.cat([x, strong], 0), frozen);
                        Tensor strongLogits = kept == unlabeledBatch ? logits.narrow(0, batch, unlabeledBatch)
                            : torch.zeros([unlabeledBatch, logits.shape[1]], dtype: logits.dtype, device: logits.device)
                                .index_copy(0, confident, logits.narrow(0, batch, kept));
                        FixMatchTerms terms = fixMatch.Compute(logits.narrow(0, 0, batch), y, weakLogits, strongLogits);
                        Tensor mask = terms.Mask, pseudoLabel = terms.PseudoLabels;
                        total = terms.Total;
                        supervised = terms.Supervised.item<float>();
                        unlabeledLoss = terms.Consistency.item<float>();
                        long acceptedNow = (long)mask.sum().item<float>();
                        accepted += acceptedNow;
                        considered += unlabeledBatch;
                        if (acceptedNow > 0)
                        {
                            Tensor truth = unlabeled.LabelTensor(unlabeledPositions, _device);
                            Tensor known = truth.ge(Zero) & mask.gt(Zero);
                            knownAccepted += known.sum().item<long>();
                            correctAccepted += (known & (truth == pseudoLabel)).sum().item<long>();
                        }
                    }
                    else
                    {
                        total = nn.functional.cross_entropy(Forward(model, x, frozen), y);
                        supervised = total.item<float>();
                    }
                    loss = total.item<float>();
                    if (!double.IsFinite(loss))
                        throw new InvalidOperationException(
                            $"The {stage} loss became {loss} at epoch {epoch}, step {step + 1}. Lower LearningRate (now {learningRate:G3}), " +
                            "keep GradientClipNorm on, or check the input data for extreme values.");
                    optimizer.zero_grad();
                    total.backward();
                    if (o.GradientClipNorm > 0)
                        nn.utils.clip_grad_norm_(trainable, o.GradientClipNorm);
                    int g = 0;
                    foreach (var group in optimizer.ParamGroups) group.LearningRate = learningRate * scales[g++];
                    OptimizerSteps.Step(optimizer);
                }
                lossSum += loss;
                supervisedSum += supervised;
                unlabeledSum += unlabeledLoss;
                o.Progress?.Report(new FineTuneProgress
                {
                    Stage = stage, Round = round, Epoch = epoch, TotalEpochs = epochs, Step = step + 1, TotalSteps = totalSteps,
                    Loss = loss, LearningRate = learningRate,
                });
            }

            (double accuracy, double validationLoss) = hasValidation ? Evaluate(model, _plan.Validation) : (double.NaN, double.NaN);
            var record = new FineTuneEpochRecord
            {
                Stage = stage, Round = round, Epoch = epoch, TrainLoss = lossSum / stepsPerEpoch, SupervisedLoss = supervisedSum / stepsPerEpoch,
                UnlabeledLoss = teacher is not null || semi is not null ? unlabeledSum / stepsPerEpoch : null,
                ValidationAccuracy = hasValidation ? accuracy : null, ValidationLoss = hasValidation ? validationLoss : null,
                PseudoLabelsAccepted = accepted, PseudoLabelsConsidered = considered,
                PseudoLabelAccuracy = knownAccepted > 0 ? correctAccepted / (double)knownAccepted : null,
                PseudoLabeledRows = pseudo?.Rows.Count ?? 0, PseudoLabeledRowsAccuracy = pseudo?.Accuracy,
                LearningRate = learningRate, Seconds = epochClock.Elapsed.TotalSeconds,
            };
            History.Add(record);
            o.Progress?.Report(new FineTuneProgress
            {
                Stage = stage, Round = round, Epoch = epoch, TotalEpochs = epochs, Step = step, TotalSteps = totalSteps,
                Loss = record.TrainLoss, LearningRate = learningRate, EpochSummary = record,
            });

            if (!hasValidation)
            {
                bestEpoch = epoch;
                continue;
            }
            if (accuracy > bestAccuracy || (accuracy == bestAccuracy && validationLoss < bestLoss))
            {
                bestAccuracy = accuracy;
                bestLoss = validationLoss;
                bestEpoch = epoch;
                bestState = ModuleState.ToBytes(model);
                sinceBest = 0;
            }
            else if (o.EarlyStoppingPatience > 0 && ++sinceBest >= o.EarlyStoppingPatience && epoch < epochs)
            {
                stoppedEarly = true;
                break;
            }
        }

        if (bestState is not null)
            ModuleState.Load(model, bestState, "The best epoch's snapshot");
        model.eval();
        return new StageOutcome(bestEpoch, stoppedEarly);
    }

    /// <summary>Confident predictions of <paramref name="model"/> on the unlabeled rows (no augmentation).</summary>
    public PseudoLabels PseudoLabel(SslClassifier model, double threshold)
    {
        RowSet unlabeled = _plan.Unlabeled;
        using var scope = torch.NewDisposeScope();
        Tensor probabilities = Probabilities(model, unlabeled);
        (Tensor confidence, Tensor predicted) = probabilities.max(1);
        bool[] keep = confidence.ge(Held(threshold)).data<bool>().ToArray();
        long[] classes = predicted.data<long>().ToArray();
        int[] positions = Enumerable.Range(0, unlabeled.Count).Where(i => keep[i]).ToArray();
        int[] labels = positions.Select(i => (int)classes[i]).ToArray();
        int[] known = positions.Where(i => unlabeled.Labels[i] >= 0).ToArray();
        double? accuracy = known.Length > 0 ? known.Count(i => unlabeled.Labels[i] == classes[i]) / (double)known.Length : null;
        return new PseudoLabels(unlabeled.Select(positions, labels), accuracy);
    }

    public void Dispose() => _featureBank?.Dispose();

    private (double Accuracy, double Loss) Evaluate(SslClassifier model, RowSet rows)
    {
        using var scope = torch.NewDisposeScope();
        Tensor probabilities = Probabilities(model, rows);
        Tensor labels = torch.tensor(rows.Labels.Select(l => (long)l).ToArray());
        double accuracy = (probabilities.argmax(1) == labels).to_type(ScalarType.Float64).mean().item<double>();
        double loss = nn.functional.nll_loss(probabilities.clamp_min(Held(1e-12)).log(), labels).item<float>();
        return (accuracy, loss);
    }

    private Tensor Probabilities(SslClassifier model, RowSet rows)
    {
        using var scope = torch.NewDisposeScope();
        var parts = new List<Tensor>();
        int size = _options.InferenceBatchSize;
        for (int start = 0; start < rows.Count; start += size)
        {
            // Validation and pseudo-labelling cover whole row sets: stop between batches, not after the last.
            _options.CancellationToken.ThrowIfCancellationRequested();
            long[] positions = Enumerable.Range(start, Math.Min(size, rows.Count - start)).Select(i => (long)i).ToArray();
            parts.Add(model.PredictProbabilities(rows.Gather(positions, _device), size));
        }
        return torch.cat(parts, 0).MoveToOuterDisposeScope();
    }

    private static Tensor Forward(SslClassifier model, Tensor x, bool frozen)
    {
        if (!frozen) return model.forward(x);
        Tensor embeddings;
        using (torch.no_grad()) embeddings = model.Encoder.forward(x);
        return model.HeadForward(embeddings);
    }

    private static void SetTraining(SslClassifier model, bool frozen)
    {
        model.train();
        // A frozen encoder stays in eval mode, so its BatchNorm statistics do not move either.
        if (frozen) model.Encoder.eval();
    }

    private static List<(List<Parameter> Parameters, double Scale, bool Decay)> ParameterGroups(SslClassifier model, bool frozen, double encoderScale)
    {
        var groups = new List<(List<Parameter>, double, bool)>();
        void Add(IEnumerable<Parameter> parameters, double scale)
        {
            var list = parameters.Where(p => p.requires_grad).ToList();
            // Weight decay on matrices and kernels only, as in pretraining.
            var decayed = list.Where(p => p.dim() > 1).ToList();
            var plain = list.Where(p => p.dim() <= 1).ToList();
            if (decayed.Count > 0) groups.Add((decayed, scale, true));
            if (plain.Count > 0) groups.Add((plain, scale, false));
        }
        if (!frozen && encoderScale > 0) Add(model.Encoder.parameters(), encoderScale);
        Add(model.HeadParameters(), 1.0);
        return groups;
    }

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;
}
