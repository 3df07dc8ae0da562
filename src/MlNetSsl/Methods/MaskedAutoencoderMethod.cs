using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>Options of <see cref="MaskedAutoencoderMethod"/>.</summary>
public sealed class MaskedAutoencoderOptions : SslMethodOptions
{
    /// <summary>
    /// Side of the square image patches that are masked together. Default 4 (suits 28x28 and 32x32 images; the
    /// paper's 16 is for 224x224). When it does not divide both the height and the width, the largest common divisor
    /// of height and width that is at most 8 is used instead (see <see cref="MaskedAutoencoderMethod.PatchSize"/>).
    /// </summary>
    public int PatchSize { get; set; } = 4;

    /// <summary>Fraction of image patches masked. Default 0.75 (paper: 0.75).</summary>
    public double MaskRatio { get; set; } = 0.75;

    /// <summary>
    /// Fraction of tabular features (or series time steps, all channels together) masked. Default 0.5: tabular
    /// features are far less redundant than image patches, so the paper's 0.75 leaves too little to infer from.
    /// </summary>
    public double VectorMaskRatio { get; set; } = 0.5;

    /// <summary>Hidden width of the MLP decoder. Default 512. Its output layer has this many weights per input value, at
    /// most 2^28 in all (so the default allows colour images up to about 418 x 418); larger inputs are refused.</summary>
    public int DecoderHiddenSize { get; set; } = 512;

    /// <summary>
    /// Whether image targets are normalized per patch (mean 0, variance 1), which the paper reports sharpens features.
    /// Default false: small patches of small images are often flat, and normalizing them amplifies noise.
    /// </summary>
    public bool NormalizePixelTargets { get; set; }
}

/// <summary>
/// A masked autoencoder (after He et al., 2022) for any input kind: a random subset of units (image patches,
/// tabular features or series time steps) is zeroed, the encoder embeds the masked input, an MLP decoder reconstructs
/// the whole input from the embedding, and the loss is the mean squared error on the masked units only.
/// </summary>
/// <remarks>
/// The encoder is an ordinary CNN or MLP, not a ViT, so masked units are zeroed rather than dropped; zero is black for
/// images and the column mean for standardized tabular and series data. The mask is drawn from
/// <see cref="ViewGenerator.Generator"/>, with an exact number of masked units per row; the augmentation policy is
/// not used. The projection sizes of <see cref="SslMethodOptions"/> do not apply.
/// </remarks>
public sealed class MaskedAutoencoderMethod : SslMethodBase
{
    private readonly Sequential decoder;
    private readonly SslInputShape shape;

    /// <summary>Creates a masked autoencoder on <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The encoder to pretrain.</param>
    /// <param name="options">Hyperparameters; null for the defaults.</param>
    public MaskedAutoencoderMethod(SslEncoder encoder, MaskedAutoencoderOptions? options = null)
        : base(nameof(MaskedAutoencoderMethod), encoder, options ??= new MaskedAutoencoderOptions())
    {
        Options = options;
        shape = encoder.InputShape;
        SslMethodOptions.Positive(Options.PatchSize, nameof(Options.PatchSize));
        SslMethodOptions.InRange(Options.MaskRatio, 0, 1, nameof(Options.MaskRatio));
        SslMethodOptions.InRange(Options.VectorMaskRatio, 0, 1, nameof(Options.VectorMaskRatio));
        SslMethodOptions.Positive(Options.DecoderHiddenSize, nameof(Options.DecoderHiddenSize));
        PatchSize = shape.Kind == SslInputKind.Image ? ResolvePatchSize(Options.PatchSize, shape.Height, shape.Width) : 1;
        CheckDecoderSize(shape, Options.DecoderHiddenSize);
        decoder = AddHead("decoder", nn.Sequential(
            ("linear0", nn.Linear(encoder.EmbeddingSize, Options.DecoderHiddenSize)),
            ("gelu0", nn.GELU()),
            ("output", nn.Linear(Options.DecoderHiddenSize, shape.Size))));
    }

    /// <summary>The hyperparameters.</summary>
    public MaskedAutoencoderOptions Options { get; }

    /// <summary>The most weights the decoder's output layer may have: 2^28, 1 GiB of floats, about 4 GiB with its gradient
    /// and AdamW's two moments.</summary>
    internal const long MaxDecoderOutputWeights = 1L << 28;

    // The decoder predicts every input value from one hidden layer, so its output layer grows with the input: 1024 x 1024
    // colour images at the default width of 512 need 1.6 G weights, which failed natively (out of memory) after the whole
    // folder was read, or took the machine's memory. Refused up front with what to change.
    private static void CheckDecoderSize(SslInputShape shape, int hidden)
    {
        long weights = (long)hidden * shape.Size;
        if (weights <= MaxDecoderOutputWeights) return;
        string input = shape.Kind == SslInputKind.Image ? $"{shape.Width}x{shape.Height} images of {shape.Channels} channel(s)"
            : FormattableString.Invariant($"{shape.Size:N0} input values");
        throw new ArgumentException(FormattableString.Invariant(
            $"MaskedAutoencoder's decoder predicts every input value from a {hidden}-wide layer: {weights:N0} weights for {input} ") +
            FormattableString.Invariant($"(about {weights * 16.0 / (1L << 30):0.#} GiB with their gradient and optimizer state; at most {MaxDecoderOutputWeights:N0}). ") +
            "Resize the images smaller (ImageWidth and ImageHeight), lower MaskedAutoencoderOptions.DecoderHiddenSize, or use another method.",
            "options");
    }

