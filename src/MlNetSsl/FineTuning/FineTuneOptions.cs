namespace MlNetSsl;

/// <summary>
/// Settings of label-efficient fine-tuning (<see cref="FineTuner.Train"/>). The defaults suit a pretrained compact
/// encoder on a CPU with a few hundred labels. Besides plain fine-tuning (or a linear probe with
/// <see cref="FreezeEncoder"/>), three ways to use unlabeled rows can be combined, in this order:
/// FixMatch consistency training during fine-tuning (<see cref="SemiSupervised"/>), rounds of self-training on
/// confident pseudo-labels (<see cref="PseudoLabelThreshold"/>), and distillation into a student (<see cref="Distill"/>).
/// </summary>
public sealed class FineTuneOptions
{
    /// <summary>
    /// Epochs of each training stage. Default 50. An epoch is <see cref="StepsPerEpoch"/> optimizer steps: by default one
    /// pass over the labeled training rows, at least 10 steps (see <see cref="StepsPerEpoch"/> for semi-supervised runs).
    /// </summary>
    public int Epochs { get; set; } = 50;

    /// <summary>Labeled rows per step. Default 64; clamped to the number of labeled training rows when there are fewer.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>
    /// Peak learning rate of the head (AdamW, after warm-up, cosine decay to 1% at the end). Default 3e-3, which beat 1e-3
    /// clearly in short CPU runs (the output layer starts at zero); see docs/fine-tuning.md.
    /// </summary>
    public double LearningRate { get; set; } = 3e-3;

    /// <summary>
    /// The encoder's learning rate as a fraction of <see cref="LearningRate"/>. Default 1 (one rate for the whole network;
    /// see docs/fine-tuning.md for 0.1 on CIFAR-10); lower values keep the pretrained features closer to where they
    /// started, and 0 trains only the head while the encoder's BatchNorm statistics still adapt. Ignored when
    /// <see cref="FreezeEncoder"/> is true.
    /// </summary>
    public double EncoderLearningRateScale { get; set; } = 1.0;

    /// <summary>AdamW weight decay on weight matrices and kernels (not on biases or normalization parameters). Default 1e-4.</summary>
    public double WeightDecay { get; set; } = 1e-4;

    /// <summary>Epochs of linear learning-rate warm-up. Default 1.</summary>
    public double WarmupEpochs { get; set; } = 1;

    /// <summary>Maximum global gradient norm; 0 or less disables clipping. Default 5.</summary>
    public double GradientClipNorm { get; set; } = 5.0;

    /// <summary>
    /// Optimizer steps per epoch; 0 (the default) means one pass over the labeled training rows but at least
    /// <see cref="MinimumAutomaticStepsPerEpoch"/> steps (so a few dozen labels still get a useful number of steps), and,
    /// when <see cref="SemiSupervised"/> is on, at least one pass over the unlabeled rows at
    /// <see cref="SemiSupervisedOptions.UnlabeledRatio"/> unlabeled rows per labeled row. Distillation epochs pass over
    /// all rows (labeled and unlabeled).
    /// </summary>
    public int StepsPerEpoch { get; set; }

    /// <summary>The fewest steps an automatic epoch has (see <see cref="StepsPerEpoch"/>): 10.</summary>
    public const int MinimumAutomaticStepsPerEpoch = 10;

    /// <summary>Seed for the validation split, batch order, augmentations and new weights. Same seed on the CPU gives bitwise-identical weights. Default 1.
    /// The <c>MLContext</c>'s seed does not change it; set this to vary the fine-tuning.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>
    /// Train only the head (a linear probe when <see cref="HeadFromProjectionLayer"/> is 0): the encoder's weights and
    /// BatchNorm statistics stay bitwise unchanged, and it runs in eval mode. Default false.
    /// </summary>
    public bool FreezeEncoder { get; set; }

    /// <summary>
    /// How many Linear-BatchNorm-ReLU blocks of the pretrained projection head to keep between the encoder and the
    /// classifier (SimCLRv2 fine-tunes "from the first layer of the projection head", which is 1 here). Default 0: the
    /// classifier sits directly on the encoder's embedding. A positive value needs the projection head passed to
    /// <see cref="FineTuner.Train"/> and must be less than its number of Linear layers; the kept blocks start from their
    /// pretrained weights and are trained with the head's learning rate (also when the encoder is frozen).
    /// </summary>
    public int HeadFromProjectionLayer { get; set; }

    /// <summary>Number of classes; null (the default) means the largest label plus one. The ML.NET trainer
    /// (<c>SelfSupervisedFineTune</c>) takes the label key's count and refuses another value here.</summary>
    public int? ClassCount { get; set; }

    /// <summary>
    /// Fraction of the labeled rows held out, stratified by class (each class keeps at least two training rows), to pick
    /// the best epoch and stop early. The held-out rows are never trained on. Default 0: train on every label and keep
    /// the last epoch. With a few hundred labels a hold-out of a few dozen rows moves in steps of several points, too
    /// coarse to pick epochs reliably, and costs labels; use 0.1 to 0.2 when labels are plentiful.
    /// </summary>
    public double ValidationFraction { get; set; }

