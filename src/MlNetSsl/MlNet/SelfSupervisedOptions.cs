using Microsoft.ML;

namespace MlNetSsl;

/// <summary>
/// Settings of the <see cref="SelfSupervisedEstimator"/>. The defaults pretrain a compact encoder for a few minutes
/// on a laptop CPU; raise <see cref="Epochs"/> (and choose <see cref="EncoderKind.ResNet"/> on a GPU) for better
/// embeddings.
/// </summary>
public sealed class SelfSupervisedOptions
{
    /// <summary>Name of the embedding column to add. Default "Features".</summary>
    public string OutputColumnName { get; set; } = "Features";

    /// <summary>
    /// Name of the input column: an <c>MLImage</c> column (from <c>LoadImages</c>), or a known-size vector of
    /// <see cref="float"/> (a tabular row, or a series when <see cref="SeriesChannels"/> is above 0). Default "Image".
    /// </summary>
    public string InputColumnName { get; set; } = "Image";

    /// <summary>The SSL method. Default <see cref="SslMethod.SimClr"/>. Ignored when <see cref="MethodName"/> is set.</summary>
    public SslMethod Method { get; set; } = SslMethod.SimClr;

    /// <summary>
    /// The name of a method registered with <see cref="SslMethodRegistry"/>: a method of your own, or a built-in one by
    /// name. Default null: <see cref="Method"/> decides.
    /// </summary>
    public string? MethodName { get; set; }

    /// <summary>The method this stage runs: <see cref="MethodName"/> when set, else <see cref="Method"/>.</summary>
    internal SslMethodRegistration ResolveMethod() => MethodName is null ? SslMethodRegistry.Get(Method) : SslMethodRegistry.Get(MethodName);

    /// <summary>
    /// The encoder architecture. Default <see cref="EncoderKind.Auto"/>: a compact ConvNet for images, an MLP for
    /// tabular rows, a 1-D ConvNet for series.
    /// </summary>
    public EncoderKind Encoder { get; set; } = EncoderKind.Auto;

    /// <summary>
    /// Length of the output vector. Default 0: the encoder's natural width (ConvNet 256, ResNet 512, Mlp and ResMlp
    /// 256, Conv1d 128, at width multiplier 1). Other values add a linear layer at the end of the encoder.
    /// </summary>
    public int EmbeddingSize { get; set; }

    /// <summary>
    /// Finer encoder settings (width multiplier, depth, hidden size). Default null: the encoder's defaults. Its
    /// <see cref="EncoderOptions.Kind"/> and <see cref="EncoderOptions.EmbeddingSize"/> are overridden by
    /// <see cref="Encoder"/> and <see cref="EmbeddingSize"/>.
    /// </summary>
    public EncoderOptions? EncoderOptions { get; set; }

    /// <summary>Method-specific settings (for example <see cref="SimClrOptions"/>). Default null: the paper's defaults.</summary>
    public SslMethodOptions? MethodOptions { get; set; }

    /// <summary>Passes over the pretraining rows. Default 10. 0 skips pretraining: the stage keeps the seeded, randomly
    /// initialized encoder and the input normalization learned from the data, which is the starting point of supervised
    /// training from scratch with <c>SelfSupervisedFineTune</c> (the baseline SSL should beat) or a random-features baseline.</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>
    /// Epochs the learning-rate schedule spans. Default 0: <see cref="Epochs"/>. With a
    /// <see cref="CheckpointDirectory"/>, a fit with fewer <see cref="Epochs"/> can later be continued to more (up to
    /// this value) and ends where a straight run would; multi-fidelity search uses this.
    /// </summary>
    public int ScheduleEpochs { get; set; }

