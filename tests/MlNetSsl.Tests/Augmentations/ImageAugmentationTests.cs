using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static MlNetSsl.Tests.Augmentations.AugmentationTestData;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Augmentations;

/// <summary>What each image augmentation specifically does, on CIFAR-10 images.</summary>
public sealed class ImageAugmentationTests
{
    private static Tensor Cifar() => RealData.CifarImages(6).Images;

    [SkippableFact]
    public void FlipMirrorsExactlyTheRowsItFlips()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Cifar();
        Tensor output = new HorizontalFlip { Strength = 0.5 }.Apply(batch, Context(batch, SslInputKind.Image, 11));
        Tensor mirrored = (output == batch.flip(3)).flatten(1).all(1);
        Tensor unchanged = (output == batch).flatten(1).all(1);
        Assert.True((mirrored | unchanged).all().item<bool>(), "a row is neither the original nor its exact mirror");
        long flipped = (mirrored & ~unchanged).sum().item<long>();
        Assert.InRange(flipped, 15, 45); // about half of 60
    }

    [SkippableFact]
    public void GrayscaleRowsHaveEqualChannelsAndKeepLuma()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Cifar();
        Tensor output = new RandomGrayscale().Apply(batch, Context(batch, SslInputKind.Image, 1));
        Assert.True(MaxDiff(output[.., 0], output[.., 1]) < 1e-6 && MaxDiff(output[.., 1], output[.., 2]) < 1e-6);
        Tensor luma = batch[.., 0] * 0.299 + batch[.., 1] * 0.587 + batch[.., 2] * 0.114;
        Assert.True(MaxDiff(output[.., 0], luma) < 1e-5);
    }

    [SkippableFact]
    public void SolarizeInvertsExactlyThePixelsAboveTheThreshold()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Cifar();
        Tensor output = new Solarize { Threshold = 0.6 }.Apply(batch, Context(batch, SslInputKind.Image, 1));
        Tensor expected = torch.where(batch > 0.6, 1 - batch, batch);
        Assert.True(Same(output, expected));
    }

    [SkippableFact]
    public void BlurRemovesFineDetailAndKeepsTheMean()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Cifar();
        Tensor output = new GaussianBlur { SigmaMin = 1, SigmaMax = 1.5, KernelSize = 5 }.Apply(batch, Context(batch, SslInputKind.Image, 1));
        static double Detail(Tensor x) => (x[.., .., .., 1..] - x[.., .., .., ..^1]).abs().mean().item<float>();
        Assert.True(Detail(output) < 0.7 * Detail(batch), $"detail {Detail(output)} vs {Detail(batch)}");
        Assert.True(Math.Abs(output.mean().item<float>() - batch.mean().item<float>()) < 0.01);
    }

    [SkippableFact]
    public void CropZoomsIn()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Cifar();
        Tensor output = new RandomResizedCrop { MinScale = 0.25, MaxScale = 0.25 }.Apply(batch, Context(batch, SslInputKind.Image, 1));
        // A quarter-area crop resized to full size doubles every distance: neighbouring pixels become more alike.
        static double Detail(Tensor x) => (x[.., .., .., 1..] - x[.., .., .., ..^1]).abs().mean().item<float>();
        Assert.True(Detail(output) < 0.8 * Detail(batch));
    }

    [SkippableFact]
    public void ErasingFillsOneRectangleWithTheValue()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Cifar().clamp(0.01, 1); // no natural zeros, so erased pixels are recognizable
        Tensor output = new RandomErasing { MinArea = 0.1, MaxArea = 0.2 }.Apply(batch, Context(batch, SslInputKind.Image, 5));
        Tensor erased = (output == 0).all(1);                 // [N, H, W]
        Tensor fraction = erased.flatten(1).to(ScalarType.Float32).mean(new long[] { 1 });
        Assert.True(fraction.min().item<float>() > 0.05 && fraction.max().item<float>() < 0.25, $"erased fraction {fraction.min().item<float>()}..{fraction.max().item<float>()}");
        // The erased set is a rectangle: its area equals (rows touched) x (columns touched).
        Tensor rows = erased.any(2).sum(1), cols = erased.any(1).sum(1);
        Assert.True(Same(rows * cols, erased.flatten(1).sum(1)));
        Assert.True(Same(output.masked_select(~erased.unsqueeze(1).expand_as(batch)), batch.masked_select(~erased.unsqueeze(1).expand_as(batch))));
    }

    [SkippableFact]
    public void RotationTurnsAboutTheCentreAndBlackensTheCorners()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Cifar().clamp(0.01, 1);
        Tensor output = new Rotation { MaxDegrees = 45 }.Apply(batch, Context(batch, SslInputKind.Image, 2));
        Tensor black = (output == 0).all(1).flatten(1).to(ScalarType.Float32).mean(new long[] { 1 });
        Assert.True(black.mean().item<float>() > 0.05, "no uncovered corners after rotations up to 45 degrees");
        Assert.True(black.max().item<float>() < 0.35);
        // The centre stays put whatever the angle.
        Assert.True((output[.., .., 15..17, 15..17] - batch[.., .., 15..17, 15..17]).abs().mean().item<float>() < 0.05);
        Assert.True((output - batch).abs().mean().item<float>() > 0.05);
    }

    [SkippableFact]
    public void ColorJitterOnGreyImagesOnlyChangesBrightnessAndContrast()
    {
        using var scope = torch.NewDisposeScope();
        Tensor mnist = RealData.MnistImages(32).Images;
        Tensor output = new ColorJitter { Brightness = 0, Contrast = 0, Saturation = 1, Hue = 0.5 }.Apply(mnist, Context(mnist, SslInputKind.Image, 1));
        Assert.True(Same(output, mnist), "saturation or hue touched a grey image");
        Tensor jittered = new ColorJitter { Brightness = 0.8 }.Apply(mnist, Context(mnist, SslInputKind.Image, 1));
        Assert.True(MaxDiff(jittered, mnist) > 0.05);
    }

    [SkippableFact]
    public void HueRotationKeepsLumaAndChangesColour()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = Cifar();
        Tensor output = new ColorJitter { Brightness = 0, Contrast = 0, Saturation = 0, Hue = 0.5 }.Apply(batch, Context(batch, SslInputKind.Image, 3));
        Tensor Luma(Tensor x) => x[.., 0] * 0.299 + x[.., 1] * 0.587 + x[.., 2] * 0.114;
        // YIQ rotation keeps Y exactly; clipping back into [0, 1] moves it only a little.
        Assert.True((Luma(output) - Luma(batch)).abs().mean().item<float>() < 0.02);
        Assert.True((output - batch).abs().mean().item<float>() > 0.02);
    }
}
