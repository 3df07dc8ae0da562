using System.Globalization;
using System.Text;
using MlNetSsl.Cli.Data;

namespace MlNetSsl.Cli.Report;

/// <summary>
/// Writes leaderboard.csv: one row per trial, best first, RFC 4180 (comma separated, CRLF line ends, fields with a
/// comma, quote or line break quoted, quotes doubled), invariant culture. The metric columns carry their rounding in
/// their names (<c>_4dp</c>: four decimal places), and report.html shows the same strings, formatted by
/// <see cref="FormatMetric"/>, so the two never disagree.
/// </summary>
internal static class LeaderboardCsv
{
    /// <summary>Decimal places of the metric and its spread, in the file and in the report.</summary>
    public const int MetricDecimals = 4;

    /// <summary>The header's column names for a metric (e.g. "macro-accuracy" gives validation_macro_accuracy_4dp; under the
    /// label-free objective the trials have no validation metric, and the columns are label_free_score_4dp and its sd).</summary>
    public static IReadOnlyList<string> Header(string metricName, bool labelFree = false)
    {
        string metric = labelFree ? "label_free_score" : "validation_" + metricName.Trim().ToLowerInvariant().Replace('-', '_').Replace(' ', '_');
        return
        [
            "rank", "trial", "pipeline", "uses_ssl", "status",
            $"{metric}_{MetricDecimals}dp", $"{metric}_sd_{MetricDecimals}dp",
            "fidelity", "duration_s", "started_at_s", "parameters",
        ];
    }

    /// <summary>Writes <paramref name="rows"/> to <paramref name="path"/> (temp-then-move).</summary>
    /// <param name="rows">The leaderboard, best first.</param>
    /// <param name="path">The file to write; its folder is created when missing.</param>
    /// <param name="metricName">The metric the search optimised; it names the metric columns.</param>
    /// <param name="labelFree">The trials were scored by the label-free objective (see <see cref="Header"/>).</param>
    public static void Write(IReadOnlyList<LeaderboardRow> rows, string path, string metricName, bool labelFree = false)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentException.ThrowIfNullOrWhiteSpace(metricName);
        CliFile.WriteAllText(path, ToCsv(rows, metricName, labelFree));
    }

    /// <summary>The file's content.</summary>
    public static string ToCsv(IReadOnlyList<LeaderboardRow> rows, string metricName, bool labelFree = false)
    {
        var csv = new StringBuilder();
        AppendLine(csv, Header(metricName, labelFree));
        foreach (var row in rows)
            AppendLine(csv, Fields(row));
        return csv.ToString();
    }

    /// <summary>The row's fields, in the header's order, exactly as written.</summary>
    public static IReadOnlyList<string> Fields(LeaderboardRow row) =>
    [
        row.Rank.ToString(CultureInfo.InvariantCulture),
        row.TrialId.ToString(CultureInfo.InvariantCulture),
        row.Pipeline,
        row.UsesSsl ? "true" : "false",
        row.Status,
        FormatMetric(row.Metric),
        FormatMetric(row.MetricSpread),
        row.Fidelity?.ToString(CultureInfo.InvariantCulture) ?? "",
        FormatSeconds(row.DurationSeconds),
        FormatSeconds(row.StartedAt),
        FormatParameters(row.Parameters),
    ];

    /// <summary>A metric as the file and the report show it: four decimals, invariant culture; empty when absent.</summary>
    public static string FormatMetric(double? value) => value switch
    {
        null => "",
        double v when double.IsNaN(v) => "NaN",
        double v when double.IsInfinity(v) => v > 0 ? "Infinity" : "-Infinity",
        double v => v.ToString("F" + MetricDecimals, CultureInfo.InvariantCulture),
    };

    /// <summary>Seconds with one decimal, invariant culture.</summary>
    public static string FormatSeconds(double seconds) => seconds.ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>Parameters as "name=value" pairs sorted by name and joined by "; " (one field).</summary>
    public static string FormatParameters(IReadOnlyDictionary<string, string> parameters) =>
        string.Join("; ", parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));

    private static void AppendLine(StringBuilder csv, IReadOnlyList<string> fields)
    {
        for (int i = 0; i < fields.Count; i++)
        {
            if (i > 0) csv.Append(',');
            csv.Append(CsvTable.QuoteCell(fields[i]));
        }
        csv.Append("\r\n");
    }

}
