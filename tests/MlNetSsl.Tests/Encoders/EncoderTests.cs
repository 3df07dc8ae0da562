using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Encoders;

/// <summary>Every encoder on real inputs of every supported size: shapes, BatchNorm modes, gradients, sizes.</summary>
public sealed class EncoderTests(ITestOutputHelper output)
{
    /// <summary>Encoder kind, depth, input name, embedding size (0 = default).</summary>
    public static TheoryData<EncoderKind, int, string, int> Cases() => new()
    {
        { EncoderKind.ConvNet, 0, "mnist28", 0 },
        { EncoderKind.ConvNet, 0, "cifar32", 0 },
        { EncoderKind.ConvNet, 0, "cifar64", 96 },
        { EncoderKind.ResNet, 10, "mnist28", 0 },
        { EncoderKind.ResNet, 18, "cifar32", 128 },
        { EncoderKind.ResNet, 10, "cifar64", 0 },
        { EncoderKind.Mlp, 0, "higgs", 0 },
        { EncoderKind.Mlp, 3, "higgs", 64 },
        { EncoderKind.ResMlp, 0, "higgs", 0 },
        { EncoderKind.ResMlp, 2, "higgs", 32 },
        { EncoderKind.Conv1d, 0, "motions", 0 },
        { EncoderKind.Conv1d, 0, "italy24", 64 },
        { EncoderKind.Conv1d, 2, "gunpoint150", 0 },
    };

    internal static (Tensor Batch, SslInputShape Shape) Input(string name) => name switch
    {
        "mnist28" => (RealData.MnistImages(8).Images, SslInputShape.Image(1, 28, 28)),
        "cifar32" => (RealData.CifarImages(1).Images, SslInputShape.Image(3, 32, 32)),
        "cifar64" => (nn.functional.interpolate(RealData.CifarImages(1).Images[..6], size: [64L, 64L], mode: InterpolationMode.Bilinear, align_corners: false),
            SslInputShape.Image(3, 64, 64)),
        "higgs" => (RealData.Higgs(32).Features, SslInputShape.Tabular(28)),
        "motions" => (RealData.BasicMotions().Series[..16], SslInputShape.Series(6, 100)),
        "italy24" => (RealData.Uea("ItalyPowerDemand").Series[..16], SslInputShape.Series(1, 24)),
        "gunpoint150" => (RealData.Uea("GunPoint").Series[..16], SslInputShape.Series(1, 150)),
        _ => throw new ArgumentException(name),
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void EmbedsRealInputsWithWorkingBatchNormAndGradients(EncoderKind kind, int depth, string input, int embeddingSize)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(1);
        var (batch, shape) = Input(input);
        Assert.Equal(shape.BatchShape(batch.shape[0]), batch.shape);
        using SslEncoder encoder = EncoderFactory.Create(shape, new EncoderOptions { Kind = kind, Depth = depth, EmbeddingSize = embeddingSize });
        Assert.Equal(kind, encoder.Kind);
        Assert.Equal(shape, encoder.InputShape);
        if (embeddingSize > 0) Assert.Equal(embeddingSize, encoder.EmbeddingSize);

        // Training mode: shape, finite values, and a gradient all the way to the first layer.
        encoder.train();
        Tensor trainOut = encoder.forward(batch);
        Assert.Equal(new[] { batch.shape[0], (long)encoder.EmbeddingSize }, trainOut.shape);
        Assert.True(trainOut.isfinite().all().item<bool>(), "non-finite embedding");
        Assert.True(trainOut.std().item<float>() > 1e-4, "embeddings are constant");
        trainOut.pow(2).mean().backward();
        var first = encoder.parameters().First();
        Assert.NotNull(first.grad);
        Assert.True(first.grad!.abs().sum().item<float>() > 0, "no gradient reaches the first layer");
        Assert.True(encoder.parameters().All(p => p.grad is not null), "some parameter got no gradient");

        // Eval mode uses running statistics: different from batch statistics, deterministic, and row-independent.
        encoder.eval();
        using (torch.no_grad())
        {
            Tensor evalOut = encoder.forward(batch);
            double trainVsEval = Close.RelativeDifference(evalOut, trainOut.detach());
            Assert.True(trainVsEval > 10 * Close.AcrossKernels, $"train and eval modes agree ({trainVsEval:G3}): BatchNorm is not batch-dependent in training");
            Assert.True((evalOut == encoder.forward(batch)).all().item<bool>(), "eval mode is not deterministic");
            // Row independence at a fixed batch size: row 2 among other rows (the rest halved) is the same vector.
            // The batch shape, hence libtorch's kernel choice, is the same in both, so this does not depend on the
            // host. (A batch of 1 takes other kernels than a batch of N: on an AVX-512 host ResNet-18's batched float32
            // path is several percent away from float64 while the single row is not, so comparing the two measures
            // the host's kernels, not this encoder.)
            Tensor mixed = Mixed(batch);
            double inMixed = Close.RelativeDifference(encoder.forward(mixed)[2..3], evalOut[2..3]);
            output.WriteLine($"eval: row 2 among other rows vs in the batch: {inMixed:G3} of its norm");
            Assert.True(inMixed <= Close.AcrossKernels, $"row 2 depends on the other rows of its batch in eval mode: {inMixed:G3} of its norm");
        }

        // The check sees a row that depends on its batch: with batch statistics (training mode), the same mix moves row 2.
        encoder.train();
        using (torch.no_grad())
        {
            double batchDependent = Close.RelativeDifference(encoder.forward(Mixed(batch))[2..3], encoder.forward(batch)[2..3]);
            output.WriteLine($"train: row 2 among other rows vs in the batch: {batchDependent:G3} of its norm");
            Assert.True(batchDependent > 10 * Close.AcrossKernels, $"batch statistics moved row 2 by only {batchDependent:G3} of its norm");
        }
    }

