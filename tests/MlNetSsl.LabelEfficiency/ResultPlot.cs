using System.Globalization;

namespace MlNetSsl.LabelEfficiency;

/// <summary>Accuracy-vs-label-fraction plots (ScottPlot, PNG).</summary>
public static class ResultPlot
{
    /// <summary>Saves one line per row; the x axis is the label fraction on a log scale, missing points (NaN) are skipped.</summary>
    /// <param name="path">PNG file to write.</param>
    /// <param name="title">Plot title.</param>
    /// <param name="fractions">Label fractions, ascending.</param>
    /// <param name="lines">Row name and mean accuracy in percent per fraction.</param>
    public static void Save(string path, string title, double[] fractions, IReadOnlyList<(string Name, double[] Accuracy)> lines)
    {
        var plot = new ScottPlot.Plot();
        // Log scale by hand: 1%, 10% and 100% are equally spaced.
        double[] xs = fractions.Select(f => Math.Log10(f * 100)).ToArray();
        foreach ((string name, double[] accuracy) in lines)
        {
            int[] present = Enumerable.Range(0, xs.Length).Where(i => !double.IsNaN(accuracy[i])).ToArray();
            if (present.Length == 0) continue;
            var scatter = plot.Add.Scatter(present.Select(i => xs[i]).ToArray(), present.Select(i => accuracy[i]).ToArray());
            scatter.LegendText = name;
            scatter.LineWidth = 2;
            scatter.MarkerSize = 8;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(xs,
            fractions.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f * 100:0.##}%")).ToArray());
        plot.Axes.Margins(0.08, 0.1);
        plot.Title(title);
        plot.XLabel("labeled fraction of the pool (log scale)");
        plot.YLabel("test accuracy (%)");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.SavePng(path, 900, 560);
    }
}
