using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Cli;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>The series resampling transform: values by hand, save/load, and a bad row named.</summary>
public sealed class ResampleSeriesTests
{
    private sealed class Row
    {
        public float[] Series { get; set; } = [];
    }

    private sealed class Fixed
    {
        [ColumnName("Fixed"), VectorType(3)]
        public float[] Values { get; set; } = [];
    }

    private static float[][] Apply(ITransformer model, IDataView data) =>
        model.Transform(data).GetColumn<VBuffer<float>>("Fixed").Select(v => v.DenseValues().ToArray()).ToArray();

    [SkippableFact]
    public void LinearInterpolationMatchesHandComputedValues()
    {
        var ml = new MLContext(0);
        IDataView data = ml.Data.LoadFromEnumerable(new[]
        {
            new Row { Series = [0, 10] },                  // 2 steps -> 5: 0, 2.5, 5, 7.5, 10
            new Row { Series = [4] },                      // 1 step: constant
            new Row { Series = [0, 1, 4, 9, 16, 25, 36, 49, 64] }, // 9 steps -> 5: every other value
        });
        float[][] result = Apply(ml.Transforms.ResampleSeries("Fixed", "Series", channels: 1, length: 5).Fit(data), data);
        Assert.Equal([0f, 2.5f, 5f, 7.5f, 10f], result[0]);
        Assert.Equal([4f, 4f, 4f, 4f, 4f], result[1]);
        Assert.Equal([0f, 4f, 16f, 36f, 64f], result[2]);
    }

    [SkippableFact]
    public void ChannelsAreResampledSeparatelyAndPadOrTruncateKeepsTheTimeScale()
    {
        var ml = new MLContext(0);
        IDataView data = ml.Data.LoadFromEnumerable(new[] { new Row { Series = [1, 2, 3, 10, 20, 30] } });
        float[][] linear = Apply(ml.Transforms.ResampleSeries("Fixed", "Series", channels: 2, length: 2).Fit(data), data);
        Assert.Equal([1f, 3f, 10f, 30f], linear[0]);
        var pad = new ResampleSeriesOptions { InputColumnName = "Series", OutputColumnName = "Fixed", Channels = 2, Length = 5, Resampling = SeriesResampling.PadOrTruncate };
        Assert.Equal([1f, 2f, 3f, 3f, 3f, 10f, 20f, 30f, 30f, 30f], Apply(ml.Transforms.ResampleSeries(pad).Fit(data), data)[0]);
        pad.Length = 2;
        Assert.Equal([1f, 2f, 10f, 20f], Apply(ml.Transforms.ResampleSeries(pad).Fit(data), data)[0]);
    }

    [SkippableFact]
    public void MeanAveragesTheStepsEachOutputStepCoversAndStretchesShorterSeriesLinearly()
    {
        var ml = new MLContext(0);
        IDataView data = ml.Data.LoadFromEnumerable(new[]
        {
            new Row { Series = [1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60] }, // 6 steps per channel -> 3: pairs averaged
            new Row { Series = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] },
            new Row { Series = [0, 10, 20, 30] },                          // 2 steps -> 3: as Linear
        });
        var options = new ResampleSeriesOptions { InputColumnName = "Series", OutputColumnName = "Fixed", Channels = 2, Length = 3, Resampling = SeriesResampling.Mean };
        ITransformer model = ml.Transforms.ResampleSeries(options).Fit(data);
        float[][] result = Apply(model, data);
        Assert.Equal([1.5f, 3.5f, 5.5f, 15f, 35f, 55f], result[0]);
        Assert.Equal([1.5f, 3.5f, 5.5f, 7.5f, 9.5f, 11.5f], result[1]);
        Assert.Equal([0f, 5f, 10f, 20f, 25f, 30f], result[2]);
        // 6 steps -> 4: each output step covers 1.5 input steps, the step cut in two counts by half on either side.
        options.Channels = 1;
        options.Length = 4;
        IDataView one = ml.Data.LoadFromEnumerable(new[] { new Row { Series = [1, 2, 3, 4, 5, 6] } });
        float[] quarters = ml.Transforms.ResampleSeries(options).Fit(one).Transform(one).GetColumn<VBuffer<float>>("Fixed").Single().DenseValues().ToArray();
        Assert.Equal([4f / 3, 8f / 3, 13f / 3, 17f / 3], quarters, (a, b) => Math.Abs(a - b) < 1e-5f);
        // Linear picks steps instead: the noise of the steps it skips stays in the ones it keeps.
        options.Resampling = SeriesResampling.Linear;
        Assert.NotEqual(quarters, ml.Transforms.ResampleSeries(options).Fit(one).Transform(one).GetColumn<VBuffer<float>>("Fixed").Single().DenseValues().ToArray());

