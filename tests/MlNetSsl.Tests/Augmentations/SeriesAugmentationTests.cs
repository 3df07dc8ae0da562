using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static MlNetSsl.Tests.Augmentations.AugmentationTestData;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Augmentations;

/// <summary>What each series augmentation specifically does, on BasicMotions and GunPoint.</summary>
public sealed class SeriesAugmentationTests
{
    private static Tensor Motions() => RealData.BasicMotions().Series;

    private static Tensor TotalVariation(Tensor x) => (x[.., .., 1..] - x[.., .., ..^1]).abs().sum(2);

    [SkippableFact]
    public void SegmentPermutationKeepsEveryValueOfEachRowAndChannel()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Motions();
        Tensor output = new SegmentPermutation { MaxSegments = 4 }.Apply(batch, Context(batch, SslInputKind.Series, 3));
        Assert.True(Same(output.sort(2).Values, batch.sort(2).Values), "the multiset of values changed");
        Assert.True(MaxDiff(output, batch) > 0.1);
        // Segments stay contiguous: at most k-1 new jumps per row, so most neighbouring pairs are original neighbours.
        Tensor series = RealData.Uea("GunPoint").Series; // odd split: 150 steps into 4 segments
        Tensor permuted = new SegmentPermutation { MaxSegments = 4 }.Apply(series, Context(series, SslInputKind.Series, 3));
        Assert.True(Same(permuted.sort(2).Values, series.sort(2).Values));
    }

    [SkippableFact]
    public void ChannelMaskingZeroesWholeChannels()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Motions();
        Tensor output = new ChannelMasking { MaskProbability = 0.5 }.Apply(batch, Context(batch, SslInputKind.Series, 3));
        Tensor zeroed = (output == 0).all(2);
        Tensor kept = (output == batch).all(2);
        Assert.True((zeroed | kept).all().item<bool>(), "a channel was partly masked");
        Assert.InRange(zeroed.to(ScalarType.Float32).mean().item<float>(), 0.35, 0.65);
    }

    [SkippableFact]
    public void TimeWarpIsMonotoneSmoothAndKeepsTheEnds()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Motions();
        Tensor output = new TimeWarp { Sigma = 0.3 }.Apply(batch, Context(batch, SslInputKind.Series, 3));
        Assert.True(MaxDiff(output[.., .., 0], batch[.., .., 0]) < 1e-5 && MaxDiff(output[.., .., ^1], batch[.., .., ^1]) < 1e-4);
        // Resampling a polyline at increasing positions cannot add variation; a non-monotone warp would.
        Assert.True((TotalVariation(output) <= TotalVariation(batch) + 1e-3).all().item<bool>());
        Assert.True(MaxDiff(output, batch) > 0.1);
    }

    [SkippableFact]
    public void MagnitudeWarpMultipliesBySmoothCurves()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Motions();
        Tensor output = new MagnitudeWarp { Sigma = 0.3 }.Apply(batch, Context(batch, SslInputKind.Series, 3));
        Tensor ratio = output / batch;
        Tensor valid = (batch.abs() > 0.2)[.., .., 1..] & (batch.abs() > 0.2)[.., .., ..^1];
        Tensor step = (ratio[.., .., 1..] - ratio[.., .., ..^1]).abs().masked_select(valid);
        Tensor spread = (ratio.masked_select(batch.abs() > 0.2) - 1).abs();
        Assert.True(step.max().item<float>() < 0.1, $"curve jumps by {step.max().item<float>()} in one step");
        Assert.True(spread.mean().item<float>() > 0.05, "curve is flat");
    }

    [SkippableFact]
    public void ScalingUsesOneFactorPerRowAndChannel()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Motions();
        Tensor output = new Scaling { Sigma = 0.2 }.Apply(batch, Context(batch, SslInputKind.Series, 3));
        Tensor factor = (output * batch).sum(2) / batch.pow(2).sum(2);   // least-squares factor per channel
        Assert.True(MaxDiff(output, batch * factor.unsqueeze(2)) < 1e-4);
        Assert.InRange(factor.std().item<float>(), 0.1, 0.3);
    }

    [SkippableFact]
    public void CropResizeStaysWithinTheRowsRangeAndStretchesAWindow()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Motions();
        Tensor output = new RandomCropResize { MinScale = 0.5 }.Apply(batch, Context(batch, SslInputKind.Series, 3));
        Assert.True((output.amax(new long[] { 2 }) <= batch.amax(new long[] { 2 }) + 1e-5).all().item<bool>());
        Assert.True((output.amin(new long[] { 2 }) >= batch.amin(new long[] { 2 }) - 1e-5).all().item<bool>());
        // A window stretched to full length varies less per step than the original.
        Assert.True(TotalVariation(output).sum().item<float>() < TotalVariation(batch).sum().item<float>());
    }

    [SkippableFact]
    public void JitterAddsNoiseOfTheRequestedScale()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Motions();
        Tensor diff = new Jitter { Sigma = 0.05 }.Apply(batch, Context(batch, SslInputKind.Series, 3)) - batch;
        Assert.InRange(diff.std().item<float>(), 0.045, 0.055);
    }

    [SkippableFact]
    public void SeriesAugmentationsWorkOnShortUnivariateSeries()
    {
        using var scope = torch.NewDisposeScope();
        Tensor italy = RealData.Uea("ItalyPowerDemand").Series; // [67, 1, 24]
        foreach (Type type in AllTypes.Where(t => Create(t.Name).InputKind == SslInputKind.Series))
        {
            Tensor output = Create(type.Name).Apply(italy, Context(italy, SslInputKind.Series, 1));
            Assert.Equal(italy.shape, output.shape);
            Assert.True(output.isfinite().all().item<bool>(), type.Name);
        }
    }
}
