using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Cli.CodeGen;
using MlNetSsl.Cli.Commands;

namespace MlNetSsl.Cli.Data;

/// <summary>Turns a CSV into a <see cref="TrainingData"/>: one Single column per numeric CSV column (missing values NaN),
/// one text column per other column, named after the header (as identifiers) or Col{index}.</summary>
internal static class TableLoader
{
    /// <summary>Loads a CSV for training: every column but the label and the ignored ones is an input.</summary>
    public static TrainingData LoadForTraining(string path, CsvSettings settings)
    {
        CsvTable table = CsvTable.Read(path, settings);
        if (settings.LabelColumn is null) throw new CliException("--label-col is required: the column (name or 0-based index) that holds the class.");
        int label = table.ColumnIndex(settings.LabelColumn, "--label-col");
        var ignored = settings.IgnoreColumns.Select(c => table.ColumnIndex(c, "--ignore-cols")).ToHashSet();
        if (ignored.Contains(label)) throw new CliException($"{path}: column '{table.Headers[label]}' is both the label and ignored.");
        var kept = settings.KeepColumns.Select(c => table.ColumnIndex(c, "--keep-cols")).ToHashSet();
        if (kept.FirstOrDefault(k => k == label || ignored.Contains(k), -1) is int both and >= 0)
            throw new CliException($"{path}: column '{table.Headers[both]}' is given to --keep-cols and is also {(both == label ? "the label (--label-col)" : "given to --ignore-cols")}; " +
                "name it in one of them.");
        var inputs = Enumerable.Range(0, table.ColumnCount).Where(c => c != label && !ignored.Contains(c))
            .Select(c => (Index: c, Numeric: table.IsNumeric(c))).ToList();
        if (inputs.Count == 0) throw new CliException($"{path}: no column is left besides the label; keep at least one input column.");
        // A row identifier tells the model where a row sits in this file, not what it is; in a file scored later (new
        // ids) it sends every row down the branch of the last training rows. So identifiers are left out, as with
        // --ignore-cols, unless --keep-cols names them or nothing else would be left.
        var identifiers = inputs.Where(i => !kept.Contains(i.Index) && LooksLikeIdentifier(table, i.Index, i.Numeric)).ToList();
        bool leaveOut = identifiers.Count > 0 && identifiers.Count < inputs.Count;
        if (leaveOut) inputs = [.. inputs.Except(identifiers)];
        // A text column of grouped numbers gets that note, not the mostly-numbers one.
        var texts = inputs.Where(i => !i.Numeric).Select(i => (i.Index, Grouped: GroupedNumbers(table, i.Index))).ToList();
        return Build(table, inputs, label, labelHint: settings.HasHeader is null ? HeaderReadAsData(table, label) : null,
            identifiers: [.. identifiers.Select(i => table.Headers[i.Index])], identifiersLeftOut: leaveOut,
            identifierDates: [.. identifiers.Where(i => !i.Numeric).Select(i => Dates(table, i.Index)).OfType<string>()],
            constants: [.. inputs.Select(i => (Name: table.Headers[i.Index], Value: SingleValue(table, i.Index, i.Numeric))).Where(c => c.Value is not null)
                .Select(c => c.Value!.Length == 0 ? $"'{c.Name}' (empty in every row)"
                    : $"'{c.Name}' ({(c.Value.Length > 40 ? c.Value[..37] + "..." : c.Value)} in every row that has a value)")],
            mostlyNumbers: [.. texts.Where(t => t.Grouped is null).Select(t => MostlyNumbers(table, t.Index)).OfType<string>()],
            groupedNumbers: [.. texts.Select(t => t.Grouped).OfType<string>()],
            dates: [.. texts.Where(t => t.Grouped is null).Select(t => Dates(table, t.Index)).OfType<string>()],
            units: [.. texts.Where(t => t.Grouped is null).Select(t => NumbersWithUnits(table, t.Index)).OfType<string>()]);
    }

    /// <summary>
    /// A text column whose cells are all numbers once a percent sign or a currency sign is taken off ("12.5%", "$1,200.50",
    /// "-€3", "12,50 €" in a file of decimal commas), at least one of them written with it, described with an example and
    /// its line; null for any other column. Read as text, such a column is categories (no order, no unseen amounts) or
    /// hashed words (no meaning, and export-onnx cannot convert them), which a user who exported amounts from a
    /// spreadsheet should hear about.
    /// </summary>
    internal static string? NumbersWithUnits(CsvTable table, int column)
    {
        char group = table.DecimalMarker == ',' ? '.' : ',';
        string? example = null;
        int line = 0;
        for (int r = 0; r < table.Rows.Count; r++)
        {
            string cell = table.Rows[r][column].Trim();
            if (CsvTable.IsMissing(cell)) continue;
            string bare = WithoutUnit(cell);
            if (!table.IsNumber(bare, out _) && !IsGrouped(bare, group, table.DecimalMarker)) return null;
            if (example is null && bare.Length != cell.Length) (example, line) = (cell, table.LineNumbers[r]);
        }
        return example is null ? null : $"'{table.Headers[column]}' (such as '{example}', line {line})";
    }

