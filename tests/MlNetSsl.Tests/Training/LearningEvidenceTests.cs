using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Training;

/// <summary>
/// The engine end to end (real encoders, default augmentation policies, the pretraining loop) on real data:
/// every method learns, and for SimCLR the learned embeddings beat the same encoder at random
/// initialization in held-out kNN accuracy.
/// </summary>
public sealed class LearningEvidenceTests(ITestOutputHelper output)
{
    public static TheoryData<SslMethod> AllMethods => new(Enum.GetValues<SslMethod>());

    [Theory]
    [MemberData(nameof(AllMethods))]
    public void EveryMethodTrainsOnRealDataWithFallingLossAndHealthyEmbeddings(SslMethod kind)
    {
        using var scope = torch.NewDisposeScope();
        bool tabular = kind is SslMethod.Scarf or SslMethod.Vime;
        using SslTensorDataset data = tabular ? HiggsData(1024, "train") : MnistData(768, 0);
        torch.manual_seed(3);
        using var encoder = EncoderFactory.Create(data.Shape, new EncoderOptions { EmbeddingSize = 64 });
        // MoCo's queue starts as random unit vectors (easy negatives), so its loss rises until real keys fill it;
        // a queue this data fills in two steps keeps the comparison about learning.
        using ISslMethod method = SslMethodFactory.Create(kind, encoder, kind == SslMethod.MoCoV2 ? new MoCoV2Options { QueueSize = 256 } : null);
        int warmup = kind == SslMethod.MoCoV2 ? 4 : 0;
        var losses = new List<double>();
        var options = new PretrainingOptions
        {
            Epochs = 3, BatchSize = 64, LearningRate = 2e-3, Seed = 3, AllowCuda = false, WarmupEpochs = 0.5,
            Progress = new SyncProgress(p => { if (p.EpochSummary is null) losses.Add(p.Loss); }),
        };

        var result = SslPretrainer.Run(method, data, DefaultAugmentations.For(kind, data.Shape), options);

        double first = losses.Skip(warmup).Take(4).Average(), last = losses.TakeLast(4).Average();
        output.WriteLine($"{kind}: loss {first:0.###} -> {last:0.###}, {result.History[^1]}");
        Assert.True(last < first, $"{kind}: loss did not fall ({first} -> {last})");
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Tensor embeddings = encoder.EmbedAll(data);
        Assert.True(embeddings.isfinite().all().item<bool>(), $"{kind}: non-finite embeddings");
        Assert.Null(result.History[^1].CollapseWarning);
        Assert.True(EmbeddingQuality.Spread(embeddings) > 0.05, $"{kind}: spread {EmbeddingQuality.Spread(embeddings)}");
    }

    [Theory]
    [InlineData(SslMethod.SimClr, 2e-3, 0.03)]
    // BYOL (35.2% -> 29.8..35.5% at lr 1e-3..5e-3) and SCARF on HIGGS (61.0% -> 61.2..61.6%) do not yet beat random
    // initialization by a clear margin in a CI-sized run; see the engine issue's closing note.
    public void ImagePretrainingBeatsRandomInitializationInKnnAccuracy(SslMethod kind, double learningRate, double margin)
    {
        using var scope = torch.NewDisposeScope();
        var (trainImages, trainLabels) = RealData.CifarImages(250, "train");
        var (testImages, testLabels) = RealData.CifarImages(60, "test");
        using var train = new SslTensorDataset(trainImages, SslInputShape.Image(3, 32, 32), trainLabels);
        using var test = new SslTensorDataset(testImages, SslInputShape.Image(3, 32, 32), testLabels);

        var (before, after) = KnnBeforeAndAfter(kind, train, test, epochs: 12, batchSize: 128, learningRate);

        output.WriteLine($"{kind} CIFAR-10 kNN: random init {before:P1}, pretrained {after:P1}");
        Assert.True(after >= before + margin, $"{kind}: kNN {before:P1} -> {after:P1}, wanted +{margin:P0}");
    }

    private static (double Before, double After) KnnBeforeAndAfter(SslMethod kind, SslTensorDataset train, SslTensorDataset test,
        int epochs, int batchSize, double learningRate)
    {
        torch.manual_seed(11);
        using var encoder = EncoderFactory.Create(train.Shape, new EncoderOptions());
        double Knn() => KnnClassifier.Accuracy(encoder.EmbedAll(train), train.Labels!, encoder.EmbedAll(test), test.Labels!, k: 20);
        double before = Knn();
        using ISslMethod method = SslMethodFactory.Create(kind, encoder);
        SslPretrainer.Run(method, train, DefaultAugmentations.For(kind, train.Shape), new PretrainingOptions
        {
            Epochs = epochs, BatchSize = batchSize, LearningRate = learningRate, Seed = 11, AllowCuda = false,
        });
        return (before, Knn());
    }

    private static SslTensorDataset MnistData(int count, int offset)
    {
        var (images, labels) = RealData.MnistImages(count, offset);
        return new SslTensorDataset(images, SslInputShape.Image(1, 28, 28), labels);
    }

    private static SslTensorDataset HiggsData(int count, string split)
    {
        var (features, _) = RealData.Higgs(count, split);
        return new SslTensorDataset(features, SslInputShape.Tabular(28));
    }
}
