using System.Globalization;
using System.Text;
using MlNetSsl.Cli.Commands;

namespace MlNetSsl.Cli.Data;

/// <summary>How a CSV is read; null members are detected from the file.</summary>
/// <param name="DecimalMarker">'.' or ',' (ML.NET's <c>TextLoader.Options.DecimalMarker</c>) for a file whose numbers show
/// neither (whole numbers only), as run.json records the training file's; a file's own fractions decide otherwise.</param>
internal sealed record CsvSettings(bool? HasHeader, char? Separator, string? LabelColumn, IReadOnlyList<string> IgnoreColumns, char? DecimalMarker = null)
{
    /// <summary>Training: columns to keep as inputs even where they look like row identifiers.</summary>
    public IReadOnlyList<string> KeepColumns { get; init; } = [];
}

/// <summary>
/// A CSV read as text cells, with its separator and header detected when not given (as <c>mlnet</c> does), every line
/// checked to hold the same number of fields, and column names made into ML.NET/C# identifiers.
/// </summary>
internal sealed partial class CsvTable
{
    /// <summary>A cell as a CSV writer must put it (RFC 4180): quoted, with its quotes doubled, when it holds a comma, a
    /// quote or a line break (a lone carriage return included, which spreadsheets also read as one).</summary>
    public static string QuoteCell(string cell) =>
        cell.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + cell.Replace("\"", "\"\"") + "\"" : cell;

    private static readonly char[] CandidateSeparators = [',', ';', '\t', '|'];

    /// <summary>The separator ' ' means runs of spaces and tabs, leading and trailing ones left out: the layout of
    /// tables written with aligned columns (the UCI and Statlog <c>.data</c>/<c>.dat</c> files, fixed-width exports), where
    /// one space between fields would read every alignment blank as an empty field.</summary>
    public const char Blanks = ' ';
    private static readonly HashSet<string> MissingMarkers = new(StringComparer.OrdinalIgnoreCase) { "", "?", "NA", "N/A", "NaN", "null" };

    // A decimal comma, as spreadsheets write numbers in much of Europe (with ';' between fields); no thousands separator.
    private static readonly NumberFormatInfo CommaDecimal = new() { NumberDecimalSeparator = ",", NumberGroupSeparator = "\u00A0" };

    private CsvTable(string path, char separator, char decimalMarker, bool hasHeader, string[] headers, string[] names, List<string[]> rows, List<int> lineNumbers,
        bool trailingSeparator, IReadOnlyList<int> repeatedHeaderLines)
    {
        RepeatedHeaderLines = repeatedHeaderLines;
        TrailingSeparator = trailingSeparator;
        Path = path;
        Separator = separator;
        DecimalMarker = decimalMarker;
        HasHeader = hasHeader;
        Headers = headers;
        Names = names;
        Rows = rows;
        LineNumbers = lineNumbers;
    }

    public string Path { get; }

    public char Separator { get; }

    /// <summary>'.' or ',': what separates a number's integer part from its fraction in this file.</summary>
    public char DecimalMarker { get; }

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

    /// <summary>Every line, header included, ended with the separator: that empty last field was not made a column.</summary>
    public bool TrailingSeparator { get; }

    /// <summary>The lines below the header that repeat it (files exported in parts and joined), left out of the rows.</summary>
    public IReadOnlyList<int> RepeatedHeaderLines { get; }

    /// <summary>A note naming <see cref="RepeatedHeaderLines"/>, for the console and the report; null when there are none.</summary>
    public string? RepeatedHeaderNote => RepeatedHeaderLines.Count == 0 ? null
        : $"{System.IO.Path.GetFileName(Path)}: line{(RepeatedHeaderLines.Count == 1 ? "" : "s")} {string.Join(", ", RepeatedHeaderLines.Take(5))}" +
          $"{(RepeatedHeaderLines.Count > 5 ? ", ..." : "")} repeat{(RepeatedHeaderLines.Count == 1 ? "s" : "")} the header (as files exported in parts and joined do) " +
          $"and {(RepeatedHeaderLines.Count == 1 ? "is" : "are")} left out, as the header is.";

