using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.MlNet;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.AutoML;

/// <summary>The portfolio of baselines run first, raw + SSL features, the one-standard-error choice, fine-tuning epochs
/// that follow the fidelity and the per-trial time cap.</summary>
public sealed class SslPortfolioTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-automl-portfolio-").FullName;

    public SslPortfolioTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [SkippableFact]
    public void PortfolioStartsWithTheRawBaselinesOnTablesAndWithAShortSslRunOnImages()
    {
        SslSearchSpace tabular = SslSearchSpace.For(SslInputKind.Tabular);
        var entries = SslPortfolio.For(tabular, SslInputKind.Tabular, rows: 7000, labeledRows: 70);
        // The learned order (portfolio-learn on the shared tables) starts with the raw fits: L-BFGS, then LightGBM.
        Assert.Equal([(SslFeatureSource.RawFeatures, DownstreamTrainer.LinearProbe), (SslFeatureSource.RawFeatures, DownstreamTrainer.LightGbm)],
            entries.Take(2).Select(e => e.Configuration.AsType<SslTrialParameters>()).Select(p => (p.Features, p.Downstream.Trainer)));
        Assert.All(entries, e => Assert.True(tabular.Contains(e.Configuration)));
        // The probe's default has no L1; ML.NET's L1 of 1 runs beside it, on tables and series, among the first entries.
        foreach (SslInputKind kind in new[] { SslInputKind.Tabular, SslInputKind.Series })
        {
            var raw = SslPortfolio.For(SslSearchSpace.For(kind), kind, rows: 500, labeledRows: 50).Take(3)
                .Select(e => e.Configuration.AsType<SslTrialParameters>())
                .Where(p => p.Features == SslFeatureSource.RawFeatures && p.Downstream.Trainer == DownstreamTrainer.LinearProbe)
                .Select(p => p.Downstream.L1Regularization).ToArray();
            Assert.Contains(1.0, raw);
        }
        Assert.Equal(1e-4, entries[0].Configuration.AsType<SslTrialParameters>().Downstream.L1Regularization);
        Assert.Contains(entries, e => e.Configuration.AsType<SslTrialParameters>().Features == SslFeatureSource.RawAndSelfSupervised);
        Assert.Contains(entries, e => e.Configuration.Equals(tabular.Default));
        // Entries with a size limit: FixMatch needs 50 labels, raw pixels stop at 20,000 images.
        SslSearchSpace imageSpace = SslSearchSpace.For(SslInputKind.Image);
        Assert.Contains(SslPortfolio.For(imageSpace, SslInputKind.Image, 5000, 500), e => e.Name.Contains("FixMatch"));
        Assert.DoesNotContain(SslPortfolio.For(imageSpace, SslInputKind.Image, 5000, 40), e => e.Name.Contains("FixMatch"));
        Assert.DoesNotContain(SslPortfolio.For(imageSpace, SslInputKind.Image, 50_000, 500), e => e.Name.Contains("raw pixels"));
        // With 50 labels or more the learned order fine-tunes with FixMatch second; below 50 the order learned without the
        // FixMatch entries applies, where plain fine-tuning is second and worth its time (it was gain 0 behind FixMatch).
        var many = SslPortfolio.For(imageSpace, SslInputKind.Image, 5000, 500);
        Assert.Contains("FixMatch", many[1].Name, StringComparison.Ordinal);
        Assert.DoesNotContain(many, e => e.Name == "SSL + fine-tuning, 10 epochs" && e.Gainful);
        // From 2,000 images the order learned on the 2,000 and 5,000 pools alone applies: the 25-epoch FixMatch from the
        // short pretraining comes third, before FixMatch from the 10-epoch encoder (third on the smaller pools, gain 0
        // here), so a 600 s budget on 5,000 images has room for the entry that wins there.
        Assert.Equal("short SSL + FixMatch fine-tuning, 25 epochs", many[2].Name);
        Assert.True(many[2].Gainful);
        Assert.False(many.Single(e => e.Name == "SSL + FixMatch fine-tuning, 10 epochs").Gainful);
        var small = SslPortfolio.For(imageSpace, SslInputKind.Image, 1000, 100);
        Assert.Equal(["short SSL + L-BFGS probe", "short SSL + FixMatch fine-tuning, 10 epochs", "SSL + FixMatch fine-tuning, 10 epochs",
            "short SSL + FixMatch fine-tuning, 25 epochs"], small.Take(4).Select(e => e.Name));
        Assert.All(small.Take(4), e => Assert.True(e.Gainful));
        Assert.Equal(many.Select(e => e.Name).Order(StringComparer.Ordinal), small.Select(e => e.Name).Order(StringComparer.Ordinal));
        var few = SslPortfolio.For(imageSpace, SslInputKind.Image, 5000, 40);
        Assert.Equal(["short SSL + L-BFGS probe", "SSL + fine-tuning, 10 epochs"], few.Take(2).Select(e => e.Name));
        Assert.Equal([true, true], few.Take(2).Select(e => e.Gainful));
        Assert.All(few.Skip(2), e => Assert.False(e.Gainful));

        // Without raw input in the space its entries are skipped, not run outside the space.
        SslSearchSpace pretrainedOnly = SslSearchSpace.For(SslInputKind.Tabular).WithoutRawFeatures();
        Assert.All(SslPortfolio.For(pretrainedOnly, SslInputKind.Tabular, 7000, 70),
            e => Assert.NotEqual(SslFeatureSource.RawFeatures, e.Configuration.AsType<SslTrialParameters>().Features));

        var images = SslPortfolio.For(SslSearchSpace.For(SslInputKind.Image), SslInputKind.Image, 5000, 500);
        SslTrialParameters firstImage = images[0].Configuration.AsType<SslTrialParameters>();
        Assert.Equal(SslFeatureSource.SelfSupervised, firstImage.Features);
        Assert.Equal(3, firstImage.Pretraining.Epochs);
    }

    [SkippableFact]
    public void TheLearnedOrderTakesTheMostGainPerSecondFirstAndPutsWhatAddsNothingLast()
    {
        // Dataset A: raw wins; dataset B: the SSL pipelines win. "ssl" and "ssl + LightGBM" share one pretraining (18 s).
        var m = new List<SslPortfolioBuilder.Measurement>
        {
            new("raw", "A", 0.80, 1, 0), new("raw", "B", 0.50, 1, 0),
            new("ssl", "A", 0.70, 20, 18), new("ssl", "B", 0.90, 20, 18),
            new("ssl + LightGBM", "A", 0.75, 21, 18), new("ssl + LightGBM", "B", 0.95, 21, 18),
            new("useless", "A", 0.60, 0.5, 0), new("useless", "B", 0.40, 0.5, 0),
        };
        string? Key(string name) => name.StartsWith("ssl", StringComparison.Ordinal) ? "ssl pretraining" : null;
        IReadOnlyList<SslPortfolioBuilder.Step> order = SslPortfolioBuilder.Order(m, Key);

        // Scaled per dataset (A: 0.6..0.8, B: 0.4..0.95): raw gains (1 + 0.18) / 2 = 0.59 for 1 s, far ahead per second;
        // then SSL + LightGBM (0.41 for 21 s) beats SSL (0.36 for 20 s). After it SSL raises no dataset's best and
        // "useless" never does: they come last with no gain, SSL first (mean scaled value 0.70 for the 2 s its shared
        // pretraining leaves, against 0 for "useless").
        Assert.Equal(["raw", "ssl + LightGBM", "ssl", "useless"], order.Select(s => s.Candidate));
        Assert.Equal((1 + 0.1 / 0.55) / 2, order[0].Gain, 9);
        Assert.Equal(0.5 * (1 - 0.1 / 0.55), order[1].Gain, 9);
        Assert.Equal(21, order[1].Seconds, 9);
        Assert.Equal([0.0, 0.0], order.Skip(2).Select(s => s.Gain));
        Assert.Equal(2, order[2].Seconds, 9);

        // Once an entry with the same pretraining is in, the next one costs only its downstream part.
        var shared = new List<SslPortfolioBuilder.Measurement>
        {
            new("probe", "A", 1.0, 10, 9), new("probe", "B", 0.5, 10, 9),
            new("lightgbm", "A", 0.5, 10, 9), new("lightgbm", "B", 1.0, 10, 9),
            new("raw", "A", 0.0, 1, 0), new("raw", "B", 0.0, 1, 0),
        };
        order = SslPortfolioBuilder.Order(shared, name => name == "raw" ? null : "same encoder");
        Assert.Equal(["probe", "lightgbm", "raw"], order.Select(s => s.Candidate)); // a tie per second goes to the earlier candidate
        Assert.Equal([10.0, 1.0, 1.0], order.Select(s => s.Seconds));

        var incomplete = m.Where(x => !(x.Candidate == "raw" && x.Dataset == "B")).ToList();
        Assert.Contains("'raw'", Assert.Throws<ArgumentException>(() => SslPortfolioBuilder.Order(incomplete, Key)).Message);
    }

    [SkippableFact]
    public void TheEmbeddedPortfolioIsTheDataFilesOrder()
    {
        // What For returns is the data file's list for the kind, in its order (or in its places in the order for larger
        // data, on data that large), minus entries outside the size limits.
        using var json = System.Text.Json.JsonDocument.Parse(SslPortfolio.Json);
        foreach (SslInputKind kind in new[] { SslInputKind.Tabular, SslInputKind.Image, SslInputKind.Series })
            foreach (long rows in new long[] { 1000, 5000 })
            {
                var entries = json.RootElement.GetProperty("portfolios").GetProperty(kind.ToString()).EnumerateArray()
                    .Where(e => !(e.TryGetProperty("minLabeledRows", out var min) && 100 < min.GetInt32()) && !(e.TryGetProperty("maxRows", out var max) && rows > max.GetInt64()))
                    .ToArray();
                bool large = entries.Any(e => e.TryGetProperty("fromRows", out var from) && rows >= from.GetProperty("rows").GetInt64());
                string[] names = entries.OrderBy(e => large ? e.GetProperty("fromRows").GetProperty("place").GetInt32() : 0)
                    .Select(e => e.GetProperty("name").GetString()!).ToArray();
                Assert.Equal(names, SslPortfolio.For(SslSearchSpace.For(kind), kind, rows, labeledRows: 100).Select(e => e.Name));
            }
    }

    [SkippableFact]
    public async Task TheDefaultTunerRunsTheRawBaselinesFirst()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 5));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features")
            .SetObjective(SslObjective.CrossValidatedAccuracy(folds: 3))
            .SetMaxTrials(2)
            .RunAsync();
        foreach (string note in result.Notes) _output.WriteLine(note);
        var byId = result.Trials.OrderBy(t => t.TrialId).Select(t => t.Parameters.AsType<SslTrialParameters>()).ToArray();
        Assert.Equal((SslFeatureSource.RawFeatures, DownstreamTrainer.LinearProbe), (byId[0].Features, byId[0].Downstream.Trainer));
        Assert.Equal((SslFeatureSource.RawFeatures, DownstreamTrainer.LightGbm), (byId[1].Features, byId[1].Downstream.Trainer));
        Assert.Contains(result.Notes, n => n.StartsWith("Portfolio first", StringComparison.Ordinal));
        Assert.Equal(0, result.PretrainingReuse!.Segments);
    }

    [SkippableFact]
    public async Task RawAndSslFeaturesRefitIntoOnePipelineThatConcatenatesBoth()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 3));
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular);
        Parameters both = SslExperimentData.Configuration(space, ("Features", "RawAndSelfSupervised"), ("Pretraining.Epochs", 2),
            ("Pretraining.EmbeddingSize", 64), ("Downstream.Trainer", "LightGbm"));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetSearchSpace(space)
            .SetObjective(SslObjective.CrossValidatedAccuracy(folds: 3))
            .SetTuner(SslExperimentData.Scripted("raw+ssl", both))
            .SetMaxTrials(1)
            .RunAsync();
        _output.WriteLine(result.BestPipelineDescription);

        Assert.Equal(SslFeatureSource.RawAndSelfSupervised, result.BestFeatureSource);
        Assert.StartsWith("RawAndSelfSupervised(raw input + SelfSupervised(Scarf", result.BestPipelineDescription);
        Assert.EndsWith("-> LightGbm(leaves=31, min rows per leaf=20, iterations=100)", result.BestPipelineDescription);
        Assert.Equal(SslFeatureSource.RawAndSelfSupervised, Assert.Single(result.TrialMeasures).FeatureSource);
        Assert.Equal(1, result.PretrainingReuse!.Segments);

        IDataView test = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 100));
        IDataView scored = result.BestTrial.Model.Transform(test);
        Assert.Equal(28 + 64, ((VectorDataViewType)scored.Schema["SslFeatures"].Type).Size);
        float[] before = scored.GetColumn<float>("PredictedLabel").ToArray();
        string path = Path.Combine(_folder, "both.zip");
        ml.Model.Save(result.BestTrial.Model, data.Schema, path);
        var fresh = new MLContext(seed: 2);
        ITransformer loaded = fresh.Model.Load(path, out _);
        Assert.Equal(before, loaded.Transform(fresh.Data.LoadFromEnumerable(StageData.HiggsRows("test", 100))).GetColumn<float>("PredictedLabel").ToArray());
        (loaded as IDisposable)?.Dispose();
        ((IDisposable)result.BestTrial.Model).Dispose();
    }

    [SkippableFact]
    public void TheSelectionExplanationCallsASlowerSimplerPipelineSimplestNotCheapest()
    {
        // An audit's banknote run (F1): a probe on embeddings (2.6 s) was chosen over a fine-tuned network (1.7 s) within the
        // error, and the explanation read "chose the simplest and cheapest, trial 6 (0.8, 2.6 s to build against 1.7 s ...)".
        SearchSpace ssl = SslSearchSpace.For(SslInputKind.Tabular);
        TrialRecord Ssl(int id, string trainer, double metric, double seconds) => new(id, SslExperimentData.Configuration(ssl,
            ("Downstream.Trainer", trainer)), TrialStatus.Completed, [new RungResult(null, metric, TimeSpan.FromSeconds(seconds))],
            TimeSpan.FromSeconds(seconds), null);
        SslTrialMeasures Measure(int id) => new() { TrialId = id, FeatureSource = SslFeatureSource.SelfSupervised, MetricStandardError = 0.08 };

        TrialRecord[] board = [Ssl(10, "FineTune", 0.8333, 1.7), Ssl(6, "LinearProbe", 0.8, 2.6)];
        (TrialRecord chosen, string why) = SslExperiment.SelectWithinOneStandardError(board, [Measure(10), Measure(6)], maximize: true);
        Assert.Equal(6, chosen.TrialId);
        Assert.DoesNotContain("cheapest", why, StringComparison.Ordinal);
        Assert.Contains("chose the simplest (a simpler kind of pipeline, though slower to build), trial 6", why, StringComparison.Ordinal);

        // Simpler and cheaper: both words hold.
        board = [Ssl(10, "FineTune", 0.8333, 3.0), Ssl(6, "LinearProbe", 0.8, 2.6)];
        Assert.Contains("chose the simplest and cheapest, trial 6", SslExperiment.SelectWithinOneStandardError(board, [Measure(10), Measure(6)],
            maximize: true).Explanation, StringComparison.Ordinal);
        // The same kind of pipeline, cheaper: "cheapest" alone.
        board = [Ssl(10, "LinearProbe", 0.8333, 3.0), Ssl(6, "LightGbm", 0.8, 2.6)];
        Assert.Contains("chose the cheapest, trial 6", SslExperiment.SelectWithinOneStandardError(board, [Measure(10), Measure(6)],
            maximize: true).Explanation, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void TheCheapestPipelineIsComparedWithTheVersionOfTheBestThatTheRuleWouldHaveKept()
    {
        // A new user's run (103 CIFAR-10 images: 100 ships, 3 frogs; --metric f1): SimCLR 3, 8 and 10 epochs + L-BFGS and
        // SimCLR 10 epochs + LightGBM within the error. The L-BFGS pipeline stands as its longest-trained version (10
        // epochs, 5.0 s), LightGBM (4.8 s) is cheaper and was chosen, and the explanation read "chose the cheapest, trial 3
        // (0.65, 4.8 s to build against 2.2 s ...)": against the 3-epoch best, which the rule had set aside.
        SearchSpace ssl = SslSearchSpace.For(SslInputKind.Image);
        TrialRecord Ssl(int id, string trainer, int epochs, double metric, double seconds) => new(id, SslExperimentData.Configuration(ssl,
            ("Downstream.Trainer", trainer), ("Pretraining.Epochs", epochs)), TrialStatus.Completed,
            [new RungResult(null, metric, TimeSpan.FromSeconds(seconds))], TimeSpan.FromSeconds(seconds), null);
        SslTrialMeasures Measure(int id) => new() { TrialId = id, FeatureSource = SslFeatureSource.SelfSupervised, MetricStandardError = 0.4216 };

        TrialRecord[] board = [Ssl(0, "LinearProbe", 3, 0.7333, 2.2), Ssl(1, "LinearProbe", 8, 0.6667, 4.1), Ssl(2, "LinearProbe", 10, 0.6667, 5.0),
            Ssl(3, "LightGbm", 10, 0.65, 4.8)];
        (TrialRecord chosen, string why) = SslExperiment.SelectWithinOneStandardError(board, [Measure(0), Measure(1), Measure(2), Measure(3)], maximize: true);
        Assert.Equal(3, chosen.TrialId);
        Assert.DoesNotContain("against 2.2 s", why, StringComparison.Ordinal);
        Assert.Contains("chose the cheapest, trial 3 (0.65, 4.8 s to build against 5 s for trial 2, the longest-trained version of the best's pipeline", why, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void TheViewRetrievalSpreadIsStatedOnlyForALabelFreeChoice()
    {
        // Three encoders 11 to 16 of 400 images apart under the label-free objective: the score's binomial error is said.
        SearchSpace ssl = SslSearchSpace.For(SslInputKind.Image);
        TrialRecord Trial(int id, double metric) => new(id, SslExperimentData.Configuration(ssl), TrialStatus.Completed,
            [new RungResult(null, metric, TimeSpan.FromSeconds(1))], TimeSpan.FromSeconds(1), null);
        SslTrialMeasures Measure(int id, double metric, double retrieval) =>
            new() { TrialId = id, FeatureSource = SslFeatureSource.SelfSupervised, Metric = metric, ViewRetrievalAccuracy = retrieval };
        TrialRecord[] labelFree = [Trial(1, 0.04), Trial(2, 0.0325), Trial(3, 0.01)];
        SslTrialMeasures[] labelFreeMeasures = [Measure(1, 0.04, 0.04), Measure(2, 0.0325, 0.0325), Measure(3, 0.01, 0.01)];

        string said = SslExperiment.LabelFreeSpread(SslObjectiveKind.LabelFree, labelFree[0], labelFree, labelFreeMeasures, 400, autoThreshold: 5);
        Assert.Contains("0.04 +/- 0.0098 (binomial standard error over 400 rows); trial(s) 2 score within that error", said, StringComparison.Ordinal);
        Assert.Contains("With more labels (5 per class on average)", said, StringComparison.Ordinal);
        // An objective the caller set does not change with more labels.
        Assert.DoesNotContain("With more labels", SslExperiment.LabelFreeSpread(SslObjectiveKind.LabelFree, labelFree[0], labelFree, labelFreeMeasures, 400, autoThreshold: null),
            StringComparison.Ordinal);

        // Cross-validated (the one-standard-error rule off) with the label-free measures recorded: the leaderboard's metrics are
        // accuracies, and comparing them with the view-retrieval score's error would call every other trial (0.62 is above 0.05 less its error) noise.
        TrialRecord[] crossValidated = [Trial(4, 0.70), Trial(5, 0.62)];
        SslTrialMeasures[] recorded = [Measure(4, 0.70, 0.05), Measure(5, 0.62, 0.04)];
        Assert.Equal("", SslExperiment.LabelFreeSpread(SslObjectiveKind.CrossValidatedAccuracy, crossValidated[0], crossValidated, recorded, 400, autoThreshold: 5));
    }

    [SkippableFact]
    public void TheFinalChoiceIsTheSimplestTrialWithinOneStandardErrorOfTheBest()
    {
        var space = new SearchSpace().WithNumeric("x", 0, 1);
        // Distinct configurations: versions of one configuration that differ only in epochs count as one pipeline.
        TrialRecord Trial(int id, double metric, double seconds, int? fidelity = 9) => new(id, space.Default.With("x", id / 10.0), TrialStatus.Completed,
            [new RungResult(fidelity, metric, TimeSpan.FromSeconds(seconds))], TimeSpan.FromSeconds(seconds), null);
        SslTrialMeasures Measure(int id, SslFeatureSource source, double error, int? fidelity = 9) =>
            new() { TrialId = id, Fidelity = fidelity, FeatureSource = source, MetricStandardError = error };

        // Leaderboard order (maximized): 0.80 +/- 0.03 (40 s), 0.78 raw (1 s), 0.79 at a lower fidelity (2 s), 0.70 (0.5 s).
        TrialRecord[] board = [Trial(0, 0.80, 40), Trial(3, 0.79, 2, fidelity: 3), Trial(1, 0.78, 1, fidelity: 3), Trial(2, 0.70, 0.5)];
        SslTrialMeasures[] measures = [Measure(0, SslFeatureSource.SelfSupervised, 0.03), Measure(1, SslFeatureSource.RawFeatures, 0.03, 3),
            Measure(2, SslFeatureSource.SelfSupervised, 0.03), Measure(3, SslFeatureSource.SelfSupervised, 0.03, 3)];
        (TrialRecord chosen, string why) = SslExperiment.SelectWithinOneStandardError(board, measures, maximize: true);
        // Trial 3 is within the error but measured at a lower fidelity than the best; trial 1 is raw, so it compares.
        Assert.Equal(1, chosen.TrialId);
        Assert.Contains("chose the simplest, the best-scoring pipeline on raw features, trial 1", why);

        // Raw features are the simplest pipeline: chosen within the error even when an SSL trial ran faster.
        TrialRecord[] fasterSsl = [Trial(0, 0.80, 40), Trial(1, 0.78, 3), Trial(2, 0.79, 1)];
        SslTrialMeasures[] fasterSslMeasures = [Measure(0, SslFeatureSource.SelfSupervised, 0.03), Measure(1, SslFeatureSource.RawFeatures, 0.03),
            Measure(2, SslFeatureSource.SelfSupervised, 0.03)];
        Assert.Equal(1, SslExperiment.SelectWithinOneStandardError(fasterSsl, fasterSslMeasures, maximize: true).Trial.TrialId);

        // Raw pipelines are equally simple: the best-scoring of them stands, not the cheapest.
        TrialRecord[] twoRaw = [Trial(0, 0.80, 40), Trial(1, 0.79, 1.6), Trial(2, 0.78, 0.3)];
        SslTrialMeasures[] twoRawMeasures = [Measure(0, SslFeatureSource.SelfSupervised, 0.03), Measure(1, SslFeatureSource.RawFeatures, 0.03),
            Measure(2, SslFeatureSource.RawFeatures, 0.03)];
        Assert.Equal(1, SslExperiment.SelectWithinOneStandardError(twoRaw, twoRawMeasures, maximize: true).Trial.TrialId);
        // Two raw pipelines that tie exactly: the linear one stands, wherever the leaderboard put it.
        SearchSpace ssl = SslSearchSpace.For(SslInputKind.Tabular);
        TrialRecord Raw(int id, string trainer, double metric) => new(id, SslExperimentData.Configuration(ssl, ("Features", "RawFeatures"),
            ("Downstream.Trainer", trainer)), TrialStatus.Completed, [new RungResult(null, metric, TimeSpan.FromSeconds(1))], TimeSpan.FromSeconds(1), null);
        TrialRecord[] tie = [Raw(0, "LightGbm", 0.9868), Raw(1, "LinearProbe", 0.9868), Raw(2, "LightGbm", 0.95)];
        SslTrialMeasures[] tieMeasures = [Measure(0, SslFeatureSource.RawFeatures, 0.01, null), Measure(1, SslFeatureSource.RawFeatures, 0.01, null),
            Measure(2, SslFeatureSource.RawFeatures, 0.01, null)];
        Assert.Equal(1, SslExperiment.SelectWithinOneStandardError(tie, tieMeasures, maximize: true).Trial.TrialId);
        // Even where the portfolio's order (breaking ties only) puts LightGBM first.
        var tiePortfolio = tie.Take(2).Select(t => SslSearchSpace.WithoutEpochs(t.Parameters)).ToHashSet();
        Assert.Equal(1, SslExperiment.SelectWithinOneStandardError(tie, tieMeasures, maximize: true, tiePortfolio,
            new SslRawPreference([.. tie.Take(2).Select(t => SslSearchSpace.WithoutEpochs(t.Parameters))], BeforeScores: false)).Trial.TrialId);
        // A higher score still stands over the linear model.
        tie = [Raw(0, "LightGbm", 0.9870), Raw(1, "LinearProbe", 0.9868), Raw(2, "LightGbm", 0.95)];
        Assert.Equal(0, SslExperiment.SelectWithinOneStandardError(tie, tieMeasures, maximize: true).Trial.TrialId);

        // A raw trainer the tuner tuned, leading the portfolio's untuned one inside the error: the untuned one stands. Outside
        // the error the tuned one's lead counts.
        TrialRecord[] tunedRaw = [Trial(0, 0.6925, 2), Trial(1, 0.6913, 1), Trial(2, 0.68, 40)];
        SslTrialMeasures[] tunedRawMeasures = [Measure(0, SslFeatureSource.RawFeatures, 0.016), Measure(1, SslFeatureSource.RawFeatures, 0.016),
            Measure(2, SslFeatureSource.SelfSupervised, 0.016)];
        var portfolio = new HashSet<Parameters> { SslSearchSpace.WithoutEpochs(tunedRaw[1].Parameters), SslSearchSpace.WithoutEpochs(tunedRaw[2].Parameters) };
        Assert.Equal(0, SslExperiment.SelectWithinOneStandardError(tunedRaw, tunedRawMeasures, maximize: true).Trial.TrialId);
        (TrialRecord untuned, string untunedWhy) = SslExperiment.SelectWithinOneStandardError(tunedRaw, tunedRawMeasures, maximize: true, portfolio);
        Assert.Equal(1, untuned.TrialId);
        Assert.Contains("portfolio's untuned settings, trial 1", untunedWhy, StringComparison.Ordinal);
        SslTrialMeasures[] preciseTuned = [Measure(0, SslFeatureSource.RawFeatures, 0.0005), .. tunedRawMeasures.Skip(1)];
        Assert.Equal(0, SslExperiment.SelectWithinOneStandardError(tunedRaw, preciseTuned, maximize: true, portfolio).Trial.TrialId);

        // With the portfolio's learned order (tables), the first untuned raw pipeline in that order within the error stands,
        // not the best-scoring: LightGBM (0.7463) and L-BFGS (0.7413) within 0.0207 of an SSL trial's 0.7612, L-BFGS first.
        TrialRecord[] ordered = [Trial(5, 0.7612, 4), Raw(1, "LightGbm", 0.7463), Raw(0, "LinearProbe", 0.7413)];
        SslTrialMeasures[] orderedMeasures = [Measure(5, SslFeatureSource.SelfSupervised, 0.0207), Measure(0, SslFeatureSource.RawFeatures, 0.02, null),
            Measure(1, SslFeatureSource.RawFeatures, 0.02, null)];
        Parameters[] order = [.. new[] { ordered[2], ordered[1] }.Select(t => SslSearchSpace.WithoutEpochs(t.Parameters))];
        var orderedPortfolio = order.ToHashSet();
        var tables = new SslRawPreference(order, BeforeScores: true);
        Assert.Equal(1, SslExperiment.SelectWithinOneStandardError(ordered, orderedMeasures, maximize: true, orderedPortfolio).Trial.TrialId);
        (TrialRecord first, string firstWhy) = SslExperiment.SelectWithinOneStandardError(ordered, orderedMeasures, maximize: true, orderedPortfolio, tables);
        Assert.Equal(0, first.TrialId);
        Assert.Contains("chose the simplest, the first pipeline on raw features in the portfolio's order, trial 0 (0.7413", firstWhy, StringComparison.Ordinal);
        Assert.EndsWith("; trial 1's higher 0.7463 is inside the error, where the portfolio's order comes first.", firstWhy, StringComparison.Ordinal);
        // A loss (log-loss, minimized): the better score is the lower one, and the explanation says so.
        TrialRecord[] orderedLosses = [Trial(5, 0.5612, 4), Raw(1, "LightGbm", 0.5763), Raw(0, "LinearProbe", 0.5813)];
        (TrialRecord firstLoss, string lossWhy) = SslExperiment.SelectWithinOneStandardError(orderedLosses, orderedMeasures, maximize: false, orderedPortfolio, tables);
        Assert.Equal(0, firstLoss.TrialId);
        Assert.EndsWith("; trial 1's lower 0.5763 is inside the error, where the portfolio's order comes first.", lossWhy, StringComparison.Ordinal);
        // Outside the error the order does not matter: only trials within it are candidates.
        SslTrialMeasures[] narrow = [Measure(5, SslFeatureSource.SelfSupervised, 0.015), .. orderedMeasures.Skip(1)];
        Assert.Equal(1, SslExperiment.SelectWithinOneStandardError(ordered, narrow, maximize: true, orderedPortfolio, tables).Trial.TrialId);
        // Where the order only breaks ties (series), the best-scoring stands; on an exact tie the earlier in the order does,
        // wherever the leaderboard put it (ItalyPowerDemand: raw L-BFGS with and without ML.NET's L1 both at 100%).
        var series = tables with { BeforeScores = false };
        Assert.Equal(1, SslExperiment.SelectWithinOneStandardError(ordered, orderedMeasures, maximize: true, orderedPortfolio, series).Trial.TrialId);
        TrialRecord Linear(int id, double l1) => new(id, SslExperimentData.Configuration(ssl, ("Features", "RawFeatures"), ("Downstream.Trainer", "LinearProbe"),
            ("Downstream.L1Regularization", l1)), TrialStatus.Completed, [new RungResult(null, 1.0, TimeSpan.FromSeconds(1))], TimeSpan.FromSeconds(1), null);
        TrialRecord[] tied = [Linear(11, 1e-4), Linear(1, 1)];
        SslTrialMeasures[] tiedMeasures = [Measure(11, SslFeatureSource.RawFeatures, 0, null), Measure(1, SslFeatureSource.RawFeatures, 0, null)];
        var tiedPortfolio = tied.Select(t => SslSearchSpace.WithoutEpochs(t.Parameters)).ToHashSet();
        Assert.Equal(11, SslExperiment.SelectWithinOneStandardError(tied, tiedMeasures, maximize: true, tiedPortfolio).Trial.TrialId);
        Assert.Equal(1, SslExperiment.SelectWithinOneStandardError(tied, tiedMeasures, maximize: true, tiedPortfolio,
            new SslRawPreference([.. tied.Reverse().Select(t => SslSearchSpace.WithoutEpochs(t.Parameters))], BeforeScores: false)).Trial.TrialId);

        // A zero error (every fold perfect): the exact ties with the best are ordered by simplicity; the others are not within.
        TrialRecord[] perfect = [Trial(0, 1.0, 3), Trial(1, 1.0, 0.1), Trial(2, 0.99, 0.1)];
        SslTrialMeasures[] perfectMeasures = [Measure(0, SslFeatureSource.SelfSupervised, 0), Measure(1, SslFeatureSource.RawFeatures, 0),
            Measure(2, SslFeatureSource.RawFeatures, 0.01)];
        Assert.Equal(1, SslExperiment.SelectWithinOneStandardError(perfect, perfectMeasures, maximize: true).Trial.TrialId);
        Assert.Equal(0, SslExperiment.SelectWithinOneStandardError([perfect[0], perfect[2]], perfectMeasures, maximize: true).Trial.TrialId);

        // A smaller error leaves the best alone.
        SslTrialMeasures[] precise = [Measure(0, SslFeatureSource.SelfSupervised, 0.01), .. measures.Skip(1)];
        Assert.Equal(0, SslExperiment.SelectWithinOneStandardError(board, precise, maximize: true).Trial.TrialId);

        // Minimized (log-loss): within best + error.
        TrialRecord[] losses = [Trial(0, 0.40, 40), Trial(1, 0.42, 1), Trial(2, 0.50, 0.5)];
        SslTrialMeasures[] lossMeasures = [Measure(0, SslFeatureSource.SelfSupervised, 0.03), Measure(1, SslFeatureSource.RawFeatures, 0.03),
            Measure(2, SslFeatureSource.RawFeatures, 0.03)];
        Assert.Equal(1, SslExperiment.SelectWithinOneStandardError(losses, lossMeasures, maximize: false).Trial.TrialId);
    }

    [SkippableFact]
    public void FineTuningEpochsFollowTheFidelity()
    {
        var downstream = new SslDownstreamParameters { Trainer = DownstreamTrainer.FineTune, FineTuneEpochs = 50, FreezeEncoder = true, SemiSupervised = true };
        SslDownstreamParameters low = SslTrialRunner.AtFidelity(downstream, 1, 27);
        Assert.Equal(2, low.FineTuneEpochs); // round(50 / 27)
        Assert.True(low.FreezeEncoder && low.SemiSupervised);
        Assert.Equal(DownstreamTrainer.FineTune, low.Trainer);
        Assert.Equal(17, SslTrialRunner.AtFidelity(downstream, 9, 27).FineTuneEpochs);
        Assert.Same(downstream, SslTrialRunner.AtFidelity(downstream, 27, 27));
        Assert.Same(downstream, SslTrialRunner.AtFidelity(downstream, null, null));
        Assert.Equal(50, downstream.FineTuneEpochs);
    }

    [SkippableFact]
    public async Task ATrialOverItsTimeCapTimesOutAndTheSearchGoesOn()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 3));
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular);
        space.Pretraining[nameof(SslPretrainingParameters.Epochs)] = new IntegerRangeOption(2, 5000, logBase: true, 10);
        Parameters raw = SslExperimentData.Configuration(space, ("Features", "RawFeatures"));
        Parameters slow = SslExperimentData.Configuration(space, ("Pretraining.Epochs", 5000));
        Parameters rawTrees = SslExperimentData.Configuration(space, ("Features", "RawFeatures"), ("Downstream.Trainer", "LightGbm"));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetSearchSpace(space)
            .SetObjective(SslObjective.CrossValidatedAccuracy(folds: 3))
            .SetTuner(SslExperimentData.Scripted("cap", raw, slow, rawTrees))
            .SetTrainingTimeInSeconds(60).SetTrialTimeCap(0.1)
            .SetMaxTrials(3)
            .RunAsync();
        TrialRecord capped = result.Trials.Single(t => t.TrialId == 1);
        _output.WriteLine(capped.ErrorMessage);
        Assert.Equal(TrialStatus.TimedOut, capped.Status);
        Assert.StartsWith("Trial 1 exceeded its time cap", capped.ErrorMessage);
        Assert.True(capped.Duration < TimeSpan.FromSeconds(30), $"the cap (about 6 s) stopped it, not the budget: {capped.Duration}");
        Assert.Equal(TrialStatus.Completed, result.Trials.Single(t => t.TrialId == 2).Status);
    }

    [SkippableFact]
    public void TheTimeCapIsAShareOfTheBudgetLeftButNotInItsLastSeconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), SslTrialRunner.TimeCap(true, TimeSpan.FromSeconds(60), 0.5));
        Assert.Null(SslTrialRunner.TimeCap(false, TimeSpan.FromSeconds(60), 0.5)); // the first result is never cut short
        Assert.Null(SslTrialRunner.TimeCap(true, null, 0.5)); // no budget
        // 4.5 s left: a 2.3 s cap failed a LightGBM fit that the budget would have let finish or stopped.
        Assert.Null(SslTrialRunner.TimeCap(true, TimeSpan.FromSeconds(4.5), 0.5));
        Assert.Equal(TimeSpan.FromSeconds(3), SslTrialRunner.TimeCap(true, TimeSpan.FromSeconds(6), 0.5));
    }

    [SkippableFact]
    public async Task PortfolioEntriesAreStoppedOnlyByTheBudgetNotByTheTrialCap()
    {
        // A cap of 0.1% of a 60 s budget (60 ms) would fail every trial after the first; the portfolio's entries are
        // exempt, so the first four (raw fits and a short SSL run with raw features beside it) all complete.
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 3));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features")
            .SetObjective(SslObjective.CrossValidatedAccuracy(folds: 3))
            .SetTrainingTimeInSeconds(60).SetTrialTimeCap(0.001)
            .SetMaxTrials(4)
            .RunAsync();
        foreach (TrialRecord trial in result.Trials) _output.WriteLine($"{trial.TrialId} {trial.Status} {trial.Duration.TotalSeconds:0.000} s {trial.ErrorMessage}");
        Assert.All(result.Trials, t => Assert.Equal(TrialStatus.Completed, t.Status));
        Assert.Contains(result.Trials, t => t.TrialId > 0 && t.Duration > TimeSpan.FromMilliseconds(60)); // a cap would have stopped it
    }
}