    /// <summary>
    /// Rows per pretraining step, and rows per forward pass when transforming. Default 0: 256, or a quarter of the rows
    /// (at least 16) on fewer than 1,024, so that an epoch is at least four steps; a step drops the last partial batch,
    /// so 400 images in batches of 256 trained one step an epoch (SimCLR for 10 epochs then tested 33.9% against 36.8% in
    /// batches of 100, with a probe on CIFAR-10). A positive value is used as given, clamped to the number of rows when
    /// the data is smaller.
    /// </summary>
    public int BatchSize { get; set; }

    /// <summary>The batch of 256 rows that a <see cref="BatchSize"/> of 0 gives on 1,024 rows or more.</summary>
    internal const int LargePoolBatchSize = 256;

    /// <summary>The batch a stage pretrains <paramref name="rows"/> rows in: <see cref="BatchSize"/> when it is set, else
    /// <see cref="LargePoolBatchSize"/> or a quarter of the rows, at least 16.</summary>
    internal int ResolveBatchSize(long rows) =>
        BatchSize > 0 ? BatchSize : (int)Math.Min(LargePoolBatchSize, Math.Max(16, rows / 4));

    /// <summary>Peak learning rate (AdamW by default). Default 1e-3.</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Optimizer. Default <see cref="SslOptimizer.AdamW"/>.</summary>
    public SslOptimizer Optimizer { get; set; } = SslOptimizer.AdamW;

    /// <summary>Weight decay on weight matrices and kernels. Default 1e-4.</summary>
    public double WeightDecay { get; set; } = 1e-4;

    /// <summary>Momentum for <see cref="SslOptimizer.Sgd"/> and <see cref="SslOptimizer.Lars"/>. Default 0.9.</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>LARS trust coefficient (eta) for <see cref="SslOptimizer.Lars"/>. Default 1e-3.</summary>
    public double LarsTrustCoefficient { get; set; } = 1e-3;

    /// <summary>Epochs of linear learning-rate warm-up before the cosine decay. Default 1.</summary>
    public double WarmupEpochs { get; set; } = 1;

    /// <summary>Final learning rate as a fraction of <see cref="LearningRate"/> at the end of the cosine decay. Default 0.01.</summary>
    public double FinalLearningRateFraction { get; set; } = 0.01;

    /// <summary>Maximum global gradient norm per step; 0 (or less) turns clipping off. Default 5.</summary>
    public double GradientClipNorm { get; set; } = 5.0;

    /// <summary>Seed for weight initialization, shuffling and augmentations; the same seed on the CPU gives the same model. Default 1.
    /// The <c>MLContext</c>'s seed does not change it (a model is reproducible whatever context fits it); set this to vary
    /// the pretraining, for example per cross-validation fold.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Largest <see cref="ImageWidth"/> and <see cref="ImageHeight"/>: 4096 pixels.</summary>
    public const int MaxImageSide = 4096;

    /// <summary>Images are resized to this width before the encoder. Default 32.</summary>
    public int ImageWidth { get; set; } = 32;

    /// <summary>Images are resized to this height before the encoder. Default 32.</summary>
    public int ImageHeight { get; set; } = 32;

    /// <summary>
    /// When above 0, a float vector of length C*T is a series of C channels by T steps, stored channel after
    /// channel. Default 0: vectors are tabular rows.
    /// </summary>
    public int SeriesChannels { get; set; }

    /// <summary>The augmentations that make the views. Default null: the method's default policy for the input kind.</summary>
    public AugmentationPolicy? Augmentations { get; set; }

    /// <summary>
    /// Pretrain on these rows (same input column) instead of the rows given to <c>Fit</c>. Default null. Useful to
    /// pretrain on a large unlabeled set while the pipeline is fitted on a labeled one.
    /// </summary>
    public IDataView? PretrainingData { get; set; }

    /// <summary>
    /// A label column of the rows given to <c>Fit</c> (key, number, boolean or text). When set, the labeled rows
    /// give a kNN accuracy after each epoch, in the progress reports and the history. Labels never train the encoder.
    /// Default null.
    /// </summary>
    public string? MonitorLabelColumnName { get; set; }

