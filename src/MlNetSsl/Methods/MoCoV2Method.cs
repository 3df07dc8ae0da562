using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>Options of <see cref="MoCoV2Method"/>.</summary>
public sealed class MoCoV2Options : SslMethodOptions
{
    /// <summary>InfoNCE temperature, finite and at least 0.001. Default 0.2 (paper: 0.2).</summary>
    public double Temperature { get; set; } = 0.2;

    /// <summary>
    /// EMA momentum of the key encoder and key projector. Default 0.99 (paper: 0.999, tuned for 200 epochs of
    /// ImageNet; with a few thousand steps 0.999 leaves the keys close to the random initialization).
    /// </summary>
    public double Momentum { get; set; } = 0.99;

    /// <summary>Number of negative keys in the queue. Default 4096 (paper: 65536).</summary>
    public int QueueSize { get; set; } = 4096;

    /// <summary>Seed of the random unit vectors the queue starts with (the paper starts from random keys too).</summary>
    public int QueueSeed { get; set; }

    /// <summary>Projector hidden width when <see cref="SslMethodOptions.ProjectionHiddenSize"/> is null: 512 (paper: 2048).</summary>
    public const int DefaultProjectionHiddenSize = 512;

    /// <summary>Projection size when <see cref="SslMethodOptions.ProjectionSize"/> is null: 128 (paper: 128).</summary>
    public const int DefaultProjectionSize = 128;
}

/// <summary>
/// MoCo v2 (Chen et al., 2020): queries from the online encoder and projector, keys from their momentum copies;
/// InfoNCE with the other view's key as the positive and a queue of past keys as negatives; symmetrized over views.
/// </summary>
/// <remarks>
/// The queue is a <see cref="NegativeQueue"/> submodule, so checkpoints include it. Each step enqueues the keys of both views (2N rows), overwriting the oldest. They are enqueued in <see cref="AfterOptimizerStep"/>, not in
/// <see cref="ComputeLoss"/>: the loss's graph still needs the queue as it was, and a step that is skipped must not
/// advance it. Between <see cref="ComputeLoss"/> and <see cref="AfterOptimizerStep"/> the method holds one detached
/// copy of the keys; checkpoints taken between steps do not need it. Without several devices there is no shuffled
/// BatchNorm; each batch is processed on one device.
/// </remarks>
public sealed class MoCoV2Method : SslMethodBase
{
    private readonly ProjectionHead projector;
    private readonly List<Tensor> pendingKeys = new(1);

    /// <summary>Creates MoCo v2 on <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The encoder to pretrain.</param>
    /// <param name="options">Hyperparameters; null for the defaults.</param>
    public MoCoV2Method(SslEncoder encoder, MoCoV2Options? options = null)
        : base(nameof(MoCoV2Method), encoder, options ??= new MoCoV2Options())
    {
        Options = options;
        SslMethodOptions.CheckTemperature(Options.Temperature, nameof(Options.Temperature));
        SslMethodOptions.InRange(Options.Momentum, 0, 1, nameof(Options.Momentum));
        SslMethodOptions.Positive(Options.QueueSize, nameof(Options.QueueSize));
        int projection = Options.ResolveProjection(MoCoV2Options.DefaultProjectionSize);
        projector = AddHead("projector", new ProjectionHead(encoder.EmbeddingSize,
            Options.ResolveHidden(MoCoV2Options.DefaultProjectionHiddenSize), projection));
        Target = AddHead("target", new MomentumTarget(("encoder", encoder), ("projector", projector)));
        Negatives = AddHead("negatives", new NegativeQueue(Options.QueueSize, projection, Options.QueueSeed, Device));
    }

    /// <summary>The hyperparameters.</summary>
    public MoCoV2Options Options { get; }

    /// <inheritdoc />
    public override string MethodName => nameof(SslMethod.MoCoV2);

    // The registry's entry: name, options, input kinds, default augmentations and the knob AutoML tunes.
    internal static SslMethodRegistration Registration { get; } = new SslMethodRegistration<MoCoV2Options>(nameof(SslMethod.MoCoV2), (encoder, options) => new MoCoV2Method(encoder, options))
    {
        SearchKnob = (o, s) => o.Temperature *= s,
        // The temperature, the default times the scale, must stay at or above MinTemperature.
        MinSearchScale = SslMethodOptions.MinTemperature / new MoCoV2Options().Temperature,
    };

    /// <summary>The queue of negative keys, [QueueSize, ProjectionSize], each row L2-normalized.</summary>
    public NegativeQueue Negatives { get; }

    internal MomentumTarget Target { get; }

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor v1 = views.Make(batch);
        Tensor v2 = views.Make(batch);
        // Keys first: the target forward swaps weights into the online modules, which must not happen once the
        // online graph has been recorded.
        Tensor k1 = nn.functional.normalize(Target.Run(() => projector.call(Encoder.call(v1))), dim: 1);
        Tensor k2 = nn.functional.normalize(Target.Run(() => projector.call(Encoder.call(v2))), dim: 1);
        Tensor q1 = projector.call(Encoder.call(v1));
        Tensor q2 = projector.call(Encoder.call(v2));
        Tensor queue = Negatives.Keys;
        Tensor loss = SslLosses.InfoNce(q1, k2, Options.Temperature, queue).add(SslLosses.InfoNce(q2, k1, Options.Temperature, queue), One).mul(Held(0.5));

        DropPendingKeys();
        pendingKeys.Add(torch.cat(new[] { k1, k2 }, 0).detach().DetachFromDisposeScope());
        return loss;
    }

    /// <summary>Enqueues the last batch's keys, then moves the momentum target towards the online networks.</summary>
    /// <param name="step">Zero-based index of the step just taken.</param>
    /// <param name="totalSteps">Steps in the whole run (unused: MoCo's momentum is constant).</param>
    public override void AfterOptimizerStep(long step, long totalSteps)
    {
        if (pendingKeys.Count > 0)
        {
            Negatives.Enqueue(pendingKeys[0]);
            DropPendingKeys();
        }
        Target.Update(Options.Momentum);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) DropPendingKeys();
        base.Dispose(disposing);
    }

    private void DropPendingKeys()
    {
        foreach (Tensor t in pendingKeys) t.Dispose();
        pendingKeys.Clear();
    }
}
