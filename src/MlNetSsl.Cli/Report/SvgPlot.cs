using System.Globalization;
using System.Net;
using System.Text;

namespace MlNetSsl.Cli.Report;

/// <summary>How a point series is drawn.</summary>
internal enum PointMarker
{
    /// <summary>A filled circle.</summary>
    Filled,

    /// <summary>A circle outline (pruned trials).</summary>
    Hollow,
}

/// <summary>One point of a scatter series, with an optional tooltip.</summary>
internal readonly record struct PlotPoint(double X, double Y, string? Tooltip = null);

/// <summary>
/// A small line and scatter plot written as inline SVG: axes with round ticks, lines, point markers and a legend.
/// The report draws its plots itself instead of through ScottPlot: ScottPlot 5 needs SkiaSharp 3, and in a process
/// with SkiaSharp 3 ML.NET's image transforms (built against SkiaSharp 2.88) fail (ExtractPixels throws
/// MissingMethodException for SKBitmap.GetPixelSpan); the CLI trains with those transforms. SVG text also stays
/// searchable and sharp, and costs a few kilobytes.
/// </summary>
internal sealed class SvgPlot
{
    private const int MarginLeft = 64, MarginTop = 30, MarginBottom = 46, LegendWidth = 170, MaxLegendEntries = 16;

    private readonly string _title, _xLabel, _yLabel;
    private readonly int _width, _height;
    private readonly List<Series> _series = [];

    /// <summary>A plot of <paramref name="width"/> by <paramref name="height"/> pixels (the SVG scales with the page).</summary>
    public SvgPlot(string title, string xLabel, string yLabel, int width = 640, int height = 340)
    {
        _title = title;
        _xLabel = xLabel;
        _yLabel = yLabel;
        _width = width;
        _height = height;
    }

    /// <summary>The values the y axis may reach, for a quantity that has bounds (an accuracy or a share: 0 to 1): the
    /// padding and round ticks around a flat line of 1.0 would otherwise run the axis to 1.06. Null: no bounds.</summary>
    public (double Min, double Max)? YBounds { get; init; }

    /// <summary>The series added so far (for tests and for deciding whether a plot is worth drawing).</summary>
    public int SeriesCount => _series.Count;

    /// <summary>Adds a polyline through <paramref name="points"/> in the order given.</summary>
    public SvgPlot AddLine(string? name, IReadOnlyList<PlotPoint> points, string color, bool dashed = false, bool markers = false)
    {
        _series.Add(new Series(name, points, color, IsLine: true, dashed, markers ? PointMarker.Filled : null, Radius: 3));
        return this;
    }

    /// <summary>Adds unconnected markers.</summary>
    public SvgPlot AddPoints(string? name, IReadOnlyList<PlotPoint> points, string color, PointMarker marker = PointMarker.Filled, double radius = 4)
    {
        _series.Add(new Series(name, points, color, IsLine: false, Dashed: false, marker, radius));
        return this;
    }

