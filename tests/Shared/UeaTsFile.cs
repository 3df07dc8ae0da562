// Shared by the test project and the benchmarks (linked into each): the UEA/sktime ".ts" text format
// of ../shared/data/uea, one series per data line, channels separated by ':', values by ',', the class label last.
using System.Globalization;

namespace MlNetSsl.TestData;

internal static class UeaTsFile
{
    /// <summary>The series of a ".ts" file (series, channel, step; channels of one series may differ in length from
    /// another series' when the file says <c>@equalLength false</c>), their 0-based labels and the class names.</summary>
    /// <param name="path">The file.</param>
    /// <param name="classes">The class names to index labels by (a test file takes its training file's); null: the file's
    /// <c>@classLabel</c> list, or the labels it holds in ordinal order.</param>
    public static (float[][][] Series, int[] Labels, string[] Classes) Read(string path, string[]? classes)
    {
        var rows = new List<(float[][] Channels, string Label)>();
        bool inData = false;
        foreach (string raw in File.ReadLines(path))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (!inData)
            {
                if (classes is null && line.StartsWith("@classLabel", StringComparison.OrdinalIgnoreCase))
                    classes = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(2).ToArray();
                if (line.Equals("@data", StringComparison.OrdinalIgnoreCase)) inData = true;
                continue;
            }
            string[] parts = line.Split(':');
            rows.Add((parts[..^1].Select(p => p.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray(), parts[^1].Trim()));
        }
        classes ??= rows.Select(r => r.Label).Distinct().Order(StringComparer.Ordinal).ToArray();
        int[] labels = rows.Select(r => Array.IndexOf(classes, r.Label)).ToArray();
        if (Array.IndexOf(labels, -1) is int unknown and >= 0)
            throw new InvalidDataException($"{Path.GetFileName(path)}: data line {unknown + 1} has class '{rows[unknown].Label}', not among {string.Join(", ", classes)}.");
        return (rows.Select(r => r.Channels).ToArray(), labels, classes);
    }
}
