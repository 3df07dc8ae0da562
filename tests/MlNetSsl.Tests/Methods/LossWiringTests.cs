using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Methods;

/// <summary>
/// Each method's <c>ComputeLoss</c> against its loss worked out here in plain double arithmetic from the method's own
/// networks (encoder and heads run again on the same views), so a loss that is right in isolation (<see cref="LossTests"/>)
/// but wired to the wrong view, head, target network, weight or mask fails. Each test also checks that the wrong
/// wiring it guards against would give another number, and adds analytic values and gradient properties.
/// </summary>
public sealed class LossWiringTests
{
    /// <summary>Float32 networks against double arithmetic on their outputs: relative agreement.</summary>
    private const double Relative = 1e-4;

    public LossWiringTests() => SslEnvironment.EnsureInitialized();

    private static readonly SslInputShape Higgs = MethodTestData.HiggsShape;

    private static Tensor HiggsBatch(int rows) => MethodTestData.Higgs().narrow(0, 0, rows);

    /// <summary>
    /// Deterministic, distinct views: the 1st, 3rd, ... call returns the batch, the 2nd, 4th, ... x + 0.5 sin(3x).
    /// (Not an affine map: the encoders' BatchNorm would undo that, and the two views would embed alike.)
    /// </summary>
    private sealed class TwoFixedViews(SslInputKind kind) : Augmentation
    {
        private int _calls;

        public override SslInputKind InputKind => kind;

        public override Tensor Apply(Tensor batch, AugmentationContext context) => _calls++ % 2 == 0 ? batch.clone() : SecondView(batch);

        public static Tensor SecondView(Tensor batch) => batch + (batch * 3).sin() * 0.5;
    }

    private static ViewGenerator FixedViews(SslInputShape shape, Generator generator) =>
        new(new AugmentationPolicy(new TwoFixedViews(shape.Kind)), new AugmentationContext(generator, shape));

    private static ViewGenerator NoViews(SslInputShape shape, Generator generator) =>
        new(AugmentationPolicy.None, new AugmentationContext(generator, shape));

    private static nn.Module<Tensor, Tensor> Child(nn.Module method, string name) =>
        (nn.Module<Tensor, Tensor>)method.named_children().Single(c => c.name == name).module;

    // The projector's output for the first and the second fixed view, computed apart from the method.
    private static (double[][] First, double[][] Second) ProjectBothViews(nn.Module method, nn.Module<Tensor, Tensor> encoder, Tensor batch)
    {
        var projector = Child(method, "projector");
        using var noGrad = torch.no_grad();
        return (Rows(projector.call(encoder.call(batch))), Rows(projector.call(encoder.call(TwoFixedViews.SecondView(batch)))));
    }

    private static double[][] Rows(Tensor t)
    {
        using var flat = t.detach().cpu().to(ScalarType.Float64).contiguous();
        double[] values = flat.data<double>().ToArray();
        int d = (int)(t.numel() / t.shape[0]);
        return Enumerable.Range(0, (int)t.shape[0]).Select(i => values.AsSpan(i * d, d).ToArray()).ToArray();
    }

    /// <summary>Every parameter's gradient in one vector. (Compared as a whole: the gradient of a bias just before a
    /// BatchNorm is zero up to rounding, which no per-parameter relative bound can compare.)</summary>
    private static Tensor AllGradients(IEnumerable<Parameter> parameters) =>
        torch.cat(parameters.Select(p => p.grad!.detach().reshape(-1).clone()).ToArray(), 0);

    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();

    private static double Norm(double[] a) => Math.Sqrt(Dot(a, a));

    private static double[] Unit(double[] a) => a.Select(x => x / Norm(a)).ToArray();

    private static void AssertClose(double expected, double actual, string what)
    {
        double scale = Math.Max(Math.Abs(expected), 1e-12);
        Assert.True(Math.Abs(actual - expected) <= Relative * scale, $"{what}: expected {expected:R}, got {actual:R}");
    }

