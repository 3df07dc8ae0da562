using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.MlNet;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.AutoML;

/// <summary>The label-free measures AutoML uses when labels are too few, on real CIFAR-10 images.</summary>
public sealed class LabelFreeEvaluationTests
{
    private readonly ITestOutputHelper _output;

    public LabelFreeEvaluationTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void RotationPredictionOnRealImagesIsClearlyAboveChanceAndRankMeMatchesTheStageEmbeddings()
    {
        var ml = new MLContext(seed: 1);
        IDataView images = StageData.Images(ml, StageData.CifarRows(perClass: 24));
        // One short epoch: an almost untrained encoder. Its globally pooled features still tell horizontal from vertical
        // structure, so the probe beats the 25% chance of four rotations (measured: 39% here; 120 test images x 4 rotations
        // put chance at 25% +- 2%).
        using SelfSupervisedTransformer stage = ml.Transforms.SelfSupervised("Embedding", "Image", SslMethod.SimClr, o =>
        {
            o.Epochs = 1;
            o.BatchSize = 64;
        }).Fit(images);

        double rotation = LabelFreeEvaluation.RotationPredictionAccuracy(stage, images, maxImages: 240, seed: 3);
        _output.WriteLine($"rotation-prediction accuracy {rotation:P1} on 120 held-out images x 4 rotations");
        Assert.InRange(rotation, 0.3, 1.0);
        Assert.Equal(rotation, LabelFreeEvaluation.RotationPredictionAccuracy(stage, images, maxImages: 240, seed: 3)); // deterministic

        // RankMe reads the same rows the stage's Transform embeds; over all 240 rows they agree with the engine's measure.
        double rankMe = LabelFreeEvaluation.RankMe(stage, images, maxRows: 1000);
        float[] flat = stage.Transform(images).GetColumn<VBuffer<float>>("Embedding").SelectMany(v => v.DenseValues()).ToArray();
        using var embeddings = torch.tensor(flat, [240, stage.EmbeddingSize]);
        Assert.Equal(EmbeddingQuality.EffectiveRank(embeddings), rankMe, 4);
        Assert.InRange(rankMe, 1, Math.Min(240, stage.EmbeddingSize));
        // Evenly spaced rows: 60 of 240 cover every class (rows are grouped by class), and the rank cannot exceed the rows.
        Assert.InRange(LabelFreeEvaluation.RankMe(stage, images, maxRows: 60), 1, 60);
    }

    [Fact]
    public void RotationPredictionRefusesVectorInput()
    {
        var ml = new MLContext(seed: 1);
        IDataView rows = ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 64));
        using SelfSupervisedTransformer stage = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => o.Epochs = 1).Fit(rows);
        var error = Assert.Throws<ArgumentException>(() => LabelFreeEvaluation.RotationPredictionAccuracy(stage, rows));
        Assert.Contains("RankMe", error.Message);
        Assert.InRange(LabelFreeEvaluation.RankMe(stage, rows), 1, 64);
    }
}
