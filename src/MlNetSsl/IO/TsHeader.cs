using System.Globalization;

namespace MlNetSsl;

/// <summary>What a <c>.ts</c> header declares about the series (sktime's directives), to compare with what the lines
/// hold (<see cref="TsFile.Notes"/>).</summary>
internal sealed class TsHeader
{
    private static readonly string[] Known = ["@problemName", "@timeStamps", "@missing", "@univariate", "@dimensions", "@dimension",
        "@equalLength", "@seriesLength", "@classLabel", "@targetLabel", "@data"];

    private readonly List<string> _unknown = [];
    private bool? _univariate;
    private int? _dimensions;
    private bool? _equalLength;
    private int? _seriesLength;

    /// <summary>Takes one header line (it starts with '@'); a directive that is not one is remembered with its line.</summary>
    public void Read(string line, int lineNumber)
    {
        string[] words = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        string directive = words[0];
        string? value = words.Length > 1 ? words[1] : null;
        if (!Known.Contains(directive, StringComparer.OrdinalIgnoreCase)) _unknown.Add($"'{directive}' (line {lineNumber})");
        else if (directive.Equals("@univariate", StringComparison.OrdinalIgnoreCase) && bool.TryParse(value, out bool univariate)) _univariate = univariate;
        else if (directive.StartsWith("@dimension", StringComparison.OrdinalIgnoreCase) && int.TryParse(value, CultureInfo.InvariantCulture, out int dimensions)) _dimensions = dimensions;
        else if (directive.Equals("@equalLength", StringComparison.OrdinalIgnoreCase) && bool.TryParse(value, out bool equal)) _equalLength = equal;
        else if (directive.Equals("@seriesLength", StringComparison.OrdinalIgnoreCase) && int.TryParse(value, CultureInfo.InvariantCulture, out int length)) _seriesLength = length;
    }

    /// <summary>A sentence for each directive that is not one and each declaration the lines contradict.</summary>
    /// <param name="path">The file, which each sentence starts with.</param>
    /// <param name="channels">Channels per series in the lines.</param>
    /// <param name="lengths">Steps per channel of each series in the lines.</param>
    public IEnumerable<string> Contradictions(string path, int channels, IReadOnlyList<int> lengths)
    {
        if (_unknown.Count > 0)
            yield return $"{path}: header line(s) {string.Join(", ", _unknown.Take(5))} are not .ts directives and were ignored; check their spelling.";
        if (lengths.Count == 0) yield break;
        if (_univariate == true && channels > 1 || _univariate == false && channels == 1 && _dimensions is null or > 1)
            yield return $"{path}: the header says @univariate {_univariate!.Value.ToString().ToLowerInvariant()}, but the lines hold {channels} channel(s); they are read as {channels}.";
        else if (_dimensions is int declared && declared != channels)
            yield return $"{path}: the header says @dimensions {declared}, but the lines hold {channels} channel(s); they are read as {channels}.";
        int shortest = lengths.Min(), longest = lengths.Max();
        if (_equalLength == true && shortest != longest)
            yield return $"{path}: the header says @equalLength true, but the series have {shortest} to {longest} steps; they are read as they are.";
        else if (_seriesLength is int length && (_equalLength != false && shortest != longest || shortest == longest && shortest != length))
            yield return FormattableString.Invariant($"{path}: the header says @seriesLength {length}, but the series have ") +
                (shortest == longest ? $"{shortest} steps" : $"{shortest} to {longest} steps") + "; they are read as they are.";
    }
}
