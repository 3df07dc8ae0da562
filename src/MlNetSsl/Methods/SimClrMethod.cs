using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>Options of <see cref="SimClrMethod"/>.</summary>
public sealed class SimClrOptions : SslMethodOptions
{
    /// <summary>
    /// Softmax temperature of NT-Xent. Default 0.5: the paper's best value for batches of a few hundred rows
    /// (its headline 0.1 goes with batch 4096); a low temperature with few negatives makes training unstable.
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
        SslMethodOptions.Positive(Options.Temperature, nameof(Options.Temperature));
        projector = AddHead("projector", new ProjectionHead(encoder.EmbeddingSize,
            Options.ResolveHidden(SimClrOptions.DefaultProjectionHiddenSize),
            Options.ResolveProjection(SimClrOptions.DefaultProjectionSize), Options.ProjectionLayers));
    }

    /// <summary>The hyperparameters.</summary>
    public SimClrOptions Options { get; }

    /// <inheritdoc />
    public override SslMethod Kind => SslMethod.SimClr;

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor z1 = projector.call(Encoder.call(views.Make(batch)));
        Tensor z2 = projector.call(Encoder.call(views.Make(batch)));
        return NtXentLoss(z1, z2, Options.Temperature);
    }

    /// <summary>
    /// NT-Xent (normalized temperature-scaled cross entropy). The 2N projections are L2-normalized; for each one the
    /// logits are its cosine similarities to the other 2N - 1 divided by <paramref name="temperature"/>, the target is
    /// the other view of the same row, and the loss is the mean cross entropy over all 2N (both directions).
    /// </summary>
    /// <param name="z1">Projections of the first views, [N, D].</param>
    /// <param name="z2">Projections of the second views, [N, D]; row i pairs with row i of <paramref name="z1"/>.</param>
    /// <param name="temperature">Softmax temperature (positive).</param>
    public static Tensor NtXentLoss(Tensor z1, Tensor z2, double temperature)
    {
        LossChecks.SamePairShape(z1, z2, nameof(z1), nameof(z2));
        SslMethodOptions.Positive(temperature, nameof(temperature));
        long n = z1.shape[0];
        using var scope = torch.NewDisposeScope();
        Tensor z = nn.functional.normalize(torch.cat(new[] { z1, z2 }, 0), dim: 1);
        Tensor logits = z.matmul(z.t()).div(temperature);
        Tensor self = torch.eye(2 * n, dtype: ScalarType.Bool, device: z.device);
        logits = logits.masked_fill(self, double.NegativeInfinity);
        Tensor index = torch.arange(n, device: z.device);
        Tensor targets = torch.cat(new[] { index + n, index }, 0);
        return nn.functional.cross_entropy(logits, targets).MoveToOuterDisposeScope();
    }
}
