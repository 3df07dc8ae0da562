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

    [SkippableFact]
    public void RotationPredictionOnRealImagesIsClearlyAboveChanceAndRankMeMatchesTheStageEmbeddings()
    {
        var ml = new MLContext(seed: 1);
        // An almost untrained encoder: its globally pooled features still tell horizontal from vertical structure, so the
        // probe beats the 25% chance of four rotations (measured: 39% here; 120 test images x 4 rotations put chance at
        // 25% +- 2%).
        (ImageRow[] rows, IDataView images, SelfSupervisedTransformer oneEpoch) = OneEpochCifarStage(ml);
        using SelfSupervisedTransformer stage = oneEpoch;

        double rotation = LabelFreeEvaluation.RotationPredictionAccuracy(stage, images, maxImages: 240, seed: 3);
        _output.WriteLine($"rotation-prediction accuracy {rotation:P1} on 120 held-out images x 4 rotations");
        Assert.True(rotation > 0.3, $"rotation-prediction accuracy {rotation:P1} is within chance (25% +- 2%)");
        Assert.Equal(rotation, LabelFreeEvaluation.RotationPredictionAccuracy(stage, images, maxImages: 240, seed: 3)); // deterministic

        // RankMe reads the same rows the stage's Transform embeds; over all 240 rows they agree with the engine's measure.
        double rankMe = LabelFreeEvaluation.RankMe(stage, images, maxRows: 1000);
        float[] flat = stage.Transform(images).GetColumn<VBuffer<float>>("Embedding").SelectMany(v => v.DenseValues()).ToArray();
        using var embeddings = torch.tensor(flat, [240, stage.EmbeddingSize]);
        Assert.Equal(EmbeddingQuality.EffectiveRank(embeddings), rankMe, 4);
        Assert.InRange(rankMe, 1, Math.Min(240, stage.EmbeddingSize));
        // Evenly spaced rows: 60 of 240 cover every class (rows are grouped by class), and the rank cannot exceed the rows.
        double sixty = LabelFreeEvaluation.RankMe(stage, images, maxRows: 60);
        Assert.InRange(sixty, 1, 60);

        // Collapsed inputs: 240 copies of one picture embed as one point repeated (RankMe 1), and copies of two
        // pictures as two points (at most 2). Real images spread over many more directions.
        IDataView onePicture = StageData.Images(ml, rows.Select(r => new ImageRow { ImagePath = rows[0].ImagePath, Label = r.Label }));
        IDataView twoPictures = StageData.Images(ml, rows.Select((r, i) => new ImageRow { ImagePath = rows[i % 2 * 100].ImagePath, Label = r.Label }));
        double one = LabelFreeEvaluation.RankMe(stage, onePicture, maxRows: 1000), two = LabelFreeEvaluation.RankMe(stage, twoPictures, maxRows: 1000);
        _output.WriteLine($"RankMe: real images {rankMe:F2} (60 rows: {sixty:F2}), one picture {one:F3}, two pictures {two:F3}");
        Assert.InRange(one, 1 - 1e-6, 1.05);
        Assert.InRange(two, 1.01, 2.05);
        Assert.True(rankMe > 5 * two, $"RankMe of real images {rankMe:F2} is not far above that of two repeated pictures {two:F2}");
    }

    [SkippableFact]
    public void ViewRetrievalFindsARealImagesOwnSecondViewAndCannotTellCopiesOfOnePictureApart()
    {
        var ml = new MLContext(seed: 1);
        (ImageRow[] rows, IDataView images, SelfSupervisedTransformer oneEpoch) = OneEpochCifarStage(ml);
        using SelfSupervisedTransformer stage = oneEpoch;

        double real = LabelFreeEvaluation.ViewRetrievalAccuracy(stage, images, seed: 3);
        Assert.Equal(real, LabelFreeEvaluation.ViewRetrievalAccuracy(stage, images, seed: 3)); // deterministic with the seed
        // 240 copies of one picture: every second view is another augmentation of the same picture, so a row's own is
        // found about once in 240. Real images differ far more than two augmentations of one image do.
        IDataView onePicture = StageData.Images(ml, rows.Select(r => new ImageRow { ImagePath = rows[0].ImagePath, Label = r.Label }));
        double copies = LabelFreeEvaluation.ViewRetrievalAccuracy(stage, onePicture, seed: 3);
        double sixty = LabelFreeEvaluation.ViewRetrievalAccuracy(stage, images, maxRows: 60, seed: 3);
        _output.WriteLine($"view retrieval: 240 real images {real:P1}, 60 of them {sixty:P1}, 240 copies of one picture {copies:P1} (chance 0.4%)");
        Assert.True(real > 10.0 / 240, $"view retrieval {real:P1} of 240 real images is near chance (0.4%)");
        Assert.True(copies < real / 3, $"copies of one picture retrieved their own view {copies:P1}, not far below real images {real:P1}");
        Assert.True(sixty > 3.0 / 60, $"view retrieval {sixty:P1} of 60 real images is near chance (1.7%)");

        // Vectors: SCARF's corruption makes the views; real HIGGS rows are told apart well above chance (1 in 200).
        IDataView higgs = ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 200));
        using SelfSupervisedTransformer vectorStage = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => o.Epochs = 1).Fit(higgs);
        double vectors = LabelFreeEvaluation.ViewRetrievalAccuracy(vectorStage, higgs, seed: 3);
        _output.WriteLine($"view retrieval: 200 HIGGS rows {vectors:P1} (chance 0.5%)");
        Assert.True(vectors > 3.0 / 200, $"view retrieval {vectors:P1} of 200 HIGGS rows is near chance (0.5%)");
    }

    /// <summary>240 real CIFAR-10 training images (24 per class) and a stage pretrained on them for one short SimCLR epoch.</summary>
    private static (ImageRow[] Rows, IDataView Images, SelfSupervisedTransformer Stage) OneEpochCifarStage(MLContext ml)
    {
        ImageRow[] rows = StageData.CifarRows(perClass: 24);
        IDataView images = StageData.Images(ml, rows);
        SelfSupervisedTransformer stage = ml.Transforms.SelfSupervised("Embedding", "Image", SslMethod.SimClr, o =>
        {
            o.Epochs = 1;
            o.BatchSize = 64;
        }).Fit(images);
        return (rows, images, stage);
    }

    [SkippableFact]
    public void RotationPredictionRefusesVectorInput()
    {
        var ml = new MLContext(seed: 1);
        IDataView rows = ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 64));
        using SelfSupervisedTransformer stage = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => o.Epochs = 1).Fit(rows);
        var error = Assert.Throws<ArgumentException>(() => LabelFreeEvaluation.RotationPredictionAccuracy(stage, rows));
        Assert.Contains("RankMe", error.Message);
        // View retrieval works on vectors too, so the refusal names it beside RankMe.
        Assert.Contains("ViewRetrievalAccuracy", error.Message);
        Assert.InRange(LabelFreeEvaluation.ViewRetrievalAccuracy(stage, rows), 0, 1);
        double rankMe = LabelFreeEvaluation.RankMe(stage, rows);
        Assert.InRange(rankMe, 1, 64);
        // The same 64 rows repeated from one row have rank 1: RankMe must see the difference.
        IDataView oneRow = ml.Data.LoadFromEnumerable(Enumerable.Repeat(StageData.HiggsRows("train", 1)[0], 64));
        double collapsed = LabelFreeEvaluation.RankMe(stage, oneRow);
        _output.WriteLine($"RankMe: 64 HIGGS rows {rankMe:F2}, one row repeated {collapsed:F3}");
        Assert.InRange(collapsed, 1 - 1e-6, 1.05);
        Assert.True(rankMe > 5 * collapsed, $"RankMe {rankMe:F2} of real rows is not far above that of one repeated row");
    }
}
