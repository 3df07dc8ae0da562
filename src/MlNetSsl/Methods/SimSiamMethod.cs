using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>Options of <see cref="SimSiamMethod"/>.</summary>
public sealed class SimSiamOptions : SslMethodOptions
{
    /// <summary>Number of Linear layers in the projector (BatchNorm on its output). Default 3 (paper: 3).</summary>
    public int ProjectionLayers { get; set; } = 3;

    /// <summary>Predictor bottleneck width. Default 128, a quarter of the projection (paper: 512 for 2048).</summary>
    public int PredictorHiddenSize { get; set; } = 128;

    /// <summary>Projector hidden width when <see cref="SslMethodOptions.ProjectionHiddenSize"/> is null: 512 (paper: 2048).</summary>
    public const int DefaultProjectionHiddenSize = 512;

    /// <summary>Projection size when <see cref="SslMethodOptions.ProjectionSize"/> is null: 512 (paper: 2048).</summary>
    public const int DefaultProjectionSize = 512;
}

/// <summary>
/// SimSiam (Chen and He, 2021): the predictor's output for one view regresses the projection of the other view,
/// whose gradient is stopped; negative cosine loss, symmetrized. No negatives and no momentum encoder.
/// </summary>
public sealed class SimSiamMethod : SslMethodBase
{
    private readonly ProjectionHead projector;
    private readonly PredictionHead predictor;

    /// <summary>Creates SimSiam on <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The encoder to pretrain.</param>
    /// <param name="options">Hyperparameters; null for the defaults.</param>
    public SimSiamMethod(SslEncoder encoder, SimSiamOptions? options = null)
        : base(nameof(SimSiamMethod), encoder, options ??= new SimSiamOptions())
    {
        Options = options;
        int projection = Options.ResolveProjection(SimSiamOptions.DefaultProjectionSize);
        projector = AddHead("projector", new ProjectionHead(encoder.EmbeddingSize,
            Options.ResolveHidden(SimSiamOptions.DefaultProjectionHiddenSize), projection, Options.ProjectionLayers, batchNormOnOutput: true));
        predictor = AddHead("predictor", new PredictionHead(projection, Options.PredictorHiddenSize, projection));
    }

    /// <summary>The hyperparameters.</summary>
    public SimSiamOptions Options { get; }

    /// <inheritdoc />
    public override string MethodName => nameof(SslMethod.SimSiam);

    // The registry's entry: name, options, input kinds, default augmentations and the knob AutoML tunes.
    internal static SslMethodRegistration Registration { get; } = new SslMethodRegistration<SimSiamOptions>(nameof(SslMethod.SimSiam), (encoder, options) => new SimSiamMethod(encoder, options))
    {
        SearchKnob = (o, s) => o.PredictorHiddenSize = Math.Max(8, (int)Math.Round(o.PredictorHiddenSize * s)),
    };

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor z1 = projector.call(Encoder.call(views.Make(batch)));
        Tensor z2 = projector.call(Encoder.call(views.Make(batch)));
        Tensor p1 = predictor.call(z1);
        Tensor p2 = predictor.call(z2);
        return SslLosses.NegativeCosine(p1, z2).add(SslLosses.NegativeCosine(p2, z1), One).mul(Held(0.5));
    }
}
