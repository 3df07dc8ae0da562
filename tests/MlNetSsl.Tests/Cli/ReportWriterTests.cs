using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using MlNetSsl.Cli.Report;
using MlNetSsl.Cli.Run;
using Xunit;

namespace MlNetSsl.Tests.Cli;

public sealed class ReportWriterTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "mlnetssl-report-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [SkippableFact]
    public void AugmentedViewsNoteOfAChosenFineTunedNetworkNamesItsOwnPretrainingNotAMissingStage()
    {
        // A search that chose SimCLR + FixMatch fine-tuning (trial 1) over SimCLR + a probe (trial 0): the network keeps no
        // separate stage, but it is SSL-pretrained, and its own pretraining's views are the ones to show. The note said
        // "the chosen pipeline has no SSL stage; the views are those of the best SSL trial (1: ...)", naming the chosen
        // trial as another.
        static TrialRecord Trial(int id, double metric, DownstreamTrainer trainer, AugmentationTemplate augmentations, SslFeatureSource features = SslFeatureSource.SelfSupervised) =>
            new(id, Parameters.FromJson("{\"Features\":\"" + features + "\",\"Pretraining\":{\"Augmentations\":\"" + augmentations +
                "\",\"AugmentationStrength\":0.5},\"Downstream\":{\"Trainer\":\"" + trainer + "\",\"SemiSupervised\":" +
                (trainer == DownstreamTrainer.FineTune ? "true" : "false") + "}}"), TrialStatus.Completed, [new RungResult(null, metric, TimeSpan.FromSeconds(10))], TimeSpan.FromSeconds(10), null);
        TrialRecord fineTuned = Trial(1, 0.74, DownstreamTrainer.FineTune, AugmentationTemplate.Heavy), probe = Trial(0, 0.72, DownstreamTrainer.LinearProbe, AugmentationTemplate.Default);
        var chosenNetwork = new SslExperimentResult(new SslTrialResult(fineTuned, new TransformerChain<ITransformer>()), [fineTuned, probe], SearchStopReason.TimeBudget, TimeSpan.FromSeconds(300));
        var (parameters, note) = TrainingRun.ViewsSourceWithoutStage(chosenNetwork)!.Value;
        Assert.Equal(AugmentationTemplate.Heavy, parameters.Pretraining.Augmentations);
        Assert.DoesNotContain("has no SSL", note, StringComparison.Ordinal);
        Assert.Contains("the chosen network was fine-tuned from an encoder pretrained on such views (trial 1: Heavy augmentations at 0.5)", note, StringComparison.Ordinal);

        // A raw-feature choice shows the best SSL trial's views and says the chosen pipeline has no pretraining.
        TrialRecord raw = Trial(2, 0.75, DownstreamTrainer.LinearProbe, AugmentationTemplate.Default, SslFeatureSource.RawFeatures);
        var chosenRaw = new SslExperimentResult(new SslTrialResult(raw, new TransformerChain<ITransformer>()), [raw, fineTuned, probe], SearchStopReason.TimeBudget, TimeSpan.FromSeconds(300));
        (parameters, note) = TrainingRun.ViewsSourceWithoutStage(chosenRaw)!.Value;
        Assert.Equal(AugmentationTemplate.Heavy, parameters.Pretraining.Augmentations);
        Assert.Equal("Augmented views: the chosen pipeline has no SSL pretraining; the views are those of the best SSL trial (1: Heavy augmentations at 0.5).", note);
        // Without an SSL trial with a metric there are no views to show.
        Assert.Null(TrainingRun.ViewsSourceWithoutStage(new SslExperimentResult(new SslTrialResult(raw, new TransformerChain<ITransformer>()), [raw], SearchStopReason.TimeBudget, TimeSpan.Zero)));
    }

    [SkippableFact]
    public void LeaderboardTableShowsTheFieldsOfLeaderboardCsv()
    {
        var report = ReportSamples.Full();
        string csvPath = Path.Combine(_folder, "leaderboard.csv"), htmlPath = Path.Combine(_folder, "report.html");
        LeaderboardCsv.Write(report.Leaderboard, csvPath, report.MetricName);
        ReportWriter.Write(report, htmlPath);

        var csv = ReportSamples.ReadCsv(File.ReadAllText(csvPath));
        var table = LeaderboardTable(File.ReadAllText(htmlPath));
        // The table lists the trials with a metric (those without one are counted under it), each as leaderboard.csv writes it.
        Assert.Contains("validation_macro_accuracy_4dp", table.CsvColumns);
        int metricColumn = csv[0].IndexOf("validation_macro_accuracy_4dp");
        var scoredCsv = csv.Skip(1).Where(row => row[metricColumn].Length > 0).ToList();
        Assert.True(scoredCsv.Count < csv.Count - 1, "the sample has a trial without a metric");
        Assert.Equal(scoredCsv.Count, table.Rows.Count);
        for (int c = 0; c < table.CsvColumns.Count; c++)
        {
            int csvColumn = csv[0].IndexOf(table.CsvColumns[c]);
            Assert.True(csvColumn >= 0, $"Column {table.CsvColumns[c]} is not in leaderboard.csv.");
            for (int r = 0; r < table.Rows.Count; r++)
                Assert.Equal(scoredCsv[r][csvColumn], table.Rows[r][c]);
        }
        // The metric column carries four decimals, so the figures are the rounded ones, not the raw doubles.
        string best = csv[1][csv[0].IndexOf("validation_macro_accuracy_4dp")];
        Assert.Equal(report.Leaderboard[0].Metric!.Value.ToString("F4", CultureInfo.InvariantCulture), best);
    }

    [SkippableFact]
    public void TheReportAndTheConsoleListOnlyScoredTrialsAndCountTheOthers()
    {
        // wine, --train-time 20: the console's "Top 5 models" read "2.  -  Cancelled  9.3s  Raw features + LightGBM ...", a
        // trial the budget stopped before its first fold, ranked second as if it had scored; the report listed it too.
        var sample = ReportSamples.Full(); // trial 9 failed without a metric
        LeaderboardRow cancelled = sample.Leaderboard[^1] with
        {
            Rank = sample.Leaderboard.Count + 1, TrialId = 99, Pipeline = "Raw features + LightGBM (cut)", Metric = null, MetricSpread = null, Status = "Cancelled",
        };
        var report = sample with { Leaderboard = [.. sample.Leaderboard, cancelled] };
        int scored = report.Leaderboard.Count(r => r.Metric is not null);
        Assert.Equal(report.Leaderboard.Count - 2, scored);

        string htmlPath = Path.Combine(_folder, "report.html");
        ReportWriter.Write(report, htmlPath);
        string html = File.ReadAllText(htmlPath);
        var table = LeaderboardTable(html);
        Assert.Equal(scored, table.Rows.Count);
        Assert.DoesNotContain(table.Rows, r => r.Contains("Cancelled") || r.Contains("Failed"));
        const string leftOut = "2 trials without a score are not listed (1 Failed, 1 Cancelled): they stopped before their first score " +
            "(failed, or cut by the time budget); leaderboard.csv lists every trial.";
        Assert.Contains(leftOut, SectionHtml(html, "leaderboard"), StringComparison.Ordinal);

        List<string> lines = TrainingRun.LeaderboardLines(report.Leaderboard, chosenTrialId: report.Leaderboard[0].TrialId);
        Assert.Equal(6, lines.Count);
        Assert.All(lines.Take(5), l => Assert.DoesNotContain(" - ", l[..12], StringComparison.Ordinal));
        Assert.Equal($"  ({leftOut})", lines[5]);
        // Every trial scored: no such line.
        Assert.Equal(5, TrainingRun.LeaderboardLines([.. sample.Leaderboard.Where(r => r.Metric is not null)], sample.Leaderboard[0].TrialId).Count);
    }

    [SkippableFact]
    public void AFineTunedNetworkShowsItsFineTuningCurveInsteadOfSayingItHasNoPretraining()
    {
        // The image audit's chosen SimCLR 3 epochs + FixMatch model: its zip keeps the fine-tuning history only, and the
        // section said "The chosen pipeline has no SSL pretraining stage".
        var report = ReportSamples.Minimal() with
        {
            PretrainingCurve = [],
            FineTuneCurve = [new(1, "Full epoch 1", 2.31, 0.01), new(2, "Full epoch 2", 1.72, 0.2), new(3, "Full epoch 3", 1.15, 0.45)],
            FineTuneOrigin = "The chosen network's encoder was pretrained with SSL during the search, as its pipeline says, then fine-tuned.",
        };
        string html = ReportWriter.ToHtml(report);
        Assert.Contains("Fine-tuning curve", html, StringComparison.Ordinal);
        Assert.Contains("encoder was pretrained with SSL during the search", html, StringComparison.Ordinal);
        Assert.Contains("Pseudo-labels accepted", html, StringComparison.Ordinal);
        Assert.Contains("Full epoch 2: 1.72", html, StringComparison.Ordinal);
        Assert.DoesNotContain("has no SSL pretraining stage", html, StringComparison.Ordinal);
        // A raw-feature pipeline trains no network and still says it has no pretraining.
        Assert.Contains("has no SSL pretraining stage", ReportWriter.ToHtml(report with { FineTuneCurve = [], FineTuneOrigin = null }), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AReportOfManyClassesListsTheConfusionsInsteadOfDrawingTheMatrix()
    {
        // A numeric label of 1,215 values made an 89 MB page of 1.5 million matrix cells.
        const int k = 300;
        var matrix = new int[k][];
        for (int a = 0; a < k; a++)
        {
            matrix[a] = new int[k];
            matrix[a][a] = 3;
            matrix[a][(a + 1) % k] = 1;
        }
        matrix[7][42] = 9;
        var report = ReportSamples.Minimal() with { ClassNames = [.. Enumerable.Range(0, k).Select(i => $"c{i}")], ConfusionMatrix = matrix };
        string section = SectionHtml(ReportWriter.ToHtml(report), "confusion");
        Assert.DoesNotContain("<table class=\"confusion\">", section, StringComparison.Ordinal);
        Assert.Contains("300 classes, too many for a matrix: the 30 most frequent confusions of 309 errors", section, StringComparison.Ordinal);
        // Largest first: c7 taken for c42 nine times.
        Assert.Matches("<tbody><tr><td>c7</td><td>c42</td><td class=\"num\">9</td></tr>", section);
        Assert.Equal(k + 30 + 2, Regex.Matches(section, "<tr>").Count);
        Assert.True(section.Length < 200_000, $"{section.Length} characters");
        // Forty classes still get the matrix.
        var forty = ReportSamples.Minimal() with
        {
            ClassNames = [.. Enumerable.Range(0, 40).Select(i => $"c{i}")],
            ConfusionMatrix = [.. Enumerable.Range(0, 40).Select(a => Enumerable.Range(0, 40).Select(p => a == p ? 2 : 0).ToArray())],
        };
        Assert.Contains("<table class=\"confusion\">", SectionHtml(ReportWriter.ToHtml(forty), "confusion"), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void StringsFromTheDataAreEscaped()
    {
        string html = ReportWriter.ToHtml(ReportSamples.Full(hostile: true));

        Assert.DoesNotContain(ReportSamples.HostileClass, html);
        Assert.Contains(WebUtility.HtmlEncode(ReportSamples.HostileClass), html);
        Assert.DoesNotContain("<img src=x", html);
        Assert.Contains("&lt;img src=x onerror=alert(1)&gt;", html);
        // The report's own script is the only one.
        Assert.Single(Regex.Matches(html, "<script", RegexOptions.IgnoreCase));
    }

    [SkippableFact]
    public void ReportIsSelfContained()
    {
        string html = ReportWriter.ToHtml(ReportSamples.Full());

        Assert.DoesNotContain("http://", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("src=\"//", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        var sources = Regex.Matches(html, "\\ssrc=\"([^\"]*)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(sources);
        Assert.All(sources, s => Assert.StartsWith("data:image/png;base64,", s));
        Assert.All(Regex.Matches(html, "\\shref=\"([^\"]*)\"").Select(m => m.Groups[1].Value), h => Assert.True(h.StartsWith('#') || h.StartsWith("data:"), h));
        Assert.Contains("Content-Security-Policy", html);
        Assert.Contains("default-src 'none'", html);
    }

    [SkippableFact]
    public void SectionsWithoutDataAreOmittedWithAReason()
    {
        string full = ReportWriter.ToHtml(ReportSamples.Full());
        string minimal = ReportWriter.ToHtml(ReportSamples.Minimal());

        foreach (string id in new[] { "pretraining", "misclassified", "maps", "augmentations", "label-curve", "notes" })
        {
            Assert.Contains($"<section id=\"{id}\">", full);
            string section = SectionHtml(minimal, id);
            Assert.Contains("class=\"omitted\"", section);
            Assert.Matches("<p class=\"omitted-reason\">[^<]{10,}</p>", section);
            Assert.DoesNotContain("<svg", section);
            Assert.DoesNotContain("<img", section);
        }
        Assert.Contains("Augmented views are shown for image tasks only.", minimal);
        Assert.Contains("--label-curve", SectionHtml(minimal, "label-curve"));
        Assert.Contains("The search tried no pipeline without SSL.", minimal);
        foreach (string id in new[] { "summary", "data", "leaderboard", "history", "confusion", "environment" })
            Assert.Contains($"<section id=\"{id}\">", minimal);
    }

    [SkippableFact]
    public void PerClassPrecisionAndRecallComeFromTheMatrix()
    {
        // Rows are actual classes: class a has 6 rows (5 right), 7 rows are predicted a (5 right).
        var report = ReportSamples.Minimal() with
        {
            ClassNames = ["a", "b", "c"],
            ConfusionMatrix = [[5, 1, 0], [2, 3, 1], [0, 0, 4]],
        };
        var metrics = ClassMetrics.FromConfusion(report.ClassNames, report.ConfusionMatrix);
        Assert.Equal(5.0 / 7, metrics[0].Precision!.Value, 12);
        Assert.Equal(5.0 / 6, metrics[0].Recall!.Value, 12);
        Assert.Equal(3.0 / 4, metrics[1].Precision!.Value, 12);
        Assert.Equal(1.0, metrics[2].Recall!.Value, 12);

        string confusion = SectionHtml(ReportWriter.ToHtml(report), "confusion");
        Assert.Matches("<td>a</td><td class=\"num\">6</td><td class=\"num\">7</td><td class=\"num\">0.7143</td><td class=\"num\">0.8333</td>", confusion);
        Assert.Contains("<b>0.7500</b>", confusion); // 12 of 16 test rows right
    }

    [SkippableFact]
    public void ClassWithoutPredictionsHasNoPrecision()
    {
        var metrics = ClassMetrics.FromConfusion(["a", "b"], [[3, 0], [2, 0]]);
        Assert.Null(metrics[1].Precision);
        Assert.Equal(0.0, metrics[1].Recall);
        Assert.Throws<ArgumentException>(() => ClassMetrics.FromConfusion(["a", "b"], [[3, 0]]));
    }

    [SkippableFact]
    public void MisshapenMatrixIsOmittedNotThrown()
    {
        var report = ReportSamples.Minimal() with { ClassNames = ["a", "b"], ConfusionMatrix = [[1, 2, 3], [4, 5, 6]] };
        Assert.Contains("does not match its 2 classes", SectionHtml(ReportWriter.ToHtml(report), "confusion"));
    }

    [SkippableFact]
    public void OversizedImagesAndMapsAreCapped()
    {
        var random = new Random(5);
        var big = new byte[ReportWriter.MaxImageBytes + 1];
        random.NextBytes(big);
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(big, 0);
        var report = ReportSamples.Full() with
        {
            Misclassified = [new Misclassified("a", "b", 0.9, "huge.png", big), new Misclassified("a", "b", 0.8, "fake.png", [1, 2, 3])],
            MapBefore = new EmbeddingMap("big map", Enumerable.Range(0, 10_000).Select(i => new MapPoint(i % 97, i % 89, i % 3 == 0 ? "cat, tabby" : null)).ToList()),
        };
        string html = ReportWriter.ToHtml(report);

        string misclassified = SectionHtml(html, "misclassified");
        Assert.DoesNotContain("<img", misclassified);
        Assert.Contains("over the 32 KB cap", misclassified);
        Assert.Contains("not PNG data", misclassified);
        string maps = SectionHtml(html, "maps");
        string firstMap = maps[..maps.IndexOf("</svg>", StringComparison.Ordinal)];
        Assert.Equal(ReportWriter.MaxMapPoints, Regex.Matches(firstMap, "<circle cx").Count - 2); // minus two legend markers
        Assert.Contains("2,500 of 10,000 rows drawn", maps);
    }

    [SkippableFact]
    public void ReportOfSampleRunIsSmallEnoughToMail()
    {
        string html = ReportWriter.ToHtml(ReportSamples.Full());
        Assert.InRange(html.Length, 20_000, 1_000_000);
    }

    [SkippableFact]
    public void WriteReplacesTheFileAndLeavesNoTemporaries()
    {
        string path = Path.Combine(_folder, "report.html");
        ReportWriter.Write(ReportSamples.Minimal(), path);
        long first = new FileInfo(path).Length;
        ReportWriter.Write(ReportSamples.Full(), path);

        Assert.NotEqual(first, new FileInfo(path).Length);
        Assert.Equal(["report.html"], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }

    [SkippableFact]
    public void PlotTicksAreRoundAndCoverTheData()
    {
        double[] ticks = SvgPlot.Ticks(0.4312, 0.8731);
        Assert.True(ticks[0] <= 0.4312 && ticks[^1] >= 0.8731, string.Join(", ", ticks));
        Assert.InRange(ticks.Length, 4, 8);
        double step = ticks[1] - ticks[0];
        Assert.Contains(Math.Round(step / Math.Pow(10, Math.Floor(Math.Log10(step))), 6), new[] { 1.0, 2.0, 5.0 });

        string svg = new SvgPlot("t <x>", "x", "y").AddPoints("a & b", [new PlotPoint(1, 2, "tip <b>")], "#000").ToSvg();
        Assert.Contains("t &lt;x&gt;", svg);
        Assert.Contains("a &amp; b", svg);
        Assert.Contains("tip &lt;b&gt;", svg);

        // A flat line of 1.0 (a label curve where every share of the labels scores perfectly): an accuracy axis stops at
        // 1, where padding and round ticks ran it to 1.06; without bounds the axis goes on past the line.
        PlotPoint[] perfect = [new(10, 1, ""), new(50, 1, ""), new(100, 1, "")];
        static double[] YTickLabels(string plot) => [.. Regex.Matches(plot, "text-anchor=\"end\">([0-9.]+)<").Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];
        double[] bounded = YTickLabels(new SvgPlot("acc", "x", "accuracy") { YBounds = (0, 1) }.AddLine(null, perfect, "#000").ToSvg());
        Assert.True(bounded.Length >= 2 && bounded.Max() == 1 && bounded.Min() < 1, string.Join(", ", bounded));
        Assert.True(YTickLabels(new SvgPlot("acc", "x", "accuracy").AddLine(null, perfect, "#000").ToSvg()).Max() > 1);
    }

    internal static (List<string> CsvColumns, List<List<string>> Rows) LeaderboardTable(string html)
    {
        string section = SectionHtml(html, "leaderboard");
        var headers = Regex.Matches(section, "<th(\\s[^>]*)?>").Select(m => Regex.Match(m.Groups[1].Value, "data-csv=\"([^\"]*)\"")).ToList();
        var rows = Regex.Matches(section, "<tr[^>]*>(.*?)</tr>", RegexOptions.Singleline).Skip(1)
            .Select(m => Regex.Matches(m.Groups[1].Value, "<td[^>]*>(.*?)</td>", RegexOptions.Singleline).Select(c => WebUtility.HtmlDecode(c.Groups[1].Value)).ToList())
            .ToList();
        var csvColumns = headers.Where(h => h.Success).Select(h => WebUtility.HtmlDecode(h.Groups[1].Value)).ToList();
        var indexes = headers.Select((h, i) => (h, i)).Where(x => x.h.Success).Select(x => x.i).ToList();
        return (csvColumns, rows.Select(r => indexes.Select(i => r[i]).ToList()).ToList());
    }

    private static string SectionHtml(string html, string id)
    {
        int start = html.IndexOf($"<section id=\"{id}\"", StringComparison.Ordinal);
        Assert.True(start >= 0, $"No section {id}.");
        return html[start..html.IndexOf("</section>", start, StringComparison.Ordinal)];
    }
}
