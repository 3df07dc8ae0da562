using TorchSharp;
using Xunit;
using static MlNetSsl.Tests.Augmentations.AugmentationTestData;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Augmentations;

/// <summary>The contract every augmentation keeps, checked on real data for each public augmentation type.</summary>
public sealed class AugmentationContractTests
{
    public static TheoryData<string> AllNames()
    {
        var data = new TheoryData<string>();
        foreach (Type t in AllTypes) data.Add(t.Name);
        return data;
    }

    // Solarize has no randomness by design: the same batch always solarizes the same way.
    private static readonly HashSet<string> Deterministic = ["Solarize"];

    [SkippableFact]
    public void EveryInputKindHasItsAugmentations()
    {
        Assert.Equal(19, AllTypes.Length); // 8 image, 4 tabular, 7 series
        foreach (SslInputKind kind in Enum.GetValues<SslInputKind>())
            Assert.True(AllTypes.Count(t => Create(t.Name).InputKind == kind) >= 4, $"too few {kind} augmentations");
    }

    [SkippableTheory]
    [MemberData(nameof(AllNames))]
    public void KeepsShapeRangeAndInputAndIsSeededAndStrengthScaled(string name)
    {
        using var scope = torch.NewDisposeScope();
        SslInputKind kind = Create(name).InputKind;
        Tensor batch = Batch(kind);
        Tensor original = batch.clone();

        Tensor Run(double strength, ulong seed) => Create(name, strength).Apply(batch, Context(batch, kind, seed));

        Tensor full = Run(1.0, 7);
        Assert.Equal(batch.shape, full.shape);
        Assert.Equal(batch.dtype, full.dtype);
        Assert.Equal(batch.device_type, full.device_type);
        Assert.False(ReferenceEquals(batch, full));
        Assert.True(full.isfinite().all().item<bool>(), "non-finite output");
        Assert.True(Same(batch, original), "the input batch was modified");
        if (kind == SslInputKind.Image)
        {
            Assert.True(full.min().item<float>() >= -1e-6 && full.max().item<float>() <= 1 + 1e-6,
                $"image values left [0, 1]: [{full.min().item<float>()}, {full.max().item<float>()}]");
        }

        Assert.True(MaxDiff(full, batch) > 1e-3, "strength 1 left the batch unchanged");
        Assert.True(Same(full, Run(1.0, 7)), "same seed, different output");
        // At half strength every augmentation draws; moving torch's global generator in between must not matter.
        Tensor halfA = Run(0.5, 7);
        torch.manual_seed(12345);
        torch.rand(10);
        Assert.True(Same(halfA, Run(0.5, 7)), "same seed, different output at strength 0.5: randomness not from context.Generator");
        if (!Deterministic.Contains(name))
            Assert.False(Same(Run(0.5, 7), Run(0.5, 8)), "different seeds, same output");

        double identityError = MaxDiff(Run(0.0, 7), batch);
        Assert.True(identityError <= 1e-6, $"strength 0 changed the batch by {identityError}");

        // Strength is monotone in effect: a half-strength output is closer to the input on average than full strength.
        double half = (Run(0.5, 7) - batch).abs().mean().item<float>();
        double fullMean = (full - batch).abs().mean().item<float>();
        Assert.True(half < fullMean + 1e-6, $"strength 0.5 changed more ({half}) than strength 1 ({fullMean})");
    }

    [SkippableTheory]
    [MemberData(nameof(AllNames))]
    public void RejectsABatchOfTheWrongRank(string name)
    {
        using var scope = torch.NewDisposeScope();
        Augmentation augmentation = Create(name);
        Tensor wrong = augmentation.InputKind == SslInputKind.Tabular ? torch.rand(2, 3, 4) : torch.rand(2, 5);
        var error = Assert.Throws<ArgumentException>(() => augmentation.Apply(wrong, new AugmentationContext(new Generator(1, wrong.device), SslInputShape.Series(1, 5))));
        Assert.Contains(name, error.Message);
    }

    [SkippableFact]
    public void ImageAugmentationsWorkOnGreyMnistAnd64PixelImages()
    {
        using var scope = torch.NewDisposeScope();
        Tensor mnist = Infrastructure.RealData.MnistImages(32).Images;
        Tensor big = nn.functional.interpolate(Infrastructure.RealData.CifarImages(2).Images, size: [64L, 64L], mode: InterpolationMode.Bilinear, align_corners: false).clamp(0, 1);
        foreach (Tensor batch in new[] { mnist, big })
            foreach (Type type in AllTypes.Where(t => Create(t.Name).InputKind == SslInputKind.Image))
            {
                Tensor output = Create(type.Name).Apply(batch, Context(batch, SslInputKind.Image, 3));
                Assert.Equal(batch.shape, output.shape);
                Assert.True(output.isfinite().all().item<bool>(), type.Name);
                Assert.True(output.min().item<float>() >= -1e-6 && output.max().item<float>() <= 1 + 1e-6, type.Name);
            }
    }

    [SkippableFact]
    public void StrengthOutsideZeroToOneIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Jitter { Strength = 1.5 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new ScarfCorruption { CorruptionRate = -0.1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new GaussianBlur { KernelSize = 4 });
    }
}
