using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// FixMatch's loss (Sohn et al., 2020): cross entropy on the labeled rows plus, for each unlabeled row whose
/// weakly augmented view is predicted with confidence at least <see cref="Threshold"/>, cross entropy between the strongly
/// augmented view's logits and that prediction (the pseudo-label), averaged over all unlabeled rows and weighted by
/// <see cref="UnlabeledWeight"/>.
/// </summary>
public sealed class FixMatchLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="threshold">Confidence a pseudo-label needs, in [0, 1] (paper: 0.95).</param>
    /// <param name="unlabeledWeight">Weight of the unlabeled term, non-negative (paper: 1).</param>
    public FixMatchLoss(double threshold, double unlabeledWeight)
    {
        Threshold = SslMethodOptions.InRange(threshold, 0, 1, nameof(threshold));
        UnlabeledWeight = unlabeledWeight >= 0 && double.IsFinite(unlabeledWeight)
            ? unlabeledWeight
            : throw new ArgumentOutOfRangeException(nameof(unlabeledWeight), unlabeledWeight, "The unlabeled weight must be a non-negative number.");
    }

    /// <summary>Confidence a pseudo-label needs.</summary>
    public double Threshold { get; }

    /// <summary>Weight of the unlabeled term.</summary>
    public double UnlabeledWeight { get; }

    /// <summary>
    /// Positions (Int64, ascending) of the unlabeled rows whose weak-view prediction reaches <see cref="Threshold"/>:
    /// the rows <see cref="Compute"/> keeps (the same comparison as its mask). The other rows' strong views add
    /// nothing to the loss, so a caller may skip their forward pass.
    /// </summary>
    /// <param name="weakLogits">Logits of the weakly augmented unlabeled rows, [U, C].</param>
    internal Tensor ConfidentRows(Tensor weakLogits)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        (Tensor confidence, Tensor _) = nn.functional.softmax(weakLogits.detach(), 1).max(1);
        return confidence.ge(Held(Threshold)).nonzero().view(-1).MoveToOuterDisposeScope();
    }

    /// <summary>The loss of one step.</summary>
    /// <param name="labeledLogits">Logits of the labeled rows, [N, C].</param>
    /// <param name="labels">Their class indices, [N] (Int64).</param>
    /// <param name="weakLogits">Logits of the weakly augmented unlabeled rows, [U, C]; used without gradient.</param>
    /// <param name="strongLogits">Logits of the strongly augmented views of the same rows, [U, C].</param>
    public FixMatchTerms Compute(Tensor labeledLogits, Tensor labels, Tensor weakLogits, Tensor strongLogits)
    {
        ArgumentNullException.ThrowIfNull(labeledLogits);
        ArgumentNullException.ThrowIfNull(labels);
        LossChecks.SamePairShape(weakLogits, strongLogits, nameof(weakLogits), nameof(strongLogits));
        if (labeledLogits.dim() != 2 || labeledLogits.shape[1] != weakLogits.shape[1] || labels.shape.Length != 1 || labels.shape[0] != labeledLogits.shape[0])
            throw new ArgumentException(
                $"Expected labeled logits [N, {weakLogits.shape[1]}] and labels [N]; got [{string.Join(", ", labeledLogits.shape)}] and [{string.Join(", ", labels.shape)}].");
        using var scope = torch.NewDisposeScope();
        Tensor confidence, pseudoLabels;
        using (torch.no_grad())
            (confidence, pseudoLabels) = nn.functional.softmax(weakLogits.detach(), 1).max(1);
        Tensor mask = confidence.ge(Held(Threshold)).to_type(ScalarType.Float32);
        Tensor supervised = nn.functional.cross_entropy(labeledLogits, labels);
        Tensor consistency = (nn.functional.cross_entropy(strongLogits, pseudoLabels, reduction: nn.Reduction.None) * mask).mean();
        Tensor total = supervised.add(consistency.mul(Held(UnlabeledWeight)), One);
        return new FixMatchTerms(total.MoveToOuterDisposeScope(), supervised.MoveToOuterDisposeScope(),
            consistency.MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope(), pseudoLabels.MoveToOuterDisposeScope());
    }
}

/// <summary>The parts of a <see cref="FixMatchLoss"/> step; the tensors belong to the caller's dispose scope.</summary>
/// <param name="Total">Supervised + weight x consistency: what to back-propagate.</param>
/// <param name="Supervised">Cross entropy on the labeled rows.</param>
/// <param name="Consistency">The masked pseudo-label cross entropy, averaged over all unlabeled rows.</param>
/// <param name="Mask">1 for unlabeled rows whose pseudo-label was confident enough, else 0, [U].</param>
/// <param name="PseudoLabels">The weak view's predicted class per unlabeled row, [U].</param>
public sealed record FixMatchTerms(Tensor Total, Tensor Supervised, Tensor Consistency, Tensor Mask, Tensor PseudoLabels);
