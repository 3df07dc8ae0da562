using Microsoft.ML;
using MlNetSsl.AutoML;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>Input and label columns named like a column the experiment's pipelines write are refused before the search.</summary>
public sealed class SslReservedColumnTests
{
    /// <summary>An input named SslFeatures was replaced by the embedding before the raw + SSL refit read it, so the model
    /// concatenated the embedding with itself instead of the raw input the trial had scored; a label named Score was read
    /// back as the fine-tuned network's scores, and every fine-tuning trial failed. Both used to run.</summary>
    [SkippableTheory]
    [InlineData("SslFeatures", "Label", "RawAndSelfSupervised", "LinearProbe")]
    [InlineData("Features", "Score", "SelfSupervised", "FineTune")]
    [InlineData("Features", "PredictedLabel", "RawFeatures", "LinearProbe")]
    [InlineData("Features", "PredictedLabel", "SelfSupervised", "FineTune")]
    public async Task AColumnNamedLikeOneThePipelinesWriteIsRefusedBeforeTheSearch(string input, string label, string features, string trainer)
    {
        var ml = new MLContext(seed: 1);
        IDataView higgs = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(120, labeledEvery: 3));
        IDataView data = ml.Transforms.CopyColumns(input, "Features").Append(ml.Transforms.CopyColumns(label, "Label")).Fit(higgs).Transform(higgs);
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular).WithMethods(SslMethod.Scarf);
        Parameters configuration = SslExperimentData.Configuration(space, ("Features", features), ("Pretraining.Epochs", 2),
            ("Downstream.Trainer", trainer), ("Downstream.FineTuneEpochs", 10));
        SslExperiment experiment = ml.SelfSupervisedExperiment().SetDataset(data, label).SetInputColumn(input).SetSearchSpace(space)
            .SetTuner(SslExperimentData.Scripted($"reserved-{input}-{label}", configuration)).SetMaxTrials(1);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => experiment.RunAsync());
        Assert.Contains($"'{(input == "Features" ? label : input)}'", error.Message);
        Assert.Contains("CopyColumns", error.Message);
    }
}