    // "12.5%", "$1,200", "-$3", "$-3", "12,50 €", "€ 12": the number without its percent or currency sign.
    private static string WithoutUnit(string cell)
    {
        const string units = "%$€£¥";
        string sign = cell.StartsWith('-') || cell.StartsWith('+') ? cell[..1] : "";
        string rest = cell[sign.Length..].Trim();
        if (rest.Length > 1 && units.Contains(rest[0], StringComparison.Ordinal)) rest = rest[1..].Trim();
        else if (rest.Length > 1 && units.Contains(rest[^1], StringComparison.Ordinal)) rest = rest[..^1].Trim();
        else return cell;
        return sign + rest;
    }

    // Dates as spreadsheets and databases export them: ISO (with a time or not), US, European with dots or slashes.
    private static readonly string[] DateFormats =
    [
        "yyyy-MM-dd", "yyyy-M-d", "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss",
        "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
        "yyyy/MM/dd", "yyyy/M/d", "yyyy/MM/dd HH:mm:ss", "M/d/yyyy", "M/d/yyyy H:mm", "M/d/yyyy H:mm:ss", "M/d/yyyy h:mm tt", "M/d/yyyy h:mm:ss tt",
        "d/M/yyyy", "d/M/yyyy H:mm", "d/M/yyyy H:mm:ss", "d.M.yyyy", "d.M.yyyy H:mm", "d.M.yyyy H:mm:ss", "yyyyMMdd'T'HHmmss",
    ];

    /// <summary>
    /// A text column whose cells are all dates or date-times ("2024-03-01", "3/1/2024 14:30", "01.03.2024"), at least 10
    /// of them and two distinct, described with an example and its line; null for any other column. Read as text, each
    /// date is a category or a hashed word of its own, so nothing learned carries over to a date the training rows do
    /// not hold (every later one), and the hashed words keep export-onnx from converting the model: a user should hear
    /// it, as with the other notes on text columns, rather than find out from the test metric or the export.
    /// </summary>
    internal static string? Dates(CsvTable table, int column)
    {
        int count = 0;
        string? first = null;
        int line = 0;
        bool twoValues = false;
        for (int r = 0; r < table.Rows.Count; r++)
        {
            string cell = table.Rows[r][column].Trim();
            if (CsvTable.IsMissing(cell)) continue;
            if (!DateTime.TryParseExact(cell, DateFormats, CultureInfo.InvariantCulture, DateTimeStyles.AllowWhiteSpaces, out _)) return null;
            if (first is null) (first, line) = (cell, table.LineNumbers[r]);
            else if (!twoValues && cell != first) twoValues = true;
            count++;
        }
        return count >= 10 && twoValues ? $"'{table.Headers[column]}' (such as '{first}', line {line})" : null;
    }

