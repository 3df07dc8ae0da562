using Microsoft.ML;

namespace MlNetSsl.AutoML;

/// <summary>Where a trial's features come from.</summary>
public enum SslFeatureSource
{
    /// <summary>Embeddings of an encoder pretrained with self-supervision on every row (labeled or not).</summary>
    SelfSupervised,

    /// <summary>The honest alternative without pretraining: the raw input (images resized to the stage's size,
    /// pixels as a vector; vectors as they are), standardized, into the same downstream trainer.</summary>
    RawFeatures,

    /// <summary>The other honest alternative without pretraining: the encoder of the <c>Pretraining.*</c> options
    /// from random weights (a stage with 0 epochs), trained with the fine-tuning augmentations by
    /// <c>SelfSupervisedFineTune</c> with the <c>Downstream.FineTune*</c> options and the <c>SemiSupervised</c> and
    /// <c>Distill</c> switches (which also read the unlabeled rows); the downstream trainer choice and <c>FreezeEncoder</c>
    /// do not apply. On small data it can beat pretraining; the report says when it wins.</summary>
    SupervisedFromScratch,

    /// <summary>The raw input (as <see cref="RawFeatures"/>) and the pretrained embeddings (as <see cref="SelfSupervised"/>)
    /// concatenated into one vector, standardized, into the downstream trainer: trees and linear models keep what the raw
    /// columns say exactly and gain what pretraining learned from the unlabeled rows. Fine-tuning does not apply (it reads
    /// the input column, not a feature vector).</summary>
    RawAndSelfSupervised,
}

/// <summary>
/// The downstream model trained on the labeled rows. LinearProbe, LightGbm and NearestNeighbor are cases of one switch
/// that builds an ML.NET trainer on the features (<c>SslDownstream.CreateTrainer</c>); FineTune trains the encoder itself
/// and has its own cross-validation and refit path.
/// </summary>
public enum DownstreamTrainer
{
    /// <summary>A linear probe: ML.NET's <c>LbfgsMaximumEntropy</c> (multinomial logistic regression, L-BFGS) on
    /// standardized features. L-BFGS rather than SDCA because SDCA's default iterations left raw-pixel probes predicting
    /// one class.</summary>
    LinearProbe,

    /// <summary>ML.NET's <c>LightGbm</c> multiclass gradient-boosted trees on the features (options
    /// <c>Downstream.LightGbm*</c>); on tabular rows trees are often the strongest downstream model.</summary>
    LightGbm,

    /// <summary>SSL fine-tuning: <c>ml.MulticlassClassification.Trainers.SelfSupervisedFineTune</c> trains the pretrained
    /// encoder and a new head on the input column (options <c>Downstream.FineTune*</c>, <c>FreezeEncoder</c>,
    /// <c>SemiSupervised</c>, <c>Distill</c>). Costs a training run per fold; with raw features it is skipped (there is
    /// no encoder to fine-tune), which the search records as a failed trial.</summary>
    FineTune,

    /// <summary>A 1-nearest-neighbour classifier with the Euclidean distance
    /// (<c>ml.MulticlassClassification.Trainers.NearestNeighbor</c>): each row takes the class of its nearest labeled row,
    /// with class probabilities softmax(-distance / scale). It has no options to tune. On raw series features it reads
    /// the values as they are (series share one scale, and UCR/UEA series come z-normalized); on every other feature vector
    /// they are standardized first, as for the other trainers.</summary>
    NearestNeighbor,
}

/// <summary>
/// Named augmentation policies built from the method's default policy (<see cref="SslMethodRegistration.DefaultAugmentations"/>).
/// See <see cref="SslAugmentationTemplates.Build"/> for the exact steps.
/// </summary>
public enum AugmentationTemplate
{
    /// <summary>The method's default policy for the input kind (the paper recipe scaled to small inputs).</summary>
    Default,

    /// <summary>Only the mildest steps of the default policy: geometry for images (crop, flip), amplitude for series
    /// (scaling, jitter); Gaussian noise instead of feature corruption for tabular rows.</summary>
    Light,

    /// <summary>The default policy plus the input kind's extra augmentations: random erasing for images, magnitude
    /// warping and channel masking for series, Gaussian noise after the corruption for tabular rows.</summary>
    Heavy,
}

/// <summary>
/// One configuration of the self-supervised experiment, bound from a <see cref="Parameters"/> of an
/// <see cref="SslSearchSpace"/> with <c>parameters.AsType&lt;SslTrialParameters&gt;()</c>. Option names are the property
/// names (nested with dots: <c>Pretraining.Method</c>); an option left out of the space keeps the property's initial value.
/// </summary>
public sealed class SslTrialParameters
{
    /// <summary>Option <c>Features</c>: self-supervised embeddings, or the raw-feature baseline. Default SelfSupervised.</summary>
    public SslFeatureSource Features { get; set; } = SslFeatureSource.SelfSupervised;

