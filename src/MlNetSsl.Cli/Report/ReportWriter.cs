using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace MlNetSsl.Cli.Report;

/// <summary>
/// Renders a <see cref="RunReport"/> into report.html: one self-contained file (inline CSS, inline SVG plots, images as
/// data: URIs, one small inline script that sorts the leaderboard) that opens offline in any browser and is small
/// enough to mail. A Content-Security-Policy forbids every fetch and every script but its own, so even a page edited
/// by hand cannot reach the network. Every string from the run is HTML-escaped. Sections without data are kept as a
/// heading and one line saying why.
/// </summary>
internal static class ReportWriter
{
    /// <summary>Largest image embedded (PNG bytes); larger ones are left out and counted, so thumbnails stay thumbnails.</summary>
    public const int MaxImageBytes = 32 * 1024;

    /// <summary>Bytes of embedded images per report; past it images are left out and counted.</summary>
    public const int MaxTotalImageBytes = 1536 * 1024;

    /// <summary>Points drawn per embedding map; larger maps are thinned evenly.</summary>
    public const int MaxMapPoints = 2500;

    /// <summary>Items listed per data-health list (skipped inputs, duplicate groups); the rest are counted.</summary>
    public const int MaxListedItems = 100;

    // Colours for classes (the "tab10" set), then generated hues; unlabeled rows are grey.
    private static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79"];
    private const string UnlabeledColor = "#b4b4b4", SslColor = "#1f77b4", NoSslColor = "#ff7f0e", BestColor = "#2ca02c";

    /// <summary>Writes <paramref name="report"/> as HTML to <paramref name="path"/> (temp-then-move).</summary>
    public static void Write(RunReport report, string path)
    {
        ArgumentNullException.ThrowIfNull(report);
        CliFile.WriteAllText(path, ToHtml(report));
    }

