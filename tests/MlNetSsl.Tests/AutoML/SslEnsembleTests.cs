using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.MlNet;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.AutoML;

/// <summary>
/// The experiment's ensemble of raw-feature pipelines on HIGGS rows (1 in 3 labeled): raw L-BFGS and raw LightGBM, whose
/// held-out scores the selection combines; the model averages the refitted members' probabilities with the selection's
/// weights, predicts as it scores, survives a save and load, and is the chosen pipeline alone when the selection is off.
/// </summary>
public sealed class SslEnsembleTests(ITestOutputHelper output)
{
    private static async Task<(SslExperimentResult Result, IDataView Test)> Run(bool ensemble, string? checkpoint = null,
        Func<TrialRecord, Exception?>? refitFault = null)
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(3000, labeledEvery: 3));
        IDataView test = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 1000));
        var space = SslSearchSpace.For(SslInputKind.Tabular);
        Parameters linear = SslExperimentData.Configuration(space, ("Features", "RawFeatures"), ("Downstream.Trainer", "LinearProbe"));
        Parameters trees = SslExperimentData.Configuration(space, ("Features", "RawFeatures"), ("Downstream.Trainer", "LightGbm"));
        SslExperiment experiment = ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetSearchSpace(space)
            .SetTuner(SslExperimentData.Scripted("linear and trees", linear, trees))
            .SetEnsembleSelection(ensemble)
            .SetMaxTrials(2);
        if (checkpoint is not null) experiment.SetCheckpoint(checkpoint);
        experiment.RefitFault = refitFault;
        SslExperimentResult result = await experiment.RunAsync();
        return (result, test);
    }

    [SkippableFact]
    public async Task TheModelAveragesTheSelectedRawPipelinesWithTheirWeights()
    {
        var (result, test) = await Run(ensemble: true);
        output.WriteLine(result.BestPipelineDescription);
        output.WriteLine(result.SelectionExplanation);

        Assert.Equal(2, result.Ensemble.Count);
        Assert.Equal([0, 1], result.Ensemble.Select(m => m.TrialId).Order());
        Assert.Equal(1.0, result.Ensemble.Sum(m => m.Weight), 9);
        Assert.All(result.Ensemble, m => Assert.True(m.Weight > 0 && m.Weight < 1, $"weight {m.Weight}"));
        Assert.Contains(result.Ensemble, m => m.Description.Contains("LbfgsMaximumEntropy", StringComparison.Ordinal));
        Assert.Contains(result.Ensemble, m => m.Description.Contains("LightGbm", StringComparison.Ordinal));
        Assert.StartsWith("Ensemble, the weighted mean of the class probabilities of: ", result.BestPipelineDescription);
        Assert.Contains("Ensemble selection on the cross-validation's held-out class scores of 2 raw-feature pipelines", result.SelectionExplanation);
        Assert.Equal(SslFeatureSource.RawFeatures, result.BestFeatureSource);

        // Score is the weighted mean of the members' refitted scores, in the order the model holds them (trial order).
        IDataView scored = result.BestTrial.Model.Transform(test);
        float[][] mean = StageData.Vectors(scored, "Score");
        float[][][] members = [.. result.Ensemble.Select((_, i) => StageData.Vectors(scored, $"Ssl_Ensemble{i}.Score"))];
        float[] predicted = [.. scored.GetColumn<float>("PredictedLabel")];
        // The classes in score order: a float label's values, as a single trainer annotates them.
        VBuffer<float> names = default;
        scored.Schema["Score"].Annotations.GetValue(AnnotationUtils.Kinds.TrainingLabelValues, ref names);
        float[] classes = [.. names.DenseValues()];
        int disagreements = 0;
        for (int row = 0; row < mean.Length; row++)
        {
            for (int k = 0; k < mean[row].Length; k++)
                Assert.Equal(result.Ensemble.Select((m, i) => m.Weight * members[i][row][k]).Sum(), mean[row][k], 1e-5);
            Assert.Equal(classes[Array.IndexOf(mean[row], mean[row].Max())], predicted[row]);
            if (Array.IndexOf(members[0][row], members[0][row].Max()) != Array.IndexOf(members[1][row], members[1][row].Max())) disagreements++;
        }
        output.WriteLine($"the members disagree on {disagreements} of {mean.Length} test rows");
        Assert.True(disagreements > 0);

        var ml = new MLContext(2);
        string path = Path.Combine(Path.GetTempPath(), $"mlnetssl-ensemble-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(result.BestTrial.Model, test.Schema, path);
            float[] reloaded = [.. ml.Model.Load(path, out _).Transform(test).GetColumn<float>("PredictedLabel")];
            Assert.Equal(predicted, reloaded);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SkippableFact]
    public async Task AResumedRunSelectsTheSameEnsembleFromTheStoredScores()
    {
        string checkpoint = Directory.CreateTempSubdirectory("mlnetssl-ensemble-resume-").FullName;
        try
        {
            var (first, _) = await Run(ensemble: true, checkpoint);
            // Every trial is finished, so the second run replays them from the journal and scores none again.
            var (resumed, _) = await Run(ensemble: true, checkpoint);
            Assert.NotEmpty(first.Ensemble);
            Assert.Equal(first.Ensemble.Select(m => (m.TrialId, m.Weight)), resumed.Ensemble.Select(m => (m.TrialId, m.Weight)));
            Assert.Equal(first.BestPipelineDescription, resumed.BestPipelineDescription);
        }
        finally
        {
            Directory.Delete(checkpoint, recursive: true);
        }
    }

    [SkippableFact]
    public async Task AnEnsembleWhoseRefitFailsLeavesTheChoiceAloneWithANote()
    {
        int refits = 0;
        var (result, test) = await Run(ensemble: true, refitFault: _ => ++refits == 1 ? new InvalidOperationException("Simulated refit failure.") : null);
        Assert.Equal(2, refits);
        Assert.Empty(result.Ensemble);
        Assert.Contains(result.Notes, n => n.StartsWith("The ensemble of trial 0 (", StringComparison.Ordinal)
            && n.EndsWith($"could not be refitted (InvalidOperationException: Simulated refit failure.); the model is trial {result.BestTrial.TrialId} alone.", StringComparison.Ordinal));
        Assert.DoesNotContain("Ensemble", result.BestPipelineDescription, StringComparison.Ordinal);
        Assert.Equal(500, result.BestTrial.Model.Transform(test).GetColumn<float>("PredictedLabel").Count());
        // The CLI shows this note on the console, where "Chosen:" then names one pipeline; other notes of this run go to
        // the log and report only.
        Assert.Single(result.Notes, MlNetSsl.Cli.Run.TrainingRun.ShowsOnConsole);
    }

    [SkippableFact]
    public async Task ASearchThatRunsToItsBudgetLeavesTimeForTheEnsemble()
    {
        // The default search (portfolio, then TPE) with a time budget and no trial limit, as the CLI runs it: it runs to
        // its budget. It used to keep back only the chosen pipeline's refit (and the second look), so an ensemble the
        // selection picked never fitted in what was left and the model was the choice alone (HIGGS at 12 and 60 s:
        // "their refits take about 1 s against 0 s left of the budget", 66.4% test against 68.0% with the ensemble).
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(3000, labeledEvery: 3));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features")
            .SetTrainingTimeInSeconds(15)
            .RunAsync();
        output.WriteLine(result.SelectionExplanation);
        foreach (string note in result.Notes) output.WriteLine(note);

        string? refused = result.Notes.FirstOrDefault(n => n.StartsWith("Ensemble selection picked", StringComparison.Ordinal));
        // On a host so slow that the portfolio's raw pipelines did not all run, or where the selection keeps one pipeline,
        // there is no ensemble to build.
        Skip.If(refused is null && result.Ensemble.Count == 0, "the selection picked no ensemble here");
        Assert.Null(refused);
        Assert.True(result.Ensemble.Count >= 2, result.BestPipelineDescription);
    }

    [SkippableFact]
    public void AnEnsembleOfQuickRefitsIsBuiltWhenTheSearchEndedAFractionOfASecondLate()
    {
        // ArrowHead through the CLI (36 series, 60 s): the search ended 0.2 s late and the ensemble of sub-second raw refits
        // was dropped ("their refits take about 0 s against 0 s left"); the same command again built it (0.686 against 0.611).
        TimeSpan Seconds(double s) => TimeSpan.FromSeconds(s);
        Assert.True(SslExperiment.EnsembleRefitsFit(refits: Seconds(0.4), left: Seconds(-0.2), choiceRefit: Seconds(0.1)));
        Assert.True(SslExperiment.EnsembleRefitsFit(refits: Seconds(3), left: Seconds(2), choiceRefit: Seconds(1)));
        // Refits of seconds still wait for the budget: beyond the choice's own refit and one second, no ensemble.
        Assert.False(SslExperiment.EnsembleRefitsFit(refits: Seconds(5), left: Seconds(0), choiceRefit: Seconds(1)));
        Assert.False(SslExperiment.EnsembleRefitsFit(refits: Seconds(60), left: Seconds(-10), choiceRefit: Seconds(30)));
    }

    [SkippableFact]
    public async Task WithoutEnsembleSelectionTheModelIsTheChosenPipelineAlone()
    {
        var (result, test) = await Run(ensemble: false);
        Assert.Empty(result.Ensemble);
        Assert.DoesNotContain("Ensemble", result.BestPipelineDescription, StringComparison.Ordinal);
        Assert.Null(result.BestTrial.Model.Transform(test).Schema.GetColumnOrNull("Ssl_Ensemble0.Score"));
    }
}
