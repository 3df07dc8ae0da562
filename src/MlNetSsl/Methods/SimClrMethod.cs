using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>Options of <see cref="SimClrMethod"/>.</summary>
public sealed class SimClrOptions : SslMethodOptions
{
    /// <summary>
    /// Softmax temperature of NT-Xent. Default 0.5: the paper's best value for batches of a few hundred rows
    /// (its headline 0.1 goes with batch 4096); a low temperature with few negatives makes training unstable. Finite and
    /// at least 0.001.
    /// </summary>
    public double Temperature { get; set; } = 0.5;

    /// <summary>Number of Linear layers in the projector. Default 2 (paper: 2).</summary>
    public int ProjectionLayers { get; set; } = 2;

    /// <summary>Projector hidden width when <see cref="SslMethodOptions.ProjectionHiddenSize"/> is null: 512 (paper: 2048).</summary>
    public const int DefaultProjectionHiddenSize = 512;

    /// <summary>Projection size when <see cref="SslMethodOptions.ProjectionSize"/> is null: 128 (paper: 128).</summary>
    public const int DefaultProjectionSize = 128;
}

/// <summary>
/// SimCLR (Chen et al., 2020): two augmented views of each row go through the encoder and a projector; NT-Xent pulls
/// the two projections of a row together and pushes away the other 2N - 2 projections of the batch.
/// </summary>
public sealed class SimClrMethod : SslMethodBase
{
    private readonly ProjectionHead projector;

    /// <summary>Creates SimCLR on <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The encoder to pretrain.</param>
    /// <param name="options">Hyperparameters; null for the defaults.</param>
    public SimClrMethod(SslEncoder encoder, SimClrOptions? options = null)
        : base(nameof(SimClrMethod), encoder, options ??= new SimClrOptions())
    {
        Options = options;
        SslMethodOptions.CheckTemperature(Options.Temperature, nameof(Options.Temperature));
        projector = AddHead("projector", new ProjectionHead(encoder.EmbeddingSize,
            Options.ResolveHidden(SimClrOptions.DefaultProjectionHiddenSize),
            Options.ResolveProjection(SimClrOptions.DefaultProjectionSize), Options.ProjectionLayers));
    }

    /// <summary>The hyperparameters.</summary>
    public SimClrOptions Options { get; }

    /// <inheritdoc />
    public override string MethodName => nameof(SslMethod.SimClr);

    // The registry's entry: name, options, input kinds, default augmentations and the knob AutoML tunes.
    internal static SslMethodRegistration Registration { get; } = new SslMethodRegistration<SimClrOptions>(nameof(SslMethod.SimClr), (encoder, options) => new SimClrMethod(encoder, options))
    {
        SearchKnob = (o, s) => o.Temperature *= s,
        // The temperature, the default times the scale, must stay at or above MinTemperature.
        MinSearchScale = SslMethodOptions.MinTemperature / new SimClrOptions().Temperature,
    };

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor z1 = projector.call(Encoder.call(views.Make(batch)));
        Tensor z2 = projector.call(Encoder.call(views.Make(batch)));
        return SslLosses.NtXent(z1, z2, Options.Temperature);
    }
}
