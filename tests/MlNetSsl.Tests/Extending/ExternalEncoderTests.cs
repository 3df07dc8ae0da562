using Microsoft.ML;
using MlNetSsl.Tests.Infrastructure;
using MlNetSsl.Tests.MlNet;
using Xunit;

namespace MlNetSsl.Tests.Extending;

/// <summary>An encoder defined in this test assembly (<see cref="GeluMlpEncoder"/>), registered and named in
/// <see cref="EncoderOptions.Name"/>: it pretrains in the stage, saves and loads, and fine-tunes.</summary>
public sealed class ExternalEncoderTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-encoder-").FullName;

    public ExternalEncoderTests() => SslEncoderRegistry.Register(GeluMlpEncoder.Registration);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [SkippableFact]
    public void RegisteredEncoderPretrainsSavesLoadsAndFineTunes()
    {
        var ml = new MLContext(seed: 1);
        IDataView train = ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 400));
        IDataView test = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 64));
        SelfSupervisedTransformer stage = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o =>
        {
            o.Epochs = 2;
            o.BatchSize = 100;
            o.EncoderOptions = new EncoderOptions { Name = "gelumlp", HiddenSize = 48, Depth = 3 };
        }).Fit(train);

        Assert.IsType<GeluMlpEncoder>(stage.Encoder);
        Assert.Equal(48, stage.EmbeddingSize);
        Assert.Equal("gelumlp", stage.EncoderOptions.Name);
        float[][] expected = StageData.Vectors(stage.Transform(test), "Embedding");
        string path = Path.Combine(_folder, "gelu.zip");
        ml.Model.Save(stage, train.Schema, path);

        using (var loaded = Assert.IsType<SelfSupervisedTransformer>(new MLContext().Model.Load(path, out _)))
        {
            Assert.IsType<GeluMlpEncoder>(loaded.Encoder);
            Close.RowsEqual(expected, StageData.Vectors(loaded.Transform(test), "Embedding"));
        }

        // Fine-tuning copies the encoder through CreateUntrained, which rebuilds it from its recorded options.
        var labeled = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(train).Transform(train);
        using var classifier = ml.MulticlassClassification.Trainers.SelfSupervisedFineTune(stage, "LabelKey", o => o.Epochs = 2).Fit(labeled);
        Assert.Equal(64, ml.Data.CreateEnumerable<ScoreRow>(classifier.Transform(
            ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(train).Transform(test)), reuseRowObject: false).Count());
        stage.Dispose();
    }

    [SkippableFact]
    public void UnknownOrMismatchedEncoderNamesAreRefusedWithTheFix()
    {
        var ml = new MLContext(seed: 1);
        IDataView train = ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 64));
        var unknown = Assert.Throws<ArgumentException>(() => ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf,
            o => o.EncoderOptions = new EncoderOptions { Name = "NoSuchEncoder" }).Fit(train));
        Assert.Contains("SslEncoderRegistry.Register", unknown.Message);
        Assert.Throws<ArgumentException>(() => new SslEncoderRegistration("ResNet", (s, o) => new GeluMlpEncoder(s, o), SslInputKind.Tabular));
        Assert.Throws<InvalidOperationException>(() =>
            SslEncoderRegistry.Register(new SslEncoderRegistration("GELUMLP", (s, o) => new GeluMlpEncoder(s, o), SslInputKind.Tabular)));
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }
}