        string path = Path.Combine(Path.GetTempPath(), $"resample-mean-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            ITransformer loaded = ml.Model.Load(path, out _);
            Assert.Equal(SeriesResampling.Mean, Assert.IsType<ResampleSeriesTransformer>(loaded).Resampling);
            Assert.Equal(result, Apply(loaded, data));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SkippableFact]
    public void SavedAndLoadedModelGivesTheSameValuesAndServesPredictionEngines()
    {
        var ml = new MLContext(0);
        IDataView data = ml.Data.LoadFromEnumerable(new[] { new Row { Series = [0, 3, 6, 9] }, new Row { Series = [1, 2, 3, 4, 5, 6, 7] } });
        ITransformer model = ml.Transforms.ResampleSeries("Fixed", "Series", channels: 1, length: 3).Fit(data);
        string path = Path.Combine(Path.GetTempPath(), $"resample-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            ITransformer loaded = ml.Model.Load(path, out DataViewSchema schema);
            Assert.Equal(Apply(model, data), Apply(loaded, data));
            Assert.Equal([0f, 4.5f, 9f], Apply(loaded, data)[0]);
            var resample = Assert.IsType<ResampleSeriesTransformer>(loaded);
            Assert.Equal(3, resample.Length);
            using var engine = ml.Model.CreatePredictionEngine<Row, Fixed>(loaded);
            Assert.Equal([2f, 3f, 4f], engine.Predict(new Row { Series = [2, 3, 4] }).Values);
            Assert.Equal([0f, 5f, 10f], engine.Predict(new Row { Series = [0, 10] }).Values);
            Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 3), loaded.GetOutputSchema(schema)["Fixed"].Type);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SkippableFact]
    public void ARowThatIsNotAWholeNumberOfStepsIsNamed()
    {
        var ml = new MLContext(0);
        IDataView data = ml.Data.LoadFromEnumerable(new[] { new Row { Series = [1, 2] }, new Row { Series = [1, 2, 3] } });
        ITransformer model = ml.Transforms.ResampleSeries("Fixed", "Series", channels: 2, length: 4).Fit(data);
        var error = Assert.Throws<InvalidDataException>(() => Apply(model, data));
        Assert.Contains("Row 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Series'", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.ResampleSeries("Fixed", "Series", channels: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.ResampleSeries("Fixed", "Missing").Fit(data));
    }

    [SkippableFact]
    public void AnInfinityIsNamedWithItsRowChannelAndIndexNotReportedAsAMissingValueLater()
    {
        var ml = new MLContext(0);
        IDataView data = ml.Data.LoadFromEnumerable(new[] { new Row { Series = [1, 2, 3, 4] }, new Row { Series = [1, 2, 3, float.PositiveInfinity] } });
        ITransformer model = ml.Transforms.ResampleSeries("Fixed", "Series", channels: 2, length: 3).Fit(data);
        var error = Assert.Throws<InvalidDataException>(() => Apply(model, data));
        Assert.Contains("Row 1 of column 'Series'", error.Message, StringComparison.Ordinal);
        Assert.Contains("at index 3 (channel 1)", error.Message, StringComparison.Ordinal);
        Assert.Contains("infinity", error.Message, StringComparison.Ordinal);

        // In a PredictionEngine the row is the one passed to Predict; its position counts the engine's calls ("Row 2" on a
        // third call, a row the caller never had).
        using var engine = ml.Model.CreatePredictionEngine<Row, Fixed>(model);
        Assert.Equal(6, engine.Predict(new Row { Series = [1, 2, 3, 4] }).Values.Length); // 2 channels x 3 steps
        Assert.Equal(6, engine.Predict(new Row { Series = [5, 6, 7, 8] }).Values.Length);
        var predict = Assert.Throws<InvalidDataException>(() => engine.Predict(new Row { Series = [] }));
        Assert.StartsWith("Column 'Series' of the row to predict holds an empty series", predict.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void MissingValuesTakeThePreviousValueOfTheirChannel()
    {
        var ml = new MLContext(0);
        IDataView data = ml.Data.LoadFromEnumerable(new[] { new Row { Series = [float.NaN, 2, float.NaN, 4, 10, float.NaN, float.NaN, 40] } });
        float[] linear = Apply(ml.Transforms.ResampleSeries("Fixed", "Series", channels: 2, length: 4).Fit(data), data)[0];
        Assert.Equal([2f, 2f, 2f, 4f, 10f, 10f, 10f, 40f], linear);
        var pad = new ResampleSeriesOptions { InputColumnName = "Series", OutputColumnName = "Fixed", Channels = 2, Length = 5, Resampling = SeriesResampling.PadOrTruncate };
        Assert.Equal([2f, 2f, 2f, 4f, 4f, 10f, 10f, 10f, 40f, 40f], Apply(ml.Transforms.ResampleSeries(pad).Fit(data), data)[0]);

        IDataView empty = ml.Data.LoadFromEnumerable(new[] { new Row { Series = [1, 2] }, new Row { Series = [1, 2, float.NaN, float.NaN] } });
        var error = Assert.Throws<InvalidDataException>(() => Apply(ml.Transforms.ResampleSeries("Fixed", "Series", channels: 2, length: 4).Fit(empty), empty));
        Assert.Contains("Row 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("channel 1", error.Message, StringComparison.Ordinal);
    }

    private sealed class Labeled
    {
        public float[] Series { get; set; } = [];
        public string Label { get; set; } = "";
    }

    private sealed class Predicted
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    [SkippableFact]
    public void APredictionEngineGivenASeriesWithMissingValuesPredictsAsForTheFilledSeries()
    {
        // What the generated Web API does with {"series": [..., "NaN", ...]}: raw GunPoint values into L-BFGS, the model the
        // search picks when SSL does not win. A NaN used to reach the trainer: NaN scores and an empty label, with status 200.
        var rows = CliDataLoadingTests.GunPoint()
            .Select(r => new Labeled { Label = r.Label, Series = r.Values.Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray() }).ToArray();
        var ml = new MLContext(0);
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        ITransformer model = ml.Transforms.ResampleSeries("Fixed", "Series", channels: 1, length: 150)
            .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", "Fixed"))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(data);
        using var engine = ml.Model.CreatePredictionEngine<Labeled, Predicted>(model);
        foreach (Labeled row in rows.Take(10))
        {
            float[] holes = row.Series.Select((v, i) => i % 7 == 0 ? float.NaN : v).ToArray();
            float[] filled = row.Series.Select((v, i) => i == 0 ? row.Series[1] : i % 7 == 0 ? row.Series[i - 1] : v).ToArray();
            Predicted withHoles = engine.Predict(new Labeled { Series = holes });
            float[] scores = withHoles.Score.ToArray();
            Predicted expected = engine.Predict(new Labeled { Series = filled });
            Assert.All(scores, s => Assert.True(float.IsFinite(s)));
            Assert.Equal(expected.PredictedLabel, withHoles.PredictedLabel);
            Assert.Equal(expected.Score, scores);
        }
    }
}
