using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Methods;

/// <summary>The fine-tuning losses and the negative queue against values worked out by hand.</summary>
public sealed class FineTuneLossTests
{
    public FineTuneLossTests() => SslEnvironment.EnsureInitialized();

    private static Tensor T(double[,] values) => torch.tensor(values, dtype: ScalarType.Float64);

    private static double CrossEntropy(double[] logits, int target) => -logits[target] + Math.Log(logits.Sum(Math.Exp));

    [SkippableFact]
    public void FixMatchMasksUnconfidentRowsAndAveragesOverAllUnlabeledRows()
    {
        using var scope = torch.NewDisposeScope();
        double[] l0 = [2, 0], l1 = [0, 1];
        // Weak views: row 0 is confident in class 0 (softmax of [3, 0] = 0.953), row 1 is not (softmax of [0.1, 0] = 0.525).
        double[] w0 = [3, 0], w1 = [0.1, 0];
        double[] s0 = [0.5, 1.5], s1 = [1, -1];
        var loss = new FixMatchLoss(threshold: 0.9, unlabeledWeight: 2);

        FixMatchTerms terms = loss.Compute(T(new[,] { { l0[0], l0[1] }, { l1[0], l1[1] } }), torch.tensor(new long[] { 0, 1 }),
            T(new[,] { { w0[0], w0[1] }, { w1[0], w1[1] } }), T(new[,] { { s0[0], s0[1] }, { s1[0], s1[1] } }));

        double supervised = (CrossEntropy(l0, 0) + CrossEntropy(l1, 1)) / 2;
        double consistency = (CrossEntropy(s0, 0) + 0) / 2; // row 1 masked out, but still counted in the mean
        Assert.Equal(supervised, terms.Supervised.item<double>(), 10);
        Assert.Equal(consistency, terms.Consistency.item<double>(), 10);
        Assert.Equal(supervised + 2 * consistency, terms.Total.item<double>(), 10);
        Assert.Equal(new float[] { 1, 0 }, terms.Mask.data<float>().ToArray());
        Assert.Equal(new long[] { 0, 0 }, terms.PseudoLabels.data<long>().ToArray());
    }

    [SkippableFact]
    public void FixMatchSendsNoGradientThroughTheWeakView()
    {
        using var scope = torch.NewDisposeScope();
        Tensor weak = T(new[,] { { 3.0, 0 } }).requires_grad_();
        Tensor strong = T(new[,] { { 0.5, 1.5 } }).requires_grad_();
        new FixMatchLoss(0.5, 1).Compute(T(new[,] { { 1.0, 0 } }), torch.tensor(new long[] { 0 }), weak, strong).Total.backward();
        Assert.True(weak.grad is null || weak.grad.abs().sum().item<double>() == 0);
        Assert.True(strong.grad!.abs().sum().item<double>() > 0);
    }

    [SkippableFact]
    public void DistillationBlendsTemperatureScaledKlWithHardLabelsOnLabeledRowsOnly()
    {
        using var scope = torch.NewDisposeScope();
        double t = 2, w = 0.25;
        double[] student0 = [1, 0], student1 = [0, 2], teacher0 = [2, 0], teacher1 = [0, 0];
        static double[] Softmax(double[] x, double t)
        {
            double[] e = x.Select(v => Math.Exp(v / t)).ToArray();
            return e.Select(v => v / e.Sum()).ToArray();
        }
        static double Kl(double[] p, double[] q) => p.Select((pi, i) => pi * Math.Log(pi / q[i])).Sum();
        double soft = (Kl(Softmax(teacher0, t), Softmax(student0, t)) + Kl(Softmax(teacher1, t), Softmax(student1, t))) / 2 * t * t;
        double hard = CrossEntropy(student0, 1); // row 1 has no label (-1)

        DistillationTerms terms = new DistillationLoss(t, w).Compute(T(new[,] { { 1.0, 0 }, { 0, 2 } }), T(new[,] { { 2.0, 0 }, { 0, 0 } }),
            torch.tensor(new long[] { 1, -1 }));

        Assert.Equal(soft, terms.Soft.item<double>(), 10);
        Assert.Equal(hard, terms.Hard.item<double>(), 10);
        Assert.Equal((1 - w) * soft + w * hard, terms.Total.item<double>(), 10);
        // A batch without labels learns from the teacher alone.
        var unlabeled = new DistillationLoss(t, w).Compute(T(new[,] { { 1.0, 0 } }), T(new[,] { { 2.0, 0 } }), torch.tensor(new long[] { -1 }));
        Assert.Equal(0, unlabeled.Hard.item<double>());
    }

    [SkippableFact]
    public void InfoNceWithAQueueUsesOnlyTheQueueAsNegatives()
    {
        using var scope = torch.NewDisposeScope();
        // q = (1,0), its key (0.6,0.8) has cosine 0.6; negatives (0,1) and (-1,0) give 0 and -1. In-batch keys play no part.
        double t = 0.5;
        double expected = -(0.6 / t) + Math.Log(Math.Exp(0.6 / t) + Math.Exp(0) + Math.Exp(-1 / t));
        double actual = SslLosses.InfoNce(T(new[,] { { 1.0, 0 } }), T(new[,] { { 0.6, 0.8 } }), t, T(new[,] { { 0.0, 1 }, { -1, 0 } })).item<double>();
        Assert.Equal(expected, actual, 10);
        Assert.Throws<ArgumentException>(() => SslLosses.InfoNce(T(new[,] { { 1.0, 0 } }), T(new[,] { { 0.6, 0.8 } }), t, T(new[,] { { 0.0, 1, 0 } })));
    }

    [SkippableFact]
    public void NegativeQueueKeepsTheNewestKeysInOrderAndWraps()
    {
        using var queue = new NegativeQueue(capacity: 3, dimension: 2, seed: 5);
        using (Tensor norms = queue.Keys.norm(1)) Assert.True(norms.allclose(torch.ones(3)));
        queue.Enqueue(torch.tensor(new float[,] { { 1, 0 }, { 0, 1 } }));
        Assert.Equal(2, queue.Pointer);
        queue.Enqueue(torch.tensor(new float[,] { { 2, 0 }, { 0, 2 } }));
        Assert.Equal(1, queue.Pointer);
        Assert.Equal(new float[] { 0, 2, 0, 1, 2, 0 }, queue.Keys.data<float>().ToArray());
        // More keys than fit: only the newest three survive.
        queue.Enqueue(torch.tensor(new float[,] { { 5, 5 }, { 6, 6 }, { 7, 7 }, { 8, 8 } }));
        Assert.Equal(new[] { 6f, 7f, 8f }, Enumerable.Range(0, 3).Select(i => queue.Keys[(1 + i) % 3, 0].item<float>()).ToArray());
        Assert.False(queue.Keys.requires_grad);
        Assert.Empty(queue.parameters());
    }
}
