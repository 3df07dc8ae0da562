using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// The self-supervised losses, as small functions that methods compose: contrastive (NT-Xent, InfoNCE with in-batch or
/// queued negatives), regression to a target (BYOL, SimSiam), redundancy reduction (Barlow Twins, VICReg) and
/// reconstruction (masked autoencoder, VIME). Each takes projections or predictions and returns a scalar tensor with
/// a gradient path to its non-target inputs; none keeps state (the MoCo queue is <see cref="NegativeQueue"/>).
/// </summary>
public static class SslLosses
{
    /// <summary>Target standard deviation gamma of VICReg's variance hinge (paper: 1).</summary>
    public const double VicregGamma = 1.0;

    /// <summary>Added to the variance before the square root in VICReg's variance term (paper: 1e-4).</summary>
    public const double VicregEpsilon = 1e-4;

    /// <summary>
    /// InfoNCE. Without <paramref name="negatives"/>, the other rows' keys are the negatives (SCARF):
    /// logits_ij = cos(q_i, k_j) / temperature with target j = i. With <paramref name="negatives"/> (a MoCo queue), each
    /// query's logits are [cos(q_i, k_i), q_i · n_1, ..., q_i · n_K] / temperature with target 0; the negatives are used
    /// as given (already L2-normalized) and get no gradient. The loss is the mean cross entropy over the queries;
    /// gradients reach the keys unless the caller detaches them (MoCo's keys come from a momentum target without gradients).
    /// </summary>
    /// <param name="queries">Online projections, [N, D].</param>
    /// <param name="keys">Positive keys, [N, D]; row i is the positive of query i.</param>
    /// <param name="temperature">Softmax temperature, finite and at least 0.001.</param>
    /// <param name="negatives">Negative keys, [K, D], or null for in-batch negatives.</param>
    public static Tensor InfoNce(Tensor queries, Tensor keys, double temperature, Tensor? negatives = null)
    {
        LossChecks.SamePairShape(queries, keys, nameof(queries), nameof(keys));
        SslMethodOptions.CheckTemperature(temperature, nameof(temperature));
        if (negatives is not null && (negatives.dim() != 2 || negatives.shape[1] != queries.shape[1]))
            throw new ArgumentException($"The negatives must be [K, {queries.shape[1]}]; got [{string.Join(", ", negatives.shape)}].", nameof(negatives));
        using var scope = torch.NewDisposeScope();
        Tensor q = nn.functional.normalize(queries, dim: 1);
        Tensor k = nn.functional.normalize(keys, dim: 1);
        Tensor logits, targets;
        if (negatives is null)
        {
            logits = q.matmul(k.t()).div(Held(temperature));
            targets = torch.arange(Zero, Held(q.shape[0]), One, device: q.device);
        }
        else
        {
            Tensor positive = (q * k).sum(1, keepdim: true);
            logits = torch.cat(new[] { positive, q.matmul(negatives.detach().t()) }, 1).div(Held(temperature));
            targets = torch.zeros(q.shape[0], dtype: ScalarType.Int64, device: q.device);
        }
        return nn.functional.cross_entropy(logits, targets).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// NT-Xent (normalized temperature-scaled cross entropy). The 2N projections are L2-normalized; for each one the
    /// logits are its cosine similarities to the other 2N - 1 divided by <paramref name="temperature"/>, the target is
    /// the other view of the same row, and the loss is the mean cross entropy over all 2N (both directions).
    /// </summary>
    /// <param name="z1">Projections of the first views, [N, D].</param>
    /// <param name="z2">Projections of the second views, [N, D]; row i pairs with row i of <paramref name="z1"/>.</param>
    /// <param name="temperature">Softmax temperature, finite and at least 0.001.</param>
    public static Tensor NtXent(Tensor z1, Tensor z2, double temperature)
    {
        LossChecks.SamePairShape(z1, z2, nameof(z1), nameof(z2));
        SslMethodOptions.CheckTemperature(temperature, nameof(temperature));
        long n = z1.shape[0];
        using var scope = torch.NewDisposeScope();
        Tensor z = nn.functional.normalize(torch.cat(new[] { z1, z2 }, 0), dim: 1);
        Tensor logits = z.matmul(z.t()).div(Held(temperature));
        Tensor self = torch.eye(2 * n, dtype: ScalarType.Bool, device: z.device);
        logits = logits.masked_fill(self, Held(double.NegativeInfinity));
        Tensor index = torch.arange(Zero, Held(n), One, device: z.device);
        Tensor targets = torch.cat(new[] { index.add(Held(n), One), index }, 0);
        return nn.functional.cross_entropy(logits, targets).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// BYOL's regression loss: the mean over rows of ||p/|p| - z/|z|||² = 2 - 2 cos(p, z). The targets
    /// <paramref name="targets"/> are detached.
    /// </summary>
    /// <param name="predictions">Online predictions, [N, D].</param>
    /// <param name="targets">Target projections of the other view, [N, D].</param>
    public static Tensor NormalizedMse(Tensor predictions, Tensor targets)
    {
        LossChecks.SamePairShape(predictions, targets, nameof(predictions), nameof(targets));
        using var scope = torch.NewDisposeScope();
        Tensor cosine = nn.functional.cosine_similarity(predictions, targets.detach(), dim: 1);
        return cosine.mul(Held(2L)).neg_().add_(Held(2L), One).mean().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// D(p, z) = -mean over rows of cos(p, stopgrad(z)). The stop-gradient is inside: no gradient reaches
    /// <paramref name="targets"/>, which is what prevents SimSiam from collapsing.
    /// </summary>
    /// <param name="predictions">Predictor outputs, [N, D].</param>
    /// <param name="targets">Projections of the other view, [N, D].</param>
    public static Tensor NegativeCosine(Tensor predictions, Tensor targets)
    {
        LossChecks.SamePairShape(predictions, targets, nameof(predictions), nameof(targets));
        using var scope = torch.NewDisposeScope();
        return nn.functional.cosine_similarity(predictions, targets.detach(), dim: 1).mean().neg().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Each column of <paramref name="z1"/> and <paramref name="z2"/> is standardized over the batch,
    /// (z - mean) / sqrt(var + eps) with the biased variance (as a non-affine BatchNorm does); then
    /// C = z1ᵀ z2 / N and loss = Σ_i (1 - C_ii)² + lambda Σ_{i≠j} C_ij².
    /// </summary>
    /// <param name="z1">Projections of the first views, [N, D].</param>
    /// <param name="z2">Projections of the second views, [N, D].</param>
    /// <param name="lambda">Off-diagonal weight.</param>
    /// <param name="epsilon">Added to the variance before the square root.</param>
    public static Tensor BarlowTwins(Tensor z1, Tensor z2, double lambda, double epsilon = 1e-5)
    {
        LossChecks.SamePairShape(z1, z2, nameof(z1), nameof(z2));
        using var scope = torch.NewDisposeScope();
        long n = z1.shape[0];
        Tensor c = Standardize(z1, epsilon).t().matmul(Standardize(z2, epsilon)).div(Held(n));
        Tensor onDiagonal = c.diagonal().neg().add_(One, One).pow(Held(2L)).sum();
        Tensor offDiagonal = LossChecks.OffDiagonal(c).pow(Held(2L)).sum();
        return onDiagonal.add(offDiagonal.mul(Held(lambda)), One).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The VICReg loss as in the authors' code: λ s(Z, Z') + μ [v(Z) + v(Z')] / 2 + ν [c(Z) + c(Z')].
    /// </summary>
    /// <param name="z1">Projections of the first views, [N, D].</param>
    /// <param name="z2">Projections of the second views, [N, D].</param>
    /// <param name="invarianceWeight">λ.</param>
    /// <param name="varianceWeight">μ.</param>
    /// <param name="covarianceWeight">ν.</param>
    public static Tensor Vicreg(Tensor z1, Tensor z2, double invarianceWeight = 25, double varianceWeight = 25, double covarianceWeight = 1)
    {
        LossChecks.SamePairShape(z1, z2, nameof(z1), nameof(z2));
        using var scope = torch.NewDisposeScope();
        Tensor loss = VicregInvariance(z1, z2).mul(Held(invarianceWeight))
            .add(VicregVariance(z1).add(VicregVariance(z2), One).mul(Held(varianceWeight)).div(Held(2L)), One)
            .add(VicregCovariance(z1).add(VicregCovariance(z2), One).mul(Held(covarianceWeight)), One);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>s(Z, Z'): mean squared error over all entries.</summary>
    /// <param name="z1">[N, D].</param>
    /// <param name="z2">[N, D].</param>
    public static Tensor VicregInvariance(Tensor z1, Tensor z2)
    {
        LossChecks.SamePairShape(z1, z2, nameof(z1), nameof(z2));
        return nn.functional.mse_loss(z1, z2);
    }

    /// <summary>v(Z): mean over dimensions of max(0, gamma - sqrt(Var(z_j) + eps)), with the unbiased variance.</summary>
    /// <param name="z">[N, D] with N at least 2.</param>
    public static Tensor VicregVariance(Tensor z)
    {
        using var scope = torch.NewDisposeScope();
        Tensor std = z.var(0, unbiased: true).add(Held(VicregEpsilon), One).sqrt();
        return nn.functional.relu(std.neg().add_(Held(VicregGamma), One)).mean().MoveToOuterDisposeScope();
    }

    /// <summary>c(Z): the sum of squared off-diagonal entries of the (unbiased) covariance matrix, divided by D.</summary>
    /// <param name="z">[N, D] with N at least 2.</param>
    public static Tensor VicregCovariance(Tensor z)
    {
        using var scope = torch.NewDisposeScope();
        long n = z.shape[0];
        long d = z.shape[1];
        Tensor centred = z - z.mean(new long[] { 0 }, keepdim: true);
        Tensor covariance = centred.t().matmul(centred).div(Held(n - 1));
        return LossChecks.OffDiagonal(covariance).pow(Held(2L)).sum().div(Held(d)).MoveToOuterDisposeScope();
    }

    /// <summary>BCE-with-logits(mask logits, mask) + alpha * MSE(reconstruction, original), both means over entries.</summary>
    /// <param name="maskLogits">Mask-estimator logits, [N, F].</param>
    /// <param name="mask">1 where a feature was corrupted, [N, F].</param>
    /// <param name="reconstruction">Reconstructed rows, [N, F].</param>
    /// <param name="original">The uncorrupted rows, [N, F].</param>
    /// <param name="alpha">Weight of the reconstruction term.</param>
    public static Tensor Vime(Tensor maskLogits, Tensor mask, Tensor reconstruction, Tensor original, double alpha)
    {
        LossChecks.SamePairShape(maskLogits, mask, nameof(maskLogits), nameof(mask));
        LossChecks.SamePairShape(reconstruction, original, nameof(reconstruction), nameof(original));
        using var scope = torch.NewDisposeScope();
        Tensor maskLoss = nn.functional.binary_cross_entropy_with_logits(maskLogits, mask.detach());
        Tensor reconstructionLoss = nn.functional.mse_loss(reconstruction, original.detach());
        return maskLoss.add(reconstructionLoss.mul(Held(alpha)), One).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Mean squared error over the masked units only: Σ masked (prediction - target)² / (masked units × values per
    /// unit). Unmasked units do not affect the value or the gradient.
    /// </summary>
    /// <param name="prediction">[N, L] or [N, L, U].</param>
    /// <param name="target">Same shape as <paramref name="prediction"/>.</param>
    /// <param name="mask">[N, L], true (or 1) where a unit was masked.</param>
    public static Tensor MaskedMse(Tensor prediction, Tensor target, Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(mask);
        if (!prediction.shape.SequenceEqual(target.shape) || mask.dim() != 2 || prediction.dim() < 2
            || prediction.shape[0] != mask.shape[0] || prediction.shape[1] != mask.shape[1])
            throw new ArgumentException(
                $"prediction and target must share a shape [N, L, ...] and mask be [N, L]; got [{string.Join(", ", prediction.shape)}], " +
                $"[{string.Join(", ", target.shape)}] and [{string.Join(", ", mask.shape)}].");
        using var scope = torch.NewDisposeScope();
        Tensor squared = (prediction - target.detach()).pow(Held(2L));
        Tensor perUnit = squared.dim() > 2 ? squared.flatten(2).mean(new long[] { 2 }) : squared;
        Tensor weight = mask.to(perUnit.dtype);
        // Multiplying (not masked_select) keeps the shape static; unmasked units get weight 0 and no gradient.
        return ((perUnit * weight).sum() / weight.sum().clamp_min(One)).MoveToOuterDisposeScope();
    }

    // Column-wise standardization over the batch with the biased variance, as a non-affine BatchNorm does.
    private static Tensor Standardize(Tensor z, double epsilon)
    {
        Tensor centred = z - z.mean(new long[] { 0 }, keepdim: true);
        return centred / centred.pow(Held(2L)).mean(new long[] { 0 }, keepdim: true).add(Held(epsilon), One).sqrt();
    }
}

/// <summary>Small tensor helpers shared by the losses.</summary>
internal static class LossChecks
{
    public static void SamePairShape(Tensor a, Tensor b, string nameA, string nameB)
    {
        ArgumentNullException.ThrowIfNull(a, nameA);
        ArgumentNullException.ThrowIfNull(b, nameB);
        if (a.dim() != 2 || !a.shape.SequenceEqual(b.shape))
            throw new ArgumentException(
                $"{nameA} and {nameB} must both be [N, D] with the same shape; got [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}].");
    }

    /// <summary>The off-diagonal entries of a square matrix, flattened.</summary>
    public static Tensor OffDiagonal(Tensor square)
    {
        long d = square.shape[0];
        using var eye = torch.eye(d, dtype: ScalarType.Bool, device: square.device);
        return square.masked_select(eye.logical_not());
    }
}