    /// <summary>
    /// A text column whose cells are numbers but for a few (at least 90% of the non-missing ones, and 10 or more), described
    /// with its other values and where they are: one "-" or "unknown" makes a measurement a text column (one-hot, or
    /// hashed words), which a user who meant a number should hear about. Null for any other column.
    /// </summary>
    internal static string? MostlyNumbers(CsvTable table, int column)
    {
        int numbers = 0;
        var others = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int r = 0; r < table.Rows.Count; r++)
        {
            string cell = table.Rows[r][column];
            if (CsvTable.IsMissing(cell)) continue;
            if (table.IsNumber(cell, out _)) numbers++;
            else if (others.TryGetValue(cell, out var lines)) lines.Add(table.LineNumbers[r]);
            else others[cell] = [table.LineNumbers[r]];
        }
        int otherCount = others.Values.Sum(l => l.Count);
        if (numbers < 10 || otherCount == 0 || numbers < 9 * otherCount) return null;
        static string Quote(string value) => value.Length > 20 ? $"'{value[..17]}...'" : $"'{value}'";
        string examples = string.Join(", ", others.OrderByDescending(o => o.Value.Count).Take(3).Select(o =>
            $"{Quote(o.Key)} ({(o.Value.Count == 1 ? "line" : "lines")} {string.Join(", ", o.Value.Take(3))}{(o.Value.Count > 3 ? ", ..." : "")})"));
        return string.Create(CultureInfo.InvariantCulture,
            $"'{table.Headers[column]}' ({numbers:N0} numbers and {otherCount:N0} other value{(otherCount == 1 ? "" : "s")}: {examples}{(others.Count > 3 ? ", ..." : "")})");
    }

    /// <summary>
    /// A text column whose cells are all numbers once digit-group separators are taken out, at least one of them written
    /// with them ("-2,324.2" in a file of decimal points, "-2.324,2" or "2 324,2" in one of decimal commas), described
    /// with an example and its line; null for any other column. Such a column is read as text, as the separators could
    /// also be another decimal marker, and a user who exported numbers from a spreadsheet should hear why.
    /// </summary>
    internal static string? GroupedNumbers(CsvTable table, int column)
    {
        char group = table.DecimalMarker == ',' ? '.' : ',';
        string? example = null;
        int line = 0;
        for (int r = 0; r < table.Rows.Count; r++)
        {
            string cell = table.Rows[r][column].Trim();
            if (CsvTable.IsMissing(cell) || table.IsNumber(cell, out _)) continue;
            if (!IsGrouped(cell, group, table.DecimalMarker) && !(table.DecimalMarker == ',' && IsGrouped(cell, ' ', ','))) return null;
            if (example is null) (example, line) = (cell, table.LineNumbers[r]);
        }
        return example is null ? null : $"'{table.Headers[column]}' (such as '{example}', line {line})";
    }

    // "-12,345.6": an optional sign, 1 to 3 digits (not a lone 0), then groups of exactly 3 digits, then an optional fraction.
    private static bool IsGrouped(string cell, char group, char decimalMarker)
    {
        int i = cell.Length > 0 && cell[0] is '-' or '+' ? 1 : 0;
        int lead = 0;
        while (i + lead < cell.Length && char.IsAsciiDigit(cell[i + lead])) lead++;
        if (lead is 0 or > 3 || (lead == 1 && cell[i] == '0')) return false;
        i += lead;
        int groups = 0;
        while (i < cell.Length && cell[i] == group)
        {
            if (i + 4 > cell.Length || cell.AsSpan(i + 1, 3).ContainsAnyExceptInRange('0', '9')) return false;
            i += 4;
            groups++;
        }
        if (groups == 0) return false;
        if (i == cell.Length) return true;
        if (cell[i] != decimalMarker || i + 1 == cell.Length) return false;
        return !cell.AsSpan(i + 1).ContainsAnyExceptInRange('0', '9');
    }

    /// <summary>
    /// A note when the first line, read as data because a header of numbers (years, sizes) looks like data, is likely a
    /// header after all: its label cell is a class no other line has, and the other lines hold at least two classes (a
    /// label given by name finds this at once, as no column has that name; by index nothing else would).
    /// </summary>
    internal static string? HeaderReadAsData(CsvTable table, int label)
    {
        if (table.HasHeader || table.Rows.Count < 3) return null;
        string first = table.Rows[0][label];
        if (CsvTable.IsMissing(first) || table.IsNumber(first, out _)) return null;
        var others = table.Rows.Skip(1).Select(r => r[label]).Where(c => !CsvTable.IsMissing(c)).ToList();
        if (others.Contains(first, StringComparer.Ordinal) || others.Distinct(StringComparer.Ordinal).Count() < 2) return null;
        return $"Line {table.LineNumbers[0]} was read as data (its cells look like data), and its label '{first}' is a class no other line has; " +
            "if that line is a header, give --has-header true.";
    }

    /// <summary>The one value a column holds wherever it is not missing ("" when it is missing everywhere), or null when
    /// it holds two or more. Numbers compare by value, so 7 and 7.0 are one value.</summary>
    internal static string? SingleValue(CsvTable table, int column, bool numeric)
    {
        string? first = null;
        float firstNumber = 0;
        foreach (string[] row in table.Rows)
        {
            string cell = row[column];
            if (CsvTable.IsMissing(cell)) continue;
            if (first is null)
            {
                first = cell;
                if (numeric) table.IsNumber(cell, out firstNumber);
                continue;
            }
            bool same = numeric ? table.IsNumber(cell, out float number) && number.Equals(firstNumber) : string.Equals(cell, first, StringComparison.Ordinal);
            if (!same) return null;
        }
        return first ?? "";
    }

    /// <summary>Whether a column reads like a row identifier: on at least 20 rows, every value present and distinct, and
    /// either single words (codes such as "P-00017") or whole numbers that rise (or fall) all the way in file order (a row
    /// number, or a database key with the gaps deleted rows leave) or, under a header that names an identifier
    /// (<see cref="IsIdentifierName"/>), in any order.</summary>
    internal static bool LooksLikeIdentifier(CsvTable table, int column, bool numeric)
    {
        int rows = table.Rows.Count;
        if (rows < 20) return false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string[] row in table.Rows)
            if (CsvTable.IsMissing(row[column]) || !seen.Add(row[column])) return false;
        if (!numeric) return table.Rows.All(r => !r[column].Any(char.IsWhiteSpace));
        var values = new HashSet<float>();
        bool rising = true, falling = true;
        float? previous = null;
        foreach (string[] row in table.Rows)
        {
            if (!table.IsNumber(row[column], out float value) || value != MathF.Round(value) || !values.Add(value)) return false;
            rising &= previous is not float p || value > p;
            falling &= previous is not float q || value < q;
            previous = value;
        }
        // In file order, keys with gaps leak as row numbers do: a file sorted by class and key gives a cross-validated
        // 0.999 and, on later rows with higher keys, 0.45. In any order, only when the header says so (a shuffled
        // export keeps its ids).
        return rising || falling || (table.HasHeader && IsIdentifierName(table.Headers[column]));
    }

    /// <summary>
    /// A header that names a row identifier: its last word is id, idx, index, uuid or guid ("id", "PassengerId",
    /// "customer_ID", "row index"), or it is pandas' unnamed index column ("" or "Unnamed: 0"). Words end at separators
    /// and at a lower-case letter followed by an upper-case one, so "Paid" and "valid" are not identifiers.
    /// </summary>
    internal static bool IsIdentifierName(string header)
    {
        string name = header.Trim();
        if (name.Length == 0 || name.StartsWith("Unnamed:", StringComparison.OrdinalIgnoreCase)) return true;
        int start = name.Length;
        while (start > 0 && char.IsLetterOrDigit(name[start - 1]))
        {
            start--;
            if (start > 0 && char.IsUpper(name[start]) && char.IsLower(name[start - 1])) break;
        }
        string last = name[start..];
        return last.Equals("id", StringComparison.OrdinalIgnoreCase) || last.Equals("idx", StringComparison.OrdinalIgnoreCase)
            || last.Equals("index", StringComparison.OrdinalIgnoreCase) || last.Equals("uuid", StringComparison.OrdinalIgnoreCase)
            || last.Equals("guid", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Loads a CSV for a trained model: its input columns are found by name (or Col{index} without a header), or,
    /// when <paramref name="training"/> records the training file's layout, by position where names cannot tell.</summary>
    /// <param name="training">The training file's columns and label (run.json). A file without a header is matched by
    /// position against it: with the training file's column count the label is where it was, with one column fewer the
    /// label column is left out (files to predict often do) and the columns after it moved up one; any other count is an
    /// error, because names such as Col3 would otherwise silently pick another column. A file with a header whose names
    /// are not the model's is matched by position when it has one of those two counts (a note says so).</param>
    /// <param name="trainingLabelIndex">Without a recorded layout (run.json of an older version) and without a header: the
    /// label column's index in the training file, so a file that leaves that column out is matched by position.</param>
    /// <param name="classes">The model's class names: a headerless file one column short of a training file that had
    /// columns the model does not use (an ignored identifier) is ambiguous, and the column that holds only these classes
    /// tells which column was left out.</param>
    public static TrainingData LoadForModel(string path, DataViewSchema modelInput, CsvSettings settings, TableLayout? training = null,
        int? trainingLabelIndex = null, IReadOnlyList<string>? classes = null)
    {
        CsvTable table = CsvTable.Read(path, settings);
        var inputs = new List<(int Index, bool Numeric)>();
        string? missing = null;
        string[] legacyNames = CsvTable.Identifiers(table.Headers, asciiOnly: true);
        foreach (DataViewSchema.Column column in modelInput)
        {
            int index = Array.FindIndex(table.Names, n => string.Equals(n, column.Name, StringComparison.OrdinalIgnoreCase));
            // A model trained when non-ASCII letters became '_' names its columns that way.
            if (index < 0 && table.HasHeader) index = Array.FindIndex(legacyNames, n => string.Equals(n, column.Name, StringComparison.OrdinalIgnoreCase));
            missing ??= index < 0 ? column.Name : null;
            inputs.Add((index, column.Type is NumberDataViewType));
        }
        string[] modelNames = [.. modelInput.Select(c => c.Name)];
        int? givenLabel = settings.LabelColumn is null ? null : table.ColumnIndex(settings.LabelColumn, "--label-col");
        bool byName = missing is null && (table.HasHeader || training is null || table.ColumnCount == training.Columns.Count);
        if (byName)
        {
            // The model's names, not the file's: a header matched in another case ("sex" for "Sex") or by the older rule.
            return Build(table, inputs, givenLabel ?? LabelByLayout(table, training, sameColumns: !table.HasHeader), modelNames, forModel: true);
        }
        // A header that names some of the model's columns is read by name: the others are missing, whatever the column
        // count (matching by position would read the wrong columns and blame one of them).
        bool headerNamesModelColumns = table.HasHeader && inputs.Any(i => i.Index >= 0);
        if (training is not null && !headerNamesModelColumns)
        {
            string? ambiguity = null;
            if (!table.HasHeader && LeftOutUnusedColumn(table, modelInput, training, classes, out ambiguity) is int leftOut)
            {
                // The training layout without that unused column: the label and every input keep their order.
                int Shift(int index) => index < leftOut ? index : index - 1;
                int[] byPosition = [.. modelInput.Select(c => Shift(IndexInLayout(training, c.Name)))];
                return Build(table, [.. byPosition.Select((index, i) => (index, inputs[i].Numeric))], givenLabel ?? Shift(training.LabelIndex), modelNames,
                    matchNote: ambiguity, forModel: true);
            }
            int[]? positions = PositionsInLayout(modelInput, training, table.ColumnCount, out bool withLabel);
            if (positions is not null)
            {
                string? note = ambiguity ?? (table.HasHeader
                    ? $"{Path.GetFileName(path)}: its header does not name the model's columns ({missing} is not among them), so its " +
                        $"{table.ColumnCount} columns were matched by position with the training file's {training.Columns.Count}" +
                        (withLabel ? "." : $", the label column ('{training.Columns[training.LabelIndex]}') left out.")
                    : null);
                return Build(table, [.. positions.Select((index, i) => (index, inputs[i].Numeric))],
                    givenLabel ?? (withLabel ? training.LabelIndex : null), modelNames, matchNote: note, forModel: true);
            }
            if (!table.HasHeader)
                throw new CliException($"{path}: {table.ColumnCount} columns without a header, but the model was trained on a file of " +
                    $"{training.Columns.Count} columns ({string.Join(", ", training.Columns)}); without a header columns are matched by position, " +
                    $"so give those columns in that order, with or without the label column ('{training.Columns[training.LabelIndex]}'), or add the training file's header.");
        }
        if (missing is null) return Build(table, inputs, givenLabel, modelNames, forModel: true);
        if (!table.HasHeader && trainingLabelIndex is int skipped && WithoutLabelColumn(modelInput, skipped, table.ColumnCount) is { } shifted)
            return Build(table, [.. shifted.Select((index, i) => (index, inputs[i].Numeric))], null, modelNames, forModel: true);
        string[] absent = [.. modelInput.Zip(inputs).Where(pair => pair.Second.Index < 0).Select(pair => pair.First.Name)];
        string needs = absent.Length == 1 ? $"column '{missing}'"
            : $"columns {string.Join(", ", absent.Take(10).Select(n => $"'{n}'"))}{(absent.Length > 10 ? ", ..." : "")}";
        throw new CliException($"{path}: the model needs {needs}, which the file does not have; its columns are: " +
            string.Join(", ", table.Names) + ". Give a CSV with the training file's columns" +
            (table.HasHeader ? " (by name), or its columns in the training file's order." : " in the training file's order (without a header, columns are matched by position)."));
    }

    // The label column of a file whose inputs matched by name: the training label's name in a header, or, without a
    // header and with the training file's column count, its position. Null when the file does not have it.
    private static int? LabelByLayout(CsvTable table, TableLayout? training, bool sameColumns)
    {
        if (training is null) return null;
        if (sameColumns) return training.LabelIndex;
        string label = training.Columns[training.LabelIndex];
        int index = Array.FindIndex(table.Names, n => string.Equals(n, label, StringComparison.OrdinalIgnoreCase));
        return index >= 0 ? index : null;
    }

    // The first training column of that name (any case), or -1.
    private static int IndexInLayout(TableLayout training, string column)
    {
        for (int i = 0; i < training.Columns.Count; i++)
            if (string.Equals(training.Columns[i], column, StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }

    /// <summary>
    /// For a headerless file one column short of the training file, when the training file had columns the model does not
    /// use (ignored, or identifiers left out): which was left out is ambiguous, the label (files to predict often leave it
    /// out) or such a column (the user was told the model ignores it). The unused column, when it is the only one whose
    /// leaving out puts, at the label's place, a column of the model's classes only; null (the label left out, as
    /// before) otherwise. <paramref name="note"/> says which reading was taken whenever there was a choice.
    /// </summary>
    internal static int? LeftOutUnusedColumn(CsvTable table, DataViewSchema modelInput, TableLayout training, IReadOnlyList<string>? classes, out string? note)
    {
        note = null;
        if (table.ColumnCount != training.Columns.Count - 1) return null;
        var used = modelInput.Select(c => IndexInLayout(training, c.Name)).ToHashSet();
        if (used.Contains(-1)) return null;
        int[] unused = [.. Enumerable.Range(0, training.Columns.Count).Where(i => i != training.LabelIndex && !used.Contains(i))];
        if (unused.Length == 0) return null;
        string file = Path.GetFileName(table.Path), label = training.Columns[training.LabelIndex];
        Func<string, int?>? isClass = classes is { Count: > 0 } ? ClassLabels.Matcher([.. classes]) : null;
        bool HoldsClassesOnly(int column)
        {
            var cells = table.Rows.Select(r => r[column]).Where(c => !CsvTable.IsMissing(c)).ToList();
            return isClass is not null && cells.Count >= 5 && cells.All(c => isClass(c) is not null);
        }
        // The label left out keeps the unused column at its place: where that column reads like a row identifier (a
        // distinct value in every row, whole numbers or single words), that reading stands; a 0/1 input at the label's
        // place must not move every column.
        bool IdentifierAt(int column)
        {
            var cells = table.Rows.Select(r => r[column]).ToList();
            return cells.Count >= 5 && cells.All(c => !CsvTable.IsMissing(c)) && cells.Distinct(StringComparer.Ordinal).Count() == cells.Count
                && cells.All(c => table.IsNumber(c, out float v) ? v == MathF.Round(v) : !c.Any(char.IsWhiteSpace));
        }
        int[] fits = [.. unused.Where(k => !IdentifierAt(k < training.LabelIndex ? k : k - 1) && HoldsClassesOnly(training.LabelIndex - (k < training.LabelIndex ? 1 : 0)))];
        string unusedNames = string.Join(" or ", unused.Select(k => $"'{training.Columns[k]}'"));
        if (fits.Length == 1)
        {
            int k = fits[0];
            note = $"{file}: {table.ColumnCount} columns without a header, one fewer than the training file's {training.Columns.Count}; column " +
                $"'{training.Columns[k]}' (which the model does not use) was taken as the one left out, since the label's place then holds only " +
                "the model's classes.";
            return k;
        }
        note = $"{file}: {table.ColumnCount} columns without a header, one fewer than the training file's {training.Columns.Count}; they were " +
            $"matched by position with the label column ('{label}') left out. If the file instead leaves out {unusedNames}, which the model " +
            "does not use, add it back (any values), or every column is read one place off.";
        return null;
    }

    // The file column of each model input when the file is the training layout (withLabel) or that layout without its
    // label column; null for any other column count, or when an input is not a training column.
    private static int[]? PositionsInLayout(DataViewSchema modelInput, TableLayout training, int columnCount, out bool withLabel)
    {
        withLabel = columnCount == training.Columns.Count;
        if (!withLabel && columnCount != training.Columns.Count - 1) return null;
        var indices = new List<int>();
        foreach (DataViewSchema.Column column in modelInput)
        {
            int index = IndexInLayout(training, column.Name);
            if (index < 0 || index == training.LabelIndex) return null;
            indices.Add(withLabel || index < training.LabelIndex ? index : index - 1);
        }
        return [.. indices];
    }

    // The file column of each model input ("Col{i}") when the file is the training layout without column labelIndex.
    private static int[]? WithoutLabelColumn(DataViewSchema modelInput, int labelIndex, int columnCount)
    {
        var indices = new List<int>();
        foreach (DataViewSchema.Column column in modelInput)
        {
            if (!column.Name.StartsWith("Col", StringComparison.Ordinal)
                || !int.TryParse(column.Name.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index == labelIndex)
                return null;
            int shifted = index < labelIndex ? index : index - 1;
            if (shifted >= columnCount) return null;
            indices.Add(shifted);
        }
        return [.. indices];
    }

    // From the columns, not the file's cells, and in a closure of its own (one made in Build would hold the table too),
    // so the text of every cell, most of a wide table's memory, is collected once the columns are built.
    private static Func<int, IReadOnlyDictionary<string, string>> RowValuesOf(List<InputColumn> schema, List<TableColumn> columns) =>
        row => schema.Select((column, i) => (column.ColumnName, Value: RowValue(columns[i], row))).ToDictionary(p => p.ColumnName, p => p.Value);

    private static string RowValue(TableColumn column, int row) => column.Numbers is { } numbers
        ? float.IsNaN(numbers[row]) ? "" : numbers[row].ToString("R", CultureInfo.InvariantCulture)
        : column.Texts![row];

    /// <param name="names">The model's column names of <paramref name="inputs"/>, when they are not the file's.</param>
    /// <param name="identifiers">Training: the input columns that look like row identifiers.</param>
    /// <param name="identifiersLeftOut">Whether <paramref name="identifiers"/> were left out of the inputs (not when they are all there is).</param>
    /// <param name="matchNote">Scoring: how the columns were matched, for the console (see <see cref="TrainingData.MatchNote"/>).</param>
    /// <param name="constants">Training: the input columns with one value or none, described for the console.</param>
    /// <param name="labelHint">Training: a note on the label column to give with the label note.</param>
    /// <param name="mostlyNumbers">Training: the text input columns whose cells are numbers but for a few, described.</param>
    /// <param name="groupedNumbers">Training: the text input columns of numbers written with digit-group separators, described.</param>
    /// <param name="dates">Training: the text input columns of dates or date-times, described.</param>
    /// <param name="units">Training: the text input columns of numbers written with a percent or currency sign, described.</param>
    /// <param name="identifierDates">Training: the columns of <paramref name="identifiers"/> that hold dates, described.</param>
    private static TrainingData Build(CsvTable table, List<(int Index, bool Numeric)> inputs, int? labelIndex, string[]? names = null,
        IReadOnlyList<string>? identifiers = null, bool identifiersLeftOut = false, string? matchNote = null, IReadOnlyList<string>? constants = null, string? labelHint = null,
        IReadOnlyList<string>? mostlyNumbers = null, IReadOnlyList<string>? groupedNumbers = null, IReadOnlyList<string>? dates = null,
        IReadOnlyList<string>? units = null, bool forModel = false, IReadOnlyList<string>? identifierDates = null)
    {
        int rows = table.Rows.Count;
        var columns = new List<TableColumn>();
        var schema = new List<InputColumn>();
        var properties = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < inputs.Count; i++)
        {
            var (index, numeric) = inputs[i];
            string name = names?[i] ?? table.Names[index];
            if (numeric)
            {
                var values = new float[rows];
                for (int r = 0; r < rows; r++)
                {
                    string cell = table.Rows[r][index];
                    if (CsvTable.IsMissing(cell)) values[r] = float.NaN;
                    else if (!table.IsNumber(cell, out values[r]))
                        throw new CliException($"{table.Path} line {table.LineNumbers[r]}: column '{table.Headers[index]}' holds '{cell}', " +
                            $"not a number{(table.DecimalMarker == ',' ? " with a decimal comma" : "")}, where the model expects numbers; fix the value or leave the cell empty.");
                    else if (!float.IsFinite(values[r]))
                        // Infinity, or beyond a 32-bit float (about 3.4e38): no mean can stand in for it, so name the cell here
                        // rather than let the encoder's check name a row and slot of the assembled input vector.
                        throw new CliException($"{table.Path} line {table.LineNumbers[r]}: column '{table.Headers[index]}' holds '{cell}', " +
                            "which is infinite as a 32-bit float (beyond about 3.4e38); write a finite number, or leave the cell empty to mark it missing.");
                }
                columns.Add(new TableColumn(name, values, null));
            }
            else
            {
                columns.Add(new TableColumn(name, null, table.Rows.Select(r => CsvTable.IsMissing(r[index]) ? "" : r[index]).ToArray()));
            }
            string property = char.ToUpperInvariant(name[0]) + name[1..];
            for (int n = 2; !properties.Add(property); n++) property = $"{char.ToUpperInvariant(name[0])}{name[1..]}_{n}";
            schema.Add(new InputColumn(name, property, numeric ? InputColumnKind.Number : InputColumnKind.Text, index));
        }
        // One class whatever Unicode form a cell writes it in ('ü' composed, or 'u' and a combining diaeresis as macOS
        // writes it), as image folder names are: two forms were two classes that look the same.
        (string[] labels, string? labelNote) = CsvTable.UnifyNumericLabels(labelIndex is int l
            ? table.Rows.Select(r => CsvTable.IsMissing(r[l]) ? "" : ClassLabels.Compose(r[l])).ToArray() : new string[rows].Select(_ => "").ToArray());
        // A name no input has: an input "Label_target" beside one named "Label" was otherwise hidden by the label column,
        // and read in its place, the label itself became an input (every row predicted right in training, none after).
        string labelColumn = "Label";
        for (int n = 1; columns.Any(c => c.Name == labelColumn); n++) labelColumn = n == 1 ? "Label_target" : $"Label_target_{n}";
        columns.Add(new TableColumn(labelColumn, null, labels));
        // As series runs do: a missing number is filled with its column's mean (ModelParts), and the run says how many.
        var filled = columns.Where(c => c.Numbers is not null).Select(c => (c.Name, Count: c.Numbers!.Count(float.IsNaN))).Where(c => c.Count > 0).ToList();
        // A file read for a trained model (test rows, rows to score) is filled with the training rows' means.
        string when = forModel ? " over the training rows when the model scores them" : ", in training and when the model scores";
        string? filledNote = filled.Count == 0 ? null : string.Create(CultureInfo.InvariantCulture,
            $"{filled.Sum(c => c.Count):N0} missing number(s) in {filled.Count} column(s) ({string.Join(", ", filled.Take(10).Select(c => FormattableString.Invariant($"'{c.Name}' {c.Count:N0}")))}{(filled.Count > 10 ? ", ..." : "")}) " +
            $"are filled with their column's mean{when}.");
        var duplicates = Enumerable.Range(0, rows)
            .GroupBy(r => string.Join("\u001f", inputs.Select(i => table.Rows[r][i.Index])))
            .Where(g => g.Count() > 1).Select(g => (IReadOnlyList<string>)g.Select(r => $"line {table.LineNumbers[r]}").ToList()).ToList();
        return new TrainingData
        {
            Kind = DatasetKind.Table,
            LabelColumn = labelColumn,
            View = new TableDataView(columns, rows),
            Columns = schema,
            Labels = labels,
            RowNames = table.LineNumbers.Select(n => $"line {n}").ToArray(),
            // What the model reads: a missing cell ('?', NA, null...) is empty (NaN for a number, the empty category for
            // text), and a number is written in invariant culture (a decimal comma becomes a point).
            RowValues = RowValuesOf(schema, columns),
            DecimalMarker = table.DecimalMarker,
            Format = new TextFileFormat(table.Separator, table.HasHeader, table.DecimalMarker),
            Layout = labelIndex is int label ? new TableLayout(table.Names, label) : null,
            MatchNote = matchNote,
            LabelNote = labelHint is null ? labelNote : labelNote is null ? labelHint : $"{labelNote} {labelHint}",
            Duplicates = duplicates,
            IdentifierColumns = identifiers ?? [],
            IdentifiersLeftOut = identifiersLeftOut,
            IdentifierDateColumns = identifierDates ?? [],
            ConstantColumns = constants ?? [],
            MostlyNumericTextColumns = mostlyNumbers ?? [],
            GroupedNumberTextColumns = groupedNumbers ?? [],
            DateTextColumns = dates ?? [],
            UnitNumberTextColumns = units ?? [],
            FilledNote = filledNote,
            RepeatedHeaderNote = table.RepeatedHeaderNote,
            RepeatedNameNote = table.RepeatedNameNote,
            SizeSummary = [string.Create(CultureInfo.InvariantCulture,
                $"{rows:N0} rows x {inputs.Count} input columns ({inputs.Count(i => i.Numeric)} numeric, {inputs.Count(i => !i.Numeric)} text{TextColumnNames(table, inputs)}); separator {CsvTable.Named(table.Separator)}, header {(table.HasHeader ? "yes" : "no")}" +
                $"{(table.DecimalMarker == ',' ? ", decimal comma" : "")}")],
        };
    }

    /// <summary>": 'sex', 'note'" naming the text inputs (the first 5), so a number column read as text shows before the search.</summary>
    private static string TextColumnNames(CsvTable table, List<(int Index, bool Numeric)> inputs)
    {
        var text = inputs.Where(i => !i.Numeric).Select(i => $"'{table.Headers[i.Index]}'").ToList();
        return text.Count == 0 ? "" : $": {string.Join(", ", text.Take(5))}{(text.Count > 5 ? ", ..." : "")}";
    }
}

/// <summary>A training CSV's columns in file order (header names as identifiers, or Col{index}) and its label column's index.</summary>
internal sealed record TableLayout(IReadOnlyList<string> Columns, int LabelIndex);
