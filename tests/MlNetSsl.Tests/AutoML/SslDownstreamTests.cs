using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>The downstream trainers the search cross-validates and refits (<see cref="SslDownstreamParameters.CreateTrainer"/>).</summary>
public sealed class SslDownstreamTests
{
    private sealed class Row
    {
        public float[] Features { get; set; } = [];

        public uint Label { get; set; }
    }

    [SkippableTheory]
    [InlineData(11, 1.0)]
    [InlineData(1000, 1.0)]
    [InlineData(3072, 1000.0 / 3072)]
    [InlineData(9000, 1000.0 / 9000)]
    public void LightGbmTreesSampleAThousandFeaturesOfWideRows(int width, double fraction) =>
        Assert.Equal(fraction, WideRowLightGbmEstimator.FeatureFraction(width), 12);

    [SkippableFact]
    public void OnNarrowRowsTheTrainerIsMlNetsLightGbmAndOnWideRowsItsTreesSeeSampledFeatures()
    {
        // White wine quality (UCI, 11 features): as it is, and 100 noisy copies of each row's features (1,100 values; exact
        // copies would give the same splits whichever copy a tree sampled).
        float[][] features = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "winequality-white.csv"))
            .Where(line => line.Length > 0).Take(600)
            .Select(line => line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        // Classes: quality 3-5, 6 and 7-9, as 0-based values (LoadFromEnumerable stores value v as key v + 1).
        uint[] labels = features.Select(f => f[11] <= 5 ? 0u : f[11] == 6 ? 1u : 2u).ToArray();
        var downstream = new SslDownstreamParameters { Trainer = DownstreamTrainer.LightGbm, LightGbmIterations = 20 };
        var ml = new MLContext(1);

        float[][] Scores(int repeats, bool plain)
        {
            var noise = new Random(7);
            Row[] rows = features.Select((f, i) => new Row
            {
                Features = Enumerable.Range(0, repeats)
                    .SelectMany(r => f[..11].Select(v => r == 0 ? v : v * (1 + 0.05f * (float)noise.NextDouble()))).ToArray(),
                Label = labels[i],
            }).ToArray();
            var schema = SchemaDefinition.Create(typeof(Row));
            schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 11 * repeats);
            schema[nameof(Row.Label)].ColumnType = new KeyDataViewType(typeof(uint), 3);
            IDataView data = ml.Data.LoadFromEnumerable(rows, schema);
            IEstimator<ITransformer> trainer = plain
                ? ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
                {
                    LabelColumnName = "Label", FeatureColumnName = "Features", NumberOfLeaves = downstream.LightGbmLeaves,
                    MinimumExampleCountPerLeaf = downstream.LightGbmMinimumRowsPerLeaf, NumberOfIterations = downstream.LightGbmIterations,
                    NumberOfThreads = 1, Seed = 1, Silent = true, Verbose = false,
                })
                : downstream.CreateTrainer(ml, "Label", "Features");
            return trainer.Fit(data).Transform(data).GetColumn<float[]>("Score").ToArray();
        }

        Assert.Equal(Scores(1, plain: true), Scores(1, plain: false));
        float[][] wideScores = Scores(100, plain: false);
        Assert.NotEqual(Scores(100, plain: true), wideScores);
        // Still a model of the data: most training rows scored highest for their own class.
        double correct = wideScores.Select((s, i) => s.AsSpan().IndexOf(s.Max()) == labels[i] ? 1 : 0).Average();
        Assert.True(correct > 0.7, $"training accuracy {correct:P1}");
    }

    [SkippableFact]
    public void StandardizingLeavesOneHotIndicatorSlotsAsZeroAndOne()
    {
        // Abalone (UCI): sex one-hot (M, F, I) as a new ML.NET user would write it, then the 7 measurements. Standardizing a
        // 0/1 slot divides it by sqrt(p(1-p)), so a rare category's weight escapes the L2 penalty: on German credit (61
        // one-hot and numeric features, 70 labels, 20 label draws) the probe tested 68.3% standardized so, 70.6% with the
        // indicators left as they are (18 draws of 20); on adult (105 features, 800 labels) 83.9% and 84.6% (10 of 10).
        string[] sexes = ["M", "F", "I"];
        float[][] features = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "abalone.csv"))
            .Where(line => line.Length > 0).Take(300).Select(line => line.Split(','))
            .Select(cells => sexes.Select(s => cells[0] == s ? 1f : 0f)
                .Concat(cells[1..8].Select(v => float.Parse(v, CultureInfo.InvariantCulture))).ToArray()).ToArray();
        var ml = new MLContext(1);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 10);
        schema[nameof(Row.Label)].ColumnType = new KeyDataViewType(typeof(uint), 3);
        IDataView data = ml.Data.LoadFromEnumerable(features.Select(f => new Row { Features = f, Label = 0 }).ToArray(), schema);

        ITransformer standardizer = SslDownstream.Standardize(ml, "Features", features.Length).Fit(data);
        float[][] output = standardizer.Transform(data).GetColumn<float[]>("Features").ToArray();

        Assert.Equal(10, output[0].Length);
        for (int k = 0; k < 3; k++)
        {
            // The indicators as they are (to float rounding), whatever their share of the rows.
            double largest = features.Select((row, r) => Math.Abs(output[r][k] - row[k])).Max();
            Assert.True(largest < 1e-5, $"the '{sexes[k]}' indicator moved by up to {largest} (its values became {output.Select(r => r[k]).Distinct().Count()} values such as {output[0][k]})");
        }
        // The measurements are standardized as before: mean 0 and deviation 1 over the fitted rows.
        for (int slot = 3; slot < 10; slot++)
        {
            double mean = output.Average(row => (double)row[slot]);
            Assert.Equal(0, mean, 3);
            Assert.Equal(1, Math.Sqrt(output.Sum(row => (row[slot] - mean) * (row[slot] - mean)) / (output.Length - 1)), 2);
        }

        // The fitted standardizer saves and loads with the same output, as the models that hold it must.
        using var stream = new MemoryStream();
        ml.Model.Save(standardizer, data.Schema, stream);
        stream.Position = 0;
        ITransformer loaded = new MLContext(2).Model.Load(stream, out _);
        Assert.Equal(output, loaded.Transform(data).GetColumn<float[]>("Features").ToArray());
    }

    [SkippableTheory]
    [InlineData(20, 24, 6)]
    [InlineData(20, 80, 20)]
    [InlineData(2, 5, 1)]
    [InlineData(50, 3, 1)]
    public void RowsPerLeafIsAtMostAQuarterOfTheRows(int configured, long rows, int expected) =>
        Assert.Equal(expected, WideRowLightGbmEstimator.RowsPerLeaf(configured, rows));

    [SkippableFact]
    public void LightGbmWithTwentyRowsPerLeafStillSplitsTwentyFourRows()
    {
        // Banknote authentication (UCI): 12 rows of each class. LightGBM's own 20 rows per leaf grows no tree on 24 rows.
        Row[] rows = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv"))
            .Where(line => line.Length > 0)
            .Select(line => line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray())
            .GroupBy(v => (uint)v[4]).SelectMany(g => g.Take(12))
            .Select(v => new Row { Features = v[..4], Label = (uint)v[4] }).ToArray();
        var ml = new MLContext(1);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 4);
        schema[nameof(Row.Label)].ColumnType = new KeyDataViewType(typeof(uint), 2);
        IDataView data = ml.Data.LoadFromEnumerable(rows, schema);
        var downstream = new SslDownstreamParameters { Trainer = DownstreamTrainer.LightGbm, LightGbmMinimumRowsPerLeaf = 20 };

        uint[] predicted = downstream.CreateTrainer(ml, "Label", "Features").Fit(data).Transform(data)
            .GetColumn<uint>("PredictedLabel").ToArray();

        double correct = predicted.Select((p, i) => p == rows[i].Label + 1 ? 1.0 : 0.0).Average();
        Assert.True(correct > 0.8, $"training accuracy {correct:P1} (predicted classes: {string.Join(", ", predicted.Distinct())})");
    }

    [SkippableFact]
    public void LightGbmOnConstantFeaturesSaysSoInsteadOfAnOverflow()
    {
        // Banknote rows with every feature set to its first row's value: standardized, every value is zero, and ML.NET's
        // LightGBM loader threw a bare OverflowException, which the search showed as the trial's failure.
        float[][] values = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv"))
            .Where(line => line.Length > 0).Take(40)
            .Select(line => line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        Row[] rows = values.Select((v, i) => new Row { Features = values[0][..4], Label = (uint)(i % 2) }).ToArray();
        var ml = new MLContext(1);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 4);
        schema[nameof(Row.Label)].ColumnType = new KeyDataViewType(typeof(uint), 2);
        IDataView raw = ml.Data.LoadFromEnumerable(rows, schema);
        IDataView standardized = SslDownstream.Standardize(ml, "Features", labeledRows: rows.Length).Fit(raw).Transform(raw);
        var downstream = new SslDownstreamParameters { Trainer = DownstreamTrainer.LightGbm, LightGbmMinimumRowsPerLeaf = 5 };

        var error = Assert.Throws<InvalidOperationException>(() => downstream.CreateTrainer(ml, "Label", "Features").Fit(standardized));
        Assert.Contains("column 'Features': every value of every row is zero once standardized", error.Message, StringComparison.Ordinal);
        Assert.IsType<OverflowException>(error.InnerException);
    }

    [SkippableFact]
    public void FineTuningHasNoFeatureVectorTrainer() =>
        Assert.Throws<InvalidOperationException>(() =>
            new SslDownstreamParameters { Trainer = DownstreamTrainer.FineTune }.CreateTrainer(new MLContext(1), "Label", "Features"));
}
