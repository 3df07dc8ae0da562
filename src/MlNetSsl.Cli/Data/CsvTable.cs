using System.Globalization;
using System.Text;
using MlNetSsl.Cli.Commands;

namespace MlNetSsl.Cli.Data;

/// <summary>How a CSV is read; null members are detected from the file.</summary>
internal sealed record CsvSettings(bool? HasHeader, char? Separator, string? LabelColumn, IReadOnlyList<string> IgnoreColumns);

/// <summary>
/// A CSV read as text cells, with its separator and header detected when not given (as <c>mlnet</c> does), every line
/// checked to hold the same number of fields, and column names made into ML.NET/C# identifiers.
/// </summary>
internal sealed class CsvTable
{
    private static readonly char[] CandidateSeparators = [',', ';', '\t', '|'];
    private static readonly HashSet<string> MissingMarkers = new(StringComparer.OrdinalIgnoreCase) { "", "?", "NA", "N/A", "NaN", "null" };

    private CsvTable(string path, char separator, bool hasHeader, string[] headers, string[] names, List<string[]> rows, List<int> lineNumbers)
    {
        Path = path;
        Separator = separator;
        HasHeader = hasHeader;
        Headers = headers;
        Names = names;
        Rows = rows;
        LineNumbers = lineNumbers;
    }

    public string Path { get; }

    public char Separator { get; }

    public bool HasHeader { get; }

    /// <summary>The header cells as written (or "Col{i}" without a header).</summary>
    public string[] Headers { get; }

    /// <summary>Column names as identifiers: letters, digits and '_', unique.</summary>
    public string[] Names { get; }

    /// <summary>Data rows (header excluded), trimmed cells.</summary>
    public List<string[]> Rows { get; }

    /// <summary>The 1-based file line of each data row, for messages.</summary>
    public List<int> LineNumbers { get; }

    public int ColumnCount => Names.Length;

    /// <summary>Whether a cell is a missing value ('', '?', NA, NaN, null).</summary>
    public static bool IsMissing(string cell) => MissingMarkers.Contains(cell);

    public static bool TryNumber(string cell, out float value) =>
        float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="CliException">The file is missing, empty or ragged (the message names the line).</exception>
    public static CsvTable Read(string path, CsvSettings settings)
    {
        if (!File.Exists(path)) throw new CliException($"{path}: file not found; check the path given to --dataset or --test-dataset.");
        var lines = new List<(int Line, string Text)>();
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (line.Trim().Length > 0) lines.Add((number, line));
        }
        if (lines.Count == 0) throw new CliException($"{path}: the file is empty; give a CSV with one row per example.");

        char separator = settings.Separator ?? DetectSeparator(lines.Take(50).Select(l => l.Text).ToList());
        var cells = lines.Select(l => Split(l.Text, separator)).ToList();
        int width = cells[0].Length;
        for (int i = 1; i < cells.Count; i++)
        {
            if (cells[i].Length != width)
                throw new CliException($"{path} line {lines[i].Line}: {cells[i].Length} fields where line {lines[0].Line} has {width} " +
                    $"(separator '{Show(separator)}'); fix or remove that line, or give the right --separator.");
        }

        bool hasHeader = settings.HasHeader ?? DetectHeader(cells);
        string[] headers = hasHeader ? cells[0] : Enumerable.Range(0, width).Select(i => $"Col{i}").ToArray();
        string[] names = Identifiers(headers);
        int first = hasHeader ? 1 : 0;
        if (cells.Count <= first) throw new CliException($"{path}: the file has a header but no data row.");
        return new CsvTable(path, separator, hasHeader, headers, names, cells.Skip(first).ToList(), lines.Skip(first).Select(l => l.Line).ToList());
    }

    /// <summary>The index of a column given by name (header or identifier, any case) or 0-based index.</summary>
    /// <exception cref="CliException">No such column; the message lists the columns.</exception>
    public int ColumnIndex(string nameOrIndex, string option)
    {
        for (int i = 0; i < ColumnCount; i++)
        {
            if (string.Equals(Headers[i], nameOrIndex, StringComparison.OrdinalIgnoreCase)
                || string.Equals(Names[i], nameOrIndex, StringComparison.OrdinalIgnoreCase))
                return i;
        }
        if (int.TryParse(nameOrIndex, NumberStyles.None, CultureInfo.InvariantCulture, out int index) && index < ColumnCount) return index;
        throw new CliException($"{Path}: {option} '{nameOrIndex}' is not a column; the columns are: " +
            string.Join(", ", Headers.Select((h, i) => $"{i}:{h}")) + ".");
    }

    /// <summary>Whether every non-missing cell of column <paramref name="column"/> is a number.</summary>
    public bool IsNumeric(int column) => Rows.All(r => IsMissing(r[column]) || TryNumber(r[column], out _));

    private static char DetectSeparator(List<string> sample)
    {
        // The separator that splits every sampled line into the same number (above 1) of fields, the most fields first.
        char best = ',';
        int bestFields = 0;
        foreach (char candidate in CandidateSeparators)
        {
            int[] counts = sample.Select(l => Split(l, candidate).Length).ToArray();
            if (counts[0] > 1 && counts.All(c => c == counts[0]) && counts[0] > bestFields)
            {
                best = candidate;
                bestFields = counts[0];
            }
        }
        return best;
    }

    private static bool DetectHeader(List<string[]> cells)
    {
        if (cells.Count < 2) return false;
        string[] first = cells[0];
        var rest = cells.Skip(1).Take(200).ToList();
        for (int c = 0; c < first.Length; c++)
        {
            // A text cell on top of a numeric column is a header.
            bool restNumeric = rest.All(r => IsMissing(r[c]) || TryNumber(r[c], out _)) && rest.Any(r => !IsMissing(r[c]));
            if (restNumeric && !IsMissing(first[c]) && !TryNumber(first[c], out _)) return true;
        }
        // All-text files: a header has distinct names that do not appear again below them.
        return first.All(f => !IsMissing(f) && !TryNumber(f, out _)) && first.Distinct(StringComparer.Ordinal).Count() == first.Length
            && Enumerable.Range(0, first.Length).All(c => rest.All(r => r[c] != first[c]));
    }

    /// <summary>Splits one line; double quotes group a field (a doubled quote is a literal quote).</summary>
    public static string[] Split(string line, char separator)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else field.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == separator) { fields.Add(field.ToString().Trim()); field.Clear(); }
            else field.Append(ch);
        }
        fields.Add(field.ToString().Trim());
        return [.. fields];
    }

    /// <summary>Letters, digits and '_' only, not starting with a digit, unique (a suffix _2, _3 for repeats).</summary>
    public static string[] Identifiers(IReadOnlyList<string> headers)
    {
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var names = new string[headers.Count];
        for (int i = 0; i < headers.Count; i++)
        {
            var builder = new StringBuilder();
            foreach (char ch in headers[i]) builder.Append(char.IsAsciiLetterOrDigit(ch) ? ch : '_');
            string name = builder.ToString().Trim('_');
            if (name.Length == 0) name = $"Col{i}";
            if (char.IsAsciiDigit(name[0])) name = "C" + name;
            string unique = name;
            for (int n = 2; !used.Add(unique); n++) unique = $"{name}_{n}";
            names[i] = unique;
        }
        return names;
    }

    private static string Show(char separator) => separator == '\t' ? "\\t" : separator.ToString();
}
