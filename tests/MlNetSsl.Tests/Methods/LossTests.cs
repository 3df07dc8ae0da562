using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Methods;

/// <summary>Each method's loss against a value worked out by hand on tiny tensors.</summary>
public sealed class LossTests
{
    private const double Tolerance = 1e-5;

    public LossTests() => SslEnvironment.EnsureInitialized();

    private static Tensor T(double[,] values) => torch.tensor(values, dtype: ScalarType.Float64);

    /// <summary>Cross entropy of one row: -pos + log(exp(pos) + Σ exp(neg)), logits already divided by T.</summary>
    private static double RowCrossEntropy(double positive, params double[] negatives) =>
        -positive + Math.Log(Math.Exp(positive) + negatives.Sum(Math.Exp));

    [SkippableFact]
    public void NtXentMatchesHandComputation()
    {
        // Unit vectors a1=(1,0), a2=(0,1) (first views) and b1=(0.6,0.8), b2=(0,1) (second views).
        // Cosines: a1·b1 = 0.6, a1·a2 = 0, a1·b2 = 0, a2·b1 = 0.8, a2·b2 = 1, b1·b2 = 0.8.
        // Row a1: positive b1 (0.6), negatives a2 (0), b2 (0).
        // Row a2: positive b2 (1),   negatives a1 (0), b1 (0.8).
        // Row b1: positive a1 (0.6), negatives a2 (0.8), b2 (0.8).
        // Row b2: positive a2 (1),   negatives a1 (0), b1 (0.8).
        // Each logit is divided by T; the loss is the mean of the four row cross entropies.
        using var scope = torch.NewDisposeScope();
        foreach (double temperature in new[] { 0.5, 0.1 })
        {
            double t = temperature;
            double expected = (RowCrossEntropy(0.6 / t, 0, 0) + RowCrossEntropy(1 / t, 0, 0.8 / t)
                + RowCrossEntropy(0.6 / t, 0.8 / t, 0.8 / t) + RowCrossEntropy(1 / t, 0, 0.8 / t)) / 4;
            double actual = SslLosses.NtXent(T(new[,] { { 1.0, 0 }, { 0, 1 } }), T(new[,] { { 0.6, 0.8 }, { 0, 1 } }), t).item<double>();
            Assert.Equal(expected, actual, Tolerance);

            // Inputs are L2-normalized inside, so scaling a row does not change the loss.
            double scaled = SslLosses.NtXent(T(new[,] { { 3.0, 0 }, { 0, 0.5 } }), T(new[,] { { 6, 8 }, { 0, 2.0 } }), t).item<double>();
            Assert.Equal(expected, scaled, Tolerance);
        }
        // At T = 0.5: row a1 = -1.2 + ln(e^1.2 + 2) = 0.4633..., so the loss differs between temperatures.
        Assert.NotEqual(
            SslLosses.NtXent(T(new[,] { { 1.0, 0 }, { 0, 1 } }), T(new[,] { { 0.6, 0.8 }, { 0, 1 } }), 0.5).item<double>(),
            SslLosses.NtXent(T(new[,] { { 1.0, 0 }, { 0, 1 } }), T(new[,] { { 0.6, 0.8 }, { 0, 1 } }), 0.1).item<double>(), 3);
    }

    [SkippableFact]
    public void InfoNceWithQueueMatchesHandComputation()
    {
        // Queries q1=(1,0), q2=(0,2)->(0,1); keys k1=(0.6,0.8), k2=(0,1); queue (0,1), (-1,0), (0.6,-0.8); T = 0.2.
        // q1: positive q1·k1 = 0.6; negatives 0, -1, 0.6.
        // q2: positive q2·k2 = 1;   negatives 1, 0, -0.8.
        // loss = mean of the two cross entropies with every logit divided by 0.2.
        using var scope = torch.NewDisposeScope();
        const double t = 0.2;
        double expected = (RowCrossEntropy(0.6 / t, 0, -1 / t, 0.6 / t) + RowCrossEntropy(1 / t, 1 / t, 0, -0.8 / t)) / 2;
        double actual = SslLosses.InfoNce(T(new[,] { { 1.0, 0 }, { 0, 2 } }), T(new[,] { { 0.6, 0.8 }, { 0, 1 } }), t, T(new[,] { { 0.0, 1 }, { -1, 0 }, { 0.6, -0.8 } })).item<double>();
        Assert.Equal(expected, actual, Tolerance);
    }