    /// <summary>A note naming the header cells that repeat an earlier column's name (compared as <see cref="Identifiers"/>
    /// compares them: without case and punctuation) and the names the model gives them (x_2), for the console and the
    /// report; null when no name repeats. Renamed silently, a second "x" left the user looking for it.</summary>
    public string? RepeatedNameNote
    {
        get
        {
            if (!HasHeader) return null;
            string[] names = Identifiers(Headers);
            var renamed = Enumerable.Range(0, names.Length).Where(i => names[i] != BaseIdentifier(Headers[i], i, asciiOnly: false)).ToList();
            if (renamed.Count == 0) return null;
            return $"{System.IO.Path.GetFileName(Path)}: the header repeats column name{(renamed.Count == 1 ? "" : "s")} " +
                string.Join(", ", renamed.Take(10).Select(i => $"'{Headers[i]}' (column {i + 1}, named {names[i]})")) + (renamed.Count > 10 ? ", ..." : "") +
                " (names are compared without case and punctuation); predict, evaluate and the generated code use these names.";
        }
    }

    /// <summary>The cells read as a missing value ('', '?', NA, N/A, NaN, null; any case), for the generated code's loader.</summary>
    public static IReadOnlyCollection<string> MissingCells => MissingMarkers;

    /// <summary>Whether a cell is a missing value ('', '?', NA, NaN, null).</summary>
    public static bool IsMissing(string cell) => MissingMarkers.Contains(cell);

    public static bool TryNumber(string cell, out float value) =>
        float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    /// <summary>Labels that are different spellings of one number ("1" and "1.0", "2" and "2.00") made one class: each
    /// takes its group's most frequent spelling (the first seen on a tie). The note names the merged spellings; null when
    /// there were none. Scoring matches numeric labels by value, so training must not count them as different classes.</summary>
    public static (string[] Labels, string? Note) UnifyNumericLabels(string[] labels)
    {
        var groups = labels.Where(l => l.Length > 0).Distinct(StringComparer.Ordinal)
            // decimal, not double: long integer codes that round to one double (9007199254740993, ...992) stay apart.
            .Select(l => (Label: l, Parsed: decimal.TryParse(l, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal value), Value: value))
            .Where(x => x.Parsed).GroupBy(x => x.Value).Where(g => g.Count() > 1).ToList();
        if (groups.Count == 0) return (labels, null);
        var counts = labels.GroupBy(l => l, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var canonical = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in groups)
        {
            string kept = group.Select(x => x.Label).OrderByDescending(l => counts[l]).First();
            foreach (var x in group) canonical[x.Label] = kept;
        }
        string merged = string.Join("; ", groups.Take(5).Select(g => $"{string.Join(", ", g.Select(x => $"'{x.Label}'"))} as '{canonical[g.First().Label]}'"))
            + (groups.Count > 5 ? $" and {groups.Count - 5} more" : "");
        return (labels.Select(l => canonical.GetValueOrDefault(l, l)).ToArray(),
            $"Labels that are one number written differently count as one class: {merged}.");
    }

    /// <summary>Parses a number written with <paramref name="decimalMarker"/> ('.' or ',').</summary>
    public static bool TryNumber(string cell, char decimalMarker, out float value) => decimalMarker == ','
        ? float.TryParse(cell, NumberStyles.Float, CommaDecimal, out value)
        : TryNumber(cell, out value);