    /// <summary>The check can tell the right wiring from a wrong one: their values differ well beyond the tolerance.</summary>
    private static void AssertDistinguishes(double expected, double wrong, string what) =>
        Assert.True(Math.Abs(wrong - expected) > 100 * Relative * Math.Max(Math.Abs(expected), 1e-12),
            $"the check cannot see {what}: {expected:R} vs {wrong:R}");

    private static double[][] Column(double[][] z, Func<double[], double[]> f)
    {
        int d = z[0].Length;
        var columns = Enumerable.Range(0, d).Select(j => f(z.Select(r => r[j]).ToArray())).ToArray();
        return Enumerable.Range(0, z.Length).Select(i => Enumerable.Range(0, d).Select(j => columns[j][i]).ToArray()).ToArray();
    }

    // ---------------------------------------------------------------- SimSiam

    [SkippableFact]
    public void SimSiamPairsEachPredictionWithTheOtherViewsStoppedProjection()
    {
        torch.manual_seed(31);
        using var encoder = new TinyMlpEncoder(Higgs);
        using var method = new SimSiamMethod(encoder, new SimSiamOptions { ProjectionHiddenSize = 32, ProjectionSize = 16, PredictorHiddenSize = 8 });
        using var scope = torch.NewDisposeScope();
        Tensor batch = HiggsBatch(16);
        using var generator = new Generator(1);
        Tensor loss = method.ComputeLoss(batch, FixedViews(Higgs, generator));

        var projector = Child(method, "projector");
        var predictor = Child(method, "predictor");
        Tensor za = projector.call(encoder.call(batch)), zb = projector.call(encoder.call(TwoFixedViews.SecondView(batch)));
        Tensor pa = predictor.call(za), pb = predictor.call(zb);
        double[][] z1 = Rows(za), z2 = Rows(zb), p1 = Rows(pa), p2 = Rows(pb);

        // D(p, z) = -mean_i cos(p_i, z_i); loss = (D(p1, z2) + D(p2, z1)) / 2.
        static double D(double[][] p, double[][] z) => -Enumerable.Range(0, p.Length).Average(i => Dot(p[i], z[i]) / (Norm(p[i]) * Norm(z[i])));
        double expected = (D(p1, z2) + D(p2, z1)) / 2;
        AssertClose(expected, loss.ToDouble(), "SimSiam loss");
        AssertDistinguishes(expected, (D(p1, z1) + D(p2, z2)) / 2, "each prediction paired with its own view");

        // Gradients: exactly those of the same loss with the projections detached where they are targets (the
        // stop-gradient), and not those of the loss without it.
        Parameter[] parameters = method.TrainableParameters().ToArray();
        loss.backward();
        Tensor viaMethod = AllGradients(parameters);

        Tensor Gradients(Func<Tensor, Tensor> target)
        {
            method.zero_grad();
            Tensor z1t = projector.call(encoder.call(batch)), z2t = projector.call(encoder.call(TwoFixedViews.SecondView(batch)));
            Tensor reference = (nn.functional.cosine_similarity(predictor.call(z1t), target(z2t), dim: 1).mean()
                + nn.functional.cosine_similarity(predictor.call(z2t), target(z1t), dim: 1).mean()) * -0.5;
            reference.backward();
            return AllGradients(parameters);
        }
        Tensor stopped = Gradients(z => z.detach());
        Tensor notStopped = Gradients(z => z);
        double difference = Close.RelativeDifference(viaMethod, stopped), withoutStop = Close.RelativeDifference(notStopped, stopped);
        Assert.True(difference <= 1e-4, $"the gradient differs from the stop-gradient loss's by {difference:G3} of its norm");
        Assert.True(withoutStop > 1e-2, $"the check cannot see a missing stop-gradient ({withoutStop:G3})");
    }

    // ---------------------------------------------------------------- MoCo v2

