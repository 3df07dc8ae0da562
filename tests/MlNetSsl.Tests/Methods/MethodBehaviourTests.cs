using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Methods;

/// <summary>Targets, schedules, queues, stop-gradient, masks and the factory's checks.</summary>
public sealed class MethodBehaviourTests
{
    public MethodBehaviourTests() => SslEnvironment.EnsureInitialized();

    private static ViewGenerator Views(SslInputShape shape, Generator generator) =>
        new(new AugmentationPolicy(new TestNoiseAndScale(shape.Kind)), new AugmentationContext(generator, shape));

    private static Tensor HiggsBatch(int rows) => MethodTestData.Higgs().narrow(0, 0, rows);

    /// <summary>One optimizer step on the method; returns the loss.</summary>
    private static double Step(ISslMethod method, optim.Optimizer optimizer, Tensor batch, int seed, bool afterStep, long step = 0, long total = 10)
    {
        using var scope = torch.NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        optimizer.zero_grad();
        Tensor loss = method.ComputeLoss(batch, Views(method.Encoder.InputShape, generator));
        loss.backward();
        optimizer.step();
        if (afterStep) method.AfterOptimizerStep(step, total);
        return loss.ToDouble();
    }

    [SkippableFact]
    public void ByolCosineScheduleStartsAtBaseAndEndsAtOne()
    {
        Assert.Equal(0.99, ByolMethod.MomentumAt(0, 100, 0.99), 12);
        Assert.Equal(1.0, ByolMethod.MomentumAt(100, 100, 0.99), 12);
        // Half way: 1 - 0.01 * (cos(pi/2) + 1) / 2 = 0.995.
        Assert.Equal(0.995, ByolMethod.MomentumAt(50, 100, 0.99), 12);
        Assert.Equal(0.996, ByolMethod.MomentumAt(0, 0, 0.996), 12);
    }

    [SkippableTheory]
    [InlineData(SslMethod.Byol)]
    [InlineData(SslMethod.MoCoV2)]
    public void TargetIsNotTrainedAndMovesOnlyByEma(SslMethod kind)
    {
        torch.manual_seed(11);
        using var encoder = new TinyMlpEncoder(MethodTestData.HiggsShape);
        var options = new SslMethodOptions { ProjectionHiddenSize = 32, ProjectionSize = 16 };
        using var method = (SslMethodBase)SslMethodFactory.Create(kind, encoder, options);
        MomentumTarget target = method is ByolMethod byol ? byol.Target : ((MoCoV2Method)method).Target;

        // The target lives in buffers: not among the trainable parameters, no gradient, but in the state dict.
        var trainable = method.TrainableParameters().Select(p => p.Handle).ToHashSet();
        Assert.Equal(method.parameters().Count(), trainable.Count);
        foreach (string key in target.Keys)
        {
            Tensor shadow = target.Shadow(key);
            Assert.DoesNotContain(shadow.Handle, trainable);
            Assert.False(shadow.requires_grad);
            Assert.Contains("target." + key, method.state_dict().Keys);
        }

        const string key0 = "encoder.body.fc1.weight";
        Parameter online = encoder.named_parameters().Single(p => p.name == "body.fc1.weight").parameter;
        Tensor before = target.Shadow(key0).clone();
        Assert.True(before.SameAs(online), "the target starts as a copy of the online network");

        using var optimizer = optim.Adam(method.TrainableParameters(), lr: 1e-2);
        using var batch = HiggsBatch(32);
        Step(method, optimizer, batch, seed: 1, afterStep: false);
        Assert.True(target.Shadow(key0).SameAs(before), "the optimizer step must not touch the target");
        Assert.False(online.SameAs(before), "the online network must have moved");

        method.AfterOptimizerStep(0, 10);
        double m = kind == SslMethod.Byol ? ByolMethod.MomentumAt(0, 10, new ByolOptions().BaseMomentum) : new MoCoV2Options().Momentum;
        using Tensor expected = before * m + online.detach() * (1 - m);
        Assert.True(target.Shadow(key0).allclose(expected, rtol: 1e-5, atol: 1e-7), "target = m * target + (1 - m) * online");
        before.Dispose();
    }

