using Microsoft.ML;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>The stage's input standardization: a change of units (every value times a constant) leaves the embeddings as they were.</summary>
public sealed class StageScalingTests
{
    private static float[][] Embed(float scale, int seriesChannels, int constantFeature = -1)
    {
        var ml = new MLContext(seed: 1);
        HiggsRow[] Scaled(HiggsRow[] rows) => [.. rows.Select(r => new HiggsRow
        {
            Features = [.. r.Features.Select((v, i) => i == constantFeature ? 1e-3f : v * scale)],
            Label = r.Label,
        })];
        var train = ml.Data.LoadFromEnumerable(Scaled(StageData.HiggsRows("train", 300)));
        var test = ml.Data.LoadFromEnumerable(Scaled(StageData.HiggsRows("test", 20)));
        // No pretraining: the seeded random encoder, so only the standardization can tell the two scales apart.
        using var model = ml.Transforms.SelfSupervised("E", "Features", SslMethod.SimClr, o =>
        {
            o.Epochs = 0;
            o.Seed = 4;
            o.SeriesChannels = seriesChannels;
        }).Fit(train);
        return StageData.Vectors(model.Transform(test), "E");
    }

    // Features measured in small units (a voltage of EEG in volts, a length in kilometres of millimetre parts) vary by
    // less than 1e-6: they were taken for constant columns, left unscaled, and every row embedded alike.
    [SkippableTheory]
    [InlineData(0)]
    [InlineData(2)]
    public void FeaturesOfTinyScaleAreStandardizedLikeAnyOther(int seriesChannels)
    {
        float[][] reference = Embed(1f, seriesChannels);
        float[][] tiny = Embed(1e-7f, seriesChannels);
        Close.RowsEqual(reference, tiny);
    }

    // A feature of one value in every row has no deviation: it is centred only, and its rows stay finite.
    [SkippableFact]
    public void AFeatureOfOneValueInEveryRowIsCentredOnly()
    {
        float[][] embeddings = Embed(1f, 0, constantFeature: 3);
        Assert.All(embeddings, row => Assert.All(row, v => Assert.True(float.IsFinite(v))));
        Assert.Contains(embeddings, row => row.Any(v => v != 0));
    }
}