    /// <summary>
    /// Stop a stage after this many epochs without a better validation accuracy (ties broken by lower validation loss);
    /// the best epoch's weights are restored either way. Default 10; 0 never stops early. Needs validation rows.
    /// </summary>
    public int EarlyStoppingPatience { get; set; } = 10;

    /// <summary>Draw labeled batches with replacement, each class equally likely, instead of shuffled passes. Default false.</summary>
    public bool ClassBalancedSampling { get; set; }

    /// <summary>
    /// Augmentations of labeled rows (and of the rows shown to teacher and student in distillation). Null (the default)
    /// means <see cref="FineTuneAugmentations.Weak"/> for the input kind; <see cref="AugmentationPolicy.None"/> turns them off.
    /// </summary>
    public AugmentationPolicy? Augmentations { get; set; }

    /// <summary>
    /// Unlabeled rows for <see cref="SemiSupervised"/>, <see cref="PseudoLabelThreshold"/> and <see cref="Distill"/>
    /// (their labels, if any, are never trained on; they only feed the pseudo-label accuracy diagnostic). Rows of the
    /// labeled data with label -1 join them. Default null. For <see cref="FineTuner.Train"/>; the ML.NET trainer
    /// (<c>SelfSupervisedFineTune</c>) refuses it and takes an <c>unlabeledData</c> IDataView instead.
    /// </summary>
    public SslTensorDataset? UnlabeledRows { get; set; }

    /// <summary>FixMatch consistency training on the unlabeled rows during fine-tuning; null (the default) turns it off.</summary>
    public SemiSupervisedOptions? SemiSupervised { get; set; }

    /// <summary>
    /// Self-training: after fine-tuning, unlabeled rows whose predicted class probability is at least this value get
    /// that class as a label, and a new classifier is fine-tuned from the pretrained encoder on the labeled plus
    /// pseudo-labeled rows (repeated <see cref="SelfTrainingRounds"/> times, each round labeled by the previous model).
    /// Null (the default) turns it off; 0.9 is a reasonable start.
    /// </summary>
    public double? PseudoLabelThreshold { get; set; }

    /// <summary>Rounds of self-training when <see cref="PseudoLabelThreshold"/> is set. Default 1.</summary>
    public int SelfTrainingRounds { get; set; } = 1;

    /// <summary>Distill the fine-tuned classifier (the teacher) into a student on all rows; null (the default) turns it off.</summary>
    public DistillationOptions? Distill { get; set; }

    /// <summary>Receives a report after every step and a summary after every epoch.</summary>
    public IProgress<FineTuneProgress>? Progress { get; set; }

    /// <summary>Cancels the run within one step with <see cref="OperationCanceledException"/>; nothing is returned.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>Whether a CUDA GPU may be used when TorchSharp sees one. Default true.</summary>
    public bool AllowCuda { get; set; } = true;

    /// <summary>Rows per forward pass when predicting (validation, pseudo-labels). Default 512.</summary>
    public int InferenceBatchSize { get; set; } = 512;

    /// <summary>A shallow copy: the data sets, policies, progress sink and nested options objects are shared.</summary>
    public FineTuneOptions Clone() => (FineTuneOptions)MemberwiseClone();

    /// <summary>Checks every value; called by <see cref="FineTuner.Train"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be at least 1.");
        if (BatchSize < 2) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 2 (BatchNorm needs two rows).");
        Positive(LearningRate, nameof(LearningRate));
        if (!(EncoderLearningRateScale >= 0) || double.IsInfinity(EncoderLearningRateScale))
            throw new ArgumentOutOfRangeException(nameof(EncoderLearningRateScale), EncoderLearningRateScale, "EncoderLearningRateScale must be a non-negative number.");
        if (!(WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must not be negative.");
        if (!(WarmupEpochs >= 0)) throw new ArgumentOutOfRangeException(nameof(WarmupEpochs), WarmupEpochs, "WarmupEpochs must not be negative.");
        if (StepsPerEpoch < 0) throw new ArgumentOutOfRangeException(nameof(StepsPerEpoch), StepsPerEpoch, "StepsPerEpoch must be 0 (automatic) or positive.");
        if (HeadFromProjectionLayer < 0) throw new ArgumentOutOfRangeException(nameof(HeadFromProjectionLayer), HeadFromProjectionLayer, "HeadFromProjectionLayer must not be negative.");
        if (ClassCount is < 2) throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, "ClassCount must be at least 2.");
        if (!(ValidationFraction >= 0 && ValidationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "ValidationFraction must be in [0, 1).");
        if (EarlyStoppingPatience < 0) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "EarlyStoppingPatience must not be negative.");
        if (PseudoLabelThreshold is { } t && !(t > 0 && t <= 1))
            throw new ArgumentOutOfRangeException(nameof(PseudoLabelThreshold), t, "PseudoLabelThreshold must be in (0, 1].");
        if (SelfTrainingRounds < 1) throw new ArgumentOutOfRangeException(nameof(SelfTrainingRounds), SelfTrainingRounds, "SelfTrainingRounds must be at least 1.");
        if (InferenceBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(InferenceBatchSize), InferenceBatchSize, "InferenceBatchSize must be at least 1.");
        SemiSupervised?.Validate();
        Distill?.Validate();
    }