    /// <summary>The batch with every row but row 2 halved: other batch statistics, row 2 unchanged.</summary>
    private static Tensor Mixed(Tensor batch)
    {
        Tensor mixed = batch * 0.5;
        mixed[2] = batch[2];
        return mixed;
    }

    [SkippableTheory]
    [InlineData(EncoderKind.ConvNet, 0, 350_000, 450_000)]       // 3x3 convs 3-32-64-128-256 with BatchNorm
    [InlineData(EncoderKind.ResNet, 18, 11_000_000, 11_300_000)] // CIFAR ResNet-18 is 11.17M
    [InlineData(EncoderKind.ResNet, 10, 4_800_000, 5_000_000)]
    public void ImageEncodersHaveTheExpectedSize(EncoderKind kind, int depth, long min, long max)
    {
        using SslEncoder encoder = EncoderFactory.Create(SslInputShape.Image(3, 32, 32), new EncoderOptions { Kind = kind, Depth = depth });
        long count = encoder.parameters().Sum(p => p.numel());
        Assert.InRange(count, min, max);
    }

    [SkippableFact]
    public void WidthHiddenSizeAndDepthChangeTheSize()
    {
        static long Count(SslInputShape shape, EncoderOptions options)
        {
            using SslEncoder e = EncoderFactory.Create(shape, options);
            return e.parameters().Sum(p => p.numel());
        }
        var image = SslInputShape.Image(3, 32, 32);
        long narrow = Count(image, new EncoderOptions { WidthMultiplier = 0.5 });
        long wide = Count(image, new EncoderOptions());
        Assert.InRange((double)wide / narrow, 3.5, 4.5); // conv weights scale with width squared
        var tabular = SslInputShape.Tabular(28);
        Assert.Equal(28 * 256 + 256 * 256 + 2 * 2 * 256, Count(tabular, new EncoderOptions())); // two bias-free Linear + BN layers
        Assert.True(Count(tabular, new EncoderOptions { Depth = 4 }) > Count(tabular, new EncoderOptions()));
        long conv1d = Count(SslInputShape.Series(6, 100), new EncoderOptions());
        Assert.Equal(6 * 64 * 7 + 64 * 128 * 5 + 128 * 128 * 3 + 2 * (64 + 128 + 128), conv1d);
        using SslEncoder defaultImage = EncoderFactory.Create(image);
        Assert.Equal(256, defaultImage.EmbeddingSize);
        Assert.Equal(EncoderKind.ConvNet, defaultImage.Kind);
    }

