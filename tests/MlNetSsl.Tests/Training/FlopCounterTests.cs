using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Training;

/// <summary>FLOP counts of tiny networks against hand computation, and of the engine's encoders and methods.</summary>
public sealed class FlopCounterTests
{
    public FlopCounterTests() => SslEnvironment.EnsureInitialized();

    [SkippableFact]
    public void TinyConvNetForwardMatchesHandCount()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(1);
        using var net = nn.Sequential(
            ("conv_a", nn.Conv2d(3, 4, 3, padding: 1, bias: false)),
            ("relu", nn.ReLU()),
            ("pool", nn.MaxPool2d(2)),
            ("conv_b", nn.Conv2d(4, 8, 3, stride: 2, padding: 1)),
            ("conv_grouped", nn.Conv2d(8, 8, 3, padding: 1, groups: 4)),
            ("gap", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(8, 5)));

        FlopCount count = FlopCounter.Forward(net, torch.rand(2, 3, 8, 8));

        // conv_a: output [2, 4, 8, 8] = 512 values, each 3 x 3 x 3 = 27 multiply-adds.
        // pool halves to 4x4; conv_b (stride 2, padding 1): output [2, 8, 2, 2] = 64 values, each 4 x 9 = 36.
        // conv_grouped (4 groups of 2 channels): output [2, 8, 2, 2] = 64 values, each 2 x 9 = 18.
        // fc: 2 rows x 5 outputs, each 8 multiply-adds. One multiply-add is 2 FLOPs.
        double[] expected = [2.0 * 512 * 27, 2.0 * 64 * 36, 2.0 * 64 * 18, 2.0 * 2 * 5 * 8];
        Assert.Equal(["conv_a", "conv_b", "conv_grouped", "fc"], count.Layers.Select(l => l.Name));
        Assert.Equal(expected, count.Layers.Select(l => l.ForwardFlops));
        Assert.Equal(expected.Sum(), count.ForwardFlops);
        Assert.Equal(0, count.BackwardFlops); // Forward runs without gradients.
        Assert.Empty(count.UncountedLayers);
    }

    [SkippableFact]
    public void Conv1dForwardMatchesHandCount()
    {
        using var scope = torch.NewDisposeScope();
        using var conv = nn.Conv1d(2, 3, 5, padding: 2);
        // Output [1, 3, 10] = 30 values, each 2 x 5 = 10 multiply-adds.
        Assert.Equal(2.0 * 30 * 10, FlopCounter.Forward(conv, torch.rand(1, 2, 10)).ForwardFlops);
    }

    [SkippableFact]
    public void MlpTrainingCountsWeightAndInputGradients()
    {
        using var scope = torch.NewDisposeScope();
        using var mlp = nn.Sequential(("first", nn.Linear(10, 16)), ("relu", nn.ReLU()), ("second", nn.Linear(16, 4)));
        Tensor input = torch.rand(3, 10);

        FlopCount count = FlopCounter.Measure(mlp, () => mlp.call(input).sum());

        // Forward: 3 rows x 16 x 10 and 3 rows x 4 x 16 multiply-adds.
        const double first = 2.0 * 3 * 16 * 10, second = 2.0 * 3 * 4 * 16;
        Assert.Equal(first + second, count.ForwardFlops);
        // Backward: the first layer needs only its weight gradient (the data has no gradient); the second needs its
        // weight gradient and the gradient of its input: 2x its forward.
        Assert.Equal([first, 2 * second], count.Layers.Select(l => l.BackwardFlops));
        Assert.Equal(3 * (first + second) - first, count.TotalFlops);

        // A frozen first layer has no backward, and then nothing upstream of the second layer needs a gradient.
        foreach (Parameter p in mlp.named_children().First().Item2.parameters()) p.requires_grad = false;
        FlopCount frozen = FlopCounter.Measure(mlp, () => mlp.call(input).sum());
        Assert.Equal([0, second], frozen.Layers.Select(l => l.BackwardFlops));
    }

    [SkippableFact]
    public void LayersRunWithForwardInsteadOfCallAreReportedAsUncounted()
    {
        using var scope = torch.NewDisposeScope();
        using var module = new DirectForward();
        FlopCount count = FlopCounter.Forward(module, torch.rand(2, 4));
        Assert.Equal(["counted"], count.Layers.Select(l => l.Name));
        Assert.Equal(["hidden"], count.UncountedLayers);
    }

    [SkippableFact]
    public void ConvNetEncoderCountMatchesItsArchitecture()
    {
        using var scope = torch.NewDisposeScope();
        using var encoder = new ConvNetEncoder(SslInputShape.Image(3, 32, 32));
        FlopCount count = FlopCounter.Forward(encoder, torch.rand(4, 3, 32, 32));
        // conv3x3 blocks of 32, 64, 128, 256 channels at 32, 16, 8 and 4 pixels a side (2x2 max-pool between blocks).
        double perImage = 2.0 * (32 * 32 * 32 * (3 * 9) + 16 * 16 * 64 * (32 * 9) + 8 * 8 * 128 * (64 * 9) + 4 * 4 * 256 * (128 * 9));
        Assert.Equal(4 * perImage, count.ForwardFlops);
        Assert.Empty(count.UncountedLayers);
    }

    public static TheoryData<EncoderKind, string> Encoders => new()
    {
        { EncoderKind.ConvNet, "image" }, { EncoderKind.ResNet, "image" }, { EncoderKind.Mlp, "tabular" },
        { EncoderKind.ResMlp, "tabular" }, { EncoderKind.Conv1d, "series" }, { EncoderKind.Conv1d, "series12" },
    };

    [SkippableTheory]
    [MemberData(nameof(Encoders))]
    public void EveryEncoderLayerIsCounted(EncoderKind kind, string input)
    {
        using var scope = torch.NewDisposeScope();
        SslInputShape shape = input switch
        {
            "image" => SslInputShape.Image(3, 16, 16),
            "tabular" => SslInputShape.Tabular(12),
            // 12 channels: the first convolution runs on padded input without its own call (Conv1dEncoder).
            "series12" => SslInputShape.Series(12, 20),
            _ => SslInputShape.Series(3, 20),
        };
        // A non-default embedding size adds the final Linear layer, which must be counted too.
        using SslEncoder encoder = EncoderFactory.Create(shape, new EncoderOptions { Kind = kind, Depth = kind == EncoderKind.ResNet ? 10 : 0, EmbeddingSize = 48 });
        FlopCount count = FlopCounter.Forward(encoder, torch.rand(shape.BatchShape(2)));
        Assert.Empty(count.UncountedLayers);
        int layers = encoder.named_modules().Count(m => m.Item2 is Conv1d or Conv2d or Linear);
        Assert.Equal(layers, count.Layers.Count);
        Assert.True(count.ForwardFlops > 0);
        if (input == "series12")
            Assert.Equal(2.0 * 2 * 64 * 12 * 7 * 20, count.Layers.Single(l => l.Name.EndsWith("conv0", StringComparison.Ordinal)).ForwardFlops);
    }

    [SkippableFact]
    public void TrainingStepCountsBothViewsAndTargetForwardsAndLeavesBuffersAlone()
    {
        using var scope = torch.NewDisposeScope();
        var shape = SslInputShape.Image(3, 16, 16);
        Tensor batch = torch.rand(shape.BatchShape(8));
        using var generator = new Generator(5);
        var views = new ViewGenerator(DefaultAugmentations.For(SslMethod.Byol, shape), new AugmentationContext(generator, shape));
        torch.manual_seed(2);
        using var encoder = new ConvNetEncoder(shape);
        double encoderForward = FlopCounter.Forward(encoder, batch).ForwardFlops;

        using ISslMethod byol = SslMethodFactory.Create(SslMethod.Byol, encoder);
        Tensor runningMean = encoder.named_buffers().First(b => b.Item1.EndsWith("running_mean", StringComparison.Ordinal)).Item2;
        Tensor before = runningMean.clone();
        FlopCount step = FlopCounter.TrainingStep(byol, batch, views);

        Assert.Empty(step.UncountedLayers);
        // The encoder runs four times: two online views with gradients and two target views without.
        LayerFlops firstConv = step.Layers.Single(l => l.Name == "encoder.features.conv0");
        Assert.Equal(4, firstConv.Calls);
        double encoderPart = step.Layers.Where(l => l.Name.StartsWith("encoder.", StringComparison.Ordinal)).Sum(l => l.ForwardFlops);
        Assert.Equal(4 * encoderForward, encoderPart, 1e-9 * encoderPart);
        // Only the two online forwards have a backward: at most 2x their forward each.
        double encoderBackward = step.Layers.Where(l => l.Name.StartsWith("encoder.", StringComparison.Ordinal)).Sum(l => l.BackwardFlops);
        Assert.InRange(encoderBackward, 2 * encoderForward, 4 * encoderForward);
        Assert.Equal(2.0 * firstConv.ForwardFlops / 4, firstConv.BackwardFlops); // weight gradient only, for two views
        Assert.True(before.allclose(runningMean, rtol: 0, atol: 0), "TrainingStep changed BatchNorm statistics");
    }

    /// <summary>Runs one layer through <c>call</c> and one through <c>forward</c> (which hooks cannot see).</summary>
    private sealed class DirectForward : nn.Module<Tensor, Tensor>
    {
        private readonly Linear counted = nn.Linear(4, 4);
        private readonly Linear hidden = nn.Linear(4, 2);

        public DirectForward() : base(nameof(DirectForward)) => RegisterComponents();

        public override Tensor forward(Tensor input) => hidden.forward(counted.call(input));
    }
}