    /// <summary>Nested options <c>Pretraining.*</c>: everything that shapes the pretrained encoder. Trials that agree on
    /// all of them share one pretraining (the experiment's cache key is the hash of this subset).</summary>
    public SslPretrainingParameters Pretraining { get; set; } = new();

    /// <summary>Nested options <c>Downstream.*</c>: the trainer on the labeled rows.</summary>
    public SslDownstreamParameters Downstream { get; set; } = new();

    /// <summary>Whether the pipeline ends in a trained network (SSL fine-tuning or training from scratch), not a trainer on
    /// feature vectors: a network per fold is the cost of a whole trial, and its refit owns its encoder.</summary>
    internal bool TrainsNetwork => Features == SslFeatureSource.SupervisedFromScratch
        || (Features == SslFeatureSource.SelfSupervised && Downstream.Trainer == DownstreamTrainer.FineTune);
}

/// <summary>The pretraining part of a configuration (options <c>Pretraining.*</c>). Initial values are the library's defaults.</summary>
public sealed class SslPretrainingParameters
{
    /// <summary>The registered name of the SSL method (see <see cref="SslMethodRegistry"/>). Default "SimClr".</summary>
    public string Method { get; set; } = nameof(SslMethod.SimClr);

    /// <summary>The encoder architecture. Default Auto (ConvNet for images, Mlp for tabular rows, Conv1d for series).</summary>
    public EncoderKind Encoder { get; set; } = EncoderKind.Auto;

    /// <summary>Encoder width: the channel multiplier of ConvNet, ResNet and Conv1d encoders, or the hidden size of Mlp
    /// and ResMlp encoders as a multiple of 256. Default 1.</summary>
    public double EncoderWidth { get; set; } = 1.0;

    /// <summary>Embedding length; 0 for the encoder's natural width (256 x width for ConvNet, 128 x width for Conv1d,
    /// the hidden size for MLPs). Default 0.</summary>
    public int EmbeddingSize { get; set; }

    /// <summary>Peak learning rate (AdamW). Default 1e-3.</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Rows per pretraining step (clamped to the row count). Default 256.</summary>
    public int BatchSize { get; set; } = 256;

    /// <summary>
    /// A log-scale multiplier of the method's key hyperparameter, 1 for the paper default: the temperature of SimCLR
    /// (0.5 x scale), MoCo v2 (0.2 x scale) and SCARF (1 x scale); BYOL's target update rate 1 - base momentum
    /// (0.01 x scale); SimSiam's predictor bottleneck (128 x scale units); Barlow Twins' redundancy weight lambda
    /// (scale / projection size); VICReg's invariance weight (25 x scale); VIME's reconstruction weight alpha (2 x scale);
    /// and the masked autoencoder's mask ratios, whose odds are multiplied by scale (0.75 becomes 0.43 to 0.92 for
    /// scale 1/4 to 4). Default 1. A search space's range must suit every method it can choose: at least 0.002 with
    /// SimCLR, 0.005 with MoCo v2 and 0.001 with SCARF (a temperature below 0.001 is refused), at most 100 with BYOL
    /// (<see cref="SslMethodRegistration.MinSearchScale"/>, <see cref="SslMethodRegistration.MaxSearchScale"/>).
    /// </summary>
    public double MethodScale { get; set; } = 1.0;

    /// <summary>The augmentation policy template. Default <see cref="AugmentationTemplate.Default"/>.</summary>
    public AugmentationTemplate Augmentations { get; set; } = AugmentationTemplate.Default;

    /// <summary>The strength in [0, 1] every augmentation of the policy gets (1 is each augmentation's full range).
    /// Default 1.</summary>
    public double AugmentationStrength { get; set; } = 1.0;