    [SkippableTheory]
    [InlineData(SslInputKind.Image, EncoderKind.ConvNet)]
    [InlineData(SslInputKind.Tabular, EncoderKind.Mlp)]
    [InlineData(SslInputKind.Series, EncoderKind.Conv1d)]
    public void AutoPicksTheCompactEncoderForTheInputKind(SslInputKind kind, EncoderKind expected)
    {
        SslInputShape shape = kind switch
        {
            SslInputKind.Image => SslInputShape.Image(1, 28, 28),
            SslInputKind.Tabular => SslInputShape.Tabular(11),
            _ => SslInputShape.Series(3, 50),
        };
        using SslEncoder encoder = EncoderFactory.Create(shape, new EncoderOptions());
        Assert.Equal(expected, encoder.Kind);
    }

    [SkippableFact]
    public void InvalidOptionsNameTheOptionAndTheAllowedValues()
    {
        var image = SslInputShape.Image(3, 32, 32);
        var depth = Assert.Throws<ArgumentException>(() => EncoderFactory.Create(image, new EncoderOptions { Kind = EncoderKind.ResNet, Depth = 34 }));
        Assert.Equal("Depth", depth.ParamName);
        Assert.Contains("10 or 18", depth.Message);

        var mlpOnImage = Assert.Throws<ArgumentException>(() => EncoderFactory.Create(image, new EncoderOptions { Kind = EncoderKind.Mlp }));
        Assert.Equal("Kind", mlpOnImage.ParamName);
        Assert.Contains("ConvNet or ResNet", mlpOnImage.Message);
        Assert.Contains("Mlp", mlpOnImage.Message);

        var convOnTable = Assert.Throws<ArgumentException>(() => EncoderFactory.Create(SslInputShape.Tabular(4), new EncoderOptions { Kind = EncoderKind.Conv1d }));
        Assert.Contains("Mlp or ResMlp", convOnTable.Message);

        Assert.Equal("WidthMultiplier", Assert.Throws<ArgumentException>(() => EncoderFactory.Create(image, new EncoderOptions { WidthMultiplier = 0 })).ParamName);
        Assert.Equal("EmbeddingSize", Assert.Throws<ArgumentException>(() => EncoderFactory.Create(image, new EncoderOptions { EmbeddingSize = -1 })).ParamName);
        Assert.Equal("HiddenSize", Assert.Throws<ArgumentException>(() => EncoderFactory.Create(SslInputShape.Tabular(4), new EncoderOptions { HiddenSize = 0 })).ParamName);
    }

    [SkippableFact]
    public void WrongInputShapeFailsWithAReadableMessage()
    {
        using var scope = torch.NewDisposeScope();
        using SslEncoder encoder = EncoderFactory.Create(SslInputShape.Image(3, 32, 32));
        var error = Assert.Throws<ArgumentException>(() => encoder.forward(torch.zeros(2, 1, 32, 32)));
        Assert.Contains("[N, 3, H, W]", error.Message);
        using SslEncoder mlp = EncoderFactory.Create(SslInputShape.Tabular(28));
        Assert.Contains("[N, 28]", Assert.Throws<ArgumentException>(() => mlp.forward(torch.zeros(2, 27))).Message);
    }