    /// <summary>Parses a cell of this file (its decimal marker).</summary>
    public bool IsNumber(string cell, out float value) => TryNumber(cell, DecimalMarker, out value);

    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="CliException">The file is missing, empty or ragged (the message names the line).</exception>
    public static CsvTable Read(string path, CsvSettings settings)
    {
        DatasetReader.CheckPath("classification", path);
        // Records, not lines: a quoted field may hold line breaks (RFC 4180, and what spreadsheets write for multi-line cells).
        // Excel's "sep=;" first line names the separator, and is not a row.
        char? directive = SeparatorDirective(path);
        char separator = settings.Separator ?? directive ?? DetectSeparator(path);
        var records = ReadRecords(path, separator).Skip(directive is null ? 0 : 1).ToList();
        if (records.Count == 0) throw new CliException($"{path}: the file is empty; give a CSV with one row per example.");
        var lines = records.Select(r => r.Line).ToList();
        var cells = records.Select(r => r.Fields).ToList();
        // An aligned header whose names hold single spaces ("sepal length   sepal width   class"): its columns are apart
        // by wider gaps, as the values below it are.
        if (separator == Blanks && cells.Count > 1 && cells.Skip(1).Take(50).GroupBy(c => c.Length).OrderByDescending(g => g.Count()).First().Key is int rowWidth
            && cells[0].Length != rowWidth && WideGapFields(RawLines(path).First(l => l.Trim().Length > 0)) is { } header && header.Length == rowWidth)
            cells[0] = header;
        int width = cells[0].Length;
        for (int i = 1; i < cells.Count; i++)
        {
            if (cells[i].Length != width)
                throw new CliException($"{path} line {lines[i]}: {cells[i].Length} fields where line {lines[0]} has {width} " +
                    $"(separator {Named(separator)}); fix or remove that line, or give the right --separator.");
        }

        // A separator at the end of every line (as some spreadsheet exports write) is not a column: a last field empty on
        // every line, header included, would otherwise become an input of missing values that files without it lack.
        bool trailingSeparator = width > 1 && cells.All(c => c[^1].Length == 0);
        if (trailingSeparator)
        {
            cells = cells.Select(c => c[..^1]).ToList();
            width--;
        }

        // What the file shows wins; the recorded marker (run.json) decides a file that shows neither (whole numbers only),
        // and fields separated by commas leave only the point.
        // Lines that repeat the first (a header of words, again) would make every numeric column look like text.
        char decimalMarker = separator == ',' ? '.'
            : DetectDecimalMarker(cells.Skip(1).Where(r => !RepeatsHeader(r, cells[0])).ToList()) ?? settings.DecimalMarker ?? '.';
        bool hasHeader = settings.HasHeader ?? DetectHeader(cells, decimalMarker);
        string[] headers = hasHeader ? cells[0] : Enumerable.Range(0, width).Select(i => $"Col{i}").ToArray();
        string[] names = Identifiers(headers);
        int first = hasHeader ? 1 : 0;
        var repeated = new List<int>();
        var rows = new List<string[]>();
        var rowLines = new List<int>();
        for (int i = first; i < cells.Count; i++)
        {
            if (hasHeader && RepeatsHeader(cells[i], cells[0])) repeated.Add(lines[i]);
            else
            {
                rows.Add(cells[i]);
                rowLines.Add(lines[i]);
            }
        }
        if (rows.Count == 0)
            throw new CliException($"{path}: the file has a header line but no data row{(settings.HasHeader is null ? " (if that line is data, give --has-header false)" : "")}.");
        return new CsvTable(path, separator, decimalMarker, hasHeader, headers, names, rows, rowLines, trailingSeparator, repeated);
    }

    // Cell by cell as written (any case): a line of the header's names is the header again, never a row.
    private static bool RepeatsHeader(string[] row, string[] header) =>
        row.Length == header.Length && header.Any(h => h.Length > 0) && row.Zip(header).All(p => string.Equals(p.First, p.Second, StringComparison.OrdinalIgnoreCase));

    /// <summary>The separator named by Excel's "sep=X" first line (written so that Excel opens the file with X), or null.</summary>
    internal static char? SeparatorDirective(string path)
    {
        using var reader = new StreamReader(path, TextFileEncoding.Of(path).Encoding, detectEncodingFromByteOrderMarks: true);
        string? line = reader.ReadLine();
        if (line is null || !line.StartsWith("sep=", StringComparison.OrdinalIgnoreCase)) return null;
        // The separator may be a tab or a space, so only the spaces after a printable one are trimmed.
        string rest = line[4..];
        if (rest.Length > 1 && !char.IsWhiteSpace(rest[0])) rest = rest.TrimEnd(' ');
        // A separator is punctuation or a space or tab, never a letter, a digit or the quote.
        return rest.Length == 1 && rest[0] != '"' && (char.IsPunctuation(rest[0]) || char.IsSymbol(rest[0]) || rest[0] is ' ' or '\t') ? rest[0] : null;
    }

