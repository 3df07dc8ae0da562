using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.MlNet;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.AutoML;

/// <summary>
/// <c>SetOptimizingMetric(MacroAccuracy)</c> on an imbalanced HIGGS slice (every signal row, one background row in six:
/// about 85% signal; 1 row in 3 labeled): the model divides its class probabilities by the class shares, so it predicts the
/// minority class far more often than the same pipeline under the accuracy metric, and its macro accuracy on held-out rows
/// (sliced the same way) is higher. The scores are the plain pipeline's times the factors, normalized, and survive a save.
/// </summary>
public sealed class SslBalancedDecisionsTests(ITestOutputHelper output)
{
    private static HiggsRow[] Imbalanced(string split, int count) =>
        [.. StageData.HiggsRows(split, count).Where((r, i) => r.Label == 1 || i % 6 == 0)];

    private static async Task<SslExperimentResult> Run(MLContext ml, IDataView data, SslMetric metric)
    {
        var space = SslSearchSpace.For(SslInputKind.Tabular);
        Parameters linear = SslExperimentData.Configuration(space, ("Features", "RawFeatures"), ("Downstream.Trainer", "LinearProbe"));
        return await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetSearchSpace(space)
            .SetTuner(SslExperimentData.Scripted("linear", linear))
            .SetOptimizingMetric(metric)
            .SetMaxTrials(1)
            .RunAsync();
    }

    private static double MacroAccuracy(float[] actual, float[] predicted) =>
        actual.Distinct().Average(c => Enumerable.Range(0, actual.Length).Count(i => actual[i] == c && predicted[i] == c) / (double)actual.Count(a => a == c));

    [SkippableFact]
    public async Task MacroAccuracyModelsDecideOnBalancedProbabilities()
    {
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = Imbalanced("train", 7000);
        for (int i = 0; i < rows.Length; i++) if (i % 3 != 0) rows[i].Label = float.NaN;
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        HiggsRow[] testRows = Imbalanced("test", 500);
        IDataView test = ml.Data.LoadFromEnumerable(testRows);
        float[] actual = [.. testRows.Select(r => r.Label)];
        output.WriteLine($"{rows.Length} rows ({rows.Count(r => r.Label == 0)} labeled background); test {testRows.Length} rows, {actual.Count(a => a == 0)} background");

        SslExperimentResult balanced = await Run(ml, data, SslMetric.MacroAccuracy);
        SslExperimentResult plain = await Run(ml, data, SslMetric.Accuracy);
        output.WriteLine(balanced.SelectionExplanation);
        Assert.Contains("divides its class probabilities by the classes' shares", balanced.SelectionExplanation, StringComparison.Ordinal);
        Assert.DoesNotContain("classes' shares", plain.SelectionExplanation ?? "", StringComparison.Ordinal);

        IDataView scoredBalanced = balanced.BestTrial.Model.Transform(test), scoredPlain = plain.BestTrial.Model.Transform(test);
        float[] predictedBalanced = [.. scoredBalanced.GetColumn<float>("PredictedLabel")], predictedPlain = [.. scoredPlain.GetColumn<float>("PredictedLabel")];
        double macroBalanced = MacroAccuracy(actual, predictedBalanced), macroPlain = MacroAccuracy(actual, predictedPlain);
        output.WriteLine($"test macro accuracy {macroBalanced:0.000} (MacroAccuracy) against {macroPlain:0.000} (Accuracy); background predicted " +
            $"{predictedBalanced.Count(p => p == 0)} against {predictedPlain.Count(p => p == 0)} times");
        // The same pipeline, refitted the same way: the background factor (> 1) can only add background predictions.
        Assert.True(predictedBalanced.Count(p => p == 0) > predictedPlain.Count(p => p == 0) * 1.5, "the minority class is not predicted more often");
        Assert.True(macroBalanced > macroPlain, $"macro accuracy {macroBalanced:0.000} against {macroPlain:0.000}");

        // Scores: the plain probabilities times the factors (inverse class shares), normalized.
        float[][] pb = StageData.Vectors(scoredBalanced, "Score"), pp = StageData.Vectors(scoredPlain, "Score");
        // The classes in score order, as the trainer annotates them (keys follow the labels' first appearance).
        VBuffer<float> names = default;
        scoredPlain.Schema["Score"].Annotations.GetValue(AnnotationUtils.Kinds.TrainingLabelValues, ref names);
        double[] factors = [.. names.DenseValues().Select(c => 1.0 / rows.Count(r => r.Label == c))];
        Assert.Equal(2, factors.Length);
        for (int row = 0; row < pb.Length; row++)
        {
            double total = pp[row][0] * factors[0] + pp[row][1] * factors[1];
            for (int k = 0; k < 2; k++) Assert.Equal(pp[row][k] * factors[k] / total, pb[row][k], 1e-4);
        }

        string zip = Path.Combine(Path.GetTempPath(), $"mlnetssl-balanced-{Environment.ProcessId}.zip");
        try
        {
            ml.Model.Save(balanced.BestTrial.Model, data.Schema, zip);
            IDataView reloaded = new MLContext(2).Model.Load(zip, out _).Transform(test);
            Assert.Equal(predictedBalanced, reloaded.GetColumn<float>("PredictedLabel"));
        }
        finally
        {
            File.Delete(zip);
        }
    }

    [SkippableFact]
    public async Task AFineTunedNetworkGetsTheBalancingStepToo()
    {
        // The step reads the network's class probabilities as it reads a trainer's: SCARF pretraining, then fine-tuning.
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = Imbalanced("train", 2400);
        for (int i = 0; i < rows.Length; i++) if (i % 2 != 0) rows[i].Label = float.NaN;
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        IDataView test = ml.Data.LoadFromEnumerable(Imbalanced("test", 500));
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular).WithMethods(SslMethod.Scarf);
        Parameters fineTune = SslExperimentData.Configuration(space, ("Pretraining.Epochs", 3), ("Downstream.Trainer", "FineTune"),
            ("Downstream.FineTuneEpochs", 10));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetSearchSpace(space)
            .SetTuner(SslExperimentData.Scripted("fine-tune", fineTune))
            .SetOptimizingMetric(SslMetric.MacroAccuracy)
            .SetMaxTrials(1)
            .RunAsync();
        output.WriteLine(result.BestPipelineDescription);
        output.WriteLine(result.SelectionExplanation);
        Assert.Contains("FineTune", result.BestPipelineDescription, StringComparison.Ordinal);
        Assert.Contains("divides its class probabilities by the classes' shares", result.SelectionExplanation, StringComparison.Ordinal);
        IDataView scored = result.BestTrial.Model.Transform(test);
        float[][] scores = StageData.Vectors(scored, "Score");
        Assert.All(scores, s => Assert.Equal(1.0, s.Sum(v => (double)v), 1e-4));
        Assert.NotNull(scored.Schema.GetColumnOrNull(ClassScoreAverageEstimator.WeightedColumnName));
        float[] predicted = [.. scored.GetColumn<float>("PredictedLabel")];
        output.WriteLine($"background predicted for {predicted.Count(p => p == 0)} of {predicted.Length} test rows");
    }
}
