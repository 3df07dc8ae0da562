namespace MlNetSsl;

/// <summary>
/// Architecture settings for the encoder (backbone). Every property has a default that trains at a useful speed on a
/// CPU; zero means "the chosen architecture's own default", so one options object fits every input kind.
/// </summary>
public sealed class EncoderOptions
{
    /// <summary>
    /// The architecture. Default <see cref="EncoderKind.Auto"/>: <see cref="EncoderKind.ConvNet"/> for images,
    /// <see cref="EncoderKind.Mlp"/> for tabular rows, <see cref="EncoderKind.Conv1d"/> for series.
    /// Images accept ConvNet or ResNet; tabular rows accept Mlp or ResMlp; series accept Conv1d.
    /// </summary>
    public EncoderKind Kind { get; set; } = EncoderKind.Auto;

    /// <summary>
    /// The name of an encoder registered with <see cref="SslEncoderRegistry"/>; when set, it is built instead of
    /// <see cref="Kind"/> (which the stage then ignores), and the other options are handed to it. Default null.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>
    /// Length of the embedding. Default 0: the architecture's natural feature width, with no extra projection layer
    /// (ConvNet 256 x width, ResNet 512 x width, Mlp and ResMlp <see cref="HiddenSize"/>, Conv1d 128 x width).
    /// Any other positive value adds a final Linear layer to that size.
    /// </summary>
    public int EmbeddingSize { get; set; }

    /// <summary>Scales every layer's channel count (ConvNet, ResNet, Conv1d), rounded to a multiple of 8. Default 1.0; allowed 0.125 to 8.</summary>
    public double WidthMultiplier { get; set; } = 1.0;

    /// <summary>
    /// Depth. Default 0: ConvNet 4 conv blocks (allowed 2 to 6), ResNet 18 layers (allowed 10 or 18),
    /// Mlp 2 hidden layers and ResMlp 2 residual blocks (allowed 1 to 16), Conv1d 3 conv blocks (allowed 1 to 8).
    /// </summary>
    public int Depth { get; set; }

    /// <summary>Width of the hidden layers of Mlp and ResMlp encoders. Default 256 (SCARF's encoder width).</summary>
    public int HiddenSize { get; set; } = 256;

    /// <summary>The architecture <see cref="Kind"/> resolves to for <paramref name="inputKind"/>.</summary>
    public EncoderKind ResolveKind(SslInputKind inputKind) => Kind != EncoderKind.Auto ? Kind : inputKind switch
    {
        SslInputKind.Image => EncoderKind.ConvNet,
        SslInputKind.Tabular => EncoderKind.Mlp,
        SslInputKind.Series => EncoderKind.Conv1d,
        _ => throw new ArgumentOutOfRangeException(nameof(inputKind), inputKind, "Unknown input kind."),
    };

    /// <summary>The depth <see cref="Depth"/> resolves to for <paramref name="kind"/> (the default when it is 0).</summary>
    public int ResolveDepth(EncoderKind kind)
    {
        if (Depth != 0) return Depth;
        return kind switch
        {
            EncoderKind.ConvNet => 4,
            EncoderKind.ResNet => 18,
            EncoderKind.Mlp or EncoderKind.ResMlp => 2,
            EncoderKind.Conv1d => 3,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Resolve EncoderKind.Auto first."),
        };
    }

    /// <summary>Which input kind each architecture accepts.</summary>
    public static IReadOnlyList<EncoderKind> KindsFor(SslInputKind inputKind) => inputKind switch
    {
        SslInputKind.Image => [EncoderKind.ConvNet, EncoderKind.ResNet],
        SslInputKind.Tabular => [EncoderKind.Mlp, EncoderKind.ResMlp],
        SslInputKind.Series => [EncoderKind.Conv1d],
        _ => throw new ArgumentOutOfRangeException(nameof(inputKind), inputKind, "Unknown input kind."),
    };

