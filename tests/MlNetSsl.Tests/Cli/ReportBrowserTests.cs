using System.Text.Json.Nodes;
using MlNetSsl.Cli.Report;
using SkiaSharp;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// report.html in a real browser (headless chromium; Skipped where none is installed): it loads without console errors
/// or network requests, its script runs, it draws a page that is not blank, and the figures of its leaderboard, read
/// from the rendered DOM, are those of leaderboard.csv. MLNETSSL_REPORT_SCREENSHOT=&lt;file.png&gt; also saves the
/// screenshot, and the report beside it as &lt;file.html&gt; (docs/plots/cli-report.png is made this way).
/// </summary>
public sealed class ReportBrowserTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(45);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "mlnetssl-browser-" + Guid.NewGuid().ToString("N"));

    public ReportBrowserTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [SkippableFact]
    public async Task ReportOpensCleanlyAndShowsTheCsvFigures()
    {
        string? chromium = HeadlessChromium.FindExecutable();
        Skip.If(chromium is null, "No chromium on this host (CI installs Debian's chromium).");
        var report = ReportSamples.Example();
        string html = Path.Combine(_folder, "report.html"), csv = Path.Combine(_folder, "leaderboard.csv");
        ReportWriter.Write(report, html);
        LeaderboardCsv.Write(report.Leaderboard, csv, report.MetricName);

        const string Probe = """
            ({
              ready: document.documentElement.getAttribute('data-report-ready'),
              columns: Array.from(document.querySelectorAll('#leaderboard thead th')).map(th => th.getAttribute('data-csv')),
              rows: Array.from(document.querySelectorAll('#leaderboard tbody tr')).map(tr => Array.from(tr.cells).map(td => td.textContent)),
              svgs: document.querySelectorAll('svg.plot').length,
              images: Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length,
              brokenImages: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length
            })
            """;
        await using var browser = await HeadlessChromium.StartAsync(chromium!, Timeout);
        var visit = await browser.LoadAsync(new Uri(html).AbsoluteUri, Probe, 1200, 900, fullPage: true, Timeout);

        Assert.True(visit.ConsoleErrors.Count == 0, "Console errors:\n" + string.Join("\n", visit.ConsoleErrors));
        var foreign = visit.Requests.Where(url => url != new Uri(html).AbsoluteUri && !url.StartsWith("data:", StringComparison.Ordinal)).ToList();
        Assert.True(foreign.Count == 0, "Requests besides the report itself:\n" + string.Join("\n", foreign));
        Assert.Contains(new Uri(html).AbsoluteUri, visit.Requests); // the recorder saw the page's own load

        var dom = visit.Evaluated!;
        Assert.Equal("true", (string?)dom["ready"]);
        Assert.True((int)dom["svgs"]! >= 4, "Expected the plots to render as SVG.");
        Assert.True((int)dom["images"]! > 0);
        Assert.Equal(0, (int)dom["brokenImages"]!);

        // The leaderboard as the browser renders it, column by column, against the file.
        // The table lists the trials with a metric; a trial without one is counted under it.
        var csvLines = ReportSamples.ReadCsv(File.ReadAllText(csv));
        int metricColumn = csvLines[0].IndexOf($"validation_{report.MetricName.Replace('-', '_')}_4dp");
        var lines = csvLines.Where((line, i) => i == 0 || line[metricColumn].Length > 0).ToList();
        var columns = dom["columns"]!.AsArray().Select(c => (string?)c).ToList();
        var rows = dom["rows"]!.AsArray().Select(r => r!.AsArray().Select(c => (string)c!).ToList()).ToList();
        Assert.Equal(lines.Count - 1, rows.Count);
        int compared = 0;
        for (int c = 0; c < columns.Count; c++)
        {
            if (columns[c] is not string name) continue;
            int csvColumn = lines[0].IndexOf(name);
            Assert.True(csvColumn >= 0, $"Column {name} is not in leaderboard.csv.");
            for (int r = 0; r < rows.Count; r++, compared++)
                Assert.Equal(lines[r + 1][csvColumn], rows[r][c]);
        }
        Assert.Contains($"validation_{report.MetricName.Replace('-', '_')}_4dp", columns);
        Assert.True(compared >= 8 * rows.Count, $"Only {compared} cells compared.");

        AssertNotBlank(visit.ScreenshotPng);
        if (Environment.GetEnvironmentVariable("MLNETSSL_REPORT_SCREENSHOT") is { Length: > 0 } keep)
        {
            File.WriteAllBytes(keep, visit.ScreenshotPng);
            File.Copy(html, Path.ChangeExtension(keep, ".html"), overwrite: true);
        }
    }

    [SkippableFact]
    public async Task RecorderSeesRequestsAndConsoleErrors()
    {
        // The checks above can fail: a page that fetches and logs an error is caught by the same recorder.
        string? chromium = HeadlessChromium.FindExecutable();
        Skip.If(chromium is null, "No chromium on this host (CI installs Debian's chromium).");
        string page = Path.Combine(_folder, "bad.html");
        File.WriteAllText(page, """
            <!DOCTYPE html><html><body><p>bad</p>
            <img src="http://127.0.0.1:9/pixel.png">
            <script>console.error('report script failed'); undefinedFunction();</script>
            </body></html>
            """);

        await using var browser = await HeadlessChromium.StartAsync(chromium!, Timeout);
        var visit = await browser.LoadAsync(new Uri(page).AbsoluteUri, "document.title", 400, 300, fullPage: false, Timeout);

        Assert.Contains("http://127.0.0.1:9/pixel.png", visit.Requests);
        Assert.Contains(visit.ConsoleErrors, e => e.Contains("report script failed", StringComparison.Ordinal));
        Assert.Contains(visit.ConsoleErrors, e => e.Contains("undefinedFunction", StringComparison.Ordinal));
    }

    // A blank page decodes to one colour; a rendered report has text, plots and thumbnails.
    private static void AssertNotBlank(byte[] png)
    {
        using var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        Assert.True(bitmap.Width >= 1000 && bitmap.Height >= 800, $"{bitmap.Width}x{bitmap.Height}");
        var colors = new HashSet<uint>();
        int nonWhite = 0, total = 0;
        for (int y = 0; y < bitmap.Height; y += 3)
            for (int x = 0; x < bitmap.Width; x += 3)
            {
                var c = bitmap.GetPixel(x, y);
                colors.Add((uint)c);
                total++;
                if (c.Red < 235 || c.Green < 235 || c.Blue < 235) nonWhite++;
            }
        Assert.True(colors.Count > 200, $"Only {colors.Count} distinct colours.");
        Assert.InRange((double)nonWhite / total, 0.03, 0.9);
    }
}