    /// <summary>InfoNCE with a queue: for each query, logits [q·k, q·n_1, ..., q·n_K] / t (q, k normalized), target 0.</summary>
    private static double InfoNce(double[][] queries, double[][] keys, double[][] queue, double t) =>
        Enumerable.Range(0, queries.Length).Average(i =>
        {
            double[] q = Unit(queries[i]);
            double positive = Dot(q, Unit(keys[i])) / t;
            double sum = Math.Exp(positive) + queue.Sum(n => Math.Exp(Dot(q, n) / t));
            return -positive + Math.Log(sum);
        });

    [SkippableFact]
    public void MoCoQueriesMeetTheOtherViewsMomentumKeyWithTheQueueAsNegatives()
    {
        torch.manual_seed(32);
        using var encoder = new TinyMlpEncoder(Higgs);
        var options = new MoCoV2Options { QueueSize = 40, ProjectionHiddenSize = 32, ProjectionSize = 8, Temperature = 0.3, Momentum = 0.5 };
        using var method = new MoCoV2Method(encoder, options);
        using var scope = torch.NewDisposeScope();
        Tensor batch = HiggsBatch(16);

        // Two training steps first: the momentum target then differs from the online network, and the queue holds keys.
        using (var optimizer = optim.SGD(method.TrainableParameters(), 0.5))
        {
            for (int step = 0; step < 2; step++)
            {
                using var stepScope = torch.NewDisposeScope();
                using var g = new Generator((ulong)step);
                optimizer.zero_grad();
                method.ComputeLoss(batch, new ViewGenerator(new AugmentationPolicy(new TestNoiseAndScale(SslInputKind.Tabular)), new AugmentationContext(g, Higgs))).backward();
                optimizer.step();
                method.AfterOptimizerStep(step, 10);
            }
        }
        Assert.Equal(2 * 32 % 40, method.Negatives.Pointer); // 2 x 16 keys per step

        // The queue is a buffer: no gradient, not trained.
        Assert.False(method.Negatives.Keys.requires_grad);
        Assert.DoesNotContain(method.Negatives.Keys.Handle, method.TrainableParameters().Select(p => p.Handle));

        // The networks' outputs first: a target forward swaps the target's weights into the online modules, which
        // must not happen once the loss's graph has been recorded (the method computes its keys first for that reason).
        var projector = Child(method, "projector");
        Tensor v1 = batch, v2 = TwoFixedViews.SecondView(batch);
        double[][] q1, q2, k1, k2;
        using (torch.no_grad())
        {
            k1 = Rows(method.Target.Run(() => projector.call(encoder.call(v1))));
            k2 = Rows(method.Target.Run(() => projector.call(encoder.call(v2))));
            q1 = Rows(projector.call(encoder.call(v1)));
            q2 = Rows(projector.call(encoder.call(v2)));
        }
        double[][] queue = Rows(method.Negatives.Keys);
        using var generator = new Generator(3);
        Tensor loss = method.ComputeLoss(batch, FixedViews(Higgs, generator));
        double t = options.Temperature;
        double expected = (InfoNce(q1, k2, queue, t) + InfoNce(q2, k1, queue, t)) / 2;
        AssertClose(expected, loss.ToDouble(), "MoCo v2 loss");
        AssertDistinguishes(expected, (InfoNce(q1, k1, queue, t) + InfoNce(q2, k2, queue, t)) / 2, "the key of the query's own view as the positive");
        AssertDistinguishes(expected, (InfoNce(q1, q2, queue, t) + InfoNce(q2, q1, queue, t)) / 2, "keys from the online network instead of the momentum target");
        AssertDistinguishes(expected, (InfoNce(q1, k2, [], t) + InfoNce(q2, k1, [], t)) / 2, "a loss without the queue's negatives");

        // The keys carry no gradient: the method's gradients are those of the same loss with constant keys.
        Parameter[] parameters = method.TrainableParameters().ToArray();
        method.zero_grad(); // the training steps left their gradients
        loss.backward();
        Tensor viaMethod = AllGradients(parameters);
        method.zero_grad();
        Tensor Keys(double[][] k) => torch.tensor(k.SelectMany(r => r).Select(x => (float)x).ToArray(), new long[] { k.Length, k[0].Length });
        Tensor reference = (SslLosses.InfoNce(projector.call(encoder.call(v1)), Keys(k2), t, method.Negatives.Keys)
            + SslLosses.InfoNce(projector.call(encoder.call(v2)), Keys(k1), t, method.Negatives.Keys)) * 0.5;
        reference.backward();
        double difference = Close.RelativeDifference(AllGradients(parameters), viaMethod);
        Assert.True(difference <= 1e-4, $"the gradient differs from the constant-keys loss's by {difference:G3} of its norm: a gradient reached the keys' branch");
    }

