using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>Options of <see cref="ScarfMethod"/>.</summary>
public sealed class ScarfOptions : SslMethodOptions
{
    /// <summary>InfoNCE temperature. Default 1.0 (paper: 1.0).</summary>
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
        : base(nameof(ScarfMethod), SslMethodFactory.RequireTabular(SslMethod.Scarf, encoder), options ??= new ScarfOptions())
    {
        Options = options;
        SslMethodOptions.Positive(Options.Temperature, nameof(Options.Temperature));
        projector = AddHead("projector", new ProjectionHead(encoder.EmbeddingSize,
            Options.ResolveHidden(ScarfOptions.DefaultProjectionHiddenSize),
            Options.ResolveProjection(ScarfOptions.DefaultProjectionSize), Options.ProjectionLayers));
    }

    /// <summary>The hyperparameters.</summary>
    public ScarfOptions Options { get; }

    /// <inheritdoc />
    public override SslMethod Kind => SslMethod.Scarf;

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor anchors = projector.call(Encoder.call(batch));
        Tensor positives = projector.call(Encoder.call(views.Make(batch)));
        return InfoNceLoss(anchors, positives, Options.Temperature);
    }

    /// <summary>
    /// SCARF's InfoNCE: logits_ij = cos(anchor_i, positive_j) / temperature, target j = i, mean cross entropy over the
    /// anchors (the other rows' positives are the negatives).
    /// </summary>
    /// <param name="anchors">Projections of the original rows, [N, D].</param>
    /// <param name="positives">Projections of the corrupted rows, [N, D].</param>
    /// <param name="temperature">Softmax temperature (positive).</param>
    public static Tensor InfoNceLoss(Tensor anchors, Tensor positives, double temperature)
    {
        LossChecks.SamePairShape(anchors, positives, nameof(anchors), nameof(positives));
        SslMethodOptions.Positive(temperature, nameof(temperature));
        using var scope = torch.NewDisposeScope();
        Tensor a = nn.functional.normalize(anchors, dim: 1);
        Tensor p = nn.functional.normalize(positives, dim: 1);
        Tensor logits = a.matmul(p.t()).div(temperature);
        Tensor targets = torch.arange(a.shape[0], device: a.device);
        return nn.functional.cross_entropy(logits, targets).MoveToOuterDisposeScope();
    }
}
