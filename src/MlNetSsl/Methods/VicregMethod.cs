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
    /// <summary>Target standard deviation gamma of the variance hinge (paper: 1).</summary>
    public const double Gamma = 1.0;

    /// <summary>Added to the variance before the square root in the variance term (paper: 1e-4).</summary>
    public const double Epsilon = 1e-4;

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
    public override SslMethod Kind => SslMethod.Vicreg;

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor z1 = projector.call(Encoder.call(views.Make(batch)));
        Tensor z2 = projector.call(Encoder.call(views.Make(batch)));
        return VicregLoss(z1, z2, Options.InvarianceWeight, Options.VarianceWeight, Options.CovarianceWeight);
    }

    /// <summary>
    /// The VICReg loss as in the authors' code: λ s(Z, Z') + μ [v(Z) + v(Z')] / 2 + ν [c(Z) + c(Z')].
    /// </summary>
    /// <param name="z1">Projections of the first views, [N, D].</param>
    /// <param name="z2">Projections of the second views, [N, D].</param>
    /// <param name="invarianceWeight">λ.</param>
    /// <param name="varianceWeight">μ.</param>
    /// <param name="covarianceWeight">ν.</param>
    public static Tensor VicregLoss(Tensor z1, Tensor z2, double invarianceWeight = 25, double varianceWeight = 25, double covarianceWeight = 1)
    {
        LossChecks.SamePairShape(z1, z2, nameof(z1), nameof(z2));
        using var scope = torch.NewDisposeScope();
        Tensor loss = invarianceWeight * InvarianceTerm(z1, z2)
            + varianceWeight * (VarianceTerm(z1) + VarianceTerm(z2)) / 2
            + covarianceWeight * (CovarianceTerm(z1) + CovarianceTerm(z2));
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>s(Z, Z'): mean squared error over all entries.</summary>
    /// <param name="z1">[N, D].</param>
    /// <param name="z2">[N, D].</param>
    public static Tensor InvarianceTerm(Tensor z1, Tensor z2)
    {
        LossChecks.SamePairShape(z1, z2, nameof(z1), nameof(z2));
        return nn.functional.mse_loss(z1, z2);
    }

    /// <summary>v(Z): mean over dimensions of max(0, gamma - sqrt(Var(z_j) + eps)), with the unbiased variance.</summary>
    /// <param name="z">[N, D] with N at least 2.</param>
    public static Tensor VarianceTerm(Tensor z)
    {
        using var scope = torch.NewDisposeScope();
        Tensor std = (z.var(0, unbiased: true) + Epsilon).sqrt();
        return nn.functional.relu(Gamma - std).mean().MoveToOuterDisposeScope();
    }

    /// <summary>c(Z): the sum of squared off-diagonal entries of the (unbiased) covariance matrix, divided by D.</summary>
    /// <param name="z">[N, D] with N at least 2.</param>
    public static Tensor CovarianceTerm(Tensor z)
    {
        using var scope = torch.NewDisposeScope();
        long n = z.shape[0];
        long d = z.shape[1];
        Tensor centred = z - z.mean(new long[] { 0 }, keepdim: true);
        Tensor covariance = centred.t().matmul(centred).div(n - 1);
        return LossChecks.OffDiagonal(covariance).pow(2).sum().div(d).MoveToOuterDisposeScope();
    }
}