    /// <summary>Checks the options against an input shape.</summary>
    /// <exception cref="ArgumentException">An option does not fit; the message names it and the allowed values.</exception>
    public void Validate(SslInputShape inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Channels < 1 || inputShape.Height < 1 || inputShape.Width < 1)
            throw new ArgumentException($"The input shape {inputShape} has a non-positive dimension.", nameof(inputShape));
        if (Name is not null)
        {
            // A registered encoder checks its own options; only the shared embedding size is checked here.
            if (EmbeddingSize < 0)
                throw new ArgumentException($"EncoderOptions.EmbeddingSize must be positive, or 0 for the encoder's default; got {EmbeddingSize}.", nameof(EmbeddingSize));
            SslEncoderRegistration registration = SslEncoderRegistry.Get(Name);
            if (!registration.InputKinds.Contains(inputShape.Kind))
                throw new ArgumentException($"Encoder {registration.Name} reads {string.Join(" or ", registration.InputKinds)} inputs, not {inputShape.Kind}.", nameof(Name));
            return;
        }
        EncoderKind kind = ResolveKind(inputShape.Kind);
        IReadOnlyList<EncoderKind> allowed = KindsFor(inputShape.Kind);
        if (!allowed.Contains(kind))
            throw new ArgumentException(
                $"EncoderOptions.Kind = {kind} does not accept {inputShape.Kind} inputs, which take {string.Join(" or ", allowed)} " +
                "(images take ConvNet or ResNet, tabular rows Mlp or ResMlp, series Conv1d).",
                nameof(Kind));
        if (EmbeddingSize < 0)
            throw new ArgumentException($"EncoderOptions.EmbeddingSize must be positive, or 0 for the architecture's default; got {EmbeddingSize}.", nameof(EmbeddingSize));
        if (double.IsNaN(WidthMultiplier) || WidthMultiplier < 0.125 || WidthMultiplier > 8)
            throw new ArgumentException($"EncoderOptions.WidthMultiplier must be in [0.125, 8]; got {WidthMultiplier}.", nameof(WidthMultiplier));
        if (HiddenSize < 1)
            throw new ArgumentException($"EncoderOptions.HiddenSize must be positive; got {HiddenSize}.", nameof(HiddenSize));
        int depth = ResolveDepth(kind);
        (bool ok, string allowedDepths) = kind switch
        {
            EncoderKind.ConvNet => (depth is >= 2 and <= 6, "2 to 6 conv blocks"),
            EncoderKind.ResNet => (depth is 10 or 18, "10 or 18"),
            EncoderKind.Mlp or EncoderKind.ResMlp => (depth is >= 1 and <= 16, "1 to 16 layers"),
            EncoderKind.Conv1d => (depth is >= 1 and <= 8, "1 to 8 conv blocks"),
            _ => (false, "none"),
        };
        if (!ok)
            throw new ArgumentException($"EncoderOptions.Depth = {depth} is not supported for {kind}; allowed: {allowedDepths} (0 picks the default).", nameof(Depth));
    }

    /// <summary>A copy of these options.</summary>
    public EncoderOptions Clone() => (EncoderOptions)MemberwiseClone();

    /// <summary>
    /// Scales a channel count by the width multiplier, rounded to a multiple of 8 (at least 8). libtorch 2.10's CPU
    /// convolution sometimes returns NaN or infinity for channel counts that are not multiples of 8: measured with a
    /// plain Conv1d 51 -> 101 channels, 31 of 300 forwards on finite inputs, 85 -> 85 5 of 300, and 0 of 300 for 56 -> 104
    /// and 64 -> 128 (test EncoderTests.ConvolutionsWithScaledWidthsStayFinite). Multiples of 8 also suit SIMD kernels.
    /// </summary>
    internal int Scale(int channels) => Math.Max(8, (int)Math.Round(channels * WidthMultiplier / 8.0) * 8);
}