    internal static void Positive(double value, string name)
    {
        if (!(value > 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(name, value, $"{name} must be a positive number.");
    }
}

/// <summary>
/// FixMatch (Sohn et al., 2020) during fine-tuning: each step also draws <see cref="UnlabeledRatio"/> unlabeled rows
/// per labeled row; the model's prediction on a weakly augmented view becomes a hard pseudo-label when its probability
/// reaches <see cref="Threshold"/>, and the prediction on a strongly augmented view of the same row is trained towards
/// it with weight <see cref="UnlabeledWeight"/>.
/// </summary>
public sealed class SemiSupervisedOptions
{
    /// <summary>
    /// Confidence a pseudo-label needs. Default 0.8: FixMatch uses 0.95 with millions of steps; in short CPU runs a lower
    /// threshold accepts enough rows early enough to matter (see docs/fine-tuning.md for the measurements).
    /// </summary>
    public double Threshold { get; set; } = 0.8;

    /// <summary>Weight of the unlabeled loss (lambda_u). Default 1 (paper: 1).</summary>
    public double UnlabeledWeight { get; set; } = 1.0;

    /// <summary>Unlabeled rows per labeled row in a step (mu). Default 3 (paper: 7; each unlabeled row costs two forward passes).</summary>
    public int UnlabeledRatio { get; set; } = 3;

    /// <summary>Weak view for pseudo-labels; null means <see cref="FineTuneAugmentations.Weak"/> for the input kind.</summary>
    public AugmentationPolicy? WeakAugmentations { get; set; }

    /// <summary>Strong view that is trained; null means <see cref="FineTuneAugmentations.Strong"/> for the input kind.</summary>
    public AugmentationPolicy? StrongAugmentations { get; set; }

    internal void Validate()
    {
        if (!(Threshold >= 0 && Threshold <= 1)) throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "SemiSupervised.Threshold must be in [0, 1].");
        if (!(UnlabeledWeight >= 0) || double.IsInfinity(UnlabeledWeight)) throw new ArgumentOutOfRangeException(nameof(UnlabeledWeight), UnlabeledWeight, "SemiSupervised.UnlabeledWeight must be a non-negative number.");
        if (UnlabeledRatio < 1) throw new ArgumentOutOfRangeException(nameof(UnlabeledRatio), UnlabeledRatio, "SemiSupervised.UnlabeledRatio must be at least 1.");
    }
}

/// <summary>
/// Knowledge distillation (Hinton et al., 2015; SimCLRv2's third step): the fine-tuned classifier becomes the teacher,
/// and a student is trained on the teacher's temperature-softened probabilities over labeled and unlabeled rows (the
/// loss is KL(teacher || student) at temperature T, times T^2), optionally mixed with the hard-label loss. Teacher and
/// student see the same augmented view of each row.
/// </summary>
public sealed class DistillationOptions
{
    /// <summary>Softmax temperature T for both teacher and student, finite and at least 0.001. Default 2.</summary>
    public double Temperature { get; set; } = 2.0;

    /// <summary>Weight alpha of the hard-label cross entropy on the labeled rows of a batch; the distillation term gets 1 - alpha. Default 0.5.</summary>
    public double HardLabelWeight { get; set; } = 0.5;

    /// <summary>
    /// The student's encoder. Null (the default): the same architecture as the pretrained encoder, starting from its
    /// pretrained weights (self-distillation). Otherwise a new encoder built from these options (for example a
    /// narrower ConvNet or a smaller Mlp), with fresh weights drawn from <see cref="FineTuneOptions.Seed"/> and a linear head.
    /// </summary>
    public EncoderOptions? StudentEncoder { get; set; }

    /// <summary>Epochs of distillation (each a pass over all rows); null means <see cref="FineTuneOptions.Epochs"/>.</summary>
    public int? Epochs { get; set; }

    /// <summary>Peak learning rate of the student; null means <see cref="FineTuneOptions.LearningRate"/>.</summary>
    public double? LearningRate { get; set; }

    internal void Validate()
    {
        SslMethodOptions.CheckTemperature(Temperature, nameof(Temperature));
        if (!(HardLabelWeight >= 0 && HardLabelWeight <= 1)) throw new ArgumentOutOfRangeException(nameof(HardLabelWeight), HardLabelWeight, "Distill.HardLabelWeight must be in [0, 1].");
        if (Epochs is < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Distill.Epochs must be at least 1.");
        if (LearningRate is { } lr) FineTuneOptions.Positive(lr, nameof(LearningRate));
    }
}