    /// <summary>The plot as an <c>&lt;svg&gt;</c> element; all text HTML-escaped.</summary>
    public string ToSvg()
    {
        var finite = _series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        var (xMin, xMax) = Range(finite.Select(p => p.X));
        var (yMin, yMax) = Range(finite.Select(p => p.Y));
        double[] xTicks = Ticks(xMin, xMax), yTicks = Ticks(yMin, yMax);
        xMin = Math.Min(xMin, xTicks[0]); xMax = Math.Max(xMax, xTicks[^1]);
        yMin = Math.Min(yMin, yTicks[0]); yMax = Math.Max(yMax, yTicks[^1]);
        if (YBounds is var (lowest, highest) && Math.Max(yMin, lowest) < Math.Min(yMax, highest))
        {
            yMin = Math.Max(yMin, lowest);
            yMax = Math.Min(yMax, highest);
            yTicks = [.. yTicks.Where(t => t >= yMin - 1e-12 && t <= yMax + 1e-12)];
        }

        var legend = _series.Where(s => !string.IsNullOrEmpty(s.Name)).ToList();
        int plotRight = _width - (legend.Count > 0 ? LegendWidth : 16);
        int plotBottom = _height - MarginBottom;
        double ToX(double x) => MarginLeft + (x - xMin) / (xMax - xMin) * (plotRight - MarginLeft);
        double ToY(double y) => plotBottom - (y - yMin) / (yMax - yMin) * (plotBottom - MarginTop);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture,
            $"<svg class=\"plot\" viewBox=\"0 0 {_width} {_height}\" role=\"img\" aria-label=\"{Esc(_title)}\">");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{MarginLeft}\" y=\"18\" class=\"plot-title\">{Esc(_title)}</text>");
        svg.Append(CultureInfo.InvariantCulture,
            $"<rect x=\"{MarginLeft}\" y=\"{MarginTop}\" width=\"{plotRight - MarginLeft}\" height=\"{plotBottom - MarginTop}\" fill=\"none\" stroke=\"#bbb\"/>");
        foreach (double t in xTicks)
        {
            string x = N(ToX(t));
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x}\" y1=\"{MarginTop}\" x2=\"{x}\" y2=\"{plotBottom}\" class=\"grid\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x}\" y=\"{plotBottom + 16}\" text-anchor=\"middle\">{TickLabel(t, xTicks)}</text>");
        }
        foreach (double t in yTicks)
        {
            string y = N(ToY(t));
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{MarginLeft}\" y1=\"{y}\" x2=\"{plotRight}\" y2=\"{y}\" class=\"grid\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{MarginLeft - 6}\" y=\"{y}\" dy=\"4\" text-anchor=\"end\">{TickLabel(t, yTicks)}</text>");
        }
        svg.Append(CultureInfo.InvariantCulture,
            $"<text x=\"{N((MarginLeft + plotRight) / 2.0)}\" y=\"{_height - 8}\" text-anchor=\"middle\" class=\"axis-label\">{Esc(_xLabel)}</text>");
        svg.Append(CultureInfo.InvariantCulture,
            $"<text transform=\"translate(14 {N((MarginTop + plotBottom) / 2.0)}) rotate(-90)\" text-anchor=\"middle\" class=\"axis-label\">{Esc(_yLabel)}</text>");

        foreach (var series in _series)
        {
            var points = series.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
            if (series.IsLine && points.Count > 1)
            {
                string path = string.Join(" ", points.Select(p => N(ToX(p.X)) + "," + N(ToY(p.Y))));
                string dash = series.Dashed ? " stroke-dasharray=\"6 4\"" : "";
                svg.Append(CultureInfo.InvariantCulture,
                    $"<polyline points=\"{path}\" fill=\"none\" stroke=\"{series.Color}\" stroke-width=\"2\"{dash}/>");
            }
            if (series.Marker is PointMarker marker)
            {
                string paint = marker == PointMarker.Filled
                    ? $"fill=\"{series.Color}\""
                    : $"fill=\"#fff\" stroke=\"{series.Color}\" stroke-width=\"1.5\"";
                svg.Append(CultureInfo.InvariantCulture, $"<g {paint}>");
                foreach (var p in points)
                {
                    svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{N(ToX(p.X))}\" cy=\"{N(ToY(p.Y))}\" r=\"{N(series.Radius)}\"");
                    svg.Append(p.Tooltip is null ? "/>" : $"><title>{Esc(p.Tooltip)}</title></circle>");
                }
                svg.Append("</g>");
            }
        }

        int shown = Math.Min(legend.Count, MaxLegendEntries);
        for (int i = 0; i < shown; i++)
        {
            var series = legend[i];
            int y = MarginTop + 8 + i * 18;
            int x = plotRight + 12;
            svg.Append(series.IsLine
                ? $"<line x1=\"{x}\" y1=\"{y}\" x2=\"{x + 16}\" y2=\"{y}\" stroke=\"{series.Color}\" stroke-width=\"2\"{(series.Dashed ? " stroke-dasharray=\"4 3\"" : "")}/>"
                : series.Marker == PointMarker.Hollow
                    ? $"<circle cx=\"{x + 8}\" cy=\"{y}\" r=\"4\" fill=\"#fff\" stroke=\"{series.Color}\" stroke-width=\"1.5\"/>"
                    : $"<circle cx=\"{x + 8}\" cy=\"{y}\" r=\"4\" fill=\"{series.Color}\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + 22}\" y=\"{y}\" dy=\"4\">{Esc(Shorten(series.Name!, 22))}<title>{Esc(series.Name!)}</title></text>");
        }
        if (legend.Count > shown)
            svg.Append(CultureInfo.InvariantCulture,
                $"<text x=\"{plotRight + 12}\" y=\"{MarginTop + 8 + shown * 18}\" dy=\"4\">+{legend.Count - shown} more</text>");
        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>About five round tick values covering [<paramref name="min"/>, <paramref name="max"/>] (steps of 1, 2 or 5 times a power of ten).</summary>
    public static double[] Ticks(double min, double max)
    {
        double span = max - min;
        double rough = span / 5;
        double power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double step = power * (rough / power < 1.5 ? 1 : rough / power < 3.5 ? 2 : rough / power < 7.5 ? 5 : 10);
        double first = Math.Floor(min / step + 1e-9) * step;
        double last = Math.Ceiling(max / step - 1e-9) * step;
        int count = (int)Math.Round((last - first) / step) + 1;
        return Enumerable.Range(0, count).Select(i => Math.Round(first + i * step, 12)).ToArray();
    }

    // The data range, widened when it is a single value so the axis still has a length.
    private static (double Min, double Max) Range(IEnumerable<double> values)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (double v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        if (double.IsInfinity(min)) return (0, 1);
        if (max - min < 1e-12 * Math.Max(1, Math.Abs(max)))
        {
            double pad = Math.Abs(min) > 1e-12 ? Math.Abs(min) * 0.05 : 0.5;
            return (min - pad, max + pad);
        }
        return (min, max);
    }

    private static string TickLabel(double value, double[] ticks)
    {
        double step = ticks.Length > 1 ? ticks[1] - ticks[0] : 1;
        int decimals = Math.Clamp((int)-Math.Floor(Math.Log10(step) + 1e-9), 0, 8);
        return value.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    private static string N(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Esc(string text) => WebUtility.HtmlEncode(text);

    private sealed record Series(string? Name, IReadOnlyList<PlotPoint> Points, string Color, bool IsLine, bool Dashed, PointMarker? Marker, double Radius);
}
