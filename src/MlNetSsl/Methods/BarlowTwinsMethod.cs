using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>Options of <see cref="BarlowTwinsMethod"/>.</summary>
public sealed class BarlowTwinsOptions : SslMethodOptions
{
    /// <summary>
    /// Weight lambda of the off-diagonal (redundancy) term; null means 1 / projection size. The paper uses 5.1e-3
    /// with 8192 dimensions; the off-diagonal sum has D(D - 1) terms against D on the diagonal, so lambda is scaled
    /// with 1/D to keep the two terms balanced at our smaller projections (1/512 ≈ 2e-3, 1/128 ≈ 8e-3).
    /// </summary>
    public double? Lambda { get; set; }

    /// <summary>Number of Linear layers in the projector. Default 3 (paper: 3).</summary>
    public int ProjectionLayers { get; set; } = 3;

    /// <summary>Projector hidden width when <see cref="SslMethodOptions.ProjectionHiddenSize"/> is null: 512 (paper: 8192).</summary>
    public const int DefaultProjectionHiddenSize = 512;

    /// <summary>Projection size when <see cref="SslMethodOptions.ProjectionSize"/> is null: 512 (paper: 8192).</summary>
    public const int DefaultProjectionSize = 512;
}

/// <summary>
/// Barlow Twins (Zbontar et al., 2021): the cross-correlation matrix between the batch-standardized projections of
/// two views is driven to the identity: invariance on the diagonal, redundancy reduction off it.
/// </summary>
public sealed class BarlowTwinsMethod : SslMethodBase
{
    private readonly ProjectionHead projector;

    /// <summary>Creates Barlow Twins on <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The encoder to pretrain.</param>
    /// <param name="options">Hyperparameters; null for the defaults.</param>
    public BarlowTwinsMethod(SslEncoder encoder, BarlowTwinsOptions? options = null)
        : base(nameof(BarlowTwinsMethod), encoder, options ??= new BarlowTwinsOptions())
    {
        Options = options;
        int projection = Options.ResolveProjection(BarlowTwinsOptions.DefaultProjectionSize);
        Lambda = Options.Lambda is double lambda ? SslMethodOptions.Positive(lambda, nameof(Options.Lambda)) : 1.0 / projection;
        projector = AddHead("projector", new ProjectionHead(encoder.EmbeddingSize,
            Options.ResolveHidden(BarlowTwinsOptions.DefaultProjectionHiddenSize), projection, Options.ProjectionLayers));
    }

    /// <summary>The hyperparameters.</summary>
    public BarlowTwinsOptions Options { get; }

    /// <summary>The off-diagonal weight in use (<see cref="BarlowTwinsOptions.Lambda"/> or 1 / projection size).</summary>
    public double Lambda { get; }

    /// <inheritdoc />
    public override string MethodName => nameof(SslMethod.BarlowTwins);

    // The registry's entry: name, options, input kinds, default augmentations and the knob AutoML tunes.
    internal static SslMethodRegistration Registration { get; } = new SslMethodRegistration<BarlowTwinsOptions>(nameof(SslMethod.BarlowTwins), (encoder, options) => new BarlowTwinsMethod(encoder, options))
    {
        Augmentations = shape => DefaultAugmentations.TwoView(shape, solarize: true),
        SearchKnob = (o, s) => o.Lambda = s / BarlowTwinsOptions.DefaultProjectionSize,
    };

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor z1 = projector.call(Encoder.call(views.Make(batch)));
        Tensor z2 = projector.call(Encoder.call(views.Make(batch)));
        return SslLosses.BarlowTwins(z1, z2, Lambda);
    }
}
