using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>Options of <see cref="ScarfMethod"/>.</summary>
public sealed class ScarfOptions : SslMethodOptions
{
    /// <summary>InfoNCE temperature, finite and at least 0.001. Default 1.0 (paper: 1.0).</summary>
    public double Temperature { get; set; } = 1.0;

    /// <summary>Number of Linear layers in the pretraining head. Default 2 (paper: 2).</summary>
    public int ProjectionLayers { get; set; } = 2;

    /// <summary>Head hidden width when <see cref="SslMethodOptions.ProjectionHiddenSize"/> is null: 256 (paper: 256).</summary>
    public const int DefaultProjectionHiddenSize = 256;

    /// <summary>Head output size when <see cref="SslMethodOptions.ProjectionSize"/> is null: 128 (paper: 256).</summary>
    public const int DefaultProjectionSize = 128;
}

/// <summary>
/// SCARF (Bahri et al., 2022) for tabular rows: the anchor is the original row, the positive is a corrupted view
/// (the augmentation policy is expected to replace a random subset of features with values drawn from their
/// empirical marginals, for example a SCARF corruption); InfoNCE over the batch, anchors against positives.
/// </summary>
/// <remarks>With an empty policy the positive equals the anchor and the task is trivial; give the method a corruption.</remarks>
public sealed class ScarfMethod : SslMethodBase
{
    private readonly ProjectionHead projector;

    /// <summary>Creates SCARF on a tabular <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The encoder to pretrain; its input must be tabular.</param>
    /// <param name="options">Hyperparameters; null for the defaults.</param>
    public ScarfMethod(SslEncoder encoder, ScarfOptions? options = null)
        : base(nameof(ScarfMethod), RequireTabular(nameof(SslMethod.Scarf), encoder), options ??= new ScarfOptions())
    {
        Options = options;
        SslMethodOptions.CheckTemperature(Options.Temperature, nameof(Options.Temperature));
        projector = AddHead("projector", new ProjectionHead(encoder.EmbeddingSize,
            Options.ResolveHidden(ScarfOptions.DefaultProjectionHiddenSize),
            Options.ResolveProjection(ScarfOptions.DefaultProjectionSize), Options.ProjectionLayers));
    }

    /// <summary>The hyperparameters.</summary>
    public ScarfOptions Options { get; }

    /// <inheritdoc />
    public override string MethodName => nameof(SslMethod.Scarf);

    // The registry's entry: name, options, input kinds, default augmentations and the knob AutoML tunes.
    internal static SslMethodRegistration Registration { get; } = new SslMethodRegistration<ScarfOptions>(nameof(SslMethod.Scarf), (encoder, options) => new ScarfMethod(encoder, options))
    {
        InputKinds = [SslInputKind.Tabular],
        SearchKnob = (o, s) => o.Temperature *= s,
        // The temperature, the default times the scale, must stay at or above MinTemperature.
        MinSearchScale = SslMethodOptions.MinTemperature / new ScarfOptions().Temperature,
    };

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor anchors = projector.call(Encoder.call(batch));
        Tensor positives = projector.call(Encoder.call(views.Make(batch)));
        return SslLosses.InfoNce(anchors, positives, Options.Temperature);
    }
}