    /// <summary>The index of a column given by name (header or identifier, any case) or 0-based index.</summary>
    /// <exception cref="CliException">No such column; the message lists the columns.</exception>
    public int ColumnIndex(string nameOrIndex, string option)
    {
        int[] matches = Enumerable.Range(0, ColumnCount).Where(i => string.Equals(Headers[i], nameOrIndex, StringComparison.OrdinalIgnoreCase)
            || string.Equals(Names[i], nameOrIndex, StringComparison.OrdinalIgnoreCase)).ToArray();
        // A header written twice: taking the first would train on whichever column comes first, silently.
        if (matches.Length > 1)
            throw new CliException($"{Path}: {option} '{nameOrIndex}' names {matches.Length} columns (" +
                string.Join(", ", matches.Select(i => $"{i}:{Headers[i]}")) + "); give the 0-based index of the one you mean, or rename the others.");
        if (matches.Length == 1) return matches[0];
        if (int.TryParse(nameOrIndex, NumberStyles.None, CultureInfo.InvariantCulture, out int index) && index < ColumnCount) return index;
        // An empty label cell on every line, the last column's, reads as a separator at the end of each line.
        if (TrailingSeparator && index == ColumnCount)
            throw new CliException($"{Path}: {option} '{nameOrIndex}': that column, the last, is empty on every line{(HasHeader ? " (its header too)" : "")}, " +
                $"so it was read as a separator ending each line, not as a column{(option == "--label-col" ? "; there is no labeled row: fill in the labels of some rows" : "")}.");
        // A header of numbers (years, sizes) looks like data, so the name is then in the first row read as data.
        bool inFirstRow = !HasHeader && Rows.Count > 0 && Rows[0].Contains(nameOrIndex, StringComparer.OrdinalIgnoreCase);
        // One column whose name holds another separator: the file was split on the wrong one.
        string firstLine = HasHeader || Rows.Count == 0 ? Headers[0] : Rows[0][0];
        char? other = ColumnCount == 1 ? CandidateSeparators.FirstOrDefault(c => c != Separator && firstLine.Contains(c), '\0') : null;
        bool commaInHeader = option is "--ignore-cols" or "--keep-cols" && Headers.Any(h => h.Contains(','));
        throw new CliException($"{Path}: {option} '{nameOrIndex}' is not a column; the columns are: " +
            string.Join(", ", Headers.Select((h, i) => string.Equals(h, Names[i], StringComparison.Ordinal) ? $"{i}:{h}" : $"{i}:{h} ({Names[i]})")) + "." +
            (inFirstRow ? $" Line {LineNumbers[0]} holds '{nameOrIndex}' but was read as data, not as a header; give --has-header true." : "") +
            (other is char c and not '\0' ? $" The file was read as one column with the separator {Named(Separator)}; its lines hold '{Show(c)}': give --separator '{Show(c)}'." : "") +
            (commaInHeader ? $" {option} splits its list on commas: name a column whose header holds a comma by its index or by the name in brackets." : ""));
    }

    /// <summary>Whether every non-missing cell of column <paramref name="column"/> is a number.</summary>
    public bool IsNumeric(int column) => Rows.All(r => IsMissing(r[column]) || IsNumber(r[column], out _));

    private static char DetectSeparator(string path)
    {
        // The separator that splits every sampled record into the same number (above 1) of fields, the most fields first.
        char best = ',';
        int bestFields = 0;
        foreach (char candidate in CandidateSeparators)
        {
            int[] counts = ReadRecords(path, candidate, validate: false).Take(50).Select(r => r.Fields.Length).ToArray();
            if (counts.Length > 0 && counts[0] > 1 && counts.All(c => c == counts[0]) && counts[0] > bestFields)
            {
                best = candidate;
                bestFields = counts[0];
            }
        }
        // Numbers that all carry a decimal comma split evenly at their commas too, into one field more than at the ';'
        // between them ("1,52101;13,64;...;0,00" without a header): ',' is then no separator when another one splits every
        // record evenly and each of its fields that holds a comma is a number with a decimal comma.
        if (best == ',' && CandidateSeparators.Where(c => c != ',').FirstOrDefault(c => DecimalCommasBetween(path, c)) is var other && other != default)
            return other;
        return AlignedWithBlanks(path, best, bestFields) ? Blanks : best;
    }