    [SkippableFact]
    public void InfoNceWithThePositiveEqualToTheQueryAndOrthogonalNegativesIsAnalytic()
    {
        // q = k = e1 and K negatives orthogonal to it: logits [1/t, 0, ..., 0], loss = log(1 + K exp(-1/t)).
        using var scope = torch.NewDisposeScope();
        Tensor q = torch.tensor(new double[] { 1, 0, 0, 0, 0, 2, 0, 0 }, new long[] { 2, 4 }); // e1 and 2 e2
        Tensor k = torch.tensor(new double[] { 3, 0, 0, 0, 0, 1, 0, 0 }, new long[] { 2, 4 }); // same directions
        Tensor queue = torch.tensor(new double[] { 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, -1, 0 }, new long[] { 3, 4 }); // e3, e4, -e3
        foreach (double t in new[] { 0.2, 1.0 })
            AssertClose(Math.Log(1 + 3 * Math.Exp(-1 / t)), SslLosses.InfoNce(q, k, t, queue).item<double>(), $"InfoNCE at t = {t}");
        // A negative equal to the query ties with the positive: log(2 + 2 exp(-1/t)) for the row it matches.
        Tensor tie = torch.tensor(new double[] { 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1 }, new long[] { 3, 4 });
        double first = Math.Log(2 + 2 * Math.Exp(-5)), second = Math.Log(1 + 3 * Math.Exp(-5));
        AssertClose((first + second) / 2, SslLosses.InfoNce(q, k, 0.2, tie).item<double>(), "InfoNCE with a negative equal to a query");
    }

    // ---------------------------------------------------------------- Barlow Twins

