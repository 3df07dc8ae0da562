namespace MlNetSsl;

/// <summary>The optimizer used for pretraining.</summary>
public enum SslOptimizer
{
    /// <summary>AdamW (decoupled weight decay); robust default for small CPU runs.</summary>
    AdamW,
    /// <summary>SGD with Nesterov-free momentum.</summary>
    Sgd,
    /// <summary>LARS (You et al., 2017): SGD with momentum and a per-layer trust ratio; the SimCLR/BYOL paper optimizer for large batches.</summary>
    Lars,
}

/// <summary>Settings of one pretraining run. Defaults suit a short run on a laptop CPU.</summary>
public sealed class PretrainingOptions
{
    /// <summary>Passes over the pretraining data. Default 10.</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>
    /// Epochs the learning-rate and momentum schedules span. Default 0: <see cref="Epochs"/>. Set it above
    /// <see cref="Epochs"/> to stop a run early on a longer schedule and later continue it from its checkpoint with a
    /// larger <see cref="Epochs"/> (up to this value): the continued run then equals one that ran straight through.
    /// The checkpoint's compatibility check uses this value, not <see cref="Epochs"/>.
    /// </summary>
    public int ScheduleEpochs { get; set; }

    internal int ResolvedScheduleEpochs => ScheduleEpochs > 0 ? ScheduleEpochs : Epochs;

    /// <summary>Rows per step. Default 256; clamped to the number of rows when the data is smaller.</summary>
    public int BatchSize { get; set; } = 256;

    /// <summary>Peak learning rate after warm-up. Default 1e-3 (suits AdamW; use about 0.3 * BatchSize / 256 for LARS).</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Optimizer. Default <see cref="SslOptimizer.AdamW"/>.</summary>
    public SslOptimizer Optimizer { get; set; } = SslOptimizer.AdamW;

    /// <summary>Weight decay, applied to weight matrices and kernels but not to biases or normalization parameters. Default 1e-4 (AdamW 1e-4 is mild; LARS papers use 1e-6).</summary>
    public double WeightDecay { get; set; } = 1e-4;

    /// <summary>Momentum for SGD and LARS. Default 0.9.</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>LARS trust coefficient (eta). Default 1e-3.</summary>
    public double LarsTrustCoefficient { get; set; } = 1e-3;

    /// <summary>Epochs of linear learning-rate warm-up before the cosine decay. Default 1.</summary>
    public double WarmupEpochs { get; set; } = 1;

    /// <summary>Final learning rate as a fraction of the peak at the end of the cosine decay. Default 0.01.</summary>
    public double FinalLearningRateFraction { get; set; } = 0.01;

    /// <summary>Maximum global gradient norm; 0 or less disables clipping. Default 5.</summary>
    public double GradientClipNorm { get; set; } = 5.0;

    /// <summary>Seed for weight initialization, shuffling and augmentations. Same seed on CPU gives identical weights. Default 1.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Whether a CUDA GPU may be used when TorchSharp sees one. Default true.</summary>
    public bool AllowCuda { get; set; } = true;

    /// <summary>Folder for checkpoints; when it holds a checkpoint of a compatible run, training resumes from it. Null: no checkpoints.</summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>Write a checkpoint every this many epochs (and after the last). Default 1.</summary>
    public int CheckpointEveryEpochs { get; set; } = 1;

    /// <summary>Rows sampled (up to this many, at least 2) to measure embedding spread and effective rank after each epoch. Default 512.</summary>
    public int CollapseCheckRows { get; set; } = 512;

    /// <summary>Neighbours for the kNN monitor. Default 20 (as in solo-learn's online kNN).</summary>
    public int KnnNeighbors { get; set; } = 20;

    /// <summary>Receives a report after every step and a summary after every epoch.</summary>
    public IProgress<SslProgress>? Progress { get; set; }

    /// <summary>Cancels the run within one step; the last checkpoint remains for resuming.</summary>
    public CancellationToken CancellationToken { get; set; }

    internal void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be at least 1.");
        ValidateSettings();
    }

    // Everything but Epochs, which the ML.NET stage allows to be 0 (no pretraining).
    internal void ValidateSettings()
    {
        if (ScheduleEpochs != 0 && ScheduleEpochs < Epochs)
            throw new ArgumentOutOfRangeException(nameof(ScheduleEpochs), ScheduleEpochs, $"ScheduleEpochs must be 0 (same as Epochs) or at least Epochs ({Epochs}).");
        if (BatchSize < 2) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 2 (SSL losses compare rows within a batch).");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be a positive number.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must be a non-negative number.");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1).");
        if (LarsTrustCoefficient <= 0 || !double.IsFinite(LarsTrustCoefficient))
            throw new ArgumentOutOfRangeException(nameof(LarsTrustCoefficient), LarsTrustCoefficient, "LarsTrustCoefficient must be a positive number.");
        if (!(WarmupEpochs >= 0) || double.IsInfinity(WarmupEpochs)) throw new ArgumentOutOfRangeException(nameof(WarmupEpochs), WarmupEpochs, "WarmupEpochs must be a non-negative number.");
        if (double.IsNaN(GradientClipNorm)) throw new ArgumentOutOfRangeException(nameof(GradientClipNorm), GradientClipNorm, "GradientClipNorm must be a number (0 or less turns clipping off).");
        if (!(FinalLearningRateFraction >= 0 && FinalLearningRateFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(FinalLearningRateFraction), FinalLearningRateFraction, "FinalLearningRateFraction must be in [0, 1].");
        if (CheckpointEveryEpochs < 1) throw new ArgumentOutOfRangeException(nameof(CheckpointEveryEpochs), CheckpointEveryEpochs, "CheckpointEveryEpochs must be at least 1.");
        // Spread and rank need two rows: one row's spread is NaN, which every epoch reported as "embeddings contain NaN".
        if (CollapseCheckRows < 2) throw new ArgumentOutOfRangeException(nameof(CollapseCheckRows), CollapseCheckRows, "CollapseCheckRows must be at least 2.");
        if (KnnNeighbors < 1) throw new ArgumentOutOfRangeException(nameof(KnnNeighbors), KnnNeighbors, "KnnNeighbors must be at least 1.");
    }
}