    /// <summary>The patch side in use for images (1 for tabular and series inputs).</summary>
    public int PatchSize { get; }

    /// <summary>The mask ratio in use: <see cref="MaskedAutoencoderOptions.MaskRatio"/> for images, otherwise the vector ratio.</summary>
    public double MaskRatio => shape.Kind == SslInputKind.Image ? Options.MaskRatio : Options.VectorMaskRatio;

    /// <summary>Number of maskable units per row: patches, features or time steps.</summary>
    public long UnitCount => shape.Kind switch
    {
        SslInputKind.Image => (long)(shape.Height / PatchSize) * (shape.Width / PatchSize),
        SslInputKind.Tabular => shape.Features,
        _ => shape.Length,
    };

    /// <inheritdoc />
    public override string MethodName => nameof(SslMethod.MaskedAutoencoder);

    // The registry's entry: name, options, input kinds, default augmentations and the knob AutoML tunes.
    internal static SslMethodRegistration Registration { get; } = new SslMethodRegistration<MaskedAutoencoderOptions>(nameof(SslMethod.MaskedAutoencoder), (encoder, options) => new MaskedAutoencoderMethod(encoder, options))
    {
        Augmentations = DefaultAugmentations.Masked,
        SearchKnob = ScaleMaskOdds,
    };

    // AutoML's knob multiplies the odds of both mask ratios: 0.75 becomes 0.43 to 0.92 for scale 1/4 to 4.
    private static void ScaleMaskOdds(MaskedAutoencoderOptions options, double scale)
    {
        static double ScaleOdds(double ratio, double factor) => ratio * factor / (1 - ratio + ratio * factor);
        options.MaskRatio = ScaleOdds(options.MaskRatio, scale);
        options.VectorMaskRatio = ScaleOdds(options.VectorMaskRatio, scale);
    }

    /// <summary>
    /// <paramref name="requested"/> when it divides both sides, otherwise the largest common divisor of
    /// <paramref name="height"/> and <paramref name="width"/> that is at most 8.
    /// </summary>
    public static int ResolvePatchSize(int requested, int height, int width)
    {
        if (requested > 0 && height % requested == 0 && width % requested == 0) return requested;
        for (int p = 8; p > 1; p--)
            if (height % p == 0 && width % p == 0) return p;
        return 1;
    }

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor units = ToUnits(batch);
        Tensor mask = SampleMask(batch.shape[0], views.Generator);
        Tensor masked = FromUnits(units.masked_fill(mask.unsqueeze(-1), Zero));
        Tensor prediction = ToUnits(decoder.call(Encoder.call(masked)).view(batch.shape));
        Tensor target = units;
        if (Options.NormalizePixelTargets && shape.Kind == SslInputKind.Image)
        {
            Tensor mean = units.mean(new long[] { -1 }, keepdim: true);
            Tensor variance = units.var(-1, unbiased: true, keepdim: true);
            target = (units - mean) / variance.add(Held(1e-6), One).sqrt();
        }
        return SslLosses.MaskedMse(prediction, target, mask);
    }

    /// <summary>
    /// A boolean mask [N, units] with exactly round(ratio * units) masked units per row (at least 1 and at most
    /// units - 1), drawn from <paramref name="generator"/>.
    /// </summary>
    /// <param name="rows">Batch size N.</param>
    /// <param name="generator">Source of the random draw.</param>
    public Tensor SampleMask(long rows, Generator generator)
    {
        long units = UnitCount;
        long maskedCount = units <= 1 ? units : Math.Clamp((long)Math.Round(MaskRatio * units), 1, units - 1);
        using var scope = torch.NewDisposeScope();
        Tensor rank = torch.rand(new[] { rows, units }, generator: generator, device: Device).argsort(dim: 1).argsort(dim: 1);
        return rank.lt(Held(maskedCount)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Reshapes a batch into maskable units [N, L, U]: image patches (U = C * P * P), tabular features (U = 1) or
    /// series time steps (U = channels).
    /// </summary>
    /// <param name="batch">A batch shaped like the encoder's input.</param>
    public Tensor ToUnits(Tensor batch)
    {
        long n = batch.shape[0];
        switch (shape.Kind)
        {
            case SslInputKind.Image:
                int p = PatchSize;
                return batch.reshape(n, shape.Channels, shape.Height / p, p, shape.Width / p, p)
                    .permute(0, 2, 4, 3, 5, 1)
                    .reshape(n, UnitCount, (long)p * p * shape.Channels);
            case SslInputKind.Tabular:
                return batch.unsqueeze(-1);
            default:
                return batch.transpose(1, 2);
        }
    }

    /// <summary>The inverse of <see cref="ToUnits"/>.</summary>
    /// <param name="units">Units [N, L, U].</param>
    public Tensor FromUnits(Tensor units)
    {
        long n = units.shape[0];
        switch (shape.Kind)
        {
            case SslInputKind.Image:
                int p = PatchSize;
                return units.reshape(n, shape.Height / p, shape.Width / p, p, p, shape.Channels)
                    .permute(0, 5, 1, 3, 2, 4)
                    .reshape(n, shape.Channels, shape.Height, shape.Width);
            case SslInputKind.Tabular:
                return units.squeeze(-1);
            default:
                return units.transpose(1, 2).contiguous();
        }
    }
}