    /// <summary>Folder for checkpoints; a later <c>Fit</c> with the same settings resumes from it (with more
    /// <see cref="Epochs"/> it continues; a checkpoint with more completed epochs than <see cref="Epochs"/> is refused).
    /// Default null: no checkpoints.</summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>Whether a CUDA GPU may be used when TorchSharp sees one. Default true.</summary>
    public bool AllowCuda { get; set; } = true;

    /// <summary>Receives a report after every pretraining step and a summary after every epoch.</summary>
    public IProgress<SslProgress>? Progress { get; set; }

    /// <summary>Cancels pretraining within one step; checkpoints written so far remain.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>A copy (the data view, progress sink and policy are shared, not copied).</summary>
    public SelfSupervisedOptions Clone()
    {
        var copy = (SelfSupervisedOptions)MemberwiseClone();
        copy.EncoderOptions = EncoderOptions?.Clone();
        return copy;
    }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputColumnName)) throw new ArgumentException("OutputColumnName must be set.", nameof(OutputColumnName));
        if (string.IsNullOrWhiteSpace(InputColumnName)) throw new ArgumentException("InputColumnName must be set.", nameof(InputColumnName));
        if (EmbeddingSize < 0) throw new ArgumentOutOfRangeException(nameof(EmbeddingSize), EmbeddingSize, "EmbeddingSize must be 0 (the encoder's width) or positive.");
        if (Epochs < 0) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be 0 (no pretraining) or positive.");
        if (BatchSize < 0) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be 0 (chosen from the number of rows) or at least 2.");
        // The engine's own checks (ScheduleEpochs, BatchSize, schedule and optimizer values), run now: a bad value must
        // not wait until every row is read.
        ToPretrainingOptions(null, default).ValidateSettings();
        if (ImageWidth < 8 || ImageHeight < 8)
            throw new ArgumentOutOfRangeException(ImageWidth < 8 ? nameof(ImageWidth) : nameof(ImageHeight), $"{ImageWidth}x{ImageHeight}",
                "ImageWidth and ImageHeight must be at least 8 pixels.");
        if (ImageWidth > MaxImageSide || ImageHeight > MaxImageSide)
            throw new ArgumentOutOfRangeException(ImageWidth > MaxImageSide ? nameof(ImageWidth) : nameof(ImageHeight), $"{ImageWidth}x{ImageHeight}",
                $"ImageWidth and ImageHeight must be at most {MaxImageSide} pixels: images are resized to this size and held in memory " +
                "for every row. SSL encoders learn well from 32 to 224 pixels; resize larger images down.");
        if (SeriesChannels < 0) throw new ArgumentOutOfRangeException(nameof(SeriesChannels), SeriesChannels, "SeriesChannels must be 0 (tabular) or positive.");
    }

    internal EncoderOptions ResolveEncoderOptions()
    {
        var options = EncoderOptions?.Clone() ?? new EncoderOptions();
        options.Kind = Encoder;
        options.EmbeddingSize = EmbeddingSize;
        return options;
    }

    internal PretrainingOptions ToPretrainingOptions(IProgress<SslProgress>? progress, CancellationToken cancellationToken) => new()
    {
        Epochs = Epochs,
        ScheduleEpochs = ScheduleEpochs,
        // 0 is resolved from the rows at Fit; the engine's checks see the large-pool batch until then.
        BatchSize = BatchSize > 0 ? BatchSize : LargePoolBatchSize,
        LearningRate = LearningRate,
        Optimizer = Optimizer,
        WeightDecay = WeightDecay,
        Momentum = Momentum,
        LarsTrustCoefficient = LarsTrustCoefficient,
        WarmupEpochs = WarmupEpochs,
        FinalLearningRateFraction = FinalLearningRateFraction,
        GradientClipNorm = GradientClipNorm,
        Seed = Seed,
        AllowCuda = AllowCuda,
        CheckpointDirectory = CheckpointDirectory,
        Progress = progress,
        CancellationToken = cancellationToken,
    };
}