    /// <summary>
    /// Batched image embeddings agree with a float64 reference. On an AMD EPYC host, oneDNN's AVX-512 kernels put a
    /// batch of 10 through ResNet-18 6.4% of the norm away from it (one row: 3e-7); the library holds oneDNN to AVX2 on
    /// AMD (SslEnvironment.OneDnnIsaFor), where the batch agrees within 4e-7. Fails on such a host if that setting is lost,
    /// and on an Intel host if its AVX-512 kernels, which the library lets oneDNN use there, stop agreeing.
    /// </summary>
    [SkippableTheory]
    [InlineData(EncoderKind.ResNet, 18)]
    [InlineData(EncoderKind.ConvNet, 0)]
    public void BatchedImageEmbeddingsMatchAFloat64Reference(EncoderKind kind, int depth)
    {
        SslEnvironment.EnsureInitialized();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(1);
        Tensor batch = RealData.CifarImages(1).Images;
        using SslEncoder encoder = EncoderFactory.Create(SslInputShape.Image(3, 32, 32), new EncoderOptions { Kind = kind, Depth = depth, EmbeddingSize = 128 });
        encoder.eval();
        using var noGrad = torch.no_grad();
        Tensor single = encoder.forward(batch);
        encoder.to(ScalarType.Float64);
        Tensor reference = encoder.forward(batch.to(ScalarType.Float64));
        double relative = ((single.to(ScalarType.Float64) - reference).norm() / reference.norm()).item<double>();
        Assert.True(relative < 1e-4, $"{kind}: batch of {batch.shape[0]} is {relative:E2} of the norm away from float64");
    }

