using System.Diagnostics;
using MlNetSsl;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

/// <summary>
/// Where the time of a ConvNet SimCLR step goes on the CPU (<c>--profile</c>): each convolution alone, forward and
/// forward plus backward, the encoder forward and backward, and the whole step, each as GFLOP/s and share of the
/// matmul peak. It explains the MFU column of the main table.
/// </summary>
internal static class StepProfile
{
    public static void Run(double peakGflops, int batchSize, int repeats)
    {
        using var scope = torch.NewDisposeScope();
        var shape = SslInputShape.Image(3, 32, 32);
        torch.manual_seed(1);
        using var encoder = new ConvNetEncoder(shape);
        encoder.train();
        Tensor images = torch.rand(shape.BatchShape(batchSize));
        // The same with the batch in channels-last layout (NHWC strides), which oneDNN's convolutions prefer; TorchSharp
        // has no memory_format argument, so a permute-contiguous-permute makes the strides.
        Tensor imagesChannelsLast = images.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        using (torch.no_grad())
        {
            Conv2d first = encoder.named_modules().Select(m => m.Item2).OfType<Conv2d>().First();
            Console.WriteLine($"First conv output strides: [{string.Join(", ", first.call(images).stride())}] for a contiguous batch, " +
                              $"[{string.Join(", ", first.call(imagesChannelsLast).stride())}] for a channels-last batch.");
            Console.WriteLine();
        }
        Console.WriteLine($"## ConvNet (CIFAR 32x32x3) at batch {batchSize}: time per part, median of {repeats}");
        Console.WriteLine();
        Console.WriteLine("| part | GFLOP | ms | GFLOP/s | share of matmul peak |");
        Console.WriteLine("|---|---|---|---|---|");
        void Row(string part, double flops, double seconds) =>
            Console.WriteLine($"| {part} | {flops / 1e9:0.00} | {seconds * 1000:0.0} | {flops / seconds / 1e9:0.0} | {flops / seconds / 1e9 / peakGflops:P0} |");

        // Each convolution alone, on an input of the shape it sees inside the encoder.
        long side = 32, channels = 3;
        foreach ((string name, nn.Module module) in encoder.named_modules())
        {
            if (module is not Conv2d conv) continue;
            using var layerScope = torch.NewDisposeScope();
            Tensor input = torch.randn(batchSize, channels, side, side).requires_grad_(true);
            double forward = FlopCounter.Forward(conv, input).ForwardFlops;
            Row($"{name} forward ({channels}->{conv.out_channels} ch, {side}x{side})", forward, Median(repeats, () => conv.call(input).sum().item<float>()));
            Row($"{name} forward + backward", 3 * forward, Median(repeats, () =>
            {
                conv.zero_grad();
                input.grad?.zero_();
                conv.call(input).sum().backward();
            }));
            channels = conv.out_channels;
            side = Math.Max(1, side / 2);
        }

        // The same with the batch in channels-last layout (NHWC strides), which oneDNN's convolutions prefer; TorchSharp
        // has no memory_format argument, so a permute-contiguous-permute makes the strides.

        double encoderForward = FlopCounter.Forward(encoder, images).ForwardFlops;
        Row("encoder forward (conv, BatchNorm, ReLU, pooling)", encoderForward, Median(repeats, () => encoder.call(images).sum().item<float>()));
        FlopCount encoderTraining = FlopCounter.Measure(encoder, () => encoder.call(images).sum());
        Row("encoder forward + backward", encoderTraining.TotalFlops, Median(repeats, () =>
        {
            encoder.zero_grad();
            encoder.call(images).sum().backward();
        }));

        Row("encoder forward, channels-last batch", encoderForward, Median(repeats, () => encoder.call(imagesChannelsLast).sum().item<float>()));
        Row("encoder forward + backward, channels-last batch", encoderTraining.TotalFlops, Median(repeats, () =>
        {
            encoder.zero_grad();
            encoder.call(imagesChannelsLast).sum().backward();
        }));

        using ISslMethod method = SslMethodFactory.Create(SslMethod.SimClr, encoder);
        using var generator = new Generator(7);
        var views = new ViewGenerator(DefaultAugmentations.For(SslMethod.SimClr, shape), new AugmentationContext(generator, shape));
        FlopCount step = FlopCounter.TrainingStep(method, images, views);
        Row("SimCLR loss forward + backward (two views, projector; no optimizer)", step.TotalFlops, Median(repeats, () =>
        {
            method.Module.zero_grad();
            method.ComputeLoss(images, views).backward();
        }));
        Row("two augmented views alone", 0, Median(repeats, () =>
        {
            views.Make(images).sum().item<float>();
            views.Make(images).sum().item<float>();
        }));
        Console.WriteLine();
    }

    private static double Median(int repeats, Action work)
    {
        using (torch.NewDisposeScope()) work(); // warm-up
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            using var scope = torch.NewDisposeScope();
            var clock = Stopwatch.StartNew();
            work();
            times[i] = clock.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return times[repeats / 2];
    }
}
