using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>Options of <see cref="ByolMethod"/>.</summary>
public sealed class ByolOptions : SslMethodOptions
{
    /// <summary>
    /// Base EMA momentum tau_base of the target network; it rises to 1 along a cosine schedule. Default 0.99
    /// (paper: 0.996 over 300+ epochs; short runs need the target to follow the online network faster).
    /// </summary>
    public double BaseMomentum { get; set; } = 0.99;

    /// <summary>Predictor hidden width. Default 512 (paper: 4096).</summary>
    public int PredictorHiddenSize { get; set; } = 512;

    /// <summary>Projector hidden width when <see cref="SslMethodOptions.ProjectionHiddenSize"/> is null: 512 (paper: 4096).</summary>
    public const int DefaultProjectionHiddenSize = 512;

    /// <summary>Projection size when <see cref="SslMethodOptions.ProjectionSize"/> is null: 128 (paper: 256).</summary>
    public const int DefaultProjectionSize = 128;
}

/// <summary>
/// BYOL (Grill et al., 2020): an online encoder, projector and predictor regress the projection that an EMA target
/// network (encoder and projector) gives for the other view; the loss is the normalized MSE <c>2 - 2 cos</c>,
/// summed over both directions. The target gets no gradient and moves only in <see cref="AfterOptimizerStep"/>.
/// </summary>
public sealed class ByolMethod : SslMethodBase
{
    private readonly ProjectionHead projector;
    private readonly PredictionHead predictor;

    /// <summary>Creates BYOL on <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The encoder to pretrain.</param>
    /// <param name="options">Hyperparameters; null for the defaults.</param>
    public ByolMethod(SslEncoder encoder, ByolOptions? options = null)
        : base(nameof(ByolMethod), encoder, options ??= new ByolOptions())
    {
        Options = options;
        SslMethodOptions.InRange(Options.BaseMomentum, 0, 1, nameof(Options.BaseMomentum));
        int projection = Options.ResolveProjection(ByolOptions.DefaultProjectionSize);
        projector = AddHead("projector", new ProjectionHead(encoder.EmbeddingSize,
            Options.ResolveHidden(ByolOptions.DefaultProjectionHiddenSize), projection));
        predictor = AddHead("predictor", new PredictionHead(projection, Options.PredictorHiddenSize, projection));
        Target = AddHead("target", new MomentumTarget(("encoder", encoder), ("projector", projector)));
    }

    /// <summary>The hyperparameters.</summary>
    public ByolOptions Options { get; }

    /// <inheritdoc />
    public override string MethodName => nameof(SslMethod.Byol);

    // The registry's entry: name, options, input kinds, default augmentations and the knob AutoML tunes.
    internal static SslMethodRegistration Registration { get; } = new SslMethodRegistration<ByolOptions>(nameof(SslMethod.Byol), (encoder, options) => new ByolMethod(encoder, options))
    {
        Augmentations = shape => DefaultAugmentations.TwoView(shape, solarize: true),
        // Math.Max: at scale 100 the product rounds to 1 + 9e-16, which would leave the momentum a hair below 0.
        SearchKnob = (o, s) => o.BaseMomentum = Math.Max(0, 1 - (1 - o.BaseMomentum) * s),
        // The base momentum, 1 - 0.01 x scale, must stay in [0, 1].
        MaxSearchScale = 100,
    };

    internal MomentumTarget Target { get; }

    /// <summary>
    /// The cosine momentum schedule: tau = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2, which is tau_base at step 0
    /// and 1 at step K.
    /// </summary>
    /// <param name="step">Step k.</param>
    /// <param name="totalSteps">Steps K in the run; when not positive, tau_base is returned.</param>
    /// <param name="baseMomentum">tau_base.</param>
    public static double MomentumAt(long step, long totalSteps, double baseMomentum)
    {
        if (totalSteps <= 0) return baseMomentum;
        double progress = Math.Clamp((double)step / totalSteps, 0, 1);
        return 1 - (1 - baseMomentum) * (Math.Cos(Math.PI * progress) + 1) / 2;
    }

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor v1 = views.Make(batch);
        Tensor v2 = views.Make(batch);
        // Target forwards first: they swap weights into the online modules (see MomentumTarget).
        Tensor t1 = Target.Run(() => projector.call(Encoder.call(v1)));
        Tensor t2 = Target.Run(() => projector.call(Encoder.call(v2)));
        Tensor p1 = predictor.call(projector.call(Encoder.call(v1)));
        Tensor p2 = predictor.call(projector.call(Encoder.call(v2)));
        return SslLosses.NormalizedMse(p1, t2).add(SslLosses.NormalizedMse(p2, t1), One);
    }

    /// <summary>Moves the target towards the online encoder and projector with the scheduled momentum.</summary>
    /// <param name="step">Zero-based index of the step just taken.</param>
    /// <param name="totalSteps">Steps in the whole run.</param>
    public override void AfterOptimizerStep(long step, long totalSteps) =>
        Target.Update(MomentumAt(step, totalSteps, Options.BaseMomentum));
}
