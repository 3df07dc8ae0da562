using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// Knowledge distillation (Hinton et al., 2015): T² x KL(teacher ‖ student) between the softmaxes at temperature T,
/// blended with cross entropy on the rows that have a label: (1 - w) x soft + w x hard, where w is
/// <see cref="HardLabelWeight"/>. Rows without a label (class index below 0) learn from the teacher only.
/// </summary>
public sealed class DistillationLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="temperature">Softmax temperature T, finite and at least 0.001.</param>
    /// <param name="hardLabelWeight">Weight w of the cross entropy on labeled rows, in [0, 1].</param>
    public DistillationLoss(double temperature, double hardLabelWeight)
    {
        Temperature = SslMethodOptions.CheckTemperature(temperature, nameof(temperature));
        HardLabelWeight = SslMethodOptions.InRange(hardLabelWeight, 0, 1, nameof(hardLabelWeight));
    }

    /// <summary>Softmax temperature.</summary>
    public double Temperature { get; }

    /// <summary>Weight of the hard-label term.</summary>
    public double HardLabelWeight { get; }

    /// <summary>The loss of one step.</summary>
    /// <param name="studentLogits">The student's logits, [N, C].</param>
    /// <param name="teacherLogits">The teacher's logits for the same rows, [N, C]; used without gradient.</param>
    /// <param name="labels">Class indices, [N] (Int64), below 0 for rows without a label.</param>
    public DistillationTerms Compute(Tensor studentLogits, Tensor teacherLogits, Tensor labels)
    {
        LossChecks.SamePairShape(studentLogits, teacherLogits, nameof(studentLogits), nameof(teacherLogits));
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.shape.Length != 1 || labels.shape[0] != studentLogits.shape[0])
            throw new ArgumentException($"Expected labels [{studentLogits.shape[0]}]; got [{string.Join(", ", labels.shape)}].", nameof(labels));
        using var scope = torch.NewDisposeScope();
        double t = Temperature;
        Tensor teacher = teacherLogits.detach();
        Tensor teacherProbabilities = nn.functional.softmax(teacher.div(Held(t)), 1);
        Tensor soft = (teacherProbabilities * (nn.functional.log_softmax(teacher.div(Held(t)), 1) - nn.functional.log_softmax(studentLogits.div(Held(t)), 1)))
            .sum(1).mean().mul(Held(t * t));
        Tensor hasLabel = labels.ge(Zero);
        Tensor hard = hasLabel.any().item<bool>()
            ? nn.functional.cross_entropy(studentLogits.index(hasLabel), labels.index(hasLabel))
            : torch.zeros(1, dtype: studentLogits.dtype, device: studentLogits.device).squeeze();
        Tensor total = soft.mul(Held(1 - HardLabelWeight)).add(hard.mul(Held(HardLabelWeight)), One);
        return new DistillationTerms(total.MoveToOuterDisposeScope(), soft.MoveToOuterDisposeScope(), hard.MoveToOuterDisposeScope());
    }
}

/// <summary>The parts of a <see cref="DistillationLoss"/> step; the tensors belong to the caller's dispose scope.</summary>
/// <param name="Total">The blended loss to back-propagate.</param>
/// <param name="Soft">T² x KL(teacher ‖ student).</param>
/// <param name="Hard">Cross entropy on the labeled rows (0 when the batch has none).</param>
public sealed record DistillationTerms(Tensor Total, Tensor Soft, Tensor Hard);