    /// <summary>Whether <paramref name="separator"/> splits every sampled record into the same number (above 1) of
    /// fields, some of them numbers with a decimal comma and none holding a comma otherwise.</summary>
    private static bool DecimalCommasBetween(string path, char separator)
    {
        var records = ReadRecords(path, separator, validate: false).Take(50).Select(r => r.Fields).ToList();
        if (records.Count == 0 || records[0].Length < 2 || records.Any(r => r.Length != records[0].Length)) return false;
        var withComma = records.SelectMany(r => r).Select(f => f.Trim()).Where(f => f.Contains(',', StringComparison.Ordinal)).ToList();
        return withComma.Count > 0 && withComma.All(f => DecimalCommaNumber().IsMatch(f));
    }

    /// <summary>
    /// Whether the file's fields are separated by runs of blanks rather than by <paramref name="best"/>: the sampled
    /// records split on blanks into the same number of fields (all but two of them, when at least ten: Read then names
    /// the line that differs), more than <paramref name="best"/> gave; no ';' or '|', and no ',' other than a decimal
    /// comma inside a number, stands outside a quoted field (so <paramref name="best"/>, when one of those, split only
    /// quoted text such as "a, 0", or numbers such as "0,455"); and, when the best is a tab, some tab-separated cell is
    /// itself numbers aligned with runs of blanks (as in auto-mpg's "18.0   8   307.0 ...&lt;tab&gt;"name""). A
    /// tab-separated file whose cells hold single spaces ("2020-01-01 10:00", "New York", "1 100") stays tab-separated.
    /// </summary>
    private static bool AlignedWithBlanks(string path, char best, int bestFields)
    {
        var records = ReadRecords(path, Blanks, validate: false).Take(50).Select(r => r.Fields).ToList();
        if (records.Count == 0) return false;
        // The width most records have: a line or two of another width (a ragged line, a header of names with spaces)
        // should end in Read's error naming that line, not in the file read as one column.
        int width = records.GroupBy(r => r.Length).OrderByDescending(g => g.Count()).ThenByDescending(g => g.Key).First().Key;
        // A header of names with single spaces counts with its wide-gap split (see Read).
        if (records.Count > 1 && records[0].Length != width
            && WideGapFields(RawLines(path).First(l => l.Trim().Length > 0)) is { } header && header.Length == width)
            records[0] = header;
        int otherWidths = records.Count(r => r.Length != width);
        if (width <= Math.Max(1, bestFields) || otherWidths > (records.Count >= 10 ? 2 : 0)) return false;
        // Quoted fields may hold anything; only unquoted text decides. A comma inside a number is a decimal comma.
        if (RawLines(path).Take(50).Any(line => Unquoted(line).Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)
                .Any(token => token.IndexOfAny([';', '|']) >= 0 || (token.Contains(',', StringComparison.Ordinal) && !DecimalCommaNumber().IsMatch(token)))))
            return false;
        if (bestFields == 0 || best != '\t') return true;
        return ReadRecords(path, '\t', validate: false).Take(50)
            .Any(r => r.Fields.Any(f => f.Contains("  ", StringComparison.Ordinal)
                && f.Split(' ', StringSplitOptions.RemoveEmptyEntries).Count(w => TryNumber(w, out _)) > 1));
    }

    // Digits on both sides of the comma: "1," (a field of "1, 2, 3") is a number before a separator, not a decimal comma.
    [System.Text.RegularExpressions.GeneratedRegex(@"^[+-]?\d+,\d+(?:[eE][+-]?\d+)?$")]
    private static partial System.Text.RegularExpressions.Regex DecimalCommaNumber();

    /// <summary>A line's fields split at runs of two or more blanks (a tab counts as two) outside quotes, or null when a
    /// field would hold a quote (the quoted header is read by the ordinary rule).</summary>
    private static string[]? WideGapFields(string line)
    {
        if (line.Contains('"', StringComparison.Ordinal)) return null;
        string[] fields = System.Text.RegularExpressions.Regex.Split(line.Trim(), "(?: {2,}|\t)[ \t]*");
        return fields.Length > 1 ? fields : null;
    }

    private static IEnumerable<string> RawLines(string path)
    {
        using var reader = new StreamReader(path, TextFileEncoding.Of(path).Encoding, detectEncodingFromByteOrderMarks: true);
        while (reader.ReadLine() is string line) yield return line;
    }

    // The characters of a line outside double-quoted fields (a quote opening a field, as ReadFields reads them).
    private static string Unquoted(string line)
    {
        var text = new StringBuilder(line.Length);
        bool quoted = false;
        char previous = ' ';
        foreach (char ch in line)
        {
            if (ch == '"' && (quoted || char.IsWhiteSpace(previous) || previous is ',' or ';' or '|')) quoted = !quoted;
            else if (!quoted) text.Append(ch);
            previous = ch;
        }
        return text.ToString();
    }

    /// <summary>'.' when a column holds numbers with a decimal point, else ',' when one holds numbers with a decimal comma
    /// ("0,455"), else null (no fraction anywhere). For files whose fields are not separated by commas.</summary>
    private static char? DetectDecimalMarker(List<string[]> rows)
    {
        if (rows.Count == 0) return null;
        bool commaColumn = false;
        for (int c = 0; c < rows[0].Length; c++)
        {
            var cells = rows.Select(r => r[c]).Where(cell => !IsMissing(cell)).ToList();
            if (cells.Count == 0) continue;
            if (cells.All(cell => TryNumber(cell, out _)))
            {
                if (cells.Any(cell => cell.Contains('.', StringComparison.Ordinal))) return '.';
            }
            else if (cells.All(cell => TryNumber(cell, ',', out _)) && cells.Any(cell => cell.Contains(',', StringComparison.Ordinal)))
            {
                commaColumn = true;
            }
        }
        return commaColumn ? ',' : null;
    }

    private static bool DetectHeader(List<string[]> cells, char decimalMarker)
    {
        string[] first = cells[0];
        // One line of distinct words and no row below: a header without data (a lone data row of text is rarer).
        if (cells.Count < 2) return first.All(f => !IsMissing(f) && !TryNumber(f, decimalMarker, out _)) && first.Distinct(StringComparer.Ordinal).Count() == first.Length;
        // A line that repeats the first (two exports joined) says nothing about whether the first is a header.
        var rest = cells.Skip(1).Where(r => !RepeatsHeader(r, first)).Take(200).ToList();
        for (int c = 0; c < first.Length; c++)
        {
            // A text cell on top of a numeric column is a header.
            bool restNumeric = rest.All(r => IsMissing(r[c]) || TryNumber(r[c], decimalMarker, out _)) && rest.Any(r => !IsMissing(r[c]));
            if (restNumeric && !IsMissing(first[c]) && !TryNumber(first[c], decimalMarker, out _)) return true;
        }
        // All-text files: a header has distinct names that do not appear again below them.
        return first.All(f => !IsMissing(f) && !TryNumber(f, decimalMarker, out _)) && first.Distinct(StringComparer.Ordinal).Count() == first.Length
            && Enumerable.Range(0, first.Length).All(c => rest.All(r => r[c] != first[c]));
    }

    /// <summary>Splits one line; a field that starts with a double quote is quoted (it may hold the separator, and a
    /// doubled quote is a literal quote); a quote inside an unquoted field is an ordinary character.</summary>
    public static string[] Split(string line, char separator)
    {
        using var reader = new StringReader(line);
        var fields = new List<string>();
        var field = new StringBuilder();
        int physicalLine = 1;
        ReadFields(reader, separator, fields, field, ref physicalLine, multiline: false);
        return [.. fields];
    }

    /// <summary>The records of a CSV file with the 1-based line each starts on, blank lines left out. Line breaks inside a
    /// quoted field belong to the field.</summary>
    /// <exception cref="CliException">A quoted field is not closed before the end of the file (<paramref name="validate"/>).</exception>
    internal static IEnumerable<(int Line, string[] Fields)> ReadRecords(string path, char separator, bool validate = true)
    {
        using var reader = new StreamReader(path, TextFileEncoding.Of(path).Encoding, detectEncodingFromByteOrderMarks: true);
        var field = new StringBuilder();
        int line = 1;
        while (reader.Peek() >= 0)
        {
            int start = line;
            var fields = new List<string>();
            bool closed = ReadFields(reader, separator, fields, field, ref line, multiline: true);
            if (!closed)
            {
                if (!validate) yield break;
                throw new CliException($"{path} line {start}: a quoted field (starting with \") is not closed before the end of the file; " +
                    "close the quote, or double a quote inside a quoted field (\"\").");
            }
            // Blank lines, and lines of separators only (spreadsheets write ",,," below a formatted range), hold no row.
            if (fields.All(f => f.Length == 0)) continue;
            yield return (start, [.. fields]);
        }
    }

    // Reads one record's fields (up to a line break outside quotes, or the end); false when a quoted field is left open.
    private static bool ReadFields(TextReader reader, char separator, List<string> fields, StringBuilder field, ref int line, bool multiline)
    {
        field.Clear();
        bool quoted = false, fieldStarted = false;
        int next;
        while ((next = reader.Read()) >= 0)
        {
            char ch = (char)next;
            if (quoted)
            {
                if (ch == '"' && reader.Peek() == '"') { field.Append('"'); reader.Read(); }
                else if (ch == '"') quoted = false;
                else
                {
                    if (ch == '\n' || (ch == '\r' && reader.Peek() != '\n')) line++;
                    if (!multiline && ch is '\r' or '\n') continue;
                    field.Append(ch);
                }
            }
            else if (ch == '"' && !fieldStarted) { quoted = true; fieldStarted = true; }
            else if (separator == Blanks && ch is ' ' or '\t')
            {
                // A run of blanks is one separator; blanks before the first field are none.
                if (fieldStarted) { fields.Add(field.ToString().Trim()); field.Clear(); fieldStarted = false; }
            }
            else if (ch == separator) { fields.Add(field.ToString().Trim()); field.Clear(); fieldStarted = false; }
            else if (ch is '\r' or '\n')
            {
                if (ch == '\r' && reader.Peek() == '\n') reader.Read();
                line++;
                break;
            }
            else
            {
                field.Append(ch);
                if (!char.IsWhiteSpace(ch)) fieldStarted = true;
            }
        }
        // Blanks at the end of a line are no separator before an empty last field.
        if (separator != Blanks || fieldStarted || fields.Count == 0) fields.Add(field.ToString().Trim());
        return !quoted;
    }

    /// <summary>Letters (of any script), digits and '_' only, not starting with a digit, unique (a suffix _2, _3 for
    /// repeats). Non-ASCII letters are kept, so "Größe", "Возраст" and "年龄" stay distinct names that a file with its
    /// columns in another order is matched by.</summary>
    /// <param name="headers">The header cells.</param>
    /// <param name="asciiOnly">The rule of models trained before non-ASCII letters were kept (they became '_', and a
    /// name of no ASCII letter became Col{index}), to match their columns.</param>
    public static string[] Identifiers(IReadOnlyList<string> headers, bool asciiOnly = false)
    {
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var names = new string[headers.Count];
        for (int i = 0; i < headers.Count; i++)
        {
            string name = BaseIdentifier(headers[i], i, asciiOnly);
            string unique = name;
            for (int n = 2; !used.Add(unique); n++) unique = $"{name}_{n}";
            names[i] = unique;
        }
        return names;
    }

    // A header cell's identifier before repeats are told apart.
    private static string BaseIdentifier(string header, int index, bool asciiOnly)
    {
        var builder = new StringBuilder();
        foreach (char ch in header) builder.Append((asciiOnly ? char.IsAsciiLetterOrDigit(ch) : char.IsLetterOrDigit(ch)) ? ch : '_');
        string name = builder.ToString().Trim('_');
        if (name.Length == 0) name = $"Col{index}";
        return char.IsDigit(name[0]) ? "C" + name : name;
    }

    /// <summary>A separator as messages name it: "','", "'\\t'" or "runs of blanks".</summary>
    public static string Named(char separator) => separator == Blanks ? "runs of blanks" : $"'{Show(separator)}'";

    /// <summary>A separator as the console shows it.</summary>
    public static string Show(char separator) => separator == '\t' ? "\\t" : separator.ToString();
}