    /// <summary>The report's HTML.</summary>
    public static string ToHtml(RunReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var images = new ImageBudget();
        var colors = ClassColors(report);
        Section[] sections =
        [
            Summary(report),
            DataHealthSection(report),
            Leaderboard(report),
            SearchHistory(report),
            PretrainingCurves(report),
            Confusion(report),
            MisclassifiedSection(report, images),
            EmbeddingMaps(report, colors),
            AugmentedViewsSection(report, images),
            LabelCurveSection(report),
            EnvironmentSection(report),
            NotesSection(report),
        ];

        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        html.Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'; ")
            .Append("script-src '").Append(ScriptHash).Append("'; base-uri 'none'; form-action 'none'\">\n");
        html.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        // An empty icon: browsers otherwise ask for /favicon.ico.
        html.Append("<link rel=\"icon\" href=\"data:,\">\n");
        html.Append("<title>").Append(Esc(report.Name)).Append(" · mlnet-ssl report</title>\n");
        html.Append("<style>").Append(Css).Append("</style>\n</head>\n<body>\n");
        html.Append("<header><h1>").Append(Esc(report.Name)).Append(" <span class=\"muted\">· ").Append(Esc(report.Task))
            .Append("</span></h1>\n<p class=\"muted\">mlnet-ssl ").Append(Esc(report.Environment.ToolVersion)).Append(" · started ")
            .Append(Esc(report.Environment.StartedAt.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture)))
            .Append(" · <code>").Append(Esc(report.CommandLine)).Append("</code></p>\n<nav>");
        foreach (var section in sections)
            html.Append("<a href=\"#").Append(section.Id).Append('"').Append(section.Body is null ? " class=\"omitted\"" : "").Append('>')
                .Append(Esc(section.Title)).Append("</a> ");
        html.Append("</nav></header>\n<main>\n");
        foreach (var section in sections)
        {
            html.Append("<section id=\"").Append(section.Id).Append('"').Append(section.Body is null ? " class=\"omitted\"" : "").Append(">\n<h2>")
                .Append(Esc(section.Title)).Append("</h2>\n");
            html.Append(section.Body ?? $"<p class=\"omitted-reason\">{Esc(section.OmittedBecause!)}</p>").Append("\n</section>\n");
        }
        html.Append("</main>\n<script>").Append(Script).Append("</script>\n</body>\n</html>\n");
        return html.ToString();
    }

    // ---- sections ----

    private static Section Summary(RunReport r)
    {
        var b = new StringBuilder();
        string direction = r.HigherIsBetter ? "higher is better" : "lower is better";
        b.Append("<div class=\"cards\">");
        b.Append("<div class=\"card chosen\"><div class=\"label\">Chosen pipeline</div><div class=\"pipeline\" id=\"chosen-pipeline\">")
            .Append(Esc(r.ChosenPipeline)).Append("</div>");
        AppendTestMetric(b, r.MetricName, r.TestMetric, "chosen-metric");
        b.Append("</div>");
        b.Append("<div class=\"card\"><div class=\"label\">Best pipeline without SSL</div>");
        if (r.BestNoSslPipeline is null)
            b.Append("<div class=\"pipeline\">none</div><p class=\"muted\">The search tried no pipeline without SSL.</p>");
        else
        {
            b.Append("<div class=\"pipeline\" id=\"no-ssl-pipeline\">").Append(Esc(r.BestNoSslPipeline)).Append("</div>");
            if (r.BestNoSslTestMetric is { } noSsl)
            {
                AppendTestMetric(b, r.MetricName, noSsl, "no-ssl-metric");
                double gain = r.TestMetric.Value - noSsl.Value;
                bool chosenBetter = r.HigherIsBetter ? gain > 0 : gain < 0;
                // An undefined metric (AUC on test rows of one class) has no difference: NaN would read as "no-SSL is better".
                if (double.IsNaN(gain))
                    b.Append("<p class=\"muted\">Chosen minus no-SSL: not defined, since the test ").Append(Esc(r.MetricName))
                        .Append(" is not (see the notes).</p>");
                else
                    b.Append("<p>Chosen minus no-SSL: <b>").Append(Signed(gain)).Append("</b> (").Append(direction).Append("; ")
                        .Append(chosenBetter ? "the chosen pipeline is better" : gain == 0 ? "a tie" : "the no-SSL pipeline is better")
                        .Append(" on the test rows)</p>");
            }
            else
                b.Append("<p class=\"muted\">Its test metric was not measured.</p>");
        }
        b.Append("</div></div>");
        b.Append("<table class=\"facts\"><tbody>");
        Fact(b, "Task", Esc(r.Task));
        Fact(b, "Metric", $"{Esc(r.MetricName)} ({direction})");
        Fact(b, "Rows", $"{Count(r.Data.LabeledRows)} labeled, {Count(r.Data.UnlabeledRows)} unlabeled, {Count(r.Data.TestRows)} test");
        Fact(b, "Test rows", Esc(r.TestSetDescription));
        Fact(b, "Trials", $"{Count(r.Leaderboard.Count)} ({string.Join(", ", r.Leaderboard.GroupBy(t => t.Status).Select(g => $"{Count(g.Count())} {Esc(g.Key)}"))})");
        b.Append("</tbody></table>");
        return Section.With("summary", "Summary", b.ToString());
    }

    private static void AppendTestMetric(StringBuilder b, string metricName, MetricWithInterval m, string id)
    {
        if (double.IsNaN(m.Value))
        {
            // AUC on test rows of one class: the console and the notes say why; "NaN" and "NaN – NaN" would not.
            b.Append("<div class=\"metric\">test ").Append(Esc(metricName)).Append(": <b id=\"").Append(id).Append("\">not defined</b></div>")
                .Append("<div class=\"interval muted\">not defined on these test rows (see the notes)</div>");
            return;
        }
        b.Append("<div class=\"metric\">test ").Append(Esc(metricName)).Append(": <b id=\"").Append(id).Append("\">")
            .Append(LeaderboardCsv.FormatMetric(m.Value)).Append("</b></div>");
        // Every test metric has an interval; one of zero width (a perfect score on few rows) is still the console's.
        bool hasInterval = double.IsFinite(m.Lower) && double.IsFinite(m.Upper);
        b.Append(hasInterval
            ? $"<div class=\"interval\">95% interval {LeaderboardCsv.FormatMetric(m.Lower)} – {LeaderboardCsv.FormatMetric(m.Upper)}</div>"
            : "<div class=\"interval muted\">no interval</div>");
    }

    private static Section DataHealthSection(RunReport r)
    {
        var d = r.Data;
        var b = new StringBuilder();
        b.Append("<p>").Append(Count(d.LabeledRows)).Append(" labeled rows in ").Append(Count(d.ClassCounts.Count)).Append(" classes, ")
            .Append(Count(d.UnlabeledRows)).Append(" unlabeled rows, ").Append(Count(d.TestRows)).Append(" test rows.</p>");
        if (d.ClassCounts.Count > 0)
        {
            int max = Math.Max(1, d.ClassCounts.Values.Max());
            int min = d.ClassCounts.Values.Min();
            b.Append("<table class=\"counts\"><thead><tr><th>Class</th><th class=\"num\">Labeled rows</th><th></th></tr></thead><tbody>");
            foreach (var (name, count) in d.ClassCounts)
                b.Append("<tr><td>").Append(Esc(name)).Append("</td><td class=\"num\">").Append(Count(count))
                    .Append("</td><td class=\"bar-cell\"><div class=\"bar\" style=\"width:")
                    .Append((100.0 * count / max).ToString("0.#", CultureInfo.InvariantCulture)).Append("%\"></div></td></tr>");
            b.Append("</tbody></table>");
            if (min > 0 && max >= 3 * min)
                b.Append("<p class=\"warn\">Classes are imbalanced: the largest has ").Append(Count(max)).Append(" labeled rows, the smallest ")
                    .Append(Count(min)).Append(". Consider macro-accuracy as the metric.</p>");
        }
        b.Append("<h3>Unreadable inputs</h3>");
        AppendList(b, d.Skipped, Esc, "None: every input was read.", "skipped");
        b.Append("<h3>Duplicates</h3>");
        AppendList(b, d.Duplicates, group => string.Join(" = ", group.Select(Esc)), "None found.", "duplicates");
        b.Append("<h3>Sizes</h3>");
        AppendList(b, d.SizeSummary, Esc, "Not recorded.", "sizes");
        return Section.With("data", "Data health", b.ToString());
    }

    private static Section Leaderboard(RunReport r)
    {
        if (r.Leaderboard.Count == 0) return Section.Omitted("leaderboard", "Leaderboard", "No trial ran.");
        var header = LeaderboardCsv.Header(r.MetricName, r.LeaderboardIsLabelFree);
        var b = new StringBuilder();
        if (r.LeaderboardIsLabelFree)
            b.Append("<p>Label-free score of each trial's embeddings (view retrieval for images, RankMe over its maximum for other ")
                .Append("rows; higher is better), measured without labels because too few rows are labeled to cross-validate: it ranks the ")
                .Append("trials but is not comparable with the test ").Append(Esc(r.MetricName)).Append(". Rounded to ")
                .Append(LeaderboardCsv.MetricDecimals).Append(" decimals exactly as in <code>leaderboard.csv</code>. Click a column to sort.</p>");
        else
            b.Append("<p>Validation ").Append(Esc(r.MetricName)).Append(" (").Append(r.HigherIsBetter ? "higher" : "lower")
                .Append(" is better), rounded to ").Append(LeaderboardCsv.MetricDecimals)
                .Append(" decimals exactly as in <code>leaderboard.csv</code>; ± is the spread across folds. Click a column to sort.</p>");
        string metricTitle = r.LeaderboardIsLabelFree ? "label-free score" : Esc(r.MetricName);
        // Columns that show a leaderboard.csv field verbatim carry its header name in data-csv.
        (string Title, int CsvIndex, bool Numeric)[] columns =
        [
            ("Rank", 0, true), ("Trial", 1, true), ("Pipeline", 2, false), ("Status", 4, false),
            (metricTitle, 5, true), ("±", 6, true), ("Fidelity", 7, true), ("Duration s", 8, true), ("Started s", 9, true),
            ("Parameters", 10, false),
        ];
        b.Append("<div class=\"scroll\"><table class=\"leaderboard\"><thead><tr>");
        foreach (var c in columns)
            b.Append("<th data-csv=\"").Append(Esc(header[c.CsvIndex])).Append("\" data-sort=\"").Append(c.Numeric ? "num" : "text").Append("\">")
                .Append(c.Title).Append("</th>");
        b.Append("<th data-sort=\"text\">SSL</th></tr></thead><tbody>");
        (List<LeaderboardRow> scored, string? leftOut) = LeaderboardRow.ScoredOnly(r.Leaderboard);
        foreach (var row in scored)
        {
            var fields = LeaderboardCsv.Fields(row);
            b.Append("<tr").Append(row.Rank == 1 ? " class=\"best\"" : "").Append('>');
            foreach (var c in columns)
                b.Append(c.Numeric ? "<td class=\"num\">" : c.CsvIndex == 10 ? "<td class=\"params\">" : "<td>").Append(Esc(fields[c.CsvIndex])).Append("</td>");
            b.Append("<td>").Append(row.UsesSsl ? "yes" : "no").Append("</td></tr>");
        }
        b.Append("</tbody></table></div>");
        if (leftOut is not null) b.Append("<p class=\"muted\">").Append(Esc(leftOut)).Append("</p>");
        return Section.With("leaderboard", "Leaderboard", b.ToString());
    }

    private static Section SearchHistory(RunReport r)
    {
        const string title = "Search history";
        var scored = r.Leaderboard.Where(t => t.Metric is double m && double.IsFinite(m)).ToList();
        if (scored.Count == 0) return Section.Omitted("history", title, "No trial reported a metric.");

        static PlotPoint Point(LeaderboardRow t) => new(t.StartedAt + t.DurationSeconds, t.Metric!.Value,
            $"trial {t.TrialId}: {t.Pipeline} · {LeaderboardCsv.FormatMetric(t.Metric)} · {t.Status}");
        bool IsPruned(LeaderboardRow t) => t.Status.Equals("Pruned", StringComparison.OrdinalIgnoreCase);

        string scoreName = r.LeaderboardIsLabelFree ? "label-free score" : r.MetricName;
        var plot = new SvgPlot(r.LeaderboardIsLabelFree ? "Label-free score by the time each trial ended" : $"Validation {r.MetricName} by the time each trial ended",
            "seconds since the search started", scoreName) { YBounds = r.LeaderboardIsLabelFree ? null : MetricBounds(r.MetricName) };
        var completed = scored.Where(t => !IsPruned(t)).OrderBy(t => t.StartedAt + t.DurationSeconds).ToList();
        var best = new List<PlotPoint>();
        double? bestSoFar = null;
        foreach (var t in completed)
        {
            double m = t.Metric!.Value;
            bestSoFar = bestSoFar is double b0 ? (r.LeaderboardIsLabelFree || r.HigherIsBetter ? Math.Max(b0, m) : Math.Min(b0, m)) : m;
            if (best.Count > 0) best.Add(new PlotPoint(t.StartedAt + t.DurationSeconds, best[^1].Y));
            best.Add(new PlotPoint(t.StartedAt + t.DurationSeconds, bestSoFar.Value));
        }
        if (best.Count > 1) plot.AddLine("best so far", best, BestColor);
        AddIfAny(plot, "with SSL", completed.Where(t => t.UsesSsl).Select(Point).ToList(), SslColor, PointMarker.Filled);
        AddIfAny(plot, "without SSL", completed.Where(t => !t.UsesSsl).Select(Point).ToList(), NoSslColor, PointMarker.Filled);
        AddIfAny(plot, "pruned, with SSL", scored.Where(t => IsPruned(t) && t.UsesSsl).Select(Point).ToList(), SslColor, PointMarker.Hollow);
        AddIfAny(plot, "pruned, without SSL", scored.Where(t => IsPruned(t) && !t.UsesSsl).Select(Point).ToList(), NoSslColor, PointMarker.Hollow);

        var b = new StringBuilder(plot.ToSvg());
        int pruned = scored.Count(IsPruned);
        int unscored = r.Leaderboard.Count - scored.Count;
        b.Append("<p class=\"muted\">").Append(Count(scored.Count)).Append(" trials with a metric; ").Append(Count(pruned))
            .Append(" pruned (hollow markers: stopped early at a lower fidelity, so their metric is not comparable)");
        if (unscored > 0) b.Append("; ").Append(Count(unscored)).Append(" without a metric (failed or cancelled, not drawn)");
        b.Append(". Hover a marker for its trial.</p>");
        return Section.With("history", title, b.ToString());
    }

    private static Section PretrainingCurves(RunReport r)
    {
        const string title = "Pretraining curves";
        var curve = r.PretrainingCurve;
        if (curve.Count == 0 && r.FineTuneCurve.Count > 0) return FineTuneCurve(r);
        if (curve.Count == 0) return Section.Omitted("pretraining", title, "The chosen pipeline has no SSL pretraining stage, so there is no pretraining curve.");
        var b = new StringBuilder("<div class=\"plots\">");
        b.Append(new SvgPlot("SSL loss per epoch", "epoch", "loss", 480, 300)
            .AddLine(null, curve.Select(p => new PlotPoint(p.Epoch, p.Loss, $"epoch {p.Epoch}: {p.Loss.ToString("G4", CultureInfo.InvariantCulture)}")).ToList(),
                SslColor, markers: curve.Count <= 60)
            .ToSvg());
        var knn = curve.Where(p => p.KnnAccuracy is not null).ToList();
        if (knn.Count > 0)
            b.Append(new SvgPlot("kNN monitor accuracy", "epoch", "kNN accuracy", 480, 300) { YBounds = (0, 1) }
                .AddLine(null, knn.Select(p => new PlotPoint(p.Epoch, p.KnnAccuracy!.Value, $"epoch {p.Epoch}: {LeaderboardCsv.FormatMetric(p.KnnAccuracy)}")).ToList(),
                    BestColor, markers: true)
                .ToSvg());
        b.Append("</div>");
        if (knn.Count == 0) b.Append("<p class=\"muted\">The kNN monitor was not measured during pretraining.</p>");
        else b.Append("<p class=\"muted\">kNN monitor: accuracy of a k-nearest-neighbour classifier on the embeddings of the labeled rows, a label-cheap signal of what pretraining learned.</p>");
        return Section.With("pretraining", title, b.ToString());
    }

    // Every metric but log-loss is a share, 0 to 1.
    private static (double, double)? MetricBounds(string metric) => metric == "log-loss" ? null : (0, 1);

    // A fine-tuned network's saved model keeps its fine-tuning history, not the pretraining of the encoder it started from.
    private static Section FineTuneCurve(RunReport r)
    {
        const string title = "Fine-tuning curve";
        var curve = r.FineTuneCurve;
        var b = new StringBuilder("<p>").Append(Esc(r.FineTuneOrigin ?? "The chosen network was fine-tuned on the labeled rows."))
            .Append(" The saved model records its fine-tuning, drawn here.</p><div class=\"plots\">");
        b.Append(new SvgPlot("Training loss per epoch", "epoch", "loss", 480, 300)
            .AddLine(null, curve.Select(p => new PlotPoint(p.Step, p.Loss, $"{p.Label}: {p.Loss.ToString("G4", CultureInfo.InvariantCulture)}")).ToList(),
                SslColor, markers: curve.Count <= 60)
            .ToSvg());
        var accepted = curve.Where(p => p.AcceptanceRate is not null).ToList();
        if (accepted.Count > 0)
            b.Append(new SvgPlot("Pseudo-labels accepted", "epoch", "share of unlabeled rows", 480, 300) { YBounds = (0, 1) }
                .AddLine(null, accepted.Select(p => new PlotPoint(p.Step, p.AcceptanceRate!.Value, $"{p.Label}: {p.AcceptanceRate!.Value.ToString("P1", CultureInfo.InvariantCulture)}")).ToList(),
                    BestColor, markers: true)
                .ToSvg());
        b.Append("</div>");
        if (accepted.Count > 0)
            b.Append("<p class=\"muted\">Pseudo-labels accepted: the share of the epoch's pseudo-labels (the weak views' predictions) that passed the confidence threshold, so their strong views were trained on them (FixMatch).</p>");
        return Section.With("pretraining", title, b.ToString());
    }

    private static Section Confusion(RunReport r)
    {
        const string title = "Confusion matrix";
        int n = r.ClassNames.Count;
        if (n == 0 || r.ConfusionMatrix.Length == 0) return Section.Omitted("confusion", title, "No test predictions were recorded.");
        if (!ClassMetrics.IsSquare(r.ConfusionMatrix, n))
            return Section.Omitted("confusion", title,
                $"The run recorded a confusion matrix whose shape does not match its {n} classes, so it is not shown.");
        var m = r.ConfusionMatrix;
        int total = m.Sum(row => row.Sum());
        int correct = Enumerable.Range(0, n).Sum(i => m[i][i]);
        var b = new StringBuilder();
        string accuracy = total > 0 ? LeaderboardCsv.FormatMetric((double)correct / total) : "n/a";
        if (n > MaxMatrixClasses)
        {
            // n² cells: 1,215 classes made an 89 MB page no browser opens. The cells that hold the errors, largest first.
            var errors = Enumerable.Range(0, n).SelectMany(i => Enumerable.Range(0, n).Where(j => j != i && m[i][j] > 0).Select(j => (Actual: i, Predicted: j, Rows: m[i][j])))
                .OrderByDescending(e => e.Rows).ThenBy(e => e.Actual).ThenBy(e => e.Predicted).ToList();
            b.Append("<p>").Append(Count(n)).Append(" classes, too many for a matrix: the ").Append(Count(Math.Min(MaxListedConfusions, errors.Count)))
                .Append(" most frequent confusions of ").Append(Count(total - correct)).Append(" errors. Accuracy on these ").Append(Count(total))
                .Append(" rows: <b>").Append(accuracy).Append("</b>.</p>");
            b.Append("<table class=\"confusions\"><thead><tr><th>Actual</th><th>Predicted</th><th class=\"num\">Test rows</th></tr></thead><tbody>");
            foreach (var (actual, predicted, rows) in errors.Take(MaxListedConfusions))
                b.Append("<tr><td>").Append(Esc(r.ClassNames[actual])).Append("</td><td>").Append(Esc(r.ClassNames[predicted])).Append("</td><td class=\"num\">")
                    .Append(Count(rows)).Append("</td></tr>");
            b.Append("</tbody></table>");
            AppendPerClass(b, r, m);
            return Section.With("confusion", title, b.ToString());
        }
        b.Append("<p>Test rows by actual class (rows) and predicted class (columns); shading is the share of the row. Accuracy on these ")
            .Append(Count(total)).Append(" rows: <b>").Append(accuracy).Append("</b>.</p>");
        b.Append("<div class=\"scroll\"><table class=\"confusion\"><thead><tr><th>actual \\ predicted</th>");
        foreach (string name in r.ClassNames) b.Append("<th>").Append(Esc(name)).Append("</th>");
        b.Append("</tr></thead><tbody>");
        for (int i = 0; i < n; i++)
        {
            int rowTotal = m[i].Sum();
            b.Append("<tr><th>").Append(Esc(r.ClassNames[i])).Append("</th>");
            for (int j = 0; j < n; j++)
            {
                double share = rowTotal > 0 ? (double)m[i][j] / rowTotal : 0;
                b.Append("<td class=\"num").Append(i == j ? " diag" : "").Append("\" style=\"background:rgba(31,119,180,")
                    .Append(share.ToString("0.###", CultureInfo.InvariantCulture)).Append(')').Append(share > 0.55 ? ";color:#fff" : "")
                    .Append("\">").Append(Count(m[i][j])).Append("</td>");
            }
            b.Append("</tr>");
        }
        b.Append("</tbody></table></div>");
        AppendPerClass(b, r, m);
        return Section.With("confusion", title, b.ToString());
    }

    /// <summary>The most classes the report draws as a matrix (it scrolls sideways); more get a list of confusions.</summary>
    internal const int MaxMatrixClasses = 40;

    private const int MaxListedConfusions = 30;

    private static void AppendPerClass(StringBuilder b, RunReport r, int[][] m)
    {
        b.Append("<h3>Per class</h3><table class=\"per-class\"><thead><tr><th>Class</th><th class=\"num\">Test rows</th><th class=\"num\">Predicted</th>")
            .Append("<th class=\"num\">Precision</th><th class=\"num\">Recall</th><th class=\"num\">F1</th></tr></thead><tbody>");
        foreach (var c in ClassMetrics.FromConfusion(r.ClassNames, m))
            b.Append("<tr><td>").Append(Esc(c.ClassName)).Append("</td><td class=\"num\">").Append(Count(c.Support)).Append("</td><td class=\"num\">")
                .Append(Count(c.Predicted)).Append("</td><td class=\"num\">").Append(Ratio(c.Precision)).Append("</td><td class=\"num\">")
                .Append(Ratio(c.Recall)).Append("</td><td class=\"num\">").Append(Ratio(c.F1)).Append("</td></tr>");
        b.Append("</tbody></table><p class=\"muted\">Precision: of the rows predicted as the class, the share that are; recall: of the class's rows, the share found. n/a: no such rows.</p>");
    }

    private static Section MisclassifiedSection(RunReport r, ImageBudget images)
    {
        const string title = "Misclassified examples";
        if (r.Misclassified.Count == 0)
        {
            bool anyError = ClassMetrics.IsSquare(r.ConfusionMatrix, r.ClassNames.Count)
                && r.ConfusionMatrix.Select((row, i) => row.Sum() - row[i]).Sum() > 0;
            return Section.Omitted("misclassified", title,
                anyError || r.ConfusionMatrix.Length == 0 ? "The run recorded no misclassified examples." : "Every test row was classified correctly.");
        }
        var b = new StringBuilder("<div class=\"examples\">");
        foreach (var x in r.Misclassified)
        {
            b.Append("<figure class=\"example\">");
            if (x.ThumbnailPng is { } png) b.Append(images.Img(png, x.Description, "thumb"));
            b.Append("<figcaption><b>").Append(Esc(x.Actual)).Append("</b> predicted as <b>").Append(Esc(x.Predicted)).Append("</b> (")
                .Append(x.Confidence.ToString("0.00", CultureInfo.InvariantCulture)).Append(")<br><span class=\"desc\">")
                .Append(Esc(x.Description)).Append("</span></figcaption></figure>");
        }
        b.Append("</div>").Append(images.TakeNotes());
        return Section.With("misclassified", title, b.ToString());
    }

    private static Section EmbeddingMaps(RunReport r, IReadOnlyDictionary<string, string> colors)
    {
        const string title = "Embedding maps";
        if (r.MapBefore is null && r.MapAfter is null)
            return Section.Omitted("maps", title, "Embedding maps were not computed for this run.");
        var b = new StringBuilder("<div class=\"plots\">");
        var notes = new List<string>();
        foreach (var (map, when) in new[] { (r.MapBefore, "before pretraining"), (r.MapAfter, "after pretraining") })
        {
            if (map is null)
            {
                notes.Add($"No map {when} was computed.");
                continue;
            }
            var points = map.Points;
            if (points.Count > MaxMapPoints)
            {
                double stride = (double)points.Count / MaxMapPoints;
                points = Enumerable.Range(0, MaxMapPoints).Select(i => map.Points[(int)(i * stride)]).ToList();
                notes.Add($"{map.Title}: {Count(MaxMapPoints)} of {Count(map.Points.Count)} rows drawn, evenly spaced, to keep the file small.");
            }
            var plot = new SvgPlot(map.Title, "component 1", "component 2", 520, 380);
            // Unlabeled rows first, so the coloured classes are drawn over them.
            AddIfAny(plot, "unlabeled", points.Where(p => p.Label is null).Select(p => new PlotPoint(p.X, p.Y)).ToList(), UnlabeledColor, PointMarker.Filled, 2);
            foreach (var group in points.Where(p => p.Label is not null).GroupBy(p => p.Label!).OrderBy(g => ColorOrder(colors, g.Key)))
                plot.AddPoints(group.Key, group.Select(p => new PlotPoint(p.X, p.Y)).ToList(), colors[group.Key], PointMarker.Filled, 2.5);
            b.Append(plot.ToSvg());
        }
        b.Append("</div><p class=\"muted\">Each row projected to two dimensions; classes coloured, unlabeled rows grey. Classes that separate better after pretraining are what SSL learned without labels.</p>");
        foreach (string note in notes) b.Append("<p class=\"muted\">").Append(Esc(note)).Append("</p>");
        return Section.With("maps", title, b.ToString());
    }

    private static Section AugmentedViewsSection(RunReport r, ImageBudget images)
    {
        const string title = "Augmented views";
        if (r.AugmentedViews.Count == 0)
            return Section.Omitted("augmentations", title, r.Task == "image-classification"
                ? "The run recorded no augmented views (the chosen pipeline has no image augmentations)."
                : "Augmented views are shown for image tasks only.");
        var b = new StringBuilder("<p>Each source image, then the views the SSL stage's augmentations made of it: what the encoder learned to see as the same.</p><table class=\"views\"><tbody>");
        foreach (var example in r.AugmentedViews)
        {
            b.Append("<tr><th>").Append(Esc(example.Source)).Append("</th><td>").Append(images.Img(example.OriginalPng, example.Source, "thumb original")).Append("</td>");
            foreach (byte[] view in example.ViewsPng) b.Append("<td>").Append(images.Img(view, "augmented view of " + example.Source, "thumb")).Append("</td>");
            b.Append("</tr>");
        }
        b.Append("</tbody></table>").Append(images.TakeNotes());
        return Section.With("augmentations", title, b.ToString());
    }

    private static Section LabelCurveSection(RunReport r)
    {
        const string title = "Label curve";
        var points = r.LabelCurve.Where(p => double.IsFinite(p.Metric) && double.IsFinite(p.LabelFraction)).ToList();
        if (points.Count == 0)
            return Section.Omitted("label-curve", title, "Not computed: run with --label-curve to compare the chosen and the best no-SSL pipeline at 10, 25, 50 and 100% of the labels.");
        var plot = new SvgPlot($"Test {r.MetricName} by share of the labels used", "labels used (%)", r.MetricName) { YBounds = MetricBounds(r.MetricName) };
        var groups = points.GroupBy(p => (p.Pipeline, p.UsesSsl)).OrderByDescending(g => g.Key.UsesSsl).ToList();
        int noSslIndex = 0, sslIndex = 0;
        foreach (var g in groups)
        {
            // SSL pipelines solid in blues, no-SSL pipelines dashed in oranges.
            string color = g.Key.UsesSsl ? (sslIndex++ == 0 ? SslColor : Palette[(2 + sslIndex) % Palette.Length])
                                         : (noSslIndex++ == 0 ? NoSslColor : Palette[(5 + noSslIndex) % Palette.Length]);
            plot.AddLine(g.Key.Pipeline, g.OrderBy(p => p.LabelFraction)
                .Select(p => new PlotPoint(100 * p.LabelFraction, p.Metric, $"{p.Pipeline}: {LeaderboardCsv.FormatMetric(p.Metric)} at {100 * p.LabelFraction:0.#}%")).ToList(),
                color, dashed: !g.Key.UsesSsl, markers: true);
        }
        var b = new StringBuilder(plot.ToSvg());
        var fractions = points.Select(p => p.LabelFraction).Distinct().Order().ToList();
        b.Append("<table class=\"label-curve\"><thead><tr><th>Pipeline</th><th>SSL</th>");
        foreach (double f in fractions) b.Append("<th class=\"num\">").Append((100 * f).ToString("0.#", CultureInfo.InvariantCulture)).Append("%</th>");
        b.Append("</tr></thead><tbody>");
        foreach (var g in groups)
        {
            b.Append("<tr><td>").Append(Esc(g.Key.Pipeline)).Append("</td><td>").Append(g.Key.UsesSsl ? "yes" : "no").Append("</td>");
            foreach (double f in fractions)
                b.Append("<td class=\"num\">").Append(g.FirstOrDefault(p => p.LabelFraction == f) is { } p ? LeaderboardCsv.FormatMetric(p.Metric) : "").Append("</td>");
            b.Append("</tr>");
        }
        b.Append("</tbody></table>");
        return Section.With("label-curve", title, b.ToString());
    }

    private static Section EnvironmentSection(RunReport r)
    {
        var e = r.Environment;
        var b = new StringBuilder("<table class=\"facts\"><tbody>");
        Fact(b, "mlnet-ssl", Esc(e.ToolVersion));
        Fact(b, "TorchSharp backend", Esc(e.TorchBackend));
        Fact(b, "Device", Esc(e.Device));
        Fact(b, "CPU", Esc(e.Cpu));
        Fact(b, "Threads", Count(e.Threads));
        Fact(b, "Seed", e.Seed.ToString(CultureInfo.InvariantCulture));
        Fact(b, "Started", Esc(e.StartedAt.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture)));
        Fact(b, "Total time", Seconds(e.TotalSeconds));
        Fact(b, "Command", $"<code>{Esc(r.CommandLine)}</code>");
        b.Append("</tbody></table>");
        if (e.PhaseSeconds.Count > 0)
        {
            b.Append("<h3>Time by phase</h3><table class=\"facts\"><tbody>");
            foreach (var (phase, seconds) in e.PhaseSeconds) Fact(b, Esc(phase), Seconds(seconds));
            b.Append("</tbody></table>");
        }
        return Section.With("environment", "Environment", b.ToString());
    }

    private static Section NotesSection(RunReport r)
    {
        if (r.Notes.Count == 0) return Section.Omitted("notes", "Notes", "The run left no notes.");
        var b = new StringBuilder("<ul>");
        foreach (string note in r.Notes) b.Append("<li>").Append(Esc(note)).Append("</li>");
        return Section.With("notes", "Notes", b.Append("</ul>").ToString());
    }

    // ---- helpers ----

    private static void AddIfAny(SvgPlot plot, string name, IReadOnlyList<PlotPoint> points, string color, PointMarker marker, double radius = 4)
    {
        if (points.Count > 0) plot.AddPoints(name, points, color, marker, radius);
    }

    // Class colours follow the label order, so a class has the same colour in both maps; labels the class list lacks come after.
    private static Dictionary<string, string> ClassColors(RunReport r)
    {
        var names = r.ClassNames.Concat(new[] { r.MapBefore, r.MapAfter }.Where(m => m is not null)
            .SelectMany(m => m!.Points).Select(p => p.Label).OfType<string>()).Distinct().ToList();
        var colors = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
            colors[names[i]] = i < Palette.Length ? Palette[i] : string.Create(CultureInfo.InvariantCulture, $"hsl({(i * 137.508) % 360:0},60%,45%)");
        return colors;
    }

    private static int ColorOrder(IReadOnlyDictionary<string, string> colors, string label) =>
        colors.Keys.Select((k, i) => (k, i)).First(x => x.k == label).i;

    private static void AppendList<T>(StringBuilder b, IReadOnlyList<T> items, Func<T, string> render, string whenEmpty, string cssClass)
    {
        if (items.Count == 0)
        {
            b.Append("<p class=\"muted\">").Append(whenEmpty).Append("</p>");
            return;
        }
        b.Append("<ul class=\"").Append(cssClass).Append("\">");
        foreach (var item in items.Take(MaxListedItems)) b.Append("<li>").Append(render(item)).Append("</li>");
        b.Append("</ul>");
        if (items.Count > MaxListedItems)
            b.Append("<p class=\"muted\">and ").Append(Count(items.Count - MaxListedItems)).Append(" more (").Append(Count(items.Count)).Append(" in all).</p>");
    }

    private static void Fact(StringBuilder b, string name, string valueHtml) =>
        b.Append("<tr><th>").Append(name).Append("</th><td>").Append(valueHtml).Append("</td></tr>");

    private static string Esc(string? text) => WebUtility.HtmlEncode(text ?? "");

    private static string Count(int value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Ratio(double? value) => value is double v ? LeaderboardCsv.FormatMetric(v) : "n/a";

    private static string Signed(double value) => (value > 0 ? "+" : "") + LeaderboardCsv.FormatMetric(value);

    private static string Seconds(double seconds) =>
        seconds < 120 ? seconds.ToString("0.0", CultureInfo.InvariantCulture) + " s"
        : $"{seconds.ToString("0", CultureInfo.InvariantCulture)} s ({TimeSpan.FromSeconds(Math.Round(seconds)).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)})";

    /// <summary>A section: its anchor, heading, and either its HTML or the one line saying why it has none.</summary>
    private sealed record Section(string Id, string Title, string? Body, string? OmittedBecause)
    {
        public static Section With(string id, string title, string body) => new(id, title, body, null);

        public static Section Omitted(string id, string title, string because) => new(id, title, null, because);
    }

    /// <summary>Embeds PNGs as data: URIs within the per-image and per-report caps, and says what it left out.</summary>
    private sealed class ImageBudget
    {
        private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        private long _used;
        private int _tooLarge, _overBudget, _notPng;

        public string Img(byte[] png, string alt, string cssClass)
        {
            if (!png.AsSpan().StartsWith(PngSignature))
            {
                _notPng++;
                return "<span class=\"no-image\">not a PNG</span>";
            }
            if (png.Length > MaxImageBytes)
            {
                _tooLarge++;
                return "<span class=\"no-image\">image too large</span>";
            }
            if (_used + png.Length > MaxTotalImageBytes)
            {
                _overBudget++;
                return "<span class=\"no-image\">left out</span>";
            }
            _used += png.Length;
            return $"<img class=\"{cssClass}\" alt=\"{Esc(alt)}\" src=\"data:image/png;base64,{Convert.ToBase64String(png)}\">";
        }

        // What this section's images lost to the caps, then a fresh count for the next section.
        public string TakeNotes()
        {
            var notes = new List<string>();
            if (_tooLarge > 0) notes.Add($"{Count(_tooLarge)} images over the {MaxImageBytes / 1024} KB cap for one image were left out.");
            if (_overBudget > 0) notes.Add($"{Count(_overBudget)} images were left out to keep the report under {MaxTotalImageBytes / 1024} KB of images.");
            if (_notPng > 0) notes.Add($"{Count(_notPng)} images were not PNG data and were left out.");
            _tooLarge = _overBudget = _notPng = 0;
            return string.Concat(notes.Select(n => $"<p class=\"warn\">{Esc(n)}</p>"));
        }
    }

    // ---- page assets ----

    private const string Css = """
        :root{--fg:#1d2330;--muted:#667;--line:#dde1e8;--accent:#1f77b4;--bg-soft:#f5f7fa}
        *{box-sizing:border-box}
        body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:#fff}
        header{padding:16px 28px 8px;border-bottom:1px solid var(--line);background:var(--bg-soft)}
        h1{margin:0 0 4px;font-size:22px}h2{font-size:18px;margin:0 0 10px;border-bottom:2px solid var(--accent);display:inline-block}
        h3{font-size:15px;margin:14px 0 6px}
        nav a{margin-right:10px;color:var(--accent);text-decoration:none;white-space:nowrap}nav a.omitted{color:#99a}
        main{padding:8px 28px 40px;max-width:1280px}
        section{padding:14px 0;border-bottom:1px solid var(--line)}
        section.omitted h2{border-color:#ccd;color:#556}
        .omitted-reason,.muted{color:var(--muted)}.warn{color:#9a5b00}
        code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#eef1f5;padding:1px 4px;border-radius:3px;word-break:break-all}
        table{border-collapse:collapse;margin:6px 0}th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
        thead th{background:var(--bg-soft)}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
        .facts th{font-weight:600;color:#445;width:170px}
        .cards{display:flex;flex-wrap:wrap;gap:14px;margin-bottom:10px}
        .card{flex:1 1 320px;border:1px solid var(--line);border-radius:6px;padding:12px 14px;background:#fff}
        .card.chosen{border-color:var(--accent);box-shadow:0 0 0 1px var(--accent) inset}
        .card .label{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
        .card .pipeline{font-size:16px;font-weight:600;margin:4px 0}.card .metric{font-size:15px}.card .metric b{font-size:22px}
        .leaderboard th{cursor:pointer;user-select:none}.leaderboard tr.best td{background:#eaf3fb}.params{font-size:12px;color:#445}
        .scroll{overflow-x:auto}
        .counts .bar-cell{width:220px}.bar{height:10px;background:var(--accent);border-radius:2px}
        .confusion td{min-width:38px;text-align:center}.confusion td.diag{font-weight:700;outline:1px solid #1f77b4}
        .plots{display:flex;flex-wrap:wrap;gap:16px}
        svg.plot{display:block;width:100%;max-width:640px;height:auto;font:11px system-ui,sans-serif;fill:#333}
        .plots svg.plot{max-width:520px}
        svg .grid{stroke:#eceff3}svg .plot-title{font-weight:600;font-size:13px}svg .axis-label{fill:#556}
        .examples{display:flex;flex-wrap:wrap;gap:10px}
        figure.example{margin:0;width:150px;border:1px solid var(--line);border-radius:4px;padding:6px;font-size:12px}
        .desc{color:var(--muted);word-break:break-all}
        img.thumb{width:64px;height:64px;object-fit:contain;image-rendering:pixelated;display:block;margin-bottom:4px}
        figure.example img.thumb{width:96px;height:96px}
        .views th{font-weight:400;font-size:12px;color:var(--muted);max-width:180px;word-break:break-all}.views img.original{outline:2px solid var(--accent)}
        .no-image{display:inline-block;width:64px;font-size:11px;color:var(--muted)}
        """;

    // Sorts the leaderboard by a clicked column and marks the page ready (the browser test checks the mark, proof
    // that the script ran without error under the page's Content-Security-Policy).
    private const string Script = """
        (function () {
          var table = document.querySelector('#leaderboard table');
          if (table) {
            var heads = table.tHead.rows[0].cells;
            Array.prototype.forEach.call(heads, function (th, col) {
              th.addEventListener('click', function () {
                var numeric = th.getAttribute('data-sort') === 'num';
                var ascending = th.getAttribute('data-dir') !== 'asc';
                th.setAttribute('data-dir', ascending ? 'asc' : 'desc');
                var body = table.tBodies[0];
                var rows = Array.prototype.slice.call(body.rows);
                rows.sort(function (a, b) {
                  var x = a.cells[col].textContent, y = b.cells[col].textContent;
                  if (numeric) {
                    var nx = x === '' ? NaN : parseFloat(x), ny = y === '' ? NaN : parseFloat(y);
                    if (isNaN(nx) || isNaN(ny)) return isNaN(nx) - isNaN(ny);
                    return ascending ? nx - ny : ny - nx;
                  }
                  return ascending ? x.localeCompare(y) : y.localeCompare(x);
                });
                rows.forEach(function (row) { body.appendChild(row); });
              });
            });
          }
          document.documentElement.setAttribute('data-report-ready', 'true');
        })();
        """;

    // The Content-Security-Policy allows this one script by its hash, so no other script (an injected one) can run.
    private static readonly string ScriptHash = "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(Script)));
}
