using System.Text.Json;
using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static MlNetSsl.Tests.Augmentations.AugmentationTestData;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Augmentations;

/// <summary>Policies: JSON round trips, per-row probabilities, kind checks, and the default policies on real data.</summary>
public sealed class AugmentationPolicyTests
{
    /// <summary>Every augmentation with every parameter away from its default.</summary>
    private static Augmentation[] NonDefault() =>
    [
        new RandomResizedCrop { MinScale = 0.3, MaxScale = 0.9, MinRatio = 0.5, MaxRatio = 2, Strength = 0.9 },
        new HorizontalFlip { Strength = 0.7 },
        new ColorJitter { Brightness = 0.5, Contrast = 0.3, Saturation = 0.6, Hue = 0.05, Strength = 0.8 },
        new RandomGrayscale { Strength = 0.6 },
        new GaussianBlur { SigmaMin = 0.2, SigmaMax = 1.5, KernelSize = 5, Strength = 0.9 },
        new Solarize { Threshold = 0.7, Strength = 0.9 },
        new Rotation { MaxDegrees = 30, Strength = 0.5 },
        new RandomErasing { MinArea = 0.05, MaxArea = 0.2, MinRatio = 0.5, MaxRatio = 2, Value = 0.5, Strength = 0.9 },
        new ScarfCorruption { CorruptionRate = 0.4, Strength = 0.9 },
        new VimeMaskAndSwap { MaskProbability = 0.2, Strength = 0.8 },
        new GaussianNoise { Sigma = 0.3, Strength = 0.7 },
        new Mixup { Alpha = 0.8, Strength = 0.6 },
        new Jitter { Sigma = 0.2, Strength = 0.5 },
        new Scaling { Sigma = 0.3, Strength = 0.5 },
        new MagnitudeWarp { Sigma = 0.3, Knots = 6, Strength = 0.5 },
        new TimeWarp { Sigma = 0.1, Knots = 3, Strength = 0.5 },
        new SegmentPermutation { MaxSegments = 3, Strength = 0.9 },
        new ChannelMasking { MaskProbability = 0.5, Strength = 0.9 },
        new RandomCropResize { MinScale = 0.7, Strength = 0.9 },
    ];

    [SkippableFact]
    public void TheNonDefaultListCoversEveryAugmentation() =>
        Assert.Equal(AllTypes.Select(t => t.Name).Order(), NonDefault().Select(a => a.GetType().Name).Order());

    [SkippableFact]
    public void EveryAugmentationRoundTripsThroughJsonWithItsParametersAndOutputs()
    {
        using var scope = torch.NewDisposeScope();
        foreach (SslInputKind kind in Enum.GetValues<SslInputKind>())
        {
            Augmentation[] augmentations = NonDefault().Where(a => a.InputKind == kind).ToArray();
            var policy = new AugmentationPolicy(augmentations.Select((a, i) => new AugmentationStep(a, i % 2 == 0 ? 1.0 : 0.75)));
            string json = policy.ToJson();
            AugmentationPolicy loaded = AugmentationPolicy.FromJson(json);
            Assert.Equal(json, loaded.ToJson());
            Assert.Equal(augmentations.Select(a => a.GetType()), loaded.Steps.Select(s => s.Augmentation.GetType()));

            // Parameters really travel: each non-default augmentation serializes differently from a default one.
            foreach (Augmentation a in augmentations)
            {
                string mine = new AugmentationPolicy(a).ToJson();
                string plain = new AugmentationPolicy((Augmentation)Activator.CreateInstance(a.GetType())!).ToJson();
                Assert.NotEqual(plain, mine);
            }

            Tensor batch = Batch(kind);
            Tensor expected = policy.Apply(batch, Context(batch, kind, 21));
            Tensor actual = loaded.Apply(batch, Context(batch, kind, 21));
            Assert.True(Same(expected, actual), $"{kind}: the loaded policy gives different outputs");
        }
    }

    [SkippableFact]
    public void JsonNamesTheTypeAndTheProbability()
    {
        string json = new AugmentationPolicy([new AugmentationStep(new Jitter { Sigma = 0.2 }, 0.5)]).ToJson();
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement step = doc.RootElement[0];
        Assert.Equal(0.5, step.GetProperty("probability").GetDouble());
        Assert.Equal("Jitter", step.GetProperty("augmentation").GetProperty("type").GetString());
        Assert.Equal(0.2, step.GetProperty("augmentation").GetProperty("sigma").GetDouble());
    }

