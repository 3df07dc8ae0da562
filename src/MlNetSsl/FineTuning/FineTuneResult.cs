namespace MlNetSsl;

/// <summary>The stages of <see cref="FineTuner.Train"/>, in the order they run.</summary>
public enum FineTuneStage
{
    /// <summary>Fine-tuning (or a linear probe) on the labeled rows, with FixMatch when <see cref="FineTuneOptions.SemiSupervised"/> is set.</summary>
    FineTune,
    /// <summary>A self-training round on labeled plus pseudo-labeled rows (<see cref="FineTuneOptions.PseudoLabelThreshold"/>).</summary>
    SelfTraining,
    /// <summary>Distillation of the classifier so far into a student (<see cref="FineTuneOptions.Distill"/>).</summary>
    Distillation,
}

/// <summary>What happened in one epoch of one stage of fine-tuning.</summary>
public sealed record FineTuneEpochRecord
{
    /// <summary>The stage.</summary>
    public FineTuneStage Stage { get; init; }

    /// <summary>One-based self-training round (1 for the other stages).</summary>
    public int Round { get; init; } = 1;

    /// <summary>One-based epoch within the stage.</summary>
    public int Epoch { get; init; }

    /// <summary>Mean total training loss over the epoch's steps.</summary>
    public double TrainLoss { get; init; }

    /// <summary>
    /// Mean supervised part of the loss: cross entropy on labeled (and pseudo-labeled) rows; in distillation, the
    /// hard-label term.
    /// </summary>
    public double SupervisedLoss { get; init; }

    /// <summary>
    /// Mean unlabeled part of the loss: the FixMatch consistency term, or in distillation the KL term times T^2;
    /// null when the stage has none.
    /// </summary>
    public double? UnlabeledLoss { get; init; }

    /// <summary>Accuracy on the held-out validation rows after the epoch; null without validation rows.</summary>
    public double? ValidationAccuracy { get; init; }

    /// <summary>Mean cross entropy on the validation rows after the epoch; null without validation rows.</summary>
    public double? ValidationLoss { get; init; }

    /// <summary>FixMatch: unlabeled draws this epoch whose weak-view confidence reached the threshold (their pseudo-labels were trained on); 0 without FixMatch.</summary>
    public long PseudoLabelsAccepted { get; init; }

    /// <summary>FixMatch: unlabeled draws this epoch (rows are drawn repeatedly across epochs); 0 without FixMatch.</summary>
    public long PseudoLabelsConsidered { get; init; }

    /// <summary>FixMatch: accepted over considered pseudo-labels; null without FixMatch.</summary>
    public double? AcceptanceRate => PseudoLabelsConsidered > 0 ? PseudoLabelsAccepted / (double)PseudoLabelsConsidered : null;

    /// <summary>
    /// FixMatch diagnostic: the fraction of accepted pseudo-labels that match the true labels, when the unlabeled rows
    /// happen to carry labels (they never reach the loss); null otherwise.
    /// </summary>
    public double? PseudoLabelAccuracy { get; init; }

    /// <summary>Self-training: pseudo-labeled rows added to the labeled training rows in this round; 0 in other stages.</summary>
    public int PseudoLabeledRows { get; init; }

    /// <summary>Self-training diagnostic: accuracy of those pseudo-labels when the unlabeled rows carry labels; null otherwise.</summary>
    public double? PseudoLabeledRowsAccuracy { get; init; }

    /// <summary>Learning rate of the head at the end of the epoch.</summary>
    public double LearningRate { get; init; }