    [SkippableFact]
    public void ScarfInfoNceMatchesHandComputation()
    {
        // Anchors a1=(1,0), a2=(0,1); positives p1=(0.6,0.8), p2=(0,1); T = 1.
        // Row a1: logits a1·p1 = 0.6 (target), a1·p2 = 0.  Row a2: a2·p1 = 0.8, a2·p2 = 1 (target).
        using var scope = torch.NewDisposeScope();
        double expected = (RowCrossEntropy(0.6, 0) + RowCrossEntropy(1, 0.8)) / 2;
        double actual = SslLosses.InfoNce(T(new[,] { { 1.0, 0 }, { 0, 1 } }), T(new[,] { { 0.6, 0.8 }, { 0, 1 } }), 1.0).item<double>();
        Assert.Equal(expected, actual, Tolerance);
    }

    [SkippableFact]
    public void ByolNormalizedMseMatchesHandComputation()
    {
        // Row 1: p=(3,4), z=(4,3): cos = 24/25 = 0.96, 2 - 2*0.96 = 0.08.
        // Row 2: p=(1,0), z=(0,5): cos = 0, 2 - 0 = 2.   Mean = (0.08 + 2) / 2 = 1.04.
        using var scope = torch.NewDisposeScope();
        double actual = SslLosses.NormalizedMse(T(new[,] { { 3.0, 4 }, { 1, 0 } }), T(new[,] { { 4.0, 3 }, { 0, 5 } })).item<double>();
        Assert.Equal(1.04, actual, Tolerance);
    }

    [SkippableFact]
    public void SimSiamNegativeCosineMatchesHandComputationAndStopsTheGradient()
    {
        // Same rows as the BYOL test: cosines 0.96 and 0, so D = -(0.96 + 0) / 2 = -0.48.
        using var scope = torch.NewDisposeScope();
        Tensor p = T(new[,] { { 3.0, 4 }, { 1, 0 } }).requires_grad_(true);
        Tensor z = T(new[,] { { 4.0, 3 }, { 0, 5 } }).requires_grad_(true);
        Tensor loss = SslLosses.NegativeCosine(p, z);
        Assert.Equal(-0.48, loss.item<double>(), Tolerance);

        loss.backward();
        Assert.NotNull(p.grad);
        Assert.True(p.grad!.abs().sum().item<double>() > 0);
        // Stop-gradient: nothing reaches the target branch.
        Assert.True(z.grad is null || z.grad.abs().sum().item<double>() == 0);
    }

    [SkippableFact]
    public void BarlowTwinsMatchesKnownCrossCorrelation()
    {
        // z1 = [[1,0],[0,1],[-1,-1]], z2 = [[1,1],[0,-1],[-1,0]]: every column has mean 0 and biased variance 2/3.
        // z1ᵀz2 = [[2,1],[1,-1]], so C = z1ᵀz2 / (3 (2/3 + eps)) ≈ [[1, 0.5], [0.5, -0.5]].
        // loss = (1 - C00)² + (1 - C11)² + λ (C01² + C10²) ≈ 0 + 2.25 + λ 0.5; with λ = 0.01: ≈ 2.255.
        using var scope = torch.NewDisposeScope();
        const double eps = 1e-5, lambda = 0.01;
        double denominator = 3 * (2.0 / 3 + eps);
        double c00 = 2 / denominator, c01 = 1 / denominator, c10 = 1 / denominator, c11 = -1 / denominator;
        double expected = Math.Pow(1 - c00, 2) + Math.Pow(1 - c11, 2) + lambda * (c01 * c01 + c10 * c10);
        double actual = SslLosses.BarlowTwins(
            T(new[,] { { 1.0, 0 }, { 0, 1 }, { -1, -1 } }), T(new[,] { { 1.0, 1 }, { 0, -1 }, { -1, 0 } }), lambda, eps).item<double>();
        Assert.Equal(expected, actual, Tolerance);
        Assert.Equal(2.255, actual, 3);
    }