    [SkippableTheory]
    [InlineData("not json")]
    [InlineData("{\"probability\": 1}")]
    [InlineData("[{\"probability\": 1, \"augmentation\": {\"type\": \"NoSuchAugmentation\"}}]")]
    [InlineData("[{\"probability\": 2, \"augmentation\": {\"type\": \"Jitter\"}}]")]
    [InlineData("[{\"probability\": 1, \"augmentation\": {\"type\": \"Jitter\", \"sigma\": -1}}]")]
    [InlineData("[{\"probability\": 1, \"augmentation\": {\"type\": \"Jitter\", \"strength\": 3}}]")]
    [InlineData("[{\"probability\": 1}]")]
    [InlineData("null")]
    public void FromJsonRejectsGarbageWithAFormatException(string json) =>
        Assert.Throws<FormatException>(() => AugmentationPolicy.FromJson(json));

    [SkippableFact]
    public void ProbabilityZeroIsIdentityAndHalfAppliesToAboutHalfTheRows()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = RealData.Higgs(400, "test").Features;
        var never = new AugmentationPolicy([new AugmentationStep(new GaussianNoise(), 0)]);
        Assert.True(Same(never.Apply(batch, Context(batch, SslInputKind.Tabular, 1)), batch));

        var half = new AugmentationPolicy([new AugmentationStep(new GaussianNoise(), 0.5)]);
        Tensor output = half.Apply(batch, Context(batch, SslInputKind.Tabular, 1));
        Tensor changed = (output != batch).any(1);
        Tensor unchanged = (output == batch).all(1);
        Assert.True((changed ^ unchanged).all().item<bool>(), "a row was partly augmented");
        Assert.InRange(changed.to(ScalarType.Float32).mean().item<float>(), 0.4, 0.6);
    }

    [SkippableFact]
    public void AWrongKindAugmentationIsNamedInTheError()
    {
        using var scope = torch.NewDisposeScope();
        Tensor images = RealData.CifarImages(1).Images;
        var policy = new AugmentationPolicy(new HorizontalFlip(), new ScarfCorruption());
        var error = Assert.Throws<InvalidOperationException>(() => policy.Apply(images, Context(images, SslInputKind.Image, 1)));
        Assert.Contains("ScarfCorruption", error.Message);
        Assert.Contains("Tabular", error.Message);
    }

    public static TheoryData<SslMethod, SslInputKind> AllPairs()
    {
        var data = new TheoryData<SslMethod, SslInputKind>();
        foreach (SslMethod m in Enum.GetValues<SslMethod>())
            foreach (SslInputKind k in Enum.GetValues<SslInputKind>())
                data.Add(m, k);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(AllPairs))]
    public void DefaultPoliciesRunOnRealBatchesOrSayWhyNot(SslMethod method, SslInputKind kind)
    {
        using var scope = torch.NewDisposeScope();
        if (!DefaultAugmentations.Supports(method, kind))
        {
            Assert.True(method is SslMethod.Scarf or SslMethod.Vime);
            var error = Assert.Throws<ArgumentException>(() => DefaultAugmentations.For(method, kind));
            Assert.Contains(method.ToString(), error.Message);
            return;
        }
        Tensor batch = Batch(kind);
        AugmentationPolicy policy = DefaultAugmentations.For(method, AugmentationTestData.ShapeOf(batch, kind));
        Assert.NotEmpty(policy.Steps);
        Assert.All(policy.Steps, s => Assert.Equal(kind, s.Augmentation.InputKind));
        Tensor view = policy.Apply(batch, Context(batch, kind, 5, kind == SslInputKind.Tabular ? RealData.Higgs(256).Features : null));
        Assert.Equal(batch.shape, view.shape);
        Assert.True(view.isfinite().all().item<bool>());
        Assert.True(MaxDiff(view, batch) > 1e-3, "the default policy did nothing");
        if (kind == SslInputKind.Image)
            Assert.True(view.min().item<float>() >= -1e-6 && view.max().item<float>() <= 1 + 1e-6);
        Assert.Equal(policy.ToJson(), AugmentationPolicy.FromJson(policy.ToJson()).ToJson());
    }

    [SkippableFact]
    public void DefaultImagePoliciesFollowImageSizeAndChannels()
    {
        static string[] Names(AugmentationPolicy p) => p.Steps.Select(s => s.Augmentation.GetType().Name).ToArray();
        var cifar = DefaultAugmentations.For(SslMethod.SimClr, SslInputShape.Image(3, 32, 32));
        Assert.Equal(["RandomResizedCrop", "HorizontalFlip", "ColorJitter", "RandomGrayscale"], Names(cifar));
        Assert.Equal(0.2, ((RandomResizedCrop)cifar.Steps[0].Augmentation).MinScale);
        Assert.DoesNotContain("RandomGrayscale", Names(DefaultAugmentations.For(SslMethod.SimClr, SslInputShape.Image(1, 28, 28))));
        Assert.Contains("GaussianBlur", Names(DefaultAugmentations.For(SslMethod.SimClr, SslInputShape.Image(3, 96, 96))));
        Assert.Contains("Solarize", Names(DefaultAugmentations.For(SslMethod.Byol, SslInputShape.Image(3, 32, 32))));
        Assert.Equal(["RandomResizedCrop", "HorizontalFlip"], Names(DefaultAugmentations.For(SslMethod.MaskedAutoencoder, SslInputKind.Image)));
        Assert.IsType<VimeMaskAndSwap>(DefaultAugmentations.For(SslMethod.Vime, SslInputKind.Tabular).Steps.Single().Augmentation);
        Assert.IsType<ScarfCorruption>(DefaultAugmentations.For(SslMethod.Scarf, SslInputKind.Tabular).Steps.Single().Augmentation);

        // The grey MNIST policy runs.
        using var scope = torch.NewDisposeScope();
        Tensor mnist = RealData.MnistImages(64).Images;
        Tensor view = DefaultAugmentations.For(SslMethod.SimClr, SslInputShape.Image(1, 28, 28)).Apply(mnist, Context(mnist, SslInputKind.Image, 1));
        Assert.Equal(mnist.shape, view.shape);
    }

    /// <summary>The rows a FixMatch step keeps are augmented alone (<see cref="AugmentationPolicy.ApplyToRows"/>), and each
    /// must come out exactly as it would among the whole batch: the same draws, so fine-tuning's arithmetic does not change.</summary>
    [SkippableFact]
    public void AugmentingSomeRowsGivesThoseRowsOfTheWholeBatchExactly()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = RealData.CifarImages(6).Images;
        var shape = ShapeOf(batch, SslInputKind.Image);
        Tensor rows = torch.tensor(new long[] { 3, 7, 8, 20, 41, 59 });
        var policies = NonDefault().Where(a => a.InputKind == SslInputKind.Image).Select(a => new AugmentationPolicy([new AugmentationStep(a, 0.6)]))
            .Append(FineTuneAugmentations.Strong(shape)).Append(FineTuneAugmentations.Weak(shape))
            .Append(DefaultAugmentations.For(SslMethod.SimClr, shape)).ToArray();
        foreach (AugmentationPolicy policy in policies)
        {
            Tensor whole = policy.Apply(batch, Context(batch, SslInputKind.Image, 5)).index_select(0, rows);
            Tensor some = policy.ApplyToRows(batch, rows, Context(batch, SslInputKind.Image, 5));
            Assert.Equal(whole.shape, some.shape);
            Assert.True((whole == some).all().item<bool>(), $"{policy}: rows differ by up to {(whole - some).abs().max().item<float>()}");
            Assert.False((some == batch.index_select(0, rows)).all().item<bool>(), $"{policy} left the rows unchanged");
        }
        Assert.Equal([0L, 3, 32, 32], FineTuneAugmentations.Strong(shape).ApplyToRows(batch, torch.zeros(0, ScalarType.Int64), Context(batch, SslInputKind.Image, 5)).shape);

        // Draws that are not one per row (SCARF samples whole columns) fall back to augmenting every row first.
        Tensor table = RealData.Higgs(64, "test").Features;
        var scarf = new AugmentationPolicy(new ScarfCorruption());
        Tensor tableRows = torch.tensor(new long[] { 0, 5, 63 });
        Assert.True((scarf.Apply(table, Context(table, SslInputKind.Tabular, 2, table)).index_select(0, tableRows)
            == scarf.ApplyToRows(table, tableRows, Context(table, SslInputKind.Tabular, 2, table))).all().item<bool>());
    }
}