    /// <summary>Σ_i (1 - C_ii)² + λ Σ_{i≠j} C_ij², C = z1ᵀ z2 / N of the batch-standardized columns (biased variance, eps 1e-5).</summary>
    private static double BarlowByHand(double[][] z1, double[][] z2, double lambda)
    {
        static double[] Standardize(double[] c)
        {
            double mean = c.Average(), variance = c.Average(x => (x - mean) * (x - mean));
            return c.Select(x => (x - mean) / Math.Sqrt(variance + 1e-5)).ToArray();
        }
        double[][] a = Column(z1, Standardize), b = Column(z2, Standardize);
        int n = a.Length, d = a[0].Length;
        double loss = 0;
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double c = Enumerable.Range(0, n).Sum(r => a[r][i] * b[r][j]) / n;
                loss += i == j ? (1 - c) * (1 - c) : lambda * c * c;
            }
        return loss;
    }

    [SkippableFact]
    public void BarlowTwinsCorrelatesTheTwoViewsProjectionsWithTheMethodsLambda()
    {
        torch.manual_seed(33);
        using var encoder = new TinyMlpEncoder(Higgs);
        using var method = new BarlowTwinsMethod(encoder, new BarlowTwinsOptions { ProjectionHiddenSize = 32, ProjectionSize = 8 });
        Assert.Equal(1.0 / 8, method.Lambda);
        using var scope = torch.NewDisposeScope();
        Tensor batch = HiggsBatch(16);
        using var generator = new Generator(1);
        Tensor loss = method.ComputeLoss(batch, FixedViews(Higgs, generator));

        var (z1, z2) = ProjectBothViews(method, encoder, batch);
        double expected = BarlowByHand(z1, z2, 1.0 / 8);
        AssertClose(expected, loss.ToDouble(), "Barlow Twins loss");
        AssertDistinguishes(expected, BarlowByHand(z1, z2, 1.0), "lambda 1 instead of 1 / projection size");
        AssertDistinguishes(expected, BarlowByHand(z1, z1, 1.0 / 8), "one view correlated with itself");
    }

    [SkippableFact]
    public void BarlowTwinsOfIdenticalDecorrelatedViewsIsZeroAndOfSwappedOrOppositeViewsIsAnalytic()
    {
        // Columns ±1 with mean 0, biased variance 1 and no correlation: C = I / (1 + eps), so the loss is ~0.
        using var scope = torch.NewDisposeScope();
        const double eps = 1e-5, lambda = 0.3;
        double[,] z = { { 1, 1 }, { 1, -1 }, { -1, 1 }, { -1, -1 } };
        double s = 1 / Math.Sqrt(1 + eps); // each standardized column is z / sqrt(1 + eps); C_ij = s² (z_iᵀ z_j / N)
        Tensor Z(double[,] v) => torch.tensor(v, dtype: ScalarType.Float64);
        AssertCloseAbsolute(2 * Math.Pow(1 - s * s, 2), SslLosses.BarlowTwins(Z(z), Z(z), lambda, eps).item<double>(), "identical decorrelated views");
        // Opposite views: C = -I s², every diagonal term (1 + s²)², about 4.
        double[,] opposite = { { -1, -1 }, { -1, 1 }, { 1, -1 }, { 1, 1 } };
        AssertClose(2 * Math.Pow(1 + s * s, 2), SslLosses.BarlowTwins(Z(z), Z(opposite), lambda, eps).item<double>(), "opposite views");
        // Columns swapped: C = [[0, s²], [s², 0]], so 2 on the diagonal plus lambda 2 s⁴ off it.
        double[,] swapped = { { 1, 1 }, { -1, 1 }, { 1, -1 }, { -1, -1 } };
        AssertClose(2 + lambda * 2 * Math.Pow(s, 4), SslLosses.BarlowTwins(Z(z), Z(swapped), lambda, eps).item<double>(), "swapped columns");
    }

    private static void AssertCloseAbsolute(double expected, double actual, string what) =>
        Assert.True(Math.Abs(actual - expected) <= 1e-9, $"{what}: expected {expected:R}, got {actual:R}");

    // ---------------------------------------------------------------- VICReg

    private static double VicregByHand(double[][] z1, double[][] z2, double lambda, double mu, double nu)
    {
        int n = z1.Length, d = z1[0].Length;
        double invariance = Enumerable.Range(0, n).Sum(i => Enumerable.Range(0, d).Sum(j => Math.Pow(z1[i][j] - z2[i][j], 2))) / (n * d);
        double Variance(double[][] z) => Enumerable.Range(0, d).Average(j =>
        {
            double mean = z.Average(r => r[j]);
            double unbiased = z.Sum(r => Math.Pow(r[j] - mean, 2)) / (n - 1);
            return Math.Max(0, 1 - Math.Sqrt(unbiased + 1e-4));
        });
        double Covariance(double[][] z)
        {
            double[] means = Enumerable.Range(0, d).Select(j => z.Average(r => r[j])).ToArray();
            double sum = 0;
            for (int a = 0; a < d; a++)
                for (int b = 0; b < d; b++)
                    if (a != b)
                        sum += Math.Pow(z.Sum(r => (r[a] - means[a]) * (r[b] - means[b])) / (n - 1), 2);
            return sum / d;
        }
        return lambda * invariance + mu * (Variance(z1) + Variance(z2)) / 2 + nu * (Covariance(z1) + Covariance(z2));
    }

    [SkippableFact]
    public void VicregWeighsInvarianceVarianceAndCovarianceAsConfigured()
    {
        torch.manual_seed(34);
        using var encoder = new TinyMlpEncoder(Higgs);
        // Distinct weights, so passing them in another order gives another loss.
        using var method = new VicregMethod(encoder, new VicregOptions
        {
            ProjectionHiddenSize = 32, ProjectionSize = 8, InvarianceWeight = 2, VarianceWeight = 30, CovarianceWeight = 5,
        });
        using var scope = torch.NewDisposeScope();
        Tensor batch = HiggsBatch(16);
        using var generator = new Generator(1);
        Tensor loss = method.ComputeLoss(batch, FixedViews(Higgs, generator));

        var (z1, z2) = ProjectBothViews(method, encoder, batch);
        double expected = VicregByHand(z1, z2, 2, 30, 5);
        AssertClose(expected, loss.ToDouble(), "VICReg loss");
        AssertDistinguishes(expected, VicregByHand(z1, z2, 30, 2, 5), "invariance and variance weights swapped");
        AssertDistinguishes(expected, VicregByHand(z1, z2, 2, 5, 30), "variance and covariance weights swapped");
        AssertDistinguishes(expected, VicregByHand(z1, z2, 25, 25, 1), "the paper's defaults instead of the options");
    }

    [SkippableFact]
    public void VicregOnConstantEmbeddingsIsTheVarianceHingeAlone()
    {
        // Every row the same: no invariance error, no covariance, and each dimension's std is sqrt(0 + 1e-4) = 0.01,
        // so the hinge is 1 - 0.01 = 0.99 per dimension, for both views.
        using var scope = torch.NewDisposeScope();
        Tensor constant = torch.tensor(new double[] { 2, -1, 0.5 }, dtype: ScalarType.Float64).expand(5, 3).contiguous();
        AssertClose(0.99, SslLosses.VicregVariance(constant).item<double>(), "variance hinge of constant embeddings");
        AssertCloseAbsolute(0, SslLosses.VicregCovariance(constant).item<double>(), "covariance of constant embeddings");
        AssertClose(7 * 0.99, SslLosses.Vicreg(constant, constant.clone(), 3, 7, 11).item<double>(), "VICReg of constant embeddings");
        // Spread exactly at gamma (unbiased std 1 before eps): the hinge is 0, only covariance and invariance remain.
        Tensor spread = torch.tensor(new double[,] { { 1, 0 }, { -1, 0 }, { 0, 1 }, { 0, -1 } }, dtype: ScalarType.Float64) * Math.Sqrt(3.0 / 2);
        AssertCloseAbsolute(0, SslLosses.VicregVariance(spread).item<double>(), "variance hinge at std 1");
    }

    // ---------------------------------------------------------------- VIME

    [SkippableFact]
    public void VimeEstimatesTheSwapMaskAndReconstructsTheOriginalRows()
    {
        torch.manual_seed(35);
        using var encoder = new TinyMlpEncoder(Higgs);
        const double alpha = 0.7, probability = 0.4;
        using var method = new VimeMethod(encoder, new VimeOptions { Alpha = alpha, MaskProbability = probability });
        using var scope = torch.NewDisposeScope();
        Tensor batch = HiggsBatch(16);
        using var generator = new Generator(7);
        // A random mask head answers about 0 for every entry, where the loss hardly depends on the mask; a bias of 1.5
        // makes it confident, so a loss wired to another mask gives another value.
        using (torch.no_grad()) ((Linear)Child(method, "mask_head")).bias!.fill_(1.5);
        Tensor loss = method.ComputeLoss(batch, NoViews(Higgs, generator));

        // The corruption comes from the step's generator alone: the same seed gives the same rows and mask.
        using var again = new Generator(7);
        (Tensor corrupted, Tensor mask) = VimeMethod.MaskAndSwap(batch, probability, again);
        double[][] logits, reconstruction, labels = Rows(mask), original = Rows(batch), corruptedRows = Rows(corrupted);
        using (torch.no_grad())
        {
            Tensor embedding = encoder.call(corrupted);
            logits = Rows(Child(method, "mask_head").call(embedding));
            reconstruction = Rows(Child(method, "reconstruction_head").call(embedding));
        }
        double masked = labels.Sum(r => r.Sum());
        Assert.InRange(masked, 1, labels.Length * labels[0].Length - 1); // both classes of the mask are present

        // BCE with logits, mean over entries: max(x, 0) - x y + log(1 + exp(-|x|)); MSE, mean over entries.
        static double Bce(double[][] x, double[][] y) => x.SelectMany((r, i) => r.Select((v, j) =>
            Math.Max(v, 0) - v * y[i][j] + Math.Log(1 + Math.Exp(-Math.Abs(v))))).Average();
        static double Mse(double[][] a, double[][] b) => a.SelectMany((r, i) => r.Select((v, j) => Math.Pow(v - b[i][j], 2))).Average();
        double expected = Bce(logits, labels) + alpha * Mse(reconstruction, original);
        AssertClose(expected, loss.ToDouble(), "VIME loss");
        AssertDistinguishes(expected, Bce(reconstruction, labels) + alpha * Mse(logits, original), "the two heads swapped");
        AssertDistinguishes(expected, Bce(logits, labels) + alpha * Mse(reconstruction, corruptedRows), "reconstructing the corrupted rows");
        AssertDistinguishes(expected, Bce(logits, labels.Select(r => r.Select(v => 1 - v).ToArray()).ToArray()) + alpha * Mse(reconstruction, original), "an inverted mask");
        AssertDistinguishes(expected, Bce(logits, labels) + 2.0 * Mse(reconstruction, original), "the default alpha instead of the option");
    }

    // ---------------------------------------------------------------- Masked autoencoder

    [SkippableFact]
    public void MaskedAutoencoderZeroesTheMaskedPatchesAndScoresOnlyThem()
    {
        torch.manual_seed(36);
        var shape = MethodTestData.MnistShape;
        using var encoder = new TinyConvEncoder(shape);
        using var method = new MaskedAutoencoderMethod(encoder, new MaskedAutoencoderOptions { DecoderHiddenSize = 32 });
        Assert.Equal(4, method.PatchSize);
        using var scope = torch.NewDisposeScope();
        const int n = 6;
        Tensor images = MethodTestData.Mnist().narrow(0, 0, n);
        using var generator = new Generator(8);
        Tensor loss = method.ComputeLoss(images, NoViews(shape, generator));

        // The mask is the step generator's first draw: unit l of a row is the 4 x 4 patch at rows 4 (l / 7), columns 4 (l % 7).
        using var again = new Generator(8);
        bool[] mask = method.SampleMask(n, again).data<bool>().ToArray(); // [n, 49]
        static int Unit(int y, int x) => y / 4 * 7 + x / 4;
        double[] pixels = Rows(images).SelectMany(r => r).ToArray();
        double[] input = pixels.Select((v, index) => mask[index / 784 * 49 + Unit(index % 784 / 28, index % 28)] ? 0 : v).ToArray();
        double[] prediction;
        using (torch.no_grad())
        {
            Tensor masked = torch.tensor(input.Select(v => (float)v).ToArray(), new long[] { n, 1, 28, 28 });
            prediction = Rows(Child(method, "decoder").call(encoder.call(masked))).SelectMany(r => r).ToArray();
        }

        // Mean over the chosen units of each unit's mean squared error (16 pixels per unit).
        double Score(Func<int, bool> chosen, double[] target)
        {
            var perUnit = new double[n * 49];
            for (int index = 0; index < pixels.Length; index++)
                perUnit[index / 784 * 49 + Unit(index % 784 / 28, index % 28)] += Math.Pow(prediction[index] - target[index], 2) / 16;
            return Enumerable.Range(0, n * 49).Where(chosen).Average(u => perUnit[u]);
        }
        double expected = Score(u => mask[u], pixels);
        AssertClose(expected, loss.ToDouble(), "masked-autoencoder loss");
        AssertDistinguishes(expected, Score(_ => true, pixels), "a loss over every patch");
        AssertDistinguishes(expected, Score(u => !mask[u], pixels), "a loss over the visible patches");
        AssertDistinguishes(expected, Score(u => mask[u], input), "the masked input as the target");
        Assert.Equal(n * 37, mask.Count(m => m)); // round(0.75 * 49) per row
    }
}
