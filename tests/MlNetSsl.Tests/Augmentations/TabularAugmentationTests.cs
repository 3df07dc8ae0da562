using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static MlNetSsl.Tests.Augmentations.AugmentationTestData;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Augmentations;

/// <summary>What each tabular augmentation specifically does, on standardized HIGGS rows.</summary>
public sealed class TabularAugmentationTests
{
    /// <summary>[n, f] true where the value of <paramref name="output"/> occurs in the same column of <paramref name="source"/>.</summary>
    private static Tensor InSameColumn(Tensor output, Tensor source) => (output.unsqueeze(1) == source.unsqueeze(0)).any(1);

    [SkippableFact]
    public void ScarfReplacesTheCorruptionRateWithValuesFromTheSameBankColumn()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = RealData.Higgs(128, "test").Features;
        Tensor bank = RealData.Higgs(512, "train").Features;
        Tensor output = new ScarfCorruption { CorruptionRate = 0.6 }.Apply(batch, Context(batch, SslInputKind.Tabular, 4, bank));
        Tensor changed = output != batch;
        // round(0.6 x 28) = 17 features per row are redrawn; a few draws hit the row's own value.
        Tensor perRow = changed.sum(1);
        Assert.True(perRow.max().item<long>() <= 17);
        Assert.InRange(changed.to(ScalarType.Float32).mean().item<float>(), 0.5, 0.61);
        Assert.True(InSameColumn(output, bank).masked_select(changed).all().item<bool>(), "a replacement is not from the same bank column");
        // The test rows are not in the training bank, so replacements really come from the bank, not the batch.
        Assert.False(InSameColumn(output, batch).masked_select(changed).all().item<bool>());
    }

    [SkippableFact]
    public void ScarfWithoutABankSamplesTheBatchColumns()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = RealData.Higgs(128, "test").Features;
        Tensor output = new ScarfCorruption { CorruptionRate = 0.3 }.Apply(batch, Context(batch, SslInputKind.Tabular, 4));
        Assert.True(InSameColumn(output, batch).all().item<bool>());
        Assert.InRange((output != batch).to(ScalarType.Float32).mean().item<float>(), 0.2, 0.33);
        Assert.Throws<ArgumentException>(() => new ScarfCorruption().Apply(batch, Context(batch, SslInputKind.Tabular, 4, torch.zeros(5, 3))));
    }

    [SkippableFact]
    public void VimeReturnsItsMaskAndSwapsWithinColumns()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = RealData.Higgs(128, "test").Features;
        var vime = new VimeMaskAndSwap { MaskProbability = 0.3 };
        var (corrupted, mask) = vime.ApplyWithMask(batch, Context(batch, SslInputKind.Tabular, 9));
        Assert.Equal(batch.shape, mask.shape);
        Assert.InRange(mask.mean().item<float>(), 0.25, 0.35);
        Tensor masked = mask > 0.5;
        Assert.True(Same(corrupted.masked_select(~masked), batch.masked_select(~masked)), "an unmasked entry changed");
        Assert.True(InSameColumn(corrupted, batch).all().item<bool>(), "a swapped value is not from the same column");
        Assert.True((corrupted != batch).masked_select(masked).to(ScalarType.Float32).mean().item<float>() > 0.9);
        Assert.True(Same(corrupted, vime.Apply(batch, Context(batch, SslInputKind.Tabular, 9))), "Apply and ApplyWithMask disagree");
    }

    [SkippableFact]
    public void NoiseHasTheRequestedScale()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = RealData.Higgs(128, "test").Features;
        Tensor diff = new GaussianNoise { Sigma = 0.2, Strength = 0.5 }.Apply(batch, Context(batch, SslInputKind.Tabular, 2)) - batch;
        Assert.InRange(diff.std().item<float>(), 0.09, 0.11);
        Assert.InRange(diff.mean().item<float>(), -0.01, 0.01);
    }

    [SkippableFact]
    public void MixupKeepsEachRowDominant()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = RealData.Higgs(128, "test").Features;
        Tensor output = new Mixup { Alpha = 1 }.Apply(batch, Context(batch, SslInputKind.Tabular, 2));
        // Each output row must be (1-w) x_i + w x_j for some other row j and w <= 0.5: find the j whose segment fits best.
        long n = batch.shape[0];
        Tensor offset = (output - batch).unsqueeze(1);                  // [n, 1, f]
        Tensor towards = batch.unsqueeze(0) - batch.unsqueeze(1);        // [n, n, f]: x_j - x_i
        Tensor weight = (offset * towards).sum(2) / towards.pow(2).sum(2).clamp_min(1e-12);
        Tensor residual = (offset - weight.unsqueeze(2) * towards).pow(2).sum(2).sqrt() + torch.eye(n) * 1e6;
        Tensor partner = residual.argmin(1);
        Assert.True(residual.gather(1, partner.unsqueeze(1)).max().item<float>() < 1e-3, "a row is not a blend of itself and another row");
        Tensor w = weight.gather(1, partner.unsqueeze(1));
        Assert.True(w.min().item<float>() >= -1e-4 && w.max().item<float>() <= 0.5 + 1e-4, $"partner weight outside [0, 0.5]: {w.min().item<float>()}..{w.max().item<float>()}");
        Assert.True(MaxDiff(output, batch) > 0.1);
    }
}