    [SkippableFact]
    public void TargetForwardLeavesTheOnlineNetworkUnchanged()
    {
        torch.manual_seed(12);
        using var encoder = new TinyMlpEncoder(MethodTestData.HiggsShape);
        using var method = new ByolMethod(encoder, new ByolOptions { ProjectionHiddenSize = 32, ProjectionSize = 16, PredictorHiddenSize = 16 });
        using var optimizer = optim.Adam(method.TrainableParameters(), lr: 1e-2);
        using var batch = HiggsBatch(32);
        for (int i = 0; i < 3; i++) Step(method, optimizer, batch, seed: i, afterStep: true, step: i);

        using var scope = torch.NewDisposeScope();
        var state = encoder.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using (torch.no_grad())
            method.Target.Run(() => encoder.call(batch));
        foreach ((string name, Tensor value) in encoder.state_dict())
            Assert.True(value.SameAs(state[name]), $"{name} changed by the target forward");
    }

    [SkippableFact]
    public void MoCoQueuePointerAdvancesWrapsAndHoldsNormalizedKeys()
    {
        torch.manual_seed(13);
        using var encoder = new TinyMlpEncoder(MethodTestData.HiggsShape);
        using var method = new MoCoV2Method(encoder, new MoCoV2Options { QueueSize = 10, ProjectionHiddenSize = 32, ProjectionSize = 8 });
        using var optimizer = optim.Adam(method.TrainableParameters(), lr: 1e-3);
        using var batch = HiggsBatch(4);
        Assert.Equal(0, method.Negatives.Pointer);
        using (Tensor norms = method.Negatives.Keys.norm(1))
            Assert.True(norms.allclose(torch.ones(10), atol: 1e-5));

        // ComputeLoss alone does not touch the queue; the 2 x 4 keys go in after the optimizer step.
        using Tensor initial = method.Negatives.Keys.clone();
        Step(method, optimizer, batch, seed: 1, afterStep: false);
        Assert.Equal(0, method.Negatives.Pointer);
        Assert.True(method.Negatives.Keys.SameAs(initial));
        method.AfterOptimizerStep(0, 10);
        Assert.Equal(8, method.Negatives.Pointer);
        using (Tensor norms = method.Negatives.Keys.norm(1))
            Assert.True(norms.allclose(torch.ones(10), atol: 1e-5), "queued keys are unit vectors");
        for (int row = 0; row < 10; row++)
            Assert.Equal(row < 8, !method.Negatives.Keys[row].SameAs(initial[row]));

        Step(method, optimizer, batch, seed: 2, afterStep: true, step: 1);
        Assert.Equal(6, method.Negatives.Pointer); // (8 + 8) mod 10

        // Direct enqueue: rows land at the pointer and wrap around.
        using Tensor keys = nn.functional.normalize(torch.arange(1, 33, dtype: ScalarType.Float32).reshape(4, 8), dim: 1);
        method.Negatives.Enqueue(keys);
        Assert.Equal(0, method.Negatives.Pointer); // (6 + 4) mod 10
        for (int i = 0; i < 4; i++)
            Assert.True(method.Negatives.Keys[6 + i].allclose(keys[i]));

        // The queue and its pointer are buffers, so a checkpoint restores them.
        using var saved = new MemoryStream();
        method.save(saved);
        using var stream = new MemoryStream(saved.ToArray());
        torch.manual_seed(14);
        using var encoder2 = new TinyMlpEncoder(MethodTestData.HiggsShape);
        using var restored = new MoCoV2Method(encoder2, new MoCoV2Options { QueueSize = 10, ProjectionHiddenSize = 32, ProjectionSize = 8, QueueSeed = 5 });
        restored.load(stream);
        Assert.True(restored.Negatives.Keys.SameAs(method.Negatives.Keys));
        Assert.Equal(method.Negatives.Pointer, restored.Negatives.Pointer);
    }

