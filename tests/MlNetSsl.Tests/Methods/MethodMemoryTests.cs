using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Methods;

/// <summary>Training steps under a dispose scope leave no tensors behind (queues and targets update in place).</summary>
public sealed class MethodMemoryTests
{
    public MethodMemoryTests() => SslEnvironment.EnsureInitialized();

    [SkippableFact]
    public void StepsDoNotAccumulateLiveTensors()
    {
        using Tensor data = MethodTestData.Higgs().narrow(0, 0, 64);
        SslInputShape shape = MethodTestData.HiggsShape;
        var policy = new AugmentationPolicy(new TestNoiseAndScale(SslInputKind.Tabular));
        foreach (SslMethod kind in Enum.GetValues<SslMethod>())
        {
            torch.manual_seed(7);
            using var encoder = new TinyMlpEncoder(shape);
            using ISslMethod method = SslMethodFactory.Create(kind, encoder,
                kind == SslMethod.MoCoV2 ? new MoCoV2Options { QueueSize = 200, ProjectionHiddenSize = 32, ProjectionSize = 16 }
                    : new SslMethodOptions { ProjectionHiddenSize = 32, ProjectionSize = 16 });
            using var optimizer = optim.Adam(method.TrainableParameters(), lr: 1e-3);
            long afterWarmup = 0;
            for (int step = 0; step < 8; step++)
            {
                using (var scope = torch.NewDisposeScope())
                {
                    using var generator = new Generator((ulong)step);
                    optimizer.zero_grad();
                    Tensor loss = method.ComputeLoss(data, new ViewGenerator(policy, new AugmentationContext(generator, shape)));
                    loss.backward();
                    optimizer.step();
                    method.AfterOptimizerStep(step, 8);
                }
                if (step == 2) afterWarmup = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            }
            Assert.True(DisposeScopeManager.Statistics.ThreadTotalLiveCount <= afterWarmup,
                $"{kind}: live tensors grew from {afterWarmup} to {DisposeScopeManager.Statistics.ThreadTotalLiveCount} over 5 steps");
        }
    }

    // Creating a method and disposing it (and its encoder) hands back every tensor handle it made: BYOL's and MoCo's
    // momentum targets once left one detach() handle per mirrored tensor to the finalizer (22 per method here).
    [SkippableFact]
    public void CreatingAndDisposingAMethodLeavesNoLiveTensors()
    {
        SslInputShape shape = SslInputShape.Tabular(11);
        foreach (SslMethod kind in Enum.GetValues<SslMethod>())
        {
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            using (var encoder = EncoderFactory.Create(shape, new EncoderOptions { EmbeddingSize = 16 }))
            using (ISslMethod method = SslMethodFactory.Create(kind, encoder))
                Assert.True(DisposeScopeManager.Statistics.ThreadTotalLiveCount > before);
            long left = DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;
            Assert.True(left == 0, $"{kind}: {left} tensor handles left undisposed after the method and its encoder were disposed");
        }
    }
}
