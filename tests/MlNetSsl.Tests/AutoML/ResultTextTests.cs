using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>The results' one-line ToString: what a caller logs (<c>Console.WriteLine(result)</c>) names the pipeline and the
/// metric, with a decimal point under any culture (it was the type's name).</summary>
public sealed class ResultTextTests
{
    private static readonly Parameters Configuration = Parameters.FromJson("""{"Features":"RawFeatures","lr":0.0025}""");

    private static T UnderGermanCulture<T>(Func<T> text)
    {
        var culture = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
            return text();
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
    }

    [SkippableFact]
    public void A_search_result_names_its_best_trial_its_metric_and_why_it_stopped()
    {
        var best = new TrialRecord(3, Configuration, TrialStatus.Completed, [new RungResult(8, 0.87531, TimeSpan.FromSeconds(4))], TimeSpan.FromSeconds(9), null);
        var failed = new TrialRecord(4, Configuration, TrialStatus.Failed, [], TimeSpan.FromSeconds(1), "boom");
        var result = new SearchResult([best, failed], SearchStopReason.TimeBudget, TimeSpan.FromSeconds(83.21), 8);

        Assert.Equal($"2 trials, stopped by TimeBudget after 83.2 s; best #3 Completed metric=0.87531 fidelity=8 {Configuration}",
            UnderGermanCulture(result.ToString));
        Assert.Equal("1 trial, stopped by EveryTrialFailed after 0 s; no trial produced a metric",
            UnderGermanCulture(new SearchResult([failed], SearchStopReason.EveryTrialFailed, TimeSpan.Zero, null).ToString));
    }

    [SkippableFact]
    public void An_experiment_result_and_its_trials_name_the_pipeline_and_the_metric()
    {
        var record = new TrialRecord(3, Configuration, TrialStatus.Completed, [new RungResult(null, 0.87531, TimeSpan.FromSeconds(4))], TimeSpan.FromSeconds(4), null);
        var trial = new SslTrialResult(record, new TransformerChain<ITransformer>()) { MetricStandardError = 0.0125 };
        Assert.Equal($"#3 metric=0.87531 +/- 0.0125 fidelity=- {Configuration}", UnderGermanCulture(trial.ToString));

        var result = new SslExperimentResult(trial, [record], SearchStopReason.MaxTrials, TimeSpan.FromSeconds(5))
        {
            OptimizingMetric = SslMetric.MacroAccuracy,
            BestPipelineDescription = "RawFeatures -> LbfgsMaximumEntropy(L1=0.5, L2=1)",
        };
        Assert.Equal("RawFeatures -> LbfgsMaximumEntropy(L1=0.5, L2=1): MacroAccuracy 0.87531 +/- 0.0125; 1 trial, stopped by MaxTrials",
            UnderGermanCulture(result.ToString));

        var tunerView = new TrialResult(3, Configuration, TrialStatus.Pruned, -0.87531, 2, TimeSpan.FromSeconds(1));
        Assert.Equal($"#3 Pruned loss=-0.87531 fidelity=2 {Configuration}", UnderGermanCulture(tunerView.ToString));
    }
}