    [SkippableFact]
    public void SimSiamGradientDoesNotFlowThroughTheTargetBranch()
    {
        // p is computed from z, as the predictor's output is computed from the projection. If the loss stopped no
        // gradient, z would get a gradient both through p and as the target; with the stop-gradient, only through p,
        // which is what an explicitly detached copy of z gives.
        torch.manual_seed(15);
        using var encoder = new TinyMlpEncoder(MethodTestData.HiggsShape);
        using var method = new SimSiamMethod(encoder, new SimSiamOptions { ProjectionHiddenSize = 32, ProjectionSize = 16, PredictorHiddenSize = 8 });
        using var batch = HiggsBatch(16);
        using var scope = torch.NewDisposeScope();
        Tensor w = torch.randn(16, 16);
        Tensor z = torch.randn(16, 16).requires_grad_(true);
        SslLosses.NegativeCosine(z.matmul(w), z).backward();
        Tensor viaLoss = z.grad!.clone();
        Tensor zCopy = z.detach().clone().requires_grad_(true);
        SslLosses.NegativeCosine(zCopy.matmul(w), zCopy.detach().clone()).backward();
        Assert.True(viaLoss.allclose(zCopy.grad!, rtol: 1e-5, atol: 1e-7), "gradient leaked into the target branch");
        Tensor zNoStop = z.detach().clone().requires_grad_(true);
        nn.functional.cosine_similarity(zNoStop.matmul(w), zNoStop, dim: 1).mean().neg().backward();
        Assert.False(viaLoss.allclose(zNoStop.grad!, rtol: 1e-3, atol: 1e-5), "the check must be able to see a missing stop-gradient");

        // The method's loss still trains encoder, projector and predictor.
        using var generator = new Generator(3);
        method.ComputeLoss(batch, Views(MethodTestData.HiggsShape, generator)).backward();
        Assert.All(method.TrainableParameters(), parameter => Assert.NotNull(parameter.grad));
    }

    [SkippableFact]
    public void VimeMaskAndSwapSwapsWithinColumns()
    {
        using var scope = torch.NewDisposeScope();
        Tensor batch = MethodTestData.Higgs().narrow(0, 0, 64);
        using var generator = new Generator(4);
        (Tensor unchanged, Tensor none) = VimeMethod.MaskAndSwap(batch, 0, generator);
        Assert.True(unchanged.SameAs(batch));
        Assert.Equal(0, none.sum().item<float>());

        (Tensor corrupted, Tensor mask) = VimeMethod.MaskAndSwap(batch, 0.3, generator);
        // Every corrupted column is a re-arrangement of values from the same column.
        Tensor sortedCorrupted = corrupted.sort(0).Values;
        Assert.True(corrupted.ne(batch).to(ScalarType.Float32).SameAs(mask), "mask marks the changed entries");
        double fraction = mask.mean().item<float>();
        Assert.InRange(fraction, 0.2, 0.4);
        for (int j = 0; j < 28; j++)
        {
            var column = batch[.., j].data<float>().ToHashSet();
            Assert.All(corrupted[.., j].data<float>().ToArray(), v => Assert.Contains(v, column));
        }
        Assert.Equal(64, sortedCorrupted.shape[0]);

        // Same generator seed, same corruption.
        using var g1 = new Generator(9);
        using var g2 = new Generator(9);
        Assert.True(VimeMethod.MaskAndSwap(batch, 0.3, g1).Corrupted.SameAs(VimeMethod.MaskAndSwap(batch, 0.3, g2).Corrupted));
    }

    [SkippableFact]
    public void MaskedAutoencoderMasksWholePatchesAtTheRequestedRatio()
    {
        torch.manual_seed(16);
        using var encoder = new TinyConvEncoder(MethodTestData.MnistShape);
        using var method = new MaskedAutoencoderMethod(encoder);
        Assert.Equal(4, method.PatchSize);
        Assert.Equal(49, method.UnitCount);
        using var scope = torch.NewDisposeScope();
        using var generator = new Generator(5);
        Tensor mask = method.SampleMask(8, generator);
        Assert.Equal(new long[] { 8, 49 }, mask.shape);
        Assert.All(mask.sum(1).data<long>().ToArray(), count => Assert.Equal(37, count)); // round(0.75 * 49)

        Tensor images = MethodTestData.Mnist().narrow(0, 0, 8);
        Assert.True(method.FromUnits(method.ToUnits(images)).SameAs(images), "patchify round trip");
        // A patch of the unit view is a 4 x 4 block of the image: unit 1 of image 0 is rows 0-3, columns 4-7.
        Assert.True(method.ToUnits(images)[0, 1].SameAs(images[0, 0, 0..4, 4..8].reshape(16)));

        // Per-patch normalized targets (flat MNIST patches included) still give a finite loss with gradients.
        using var normalized = new MaskedAutoencoderMethod(encoder, new MaskedAutoencoderOptions { NormalizePixelTargets = true, DecoderHiddenSize = 32 });
        using var generator2 = new Generator(6);
        Tensor loss = normalized.ComputeLoss(images, Views(MethodTestData.MnistShape, generator2));
        loss.backward();
        Assert.True(double.IsFinite(loss.ToDouble()));

        Assert.Equal(7, MaskedAutoencoderMethod.ResolvePatchSize(5, 28, 28));
        Assert.Equal(8, MaskedAutoencoderMethod.ResolvePatchSize(3, 32, 32));
        Assert.Equal(1, MaskedAutoencoderMethod.ResolvePatchSize(4, 13, 17));
    }