    /// <summary>
    /// Width multipliers sampled by AutoML (0.79, 1.33, 1.55) once gave odd channel counts (51, 85, 101) on which
    /// libtorch's CPU convolution sometimes returned NaN from finite inputs (a plain Conv1d 51 -> 101: 31 of 300
    /// forwards). Channels are now multiples of 8, and repeated forwards over memory left holding -inf stay finite.
    /// </summary>
    [SkippableTheory]
    [InlineData(0.7915)]
    [InlineData(1.33)]
    [InlineData(1.5483)]
    public void ConvolutionsWithScaledWidthsStayFinite(double width)
    {
        SslEnvironment.EnsureInitialized();
        torch.manual_seed(3);
        var options = new EncoderOptions { Kind = EncoderKind.Conv1d, WidthMultiplier = width };
        using SslEncoder encoder = EncoderFactory.Create(SslInputShape.Series(6, 100), options);
        Assert.All(encoder.modules().OfType<TorchSharp.Modules.Conv1d>(), conv => Assert.Equal(0, conv.weight!.shape[0] % 8));
        encoder.eval();
        int nonFinite = 0;
        for (int i = 0; i < 200; i++)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            Tensor output = encoder.forward(torch.randn(40, 6, 100) * 3);
            if (!output.isfinite().all().item<bool>()) nonFinite++;
            torch.full(new long[] { 40, 128, 100 }, float.NegativeInfinity); // freed memory holding -inf, as loss masks leave it
        }
        Assert.Equal(0, nonFinite);
    }
    /// <summary>
    /// libtorch's oneDNN convolution keeps an input of more than 8 channels in blocks of 8 (16 with AVX-512 kernels) and
    /// read the padding of a partly filled block uninitialized: on 12-channel series (JapaneseVowels) whole output
    /// channels came out NaN once freed memory held a NaN (74 of 200 training forwards; 9 channels 41, 20 channels 149,
    /// 24 channels 183 with AVX-512 kernels). The encoder now pads the first convolution's input to a multiple of 16.
    /// </summary>
    [SkippableTheory]
    [InlineData(9)]
    [InlineData(12)]
    [InlineData(20)]
    [InlineData(24)]
    public void SeriesWhoseChannelsFillNoWholeBlockStayFiniteInTraining(int channels)
    {
        SslEnvironment.EnsureInitialized();
        torch.manual_seed(5);
        using SslEncoder encoder = EncoderFactory.Create(SslInputShape.Series(channels, 15));
        encoder.train();
        int nonFinite = 0;
        for (int i = 0; i < 100; i++)
        {
            using var scope = torch.NewDisposeScope();
            // Freed native memory holding NaN, for the convolution's buffers to pick up.
            for (int k = 1; k <= 8; k++) torch.full(new long[] { 256L * 16 * 15 * k / 4 }, float.NaN).Dispose();
            Tensor output = encoder.forward(torch.randn(256, channels, 15));
            if (!output.isfinite().all().item<bool>()) nonFinite++;
            output.sum().backward();
        }
        Assert.Equal(0, nonFinite);
        Assert.All(encoder.parameters(), p => Assert.True(p.grad is null || p.grad.isfinite().all().item<bool>()));
    }

    /// <summary>
    /// Hidden layers of scaled widths (24, 40: multiples of 8, not of 16) fill no whole 16-channel AVX-512 block. On an
    /// AMD host, oneDNN's AVX-512 kernels read such a block's padding uninitialized (NaN in 183 of 200 forwards at 24
    /// channels), which is one reason the library holds AMD to AVX2; it lets Intel hosts use AVX-512, where this held.
    /// Fails if the kernels the process runs with return NaN from finite inputs after freed memory held NaN.
    /// </summary>
    [SkippableTheory]
    [InlineData(1, 24)]
    [InlineData(1, 40)]
    [InlineData(2, 24)]
    public void ConvolutionsOverPartlyFilledAvx512BlocksStayFiniteInTraining(int dimensions, int channels)
    {
        SslEnvironment.EnsureInitialized();
        torch.manual_seed(5);
        using nn.Module<Tensor, Tensor> convolution = dimensions == 1
            ? nn.Conv1d(channels, 32, 3, padding: 1)
            : nn.Conv2d(channels, 32, 3, padding: 1);
        convolution.train();
        int nonFinite = 0;
        for (int i = 0; i < 100; i++)
        {
            using var scope = torch.NewDisposeScope();
            for (int k = 1; k <= 8; k++) torch.full(new long[] { 256L * 16 * 15 * k / 4 }, float.NaN).Dispose();
            Tensor input = dimensions == 1 ? torch.randn(256, channels, 15) : torch.randn(64, channels, 12, 12);
            Tensor output = convolution.forward(input);
            if (!output.isfinite().all().item<bool>()) nonFinite++;
            output.sum().backward();
        }
        Assert.Equal(0, nonFinite);
    }

    /// <summary>The padded first convolution computes what the unpadded one does: a 16-channel encoder with the same
    /// weights (zero for the 4 extra channels) on the input with 4 zero channels gives the same embeddings and gradients.</summary>
    [SkippableFact]
    public void PaddingTheFirstConvolutionChangesNeitherEmbeddingsNorGradients()
    {
        SslEnvironment.EnsureInitialized();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(7);
        using SslEncoder twelve = EncoderFactory.Create(SslInputShape.Series(12, 15));
        using SslEncoder sixteen = EncoderFactory.Create(SslInputShape.Series(16, 15));
        var target = sixteen.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in twelve.named_parameters())
            {
                if (parameter.shape.SequenceEqual(target[name].shape)) target[name].copy_(parameter);
                else target[name].zero_().narrow(1, 0, 12).copy_(parameter);
            }
        }
        Tensor input = torch.randn(64, 12, 15);
        Tensor padded = torch.cat([input, torch.zeros(64, 4, 15)], 1);
        Tensor small = twelve.forward(input), large = sixteen.forward(padded);
        double relative = ((small - large).norm() / large.norm()).item<float>();
        Assert.True(relative < 1e-5, $"embeddings {relative:E2} apart");
        small.pow(2).sum().backward();
        large.pow(2).sum().backward();
        foreach (var (name, parameter) in twelve.named_parameters())
        {
            Tensor expected = target[name].grad!;
            if (!parameter.shape.SequenceEqual(expected.shape)) expected = expected.narrow(1, 0, 12);
            double gradient = ((parameter.grad! - expected).norm() / expected.norm()).item<float>();
            Assert.True(gradient < 1e-4, $"{name}: gradient {gradient:E2} apart");
        }
    }
}