    /// <summary>Pretraining epochs when the experiment has no scheduler; with a scheduler the fidelity sets the epochs and
    /// this option is left out of the search. Default 10.</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>
    /// The stage options for this configuration: method, encoder, embedding size, method options, learning rate, batch
    /// size, epochs and augmentation policy. Set <see cref="SelfSupervisedOptions.Seed"/>,
    /// <see cref="SelfSupervisedOptions.ScheduleEpochs"/> and <see cref="SelfSupervisedOptions.CheckpointDirectory"/> as needed.
    /// </summary>
    /// <param name="inputShape">The shape the stage will read: its kind, the image size, or the series' channels.</param>
    /// <param name="inputColumnName">The input column.</param>
    /// <param name="outputColumnName">The embedding column to add.</param>
    /// <exception cref="ArgumentException">The method or encoder does not fit the input kind; the message says what does.</exception>
    public SelfSupervisedOptions ToOptions(SslInputShape inputShape, string inputColumnName, string outputColumnName)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentException.ThrowIfNullOrWhiteSpace(inputColumnName);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputColumnName);
        SslSearchSpace.CheckMethod(Method, inputShape.Kind);
        SslSearchSpace.CheckEncoder(Encoder, inputShape.Kind);
        var encoderOptions = new EncoderOptions { Kind = Encoder };
        EncoderKind resolved = encoderOptions.ResolveKind(inputShape.Kind);
        if (resolved is EncoderKind.Mlp or EncoderKind.ResMlp)
            encoderOptions.HiddenSize = Math.Max(8, (int)Math.Round(256 * EncoderWidth));
        else
            encoderOptions.WidthMultiplier = EncoderWidth;
        return new SelfSupervisedOptions
        {
            InputColumnName = inputColumnName,
            OutputColumnName = outputColumnName,
            MethodName = SslMethodRegistry.Get(Method).Name,
            Encoder = Encoder,
            EncoderOptions = encoderOptions,
            EmbeddingSize = EmbeddingSize,
            MethodOptions = CreateMethodOptions(Method, MethodScale),
            LearningRate = LearningRate,
            BatchSize = BatchSize,
            Epochs = Epochs,
            ImageWidth = inputShape.Kind == SslInputKind.Image ? inputShape.Width : 32,
            ImageHeight = inputShape.Kind == SslInputKind.Image ? inputShape.Height : 32,
            SeriesChannels = inputShape.Kind == SslInputKind.Series ? inputShape.Channels : 0,
            Augmentations = SslAugmentationTemplates.Build(Augmentations, Method, inputShape, AugmentationStrength),
        };
    }

    /// <summary>The method's options with its key hyperparameter scaled by <paramref name="scale"/> (see <see cref="MethodScale"/>
    /// and <see cref="SslMethodRegistration.SearchOptions"/>).</summary>
    /// <param name="method">The registered method's name.</param>
    /// <param name="scale">The multiplier, positive; 1 gives the method's defaults.</param>
    public static SslMethodOptions CreateMethodOptions(string method, double scale) => SslMethodRegistry.Get(method).SearchOptions(scale);
}

/// <summary>The downstream part of a configuration (options <c>Downstream.*</c>): the trainer on the labeled rows.</summary>
public sealed class SslDownstreamParameters
{
    /// <summary>The trainer. Default <see cref="DownstreamTrainer.LinearProbe"/>.</summary>
    public DownstreamTrainer Trainer { get; set; } = DownstreamTrainer.LinearProbe;

    /// <summary>L1 regularization of the linear probe. Default 1e-4, the search range's lowest value: in effect none.
    /// ML.NET's default of 1 weighs against the log-loss summed over the labeled rows, so on a few dozen of them it zeroes
    /// most weights (at 10% labels and at 20 labels on the shared tables it lost 0.3 to 6.7 points in 9 of 10 cases;
    /// docs/automl.md, "The linear probe's defaults").</summary>
    public double L1Regularization { get; set; } = 1e-4;

    /// <summary>L2 regularization of the linear probe. Default 1 (ML.NET's default for <c>LbfgsMaximumEntropy</c>).</summary>
    public double L2Regularization { get; set; } = 1.0;

    /// <summary>LightGBM leaves per tree. Default 31 (ML.NET's default).</summary>
    public int LightGbmLeaves { get; set; } = 31;

    /// <summary>LightGBM's minimum rows per leaf. Default 20 (ML.NET's default; with a few dozen labels it leaves stumps,
    /// so the space searches down to 2).</summary>
    public int LightGbmMinimumRowsPerLeaf { get; set; } = 20;

    /// <summary>LightGBM boosting iterations. Default 100 (ML.NET's default).</summary>
    public int LightGbmIterations { get; set; } = 100;

    /// <summary>Fine-tuning epochs (<see cref="FineTuneOptions.Epochs"/>). Default 50 (the library's default).</summary>
    public int FineTuneEpochs { get; set; } = 50;

    /// <summary>Peak fine-tuning learning rate (<see cref="FineTuneOptions.LearningRate"/>). Default 3e-3 (the library's default).</summary>
    public double FineTuneLearningRate { get; set; } = 3e-3;

    /// <summary>Train only the head on the frozen encoder (<see cref="FineTuneOptions.FreezeEncoder"/>). Default false.</summary>
    public bool FreezeEncoder { get; set; }

    /// <summary>FixMatch consistency training on the unlabeled rows (<see cref="FineTuneOptions.SemiSupervised"/> with its
    /// defaults). Default false.</summary>
    public bool SemiSupervised { get; set; }