    [SkippableFact]
    public void FactoryRejectsTabularOnlyMethodsOnImagesWithAClearMessage()
    {
        using var encoder = new TinyConvEncoder(MethodTestData.MnistShape);
        var error = Assert.Throws<ArgumentException>(() => SslMethodFactory.Create(SslMethod.Vime, encoder));
        Assert.Contains("Vime", error.Message);
        Assert.Contains("Image", error.Message);
        Assert.Contains("MaskedAutoencoder", error.Message);
        Assert.Contains("SimClr", error.Message);
        Assert.DoesNotContain("Scarf", error.Message[error.Message.IndexOf("use one of", StringComparison.Ordinal)..]);

        using var series = new TinyMlpEncoder(SslInputShape.Series(3, 20));
        Assert.Contains("Scarf", Assert.Throws<ArgumentException>(() => SslMethodFactory.Create(SslMethod.Scarf, series)).Message);
        Assert.Throws<ArgumentException>(() => new VimeMethod(encoder));

        var wrongOptions = Assert.Throws<ArgumentException>(() => SslMethodFactory.Create(SslMethod.Byol, encoder, new SimClrOptions()));
        Assert.Contains("ByolOptions", wrongOptions.Message);
    }

    [SkippableFact]
    public void FactoryBuildsEveryMethodAndAppliesSharedOptions()
    {
        using var encoder = new TinyMlpEncoder(MethodTestData.HiggsShape);
        foreach (SslMethod kind in Enum.GetValues<SslMethod>())
        {
            using ISslMethod method = SslMethodFactory.Create(kind, encoder, new SslMethodOptions { ProjectionHiddenSize = 24, ProjectionSize = 12 });
            Assert.Equal(kind.ToString(), method.MethodName);
            Assert.Same(encoder, method.Encoder);
            Assert.Same(method, method.Module);
        }
        using var simclr = (SimClrMethod)SslMethodFactory.Create(SslMethod.SimClr, encoder, new SslMethodOptions { ProjectionSize = 12 });
        Assert.Equal(12, simclr.named_parameters().Single(p => p.name == "projector.layers.output.bias").parameter.shape[0]);
        Assert.Equal(0.5, simclr.Options.Temperature);
        using var barlow = (BarlowTwinsMethod)SslMethodFactory.Create(SslMethod.BarlowTwins, encoder, new SslMethodOptions { ProjectionSize = 64 });
        Assert.Equal(1.0 / 64, barlow.Lambda, 12);
    }

    [SkippableFact]
    public void DisposingTheMethodLeavesTheEncoderUsable()
    {
        using var encoder = new TinyMlpEncoder(MethodTestData.HiggsShape);
        var method = SslMethodFactory.Create(SslMethod.Byol, encoder, new SslMethodOptions { ProjectionHiddenSize = 16, ProjectionSize = 8 });
        method.Dispose();
        using var scope = torch.NewDisposeScope();
        encoder.eval();
        Tensor embedding = encoder.call(HiggsBatch(4));
        Assert.Equal(new long[] { 4, 32 }, embedding.shape);
    }

    [SkippableFact]
    public void TrainAndEvalReachTheHeadsBatchNorm()
    {
        using var encoder = new TinyMlpEncoder(MethodTestData.HiggsShape);
        using var method = (SslMethodBase)SslMethodFactory.Create(SslMethod.SimSiam, encoder, new SslMethodOptions { ProjectionHiddenSize = 16, ProjectionSize = 8 });
        method.eval();
        Assert.All(method.modules(), m => Assert.False(m.training, $"{m.GetName()} still in training mode"));
        method.train();
        Assert.All(method.modules(), m => Assert.True(m.training, $"{m.GetName()} still in eval mode"));

        // In eval mode the heads use running statistics, so one row gives the same output alone or in a batch.
        method.eval();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var projector = (ProjectionHead)method.named_children().Single(c => c.name == "projector").module;
        Tensor rows = HiggsBatch(8);
        Tensor together = projector.call(encoder.call(rows))[0];
        Tensor alone = projector.call(encoder.call(rows.narrow(0, 0, 1)))[0];
        // A batch of 1 runs other kernels than a batch of 8: compare relative to the projection's norm.
        Assert.True(Close.RelativeDifference(alone, together) <= Close.AcrossKernels, $"row 0 alone differs by {Close.RelativeDifference(alone, together):G3} of its norm");
    }

