using System.Diagnostics;
using MlNetSsl;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

/// <summary>
/// Where the time of a ConvNet SimCLR step goes on the CPU (<c>--profile</c>): each convolution alone, forward and
/// forward plus backward, the encoder forward and backward, and the whole step, each as GFLOP/s and share of the
/// matmul peak, in wall-clock and CPU time; and the variants of the first layer and of the weights' layout that were
/// tried (docs/benchmarks.md says which won).
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
        Console.WriteLine("| part | nominal GFLOP | wall ms | CPU ms (all threads) | GFLOP/s (wall) | share of matmul peak |");
        Console.WriteLine("|---|---|---|---|---|---|");
        void Row(string part, double flops, (double Wall, double Cpu) time) =>
            Console.WriteLine($"| {part} | {flops / 1e9:0.00} | {time.Wall * 1000:0.0} | {time.Cpu * 1000:0} | {flops / time.Wall / 1e9:0.0} | {flops / time.Wall / 1e9 / peakGflops:P0} |");

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

        FirstLayerVariants(batchSize, repeats, Row);

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

        torch.manual_seed(1);
        using var channelsLastEncoder = new ConvNetEncoder(shape);
        channelsLastEncoder.train();
        ChannelsLastWeights(channelsLastEncoder);
        Row("encoder forward + backward, channels-last weights and batch", encoderTraining.TotalFlops, Median(repeats, () =>
        {
            channelsLastEncoder.zero_grad();
            channelsLastEncoder.call(images).sum().backward();
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

    // Every Conv2d weight with channels-last strides (OHWI in memory); values and shapes unchanged. Not used by the
    // library: it did not make the encoder's step faster (docs/benchmarks.md), and TorchSharp's module save needs
    // contiguous tensors.
    private static void ChannelsLastWeights(nn.Module root)
    {
        using var noGrad = torch.no_grad();
        foreach ((string _, nn.Module module) in root.named_modules())
        {
            if (module is not Conv2d conv || conv.weight is not { } weight) continue;
            conv.weight = new Parameter(weight.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2), weight.requires_grad);
            weight.Dispose();
        }
    }

    // The first convolution (3 to 32 channels) as the encoder runs it: a channels-last batch that needs no input
    // gradient; its weight contiguous or channels-last, and the input and weight padded with zero channels to 4 or 8.
    private static void FirstLayerVariants(int batchSize, int repeats, Action<string, double, (double Wall, double Cpu)> row)
    {
        using var scope = torch.NewDisposeScope();
        Tensor ChannelsLast(Tensor t) => t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        Tensor input = ChannelsLast(torch.rand(batchSize, 3, 32, 32));
        Tensor weight = (torch.randn(32, 3, 3, 3) * 0.1).requires_grad_(true);
        Tensor weightChannelsLast = ChannelsLast(weight.detach()).requires_grad_(true);
        double flops = 3.0 * 2 * batchSize * 32 * 32 * 32 * 27;
        void Variant(string name, Tensor x, Tensor w, Func<Tensor, Tensor> prepare) =>
            row($"conv0 forward + weight backward, {name}", flops, Median(repeats, () =>
            {
                w.grad?.zero_();
                nn.functional.conv2d(x, prepare(w), padding: [1, 1]).sum().backward();
            }));
        Variant("contiguous batch and weight", torch.rand(batchSize, 3, 32, 32), weight, w => w);
        Variant("channels-last batch, contiguous weight", input, weight, w => w);
        Variant("channels-last batch and weight", input, weightChannelsLast, w => w);
        row("conv0 forward + weight backward, patches times weight matrix (channels-last)", flops, Median(repeats, () =>
        {
            weight.grad?.zero_();
            Tensor nhwc = nn.functional.pad(input.permute(0, 2, 3, 1), [0, 0, 1, 1, 1, 1]);
            Tensor patches = nhwc.unfold(1, 3, 1).unfold(2, 3, 1).reshape(batchSize * 32 * 32, 27);
            patches.matmul(weight.reshape(32, 27).t()).view(batchSize, 32, 32, 32).permute(0, 3, 1, 2).sum().backward();
        }));
        foreach (int channels in new[] { 4, 8 })
        {
            Tensor padded = ChannelsLast(nn.functional.pad(input, [0, 0, 0, 0, 0, channels - 3]));
            Variant($"channels-last, padded to {channels} channels", padded, weightChannelsLast,
                w => ChannelsLast(nn.functional.pad(w, [0, 0, 0, 0, 0, channels - 3])));
        }
    }

    // Median wall-clock and process CPU seconds of a piece of work after a warm-up. On a shared machine the CPU time is
    // the steadier figure (it leaves out time spent waiting for a core), as long as libtorch runs one thread.
    private static (double Wall, double Cpu) Median(int repeats, Action work)
    {
        using (torch.NewDisposeScope()) work(); // warm-up
        var wall = new double[repeats];
        var cpu = new double[repeats];
        using var process = Process.GetCurrentProcess();
        for (int i = 0; i < repeats; i++)
        {
            using var scope = torch.NewDisposeScope();
            process.Refresh();
            TimeSpan cpuStart = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            work();
            wall[i] = clock.Elapsed.TotalSeconds;
            process.Refresh();
            cpu[i] = (process.TotalProcessorTime - cpuStart).TotalSeconds;
        }
        Array.Sort(wall);
        Array.Sort(cpu);
        return (wall[repeats / 2], cpu[repeats / 2]);
    }
}