    [SkippableFact]
    public void VicregTermsMatchHandComputation()
    {
        using var scope = torch.NewDisposeScope();
        Tensor z1 = T(new[,] { { 1.0, 0 }, { 0, 1 }, { -1, -1 } });
        Tensor z2 = T(new[,] { { 1.0, 1 }, { 0, -1 }, { -1, 0 } });

        // Invariance: z1 - z2 = [[0,-1],[0,2],[0,-1]]; squares sum to 6 over 6 entries: 1.
        Assert.Equal(1.0, SslLosses.VicregInvariance(z1, z2).item<double>(), Tolerance);

        // Variance of 0.5 z1: unbiased column variance (0.25 + 0 + 0.25) / 2 = 0.25, std = sqrt(0.25 + 1e-4);
        // hinge 1 - sqrt(0.2501) = 0.49990001 in both columns, mean 0.49990001.
        Assert.Equal(1 - Math.Sqrt(0.2501), SslLosses.VicregVariance(z1 * 0.5).item<double>(), Tolerance);
        // z1 itself: variance 1, std sqrt(1.0001) > 1, so the hinge is 0.
        Assert.Equal(0.0, SslLosses.VicregVariance(z1).item<double>(), Tolerance);

        // Covariance of z1 (mean 0): z1ᵀz1 / (3 - 1) = [[1, 0.5], [0.5, 1]]; off-diagonal squares 0.25 + 0.25 = 0.5,
        // divided by D = 2: 0.25. z2ᵀz2 = [[2,1],[1,2]] as well, so c(z2) = 0.25.
        Assert.Equal(0.25, SslLosses.VicregCovariance(z1).item<double>(), Tolerance);
        Assert.Equal(0.25, SslLosses.VicregCovariance(z2).item<double>(), Tolerance);

        // Total with weights 25, 25, 1: 25 * 1 + 25 * (0 + 0) / 2 + 1 * (0.25 + 0.25) = 25.5.
        Assert.Equal(25.5, SslLosses.Vicreg(z1, z2).item<double>(), Tolerance);
        // With 0.5 z1 and 0.5 z2: invariance 0.25 * 1 = 0.25; variance hinge v = 1 - sqrt(0.2501) for each;
        // covariance matrices scale by 0.25 to [[0.25, 0.125], [0.125, 0.25]]: (0.125² * 2) / 2 = 0.015625 each.
        double v = 1 - Math.Sqrt(0.2501);
        double expectedHalf = 25 * 0.25 + 25 * (v + v) / 2 + 1 * (0.015625 + 0.015625);
        Assert.Equal(expectedHalf, SslLosses.Vicreg(z1 * 0.5, z2 * 0.5).item<double>(), Tolerance);
    }

    [SkippableFact]
    public void VimeLossIsBcePlusAlphaMse()
    {
        // Mask logits (0, 2) with labels (1, 0): BCE = (-ln σ(0) - ln(1 - σ(2))) / 2 = (ln 2 + ln(1 + e²)) / 2.
        // Reconstruction (1, 2) of (0, 0): MSE = (1 + 4) / 2 = 2.5.   Total = BCE + 2.0 * 2.5.
        using var scope = torch.NewDisposeScope();
        double bce = (Math.Log(2) + Math.Log(1 + Math.Exp(2))) / 2;
        double actual = SslLosses.Vime(T(new[,] { { 0.0, 2 } }), T(new[,] { { 1.0, 0 } }),
            T(new[,] { { 1.0, 2 } }), T(new[,] { { 0.0, 0 } }), alpha: 2.0).item<double>();
        Assert.Equal(bce + 2.0 * 2.5, actual, Tolerance);
    }