    /// <summary>Wall-clock seconds of the epoch, validation included.</summary>
    public double Seconds { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Stage}{(Stage == FineTuneStage.SelfTraining ? $" round {Round}" : "")} epoch {Epoch}: loss {TrainLoss:0.####}" +
        (UnlabeledLoss is { } u ? $" (supervised {SupervisedLoss:0.####}, unlabeled {u:0.####})" : "") +
        (ValidationAccuracy is { } a ? $", validation {a:P1}" : "") +
        (PseudoLabelsConsidered > 0 ? $", pseudo-labels {PseudoLabelsAccepted}/{PseudoLabelsConsidered}" : "") +
        (PseudoLabelAccuracy is { } p ? $" ({p:P1} correct)" : "") +
        (PseudoLabeledRows > 0 ? $", {PseudoLabeledRows} pseudo-labeled rows" : "") +
        (PseudoLabeledRowsAccuracy is { } q ? $" ({q:P1} correct)" : "") + $", {Seconds:0.#} s";
}

/// <summary>A progress report from fine-tuning: one per step, plus one per epoch with <see cref="EpochSummary"/> set.</summary>
public sealed class FineTuneProgress
{
    /// <summary>The stage being trained.</summary>
    public FineTuneStage Stage { get; init; }

    /// <summary>One-based self-training round (1 for the other stages).</summary>
    public int Round { get; init; } = 1;

    /// <summary>One-based epoch within the stage.</summary>
    public int Epoch { get; init; }

    /// <summary>Epochs planned for the stage (it may stop early).</summary>
    public int TotalEpochs { get; init; }

    /// <summary>Steps completed so far in the stage.</summary>
    public long Step { get; init; }

    /// <summary>Steps planned for the stage.</summary>
    public long TotalSteps { get; init; }

    /// <summary>Loss of the latest step (the epoch's mean loss in an epoch summary).</summary>
    public double Loss { get; init; }

    /// <summary>Head learning rate of the latest step.</summary>
    public double LearningRate { get; init; }

    /// <summary>Set on the report that ends an epoch: that epoch's record.</summary>
    public FineTuneEpochRecord? EpochSummary { get; init; }

    /// <inheritdoc />
    public override string ToString() => EpochSummary is { } e
        ? e.ToString()
        : $"{Stage} epoch {Epoch}/{TotalEpochs} step {Step}/{TotalSteps} loss {Loss:0.####} lr {LearningRate:0.#####}";
}

/// <summary>The outcome of <see cref="FineTuner.Train"/>. The caller owns <see cref="Classifier"/> and <see cref="Teacher"/> and disposes them.</summary>
public sealed class FineTuneResult
{
    /// <summary>The trained classifier: the student after distillation, otherwise the last fine-tuning or self-training model, at its best epoch.</summary>
    public required SslClassifier Classifier { get; init; }

    /// <summary>The teacher when <see cref="FineTuneOptions.Distill"/> was set (the classifier before distillation); null otherwise.</summary>
    public SslClassifier? Teacher { get; init; }

    /// <summary>Every epoch of every stage, in order.</summary>
    public required IReadOnlyList<FineTuneEpochRecord> History { get; init; }

    /// <summary>The stage that produced <see cref="Classifier"/>.</summary>
    public required FineTuneStage FinalStage { get; init; }

    /// <summary>
    /// The one-based epoch of <see cref="FinalStage"/> whose weights <see cref="Classifier"/> holds: the epoch with the
    /// best validation accuracy (ties: lower validation loss, then earlier), or the last epoch without validation rows.
    /// </summary>
    public required int BestEpoch { get; init; }

    /// <summary>Whether any stage stopped early for lack of validation improvement.</summary>
    public required bool StoppedEarly { get; init; }

    /// <summary>Number of classes.</summary>
    public required int ClassCount { get; init; }

    /// <summary>Indexes (into the labeled data) of the rows held out for validation; empty without validation.</summary>
    public required IReadOnlyList<int> ValidationRows { get; init; }

    /// <summary>Rows pseudo-labeled in the last self-training round; 0 without self-training.</summary>
    public int PseudoLabeledRows { get; init; }

    /// <summary>Wall-clock time of the whole call.</summary>
    public required TimeSpan Duration { get; init; }

    /// <summary>The records of <see cref="FinalStage"/> (of its last round).</summary>
    public IEnumerable<FineTuneEpochRecord> FinalStageHistory =>
        History.Where(h => h.Stage == FinalStage && h.Round == History.Where(r => r.Stage == FinalStage).Max(r => r.Round));
}
