using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>
/// One IDataView where most rows have no label: the SSL stage pretrains on all of them and the ML.NET trainer learns
/// from the labeled rows alone, with no filter step (ML.NET trainers skip rows whose label is missing).
/// </summary>
public sealed class SemiSupervisedFlowTests
{
    public sealed class Prediction
    {
        public uint PredictedLabel { get; set; }
    }

    [SkippableFact]
    public void TheTrainerUsesOnlyLabeledRowsWhileTheStagePretrainsOnAll()
    {
        var ml = new MLContext(seed: 1);
        var rows = StageData.HiggsRows("train", 2000);
        for (int i = 0; i < rows.Length; i++)
            if (i % 4 != 0) rows[i].Label = float.NaN; // a quarter labeled
        // With 10% labeled the macro accuracy over pretraining seeds 1-8 ran from 0.542 to 0.608 (0.608 for the seed used),
        // so a host whose kernels round otherwise, and so pretrain another trajectory, could fall below the 0.55 floor; with
        // a quarter it ran from 0.574 to 0.608.
        var data = ml.Data.LoadFromEnumerable(rows);
        var test = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 500));

        using var ssl = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => { o.Epochs = 3; o.BatchSize = 128; }).Fit(data);
        Assert.Equal(2000, ssl.PretrainingRows);

        var trainer = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", "Embedding"));
        var embedded = ssl.Transform(data);
        var onAllRows = trainer.Fit(embedded);
        var onLabeledRows = trainer.Fit(ml.Data.FilterRowsByMissingValues(embedded, "Label"));

        // The unlabeled rows change nothing: both models predict identically, and the label map has only the 2 classes.
        var testEmbedded = ssl.Transform(test);
        uint[] all = onAllRows.Transform(testEmbedded).GetColumn<uint>("PredictedLabel").ToArray();
        uint[] labeledOnly = onLabeledRows.Transform(testEmbedded).GetColumn<uint>("PredictedLabel").ToArray();
        Assert.Equal(labeledOnly, all);
        var keyType = Assert.IsType<KeyDataViewType>(onAllRows.Transform(testEmbedded).Schema["LabelKey"].Type);
        Assert.Equal(2UL, keyType.Count);
        var metrics = ml.MulticlassClassification.Evaluate(onAllRows.Transform(testEmbedded), "LabelKey");
        Assert.True(metrics.MacroAccuracy > 0.55, $"accuracy {metrics.MacroAccuracy:P1}");
    }

    [SkippableFact]
    public void SeriesInputWithSeriesChannelsPretrainsAConv1dEncoder()
    {
        var ml = new MLContext(seed: 1);
        var (series, labels) = RealData.BasicMotions();
        float[] flat = series.data<float>().ToArray();
        var rows = Enumerable.Range(0, labels.Length)
            .Select(i => new SeriesRow { Values = flat[(i * 600)..((i + 1) * 600)], Label = labels[i] }).ToArray();
        series.Dispose();
        var data = ml.Data.LoadFromEnumerable(rows);

        using var model = ml.Transforms.SelfSupervised("Embedding", "Values", SslMethod.SimClr, o =>
        {
            o.SeriesChannels = 6;
            o.Epochs = 3;
            o.BatchSize = 20;
            o.MonitorLabelColumnName = "Label";
        }).Fit(data);

        Assert.Equal(SslInputShape.Series(6, 100), model.InputShape);
        Assert.Equal(EncoderKind.Conv1d, model.EncoderOptions.ResolveKind(SslInputKind.Series));
        Assert.Equal(3, model.History.Count);
        Assert.All(model.History, h => Assert.NotNull(h.MonitorAccuracy));
        float[][] embeddings = StageData.Vectors(model.Transform(data), "Embedding");
        Assert.Equal(40, embeddings.Length);
        Assert.All(embeddings, e => Assert.Equal(model.EmbeddingSize, e.Length));
    }

    public sealed class SeriesRow
    {
        [VectorType(600)]
        public float[] Values { get; set; } = [];
        public int Label { get; set; }
    }
}