    /// <summary>Distill the fine-tuned classifier into a student on all rows (<see cref="FineTuneOptions.Distill"/> with its
    /// defaults). Default false.</summary>
    public bool Distill { get; set; }

    /// <summary>Sets the fine-tuning options these parameters choose (epochs, learning rate, freezing, FixMatch with its
    /// defaults, distillation for min(epochs, 10) passes over all rows, since each pass reads every row); the caller sets
    /// seed, cancellation and data.</summary>
    /// <param name="options">The options to change.</param>
    public void ApplyTo(FineTuneOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Epochs = FineTuneEpochs;
        options.LearningRate = FineTuneLearningRate;
        options.FreezeEncoder = FreezeEncoder;
        options.SemiSupervised = SemiSupervised ? new SemiSupervisedOptions() : null;
        options.Distill = Distill ? new DistillationOptions { Epochs = Math.Min(FineTuneEpochs, 10) } : null;
    }

    /// <summary>The ML.NET trainer the search cross-validates and refits for these parameters on a feature vector:
    /// <c>LbfgsMaximumEntropy</c> (at most 100 iterations), multiclass <c>LightGbm</c>, both single-threaded so that
    /// results repeat, or <c>NearestNeighbor</c>. On rows of more than 1,000 features each LightGBM tree samples 1,000 of them (LightGBM's feature
    /// fraction), which keeps its cost near that of a 1,000-feature table. Standardize the features first, as the
    /// search does (<see cref="CreateStandardizedTrainer"/>; except for the nearest neighbour on raw series, see
    /// <see cref="DownstreamTrainer.NearestNeighbor"/>).</summary>
    /// <param name="mlContext">The context that creates the trainer.</param>
    /// <param name="labelColumnName">A key-typed label column.</param>
    /// <param name="featureColumnName">A known-size vector of <see cref="float"/>.</param>
    /// <exception cref="InvalidOperationException"><see cref="Trainer"/> is <see cref="DownstreamTrainer.FineTune"/>, which
    /// trains an encoder on the input column rather than a feature vector.</exception>
    public IEstimator<ITransformer> CreateTrainer(MLContext mlContext, string labelColumnName, string featureColumnName)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrEmpty(labelColumnName);
        ArgumentException.ThrowIfNullOrEmpty(featureColumnName);
        return SslDownstream.CreateTrainer(mlContext, this, labelColumnName, featureColumnName);
    }

    /// <summary>The search's standardization of the feature vector followed by <see cref="CreateTrainer"/>, as the search
    /// cross-validates and refits these parameters on embeddings and on table features: each slot centred and scaled to
    /// deviation 1 (from 10 labeled rows; ML.NET's <c>NormalizeMeanVariance</c> default below that), except slots that hold
    /// only 0 and 1 in the fitted rows (one-hot indicators), which pass unscaled. Use it to refit <see cref="SslExperimentResult.BestDownstream"/>
    /// on features of your own and get the pipeline the search scored.</summary>
    /// <param name="mlContext">The context that creates the estimators.</param>
    /// <param name="labelColumnName">A key-typed label column.</param>
    /// <param name="featureColumnName">A known-size vector of <see cref="float"/>, standardized in place.</param>
    /// <param name="labeledRowCount">How many labeled rows it will be fitted on, which decides whether the slots are centred.</param>
    /// <exception cref="InvalidOperationException"><see cref="Trainer"/> is <see cref="DownstreamTrainer.FineTune"/>.</exception>
    public IEstimator<ITransformer> CreateStandardizedTrainer(MLContext mlContext, string labelColumnName, string featureColumnName, long labeledRowCount)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrEmpty(labelColumnName);
        ArgumentException.ThrowIfNullOrEmpty(featureColumnName);
        ArgumentOutOfRangeException.ThrowIfNegative(labeledRowCount);
        return SslDownstream.Standardize(mlContext, featureColumnName, labeledRowCount)
            .Append(SslDownstream.CreateTrainer(mlContext, this, labelColumnName, featureColumnName));
    }

    /// <summary>Whether fine-tuning reads the unlabeled rows (FixMatch or distillation).</summary>
    internal bool UsesUnlabeledRows => SemiSupervised || Distill;

    /// <summary>These options as training from scratch reads them: it always fine-tunes, and never freezes the encoder
    /// (a frozen random encoder would make it a random-features baseline, not supervised training).</summary>
    internal SslDownstreamParameters ForTrainingFromScratch()
    {
        var copy = (SslDownstreamParameters)MemberwiseClone();
        copy.Trainer = DownstreamTrainer.FineTune;
        copy.FreezeEncoder = false;
        return copy;
    }
}