    [SkippableFact]
    public void MaskedMseCountsMaskedEntriesOnly()
    {
        // prediction [[1,2],[3,4]], target 0, mask [[1,0],[0,1]]: masked squares 1 and 16, mean (1 + 16) / 2 = 8.5.
        using var scope = torch.NewDisposeScope();
        Tensor mask = torch.tensor(new[,] { { true, false }, { false, true } });
        Tensor target = torch.zeros(2, 2, dtype: ScalarType.Float64);
        Assert.Equal(8.5, SslLosses.MaskedMse(T(new[,] { { 1.0, 2 }, { 3, 4 } }), target, mask).item<double>(), Tolerance);

        // Changing the unmasked entries (2 and 3) leaves the loss unchanged.
        Assert.Equal(8.5, SslLosses.MaskedMse(T(new[,] { { 1.0, -50 }, { 99, 4 } }), target, mask).item<double>(), Tolerance);

        // Units with several values: mean over each unit's values, then over masked units.
        // Unit (0,0) = (1,3): mean square 5; unit (1,1) = (2,2): 4; unmasked units are arbitrary. Loss = (5 + 4) / 2 = 4.5.
        Tensor prediction3 = torch.tensor(new double[] { 1, 3, 7, 7, 8, 8, 2, 2 }, new long[] { 2, 2, 2 });
        Assert.Equal(4.5, SslLosses.MaskedMse(prediction3, torch.zeros(2, 2, 2, dtype: ScalarType.Float64), mask).item<double>(), Tolerance);

        // And no gradient reaches the unmasked predictions.
        Tensor prediction = T(new[,] { { 1.0, 2 }, { 3, 4 } }).requires_grad_(true);
        SslLosses.MaskedMse(prediction, target, mask).backward();
        Assert.Equal(0.0, prediction.grad![0, 1].item<double>());
        Assert.Equal(0.0, prediction.grad![1, 0].item<double>());
        Assert.Equal(1.0, prediction.grad![0, 0].item<double>(), Tolerance); // d/dp (p²/2) at p = 1
    }

    [SkippableTheory]
    [InlineData(1e-40)]
    [InlineData(1e-38)]
    [InlineData(1e-30)]
    [InlineData(0.0009)]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_temperature_that_is_not_finite_or_is_below_the_floor_is_refused_naming_the_option_and_the_range(double temperature)
    {
        // In float32, cosine / 1e-40 overflows and the loss is NaN (1e-38: infinite); below 1e-3 no published setting goes.
        using var scope = torch.NewDisposeScope();
        Tensor a = torch.tensor(new float[,] { { 1, 0 }, { 0, 1 } }), b = torch.tensor(new float[,] { { 0.6f, 0.8f }, { 0, 1 } });
        static void Refused(Action create, string name)
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(create);
            Assert.Equal(name, ex.ParamName);
            Assert.Contains($"{name} must be", ex.Message);
            Assert.Contains("0.001", ex.Message);
        }
        Refused(() => SslLosses.NtXent(a, b, temperature), "temperature");
        Refused(() => SslLosses.InfoNce(a, b, temperature), "temperature");
        Refused(() => SslLosses.InfoNce(a, b, temperature, b), "temperature");
        Refused(() => _ = new DistillationLoss(temperature, 0.5), "temperature");
        Refused(() => new DistillationOptions { Temperature = temperature }.Validate(), "Temperature");
        var tabular = SslInputShape.Tabular(4);
        Refused(() => new SimClrMethod(new TinyMlpEncoder(tabular), new SimClrOptions { Temperature = temperature }).Dispose(), "Temperature");
        Refused(() => new MoCoV2Method(new TinyMlpEncoder(tabular), new MoCoV2Options { Temperature = temperature }).Dispose(), "Temperature");
        Refused(() => new ScarfMethod(new TinyMlpEncoder(tabular), new ScarfOptions { Temperature = temperature }).Dispose(), "Temperature");
    }

    [SkippableFact]
    public void The_smallest_temperature_accepted_gives_a_finite_loss_in_float32()
    {
        using var scope = torch.NewDisposeScope();
        Tensor a = torch.tensor(new float[,] { { 1, 0 }, { 0, 1 } }), b = torch.tensor(new float[,] { { 0.6f, 0.8f }, { 0, 1 } });
        Assert.True(double.IsFinite(SslLosses.NtXent(a, b, 1e-3).item<float>()));
        Assert.True(double.IsFinite(SslLosses.InfoNce(a, b, 1e-3, b).item<float>()));
        // What the floor prevents: the same loss divided by 1e-40 in float32.
        Tensor z = nn.functional.normalize(torch.cat(new[] { a, b }, 0), dim: 1);
        Assert.True(float.IsNaN(nn.functional.cross_entropy(z.matmul(z.t()).div(1e-40), torch.tensor(new long[] { 2, 3, 0, 1 })).item<float>()));
    }
}
