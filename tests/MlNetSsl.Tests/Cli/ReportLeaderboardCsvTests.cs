using System.Globalization;
using Microsoft.ML.SearchSpace;
using MlNetSsl.AutoML;
using MlNetSsl.Cli.Report;
using MlNetSsl.Cli.Run;
using Xunit;

namespace MlNetSsl.Tests.Cli;

public sealed class ReportLeaderboardCsvTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "mlnetssl-leaderboard-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [SkippableFact]
    public void ALineLoggedAfterTheRunsLogClosedIsDropped()
    {
        // A trial's thread may log as the run ends; the closed file used to throw ObjectDisposedException at that line.
        Directory.CreateDirectory(_folder);
        string path = Path.Combine(_folder, "log.txt");
        var log = new RunLog("q", path);
        log.Info("before");
        log.Dispose();
        log.Info("after");
        log.Dispose();
        Assert.Contains("before", File.ReadAllText(path), StringComparison.Ordinal);
        Assert.DoesNotContain("after", File.ReadAllText(path), StringComparison.Ordinal);
        Assert.Null(log.FileProblem);
    }

    [SkippableTheory]
    [InlineData(SslFeatureSource.SelfSupervised, true)]
    [InlineData(SslFeatureSource.RawAndSelfSupervised, true)]
    [InlineData(SslFeatureSource.RawFeatures, false)]
    [InlineData(SslFeatureSource.SupervisedFromScratch, false)]
    public void UsesSslIsTrueOnlyForPipelinesWithAPretrainedEncoder(SslFeatureSource source, bool usesSsl)
    {
        // A network trained from scratch on the labels is one of the plain alternatives the report compares SSL with.
        var parameters = Parameters.FromJson($$"""{"{{SslSearchSpace.FeaturesOption}}":"{{source}}"}""");
        var trial = new TrialRecord(0, parameters, TrialStatus.Completed, [], TimeSpan.FromSeconds(1), null);
        Assert.Equal(usesSsl, TrialDescriptions.UsesSsl(trial));
    }

    [SkippableFact]
    public void ATrialCancelledBeforeItsFirstRungIsDescribedAtTheEpochsItWasTrainingTo()
    {
        // The progress line said "2 epochs" (the rung it was training to); the leaderboard said the configured 10.
        var trial = new TrialRecord(3, Parameters.FromJson($$"""{"{{SslSearchSpace.FeaturesOption}}":"SelfSupervised"}"""),
            TrialStatus.Running, [], TimeSpan.Zero, null);
        var progress = new SearchProgress(new RunLog("q", null));
        Assert.Null(progress.TrainingTo(3));
        progress.Report(new SslTrialReport(TrialReportKind.Running, trial, 2, null, TimeSpan.FromSeconds(5), 4, isReplay: false));
        var cancelled = new TrialRecord(3, trial.Parameters, TrialStatus.Cancelled, [], TimeSpan.FromSeconds(9), null);
        progress.Report(new SslTrialReport(TrialReportKind.Stopped, cancelled, null, null, TimeSpan.FromSeconds(14), 4, isReplay: false));
        Assert.Equal(2, progress.TrainingTo(3));
        Assert.Contains(" 2 epochs ", progress.Describe(cancelled), StringComparison.Ordinal);
        Assert.DoesNotContain(" 2 epochs ", TrialDescriptions.Describe(cancelled), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ARawFeatureTrialShowsItsFirstResultSoASearchStoppedBetweenItsRungsStillShowsItsMetric()
    {
        // PLAID's run went from "trial 0 Running" to "Search done" with no line for the raw LightGBM trial's 0.6648: it
        // was paused between rungs when the search stopped, and only its Completed line would have shown.
        string path = Path.Combine(Path.GetTempPath(), $"mlnetssl-progress-{Guid.NewGuid():N}.log");
        try
        {
            var parameters = Parameters.FromJson($$"""{"{{SslSearchSpace.FeaturesOption}}":"RawFeatures"}""");
            TrialRecord At(TrialStatus status, params int[] rungs) =>
                new(1, parameters, status, [.. rungs.Select(f => new RungResult(f, 0.6648, TimeSpan.FromSeconds(1)))], TimeSpan.FromSeconds(rungs.Length), null);
            using (var log = new RunLog("q", path))
            {
                var progress = new SearchProgress(log);
                progress.Report(new SslTrialReport(TrialReportKind.Running, At(TrialStatus.Running), 2, null, TimeSpan.FromSeconds(0), 1, isReplay: false));
                progress.Report(new SslTrialReport(TrialReportKind.RungCompleted, At(TrialStatus.Paused, 2), 2, null, TimeSpan.FromSeconds(1), 1, isReplay: false));
                progress.Report(new SslTrialReport(TrialReportKind.Running, At(TrialStatus.Running, 2), 6, null, TimeSpan.FromSeconds(1), 1, isReplay: false));
                progress.Report(new SslTrialReport(TrialReportKind.RungCompleted, At(TrialStatus.Paused, 2, 6), 6, null, TimeSpan.FromSeconds(2), 1, isReplay: false));
            }
            string[] lines = File.ReadAllLines(path).Where(l => l.Contains("trial  1", StringComparison.Ordinal)).ToArray();
            Assert.Equal(2, lines.Length); // the start and the first result; the repeated rung is not shown
            Assert.Contains("RungCompleted", lines[1], StringComparison.Ordinal);
            Assert.Contains("0.6648", lines[1], StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SkippableFact]
    public void TheLiveTablesMetricColumnNamesTheSearchMetric()
    {
        // It read "CV accuracy" whatever --metric the search optimized.
        var trial = new TrialRecord(1, Parameters.FromJson($$"""{"{{SslSearchSpace.FeaturesOption}}":"RawFeatures"}"""),
            TrialStatus.Completed, [new RungResult(null, 0.7, TimeSpan.FromSeconds(1))], TimeSpan.FromSeconds(1), null);
        var f1 = new SearchProgress(new RunLog("q", null), "f1");
        Assert.Equal("CV f1", f1.MetricHeader);
        f1.Report(new SslTrialReport(TrialReportKind.Completed, trial, null, trial, TimeSpan.FromSeconds(1), 1, isReplay: false));
        Assert.Equal("CV f1", f1.MetricHeader);
        var labelFree = new SearchProgress(new RunLog("q", null), "accuracy");
        labelFree.Report(new SslTrialReport(TrialReportKind.Completed, trial, null, trial, TimeSpan.FromSeconds(1), 1, isReplay: false)
            .WithDescription("RawFeatures -> label-free score", scoredLabelFree: true));
        Assert.Equal("Label-free score", labelFree.MetricHeader);
        Assert.Equal("CV accuracy", new SearchProgress(new RunLog("q", null)).MetricHeader);
    }

    [SkippableFact]
    public void RawFeaturesBesideTheEmbeddingAreNamedInThePipelineDescription()
    {
        // The two pipelines differ only in the raw input beside the embedding; a leaderboard that wrote both the same way
        // hid which one was chosen.
        TrialRecord Trial(SslFeatureSource source) =>
            new(0, Parameters.FromJson($$"""{"{{SslSearchSpace.FeaturesOption}}":"{{source}}"}"""), TrialStatus.Completed, [], TimeSpan.FromSeconds(1), null);
        string embedding = TrialDescriptions.Describe(Trial(SslFeatureSource.SelfSupervised));
        string both = TrialDescriptions.Describe(Trial(SslFeatureSource.RawAndSelfSupervised));
        Assert.StartsWith("Raw features and ", both, StringComparison.Ordinal);
        Assert.Equal(embedding, both["Raw features and ".Length..]);
        Assert.StartsWith("Raw features + ", TrialDescriptions.Describe(Trial(SslFeatureSource.RawFeatures)), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void RoundTripsThroughAnRfc4180Reader()
    {
        LeaderboardRow[] rows =
        [
            new(1, 4, "SimCLR \"wide\", ConvNet\r\n+ L-BFGS", 0.812345678, 0.0123456, 12, 31.25, 0, "Completed", true,
                new Dictionary<string, string> { ["lr"] = "0.003", ["augment"] = "crop, flip" }),
            new(2, 7, "Raw pixels + LightGBM", 0.7, null, null, 4.04, 31.25, "Pruned", false, new Dictionary<string, string>()),
            new(3, 2, "BYOL ResNet-8 + L-BFGS", null, null, 3, 0.5, 35.3, "Failed", true, new Dictionary<string, string> { ["tau"] = "0.99" }),
        ];
        string path = Path.Combine(_folder, "leaderboard.csv");
        var culture = CultureInfo.CurrentCulture;
        try
        {
            // A culture with decimal commas must not leak into the file.
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
            LeaderboardCsv.Write(rows, path, "macro-accuracy");
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }

        var csv = ReportSamples.ReadCsv(File.ReadAllText(path));
        Assert.Equal(
            ["rank", "trial", "pipeline", "uses_ssl", "status", "validation_macro_accuracy_4dp", "validation_macro_accuracy_sd_4dp",
             "fidelity", "duration_s", "started_at_s", "parameters"],
            csv[0]);
        Assert.Equal(rows.Length + 1, csv.Count);
        for (int i = 0; i < rows.Length; i++)
        {
            var row = rows[i];
            var fields = csv[i + 1];
            Assert.Equal(csv[0].Count, fields.Count);
            Assert.Equal(row.Rank, int.Parse(fields[0], CultureInfo.InvariantCulture));
            Assert.Equal(row.TrialId, int.Parse(fields[1], CultureInfo.InvariantCulture));
            Assert.Equal(row.Pipeline, fields[2]);
            Assert.Equal(row.UsesSsl, bool.Parse(fields[3]));
            Assert.Equal(row.Status, fields[4]);
            AssertRounded(row.Metric, fields[5], 4);
            AssertRounded(row.MetricSpread, fields[6], 4);
            Assert.Equal(row.Fidelity, fields[7] == "" ? null : int.Parse(fields[7], CultureInfo.InvariantCulture));
            AssertRounded(row.DurationSeconds, fields[8], 1);
            AssertRounded(row.StartedAt, fields[9], 1);
            var parameters = fields[10] == "" ? [] : fields[10].Split("; ").Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
            Assert.Equal(row.Parameters.OrderBy(p => p.Key), parameters.OrderBy(p => p.Key));
        }
        Assert.Equal("0.8123", csv[1][5]);
        Assert.Equal([], Directory.GetFiles(_folder, "*.tmp"));
    }

    [SkippableFact]
    public void MetricNameShapesTheHeader()
    {
        Assert.Equal("validation_log_loss_4dp", LeaderboardCsv.Header("log-loss")[5]);
        Assert.Equal("validation_auc_sd_4dp", LeaderboardCsv.Header("AUC")[6]);
        Assert.Equal("label_free_score_4dp", LeaderboardCsv.Header("accuracy", labelFree: true)[5]);
        Assert.Equal("label_free_score_sd_4dp", LeaderboardCsv.Header("accuracy", labelFree: true)[6]);
        Assert.Equal("", LeaderboardCsv.FormatMetric(null));
        Assert.Equal("NaN", LeaderboardCsv.FormatMetric(double.NaN));
    }

    private static void AssertRounded(double? expected, string field, int decimals)
    {
        if (expected is null)
        {
            Assert.Equal("", field);
            return;
        }
        Assert.Matches($"^-?\\d+\\.\\d{{{decimals}}}$", field);
        double halfStep = 0.5 * Math.Pow(10, -decimals);
        Assert.InRange(double.Parse(field, CultureInfo.InvariantCulture), expected.Value - halfStep - 1e-12, expected.Value + halfStep + 1e-12);
    }

    [SkippableFact]
    public void TheLeaderboardListsOnlyTheOptionsAPipelineRead()
    {
        // A network trained from scratch read no trainer choice and no encoder freeze; raw features read no pretraining.
        Parameters defaults = SslSearchSpace.For(SslInputKind.Tabular).Default;
        IReadOnlyDictionary<string, string> Listed(SslFeatureSource source) => TrialDescriptions.Flatten(
            new TrialRecord(0, defaults.With(SslSearchSpace.FeaturesOption, source.ToString()), TrialStatus.Completed, [], TimeSpan.FromSeconds(1), null));

        IReadOnlyDictionary<string, string> scratch = Listed(SslFeatureSource.SupervisedFromScratch);
        Assert.DoesNotContain("Downstream.Trainer", scratch.Keys);
        Assert.DoesNotContain("Downstream.FreezeEncoder", scratch.Keys);
        Assert.DoesNotContain(scratch.Keys, k => k.StartsWith("Downstream.LightGbm", StringComparison.Ordinal));
        Assert.Contains("Downstream.FineTuneEpochs", scratch.Keys);
        Assert.Contains("Pretraining.Encoder", scratch.Keys);

        IReadOnlyDictionary<string, string> raw = Listed(SslFeatureSource.RawFeatures);
        Assert.DoesNotContain(raw.Keys, k => k.StartsWith("Pretraining.", StringComparison.Ordinal));
        Assert.Equal("LinearProbe", raw["Downstream.Trainer"]);
        Assert.Contains("Downstream.L1Regularization", raw.Keys);
        Assert.DoesNotContain("Downstream.FineTuneEpochs", raw.Keys);

        Assert.Contains(Listed(SslFeatureSource.SelfSupervised).Keys, k => k.StartsWith("Pretraining.", StringComparison.Ordinal));
    }
}