    [SkippableFact]
    public void MaskedAutoencoderRefusesADecoderTooLargeForMemoryBeforeMakingIt()
    {
        // 1024 x 1024 colour images: the decoder's output layer would hold 512 x 3 x 1024 x 1024 = 1.6 G weights.
        using var large = new TinyConvEncoder(SslInputShape.Image(3, 1024, 1024));
        var e = Assert.Throws<ArgumentException>(() => new MaskedAutoencoderMethod(large));
        Assert.Contains("1024x1024 images", e.Message);
        Assert.Contains("DecoderHiddenSize", e.Message);
        // Images of the sizes the library is measured at are far below the bound (64 x 64 here: 6 M weights, made).
        using var small = new TinyConvEncoder(SslInputShape.Image(3, 64, 64));
        using var fits = new MaskedAutoencoderMethod(small);
        Assert.Equal(64L * 64, fits.UnitCount * fits.PatchSize * fits.PatchSize);
    }

    [SkippableFact]
    public void MaskedAutoencoderMasksWholeTimeStepsOfSeries()
    {
        torch.manual_seed(17);
        SslInputShape shape = SslInputShape.Series(3, 20);
        using var encoder = new TinyMlpEncoder(shape);
        using var method = new MaskedAutoencoderMethod(encoder);
        Assert.Equal(20, method.UnitCount);
        using var scope = torch.NewDisposeScope();
        Tensor series = torch.randn(6, 3, 20);
        Tensor units = method.ToUnits(series);
        Assert.Equal(new long[] { 6, 20, 3 }, units.shape);
        Assert.True(method.FromUnits(units).SameAs(series));
        using var generator = new Generator(8);
        Assert.All(method.SampleMask(6, generator).sum(1).data<long>().ToArray(), count => Assert.Equal(10, count)); // 0.5 * 20

        using var generator2 = new Generator(9);
        Tensor loss = method.ComputeLoss(series, Views(shape, generator2));
        loss.backward();
        Assert.True(double.IsFinite(loss.ToDouble()));
        Assert.All(method.TrainableParameters(), p => Assert.NotNull(p.grad));
    }

    [SkippableFact]
    public void ComputeLossRejectsBatchesOfTheWrongShape()
    {
        using var encoder = new TinyMlpEncoder(MethodTestData.HiggsShape);
        using ISslMethod method = SslMethodFactory.Create(SslMethod.SimClr, encoder, new SslMethodOptions { ProjectionHiddenSize = 16, ProjectionSize = 8 });
        using var scope = torch.NewDisposeScope();
        using var generator = new Generator(1);
        var error = Assert.Throws<ArgumentException>(() => method.ComputeLoss(torch.zeros(4, 27), Views(MethodTestData.HiggsShape, generator)));
        Assert.Contains("[4, 28]", error.Message);
        Assert.Throws<ArgumentException>(() => method.ComputeLoss(torch.zeros(1, 28), Views(MethodTestData.HiggsShape, generator)));
    }

    [SkippableFact]
    public void LossesDependOnlyOnTheStepGenerator()
    {
        // Each method is built twice from the same seed; between building and the loss the global generator is
        // reseeded differently, so any random draw that bypassed views.Generator would change the loss.
        using var scope = torch.NewDisposeScope();
        Tensor batch = HiggsBatch(16);
        foreach (SslMethod kind in Enum.GetValues<SslMethod>())
        {
            var losses = new double[2];
            for (int run = 0; run < 2; run++)
            {
                torch.manual_seed(21);
                using var encoder = new TinyMlpEncoder(MethodTestData.HiggsShape);
                using ISslMethod method = SslMethodFactory.Create(kind, encoder, new SslMethodOptions { ProjectionHiddenSize = 16, ProjectionSize = 8 });
                torch.manual_seed(100 + run);
                using var generator = new Generator(5);
                losses[run] = method.ComputeLoss(batch, Views(MethodTestData.HiggsShape, generator)).ToDouble();
            }
            Assert.Equal(losses[0], losses[1]);
        }
    }
}
