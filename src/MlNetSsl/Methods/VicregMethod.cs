using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>Options of <see cref="VicregMethod"/>.</summary>
public sealed class VicregOptions : SslMethodOptions
{
    /// <summary>Weight of the invariance (MSE) term. Default 25 (paper: 25).</summary>
    public double InvarianceWeight { get; set; } = 25;

    /// <summary>Weight of the variance (std hinge) term. Default 25 (paper: 25).</summary>
    public double VarianceWeight { get; set; } = 25;

    /// <summary>Weight of the covariance term. Default 1 (paper: 1).</summary>
    public double CovarianceWeight { get; set; } = 1;

    /// <summary>Number of Linear layers in the expander. Default 3 (paper: 3).</summary>
    public int ProjectionLayers { get; set; } = 3;

    /// <summary>Expander hidden width when <see cref="SslMethodOptions.ProjectionHiddenSize"/> is null: 512 (paper: 8192).</summary>
    public const int DefaultProjectionHiddenSize = 512;

    /// <summary>Expander output size when <see cref="SslMethodOptions.ProjectionSize"/> is null: 512 (paper: 8192).</summary>
    public const int DefaultProjectionSize = 512;
}

/// <summary>
/// VICReg (Bardes et al., 2022): invariance (MSE between the two views' projections), variance (a hinge keeping each
/// dimension's standard deviation above gamma = 1) and covariance (decorrelating dimensions).
/// </summary>
public sealed class VicregMethod : SslMethodBase
{
    private readonly ProjectionHead projector;

    /// <summary>Creates VICReg on <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The encoder to pretrain.</param>
    /// <param name="options">Hyperparameters; null for the defaults.</param>
    public VicregMethod(SslEncoder encoder, VicregOptions? options = null)
        : base(nameof(VicregMethod), encoder, options ??= new VicregOptions())
    {
        Options = options;
        SslMethodOptions.InRange(Options.InvarianceWeight, 0, double.MaxValue, nameof(Options.InvarianceWeight));
        SslMethodOptions.InRange(Options.VarianceWeight, 0, double.MaxValue, nameof(Options.VarianceWeight));
        SslMethodOptions.InRange(Options.CovarianceWeight, 0, double.MaxValue, nameof(Options.CovarianceWeight));
        projector = AddHead("projector", new ProjectionHead(encoder.EmbeddingSize,
            Options.ResolveHidden(VicregOptions.DefaultProjectionHiddenSize),
            Options.ResolveProjection(VicregOptions.DefaultProjectionSize), Options.ProjectionLayers));
    }

    /// <summary>The hyperparameters.</summary>
    public VicregOptions Options { get; }

    /// <inheritdoc />
    public override string MethodName => nameof(SslMethod.Vicreg);

    // The registry's entry: name, options, input kinds, default augmentations and the knob AutoML tunes.
    internal static SslMethodRegistration Registration { get; } = new SslMethodRegistration<VicregOptions>(nameof(SslMethod.Vicreg), (encoder, options) => new VicregMethod(encoder, options))
    {
        Augmentations = shape => DefaultAugmentations.TwoView(shape, solarize: true),
        SearchKnob = (o, s) => o.InvarianceWeight *= s,
    };

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor z1 = projector.call(Encoder.call(views.Make(batch)));
        Tensor z2 = projector.call(Encoder.call(views.Make(batch)));
        return SslLosses.Vicreg(z1, z2, Options.InvarianceWeight, Options.VarianceWeight, Options.CovarianceWeight);
    }
}
