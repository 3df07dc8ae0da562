using System.Globalization;
using Microsoft.ML;
using MlNetSsl.Cli.CodeGen;
using MlNetSsl.Cli.Commands;

namespace MlNetSsl.Cli.Data;

/// <summary>
/// Reads series: the UEA/UCR <c>.ts</c> format (channels separated by ':', values by ',', the class last; equal or
/// variable length), or a CSV with one series per row (a label column, the other cells the values; shorter rows leave
/// their last cells empty). Each row becomes one variable-length Single vector "Series", channel after channel.
/// </summary>
internal static class SeriesLoader
{
    public const string SeriesColumn = "Series";

    /// <summary>Series no longer than this (per channel) in a whole file are a long layout, not series.</summary>
    internal const int MaxStepsOfALongLayout = 3;

    /// <summary>A <see cref="CsvSettings.LabelColumn"/> for a series CSV without a label column: every cell is a value.</summary>
    public const string NoLabelColumn = "\0none";

    private sealed class SeriesRow
    {
        public float[] Series { get; set; } = [];
        public string Label { get; set; } = "";
    }

    /// <summary>Loads a .ts file or a series CSV.</summary>
    /// <param name="channels">For CSV: channels per row (the values split evenly). Ignored for .ts.</param>
    /// <param name="findLabel">Training: with no --label-col, a CSV whose first column holds measurements and whose last
    /// holds classes is read with the label last (<see cref="LabelAtEnd"/>; <see cref="TrainingData.SeriesLabelColumn"/>).</param>
    /// <param name="channelsFrom">Where <paramref name="channels"/> came from, for the message when a row's values do not
    /// split into them ("--channels", or the model's).</param>
    public static TrainingData Load(MLContext ml, string path, CsvSettings csv, int channels, bool findLabel = false, string channelsFrom = "--channels")
    {
        DatasetReader.CheckPath("series-classification", path);
        var rows = new List<SeriesRow>();
        var names = new List<string>();
        int seriesChannels;
        var notes = new List<string>();
        var missing = new MissingValues();
        var padding = new Padding();
        string? csvFormat = null;
        string? labelColumn = null;
        if (!IsTsFile(path) && findLabel && csv.LabelColumn is null && LabelAtEnd(path, csv) is { } atEnd)
        {
            labelColumn = atEnd.Index.ToString(CultureInfo.InvariantCulture);
            csv = csv with { LabelColumn = labelColumn };
            notes.Add(atEnd.Note);
        }
        if (IsTsFile(path))
            seriesChannels = ReadTs(path, rows, names, notes, missing);
        else
            seriesChannels = ReadCsv(path, csv, Math.Max(1, channels), channelsFrom, rows, names, missing, notes, padding, out csvFormat);
        if (rows.Count == 0) throw new CliException($"{path}: no series in the file.");
        // A long layout (one line per time step: id, time, value...) reads as series of two or three steps, and the id then
        // predicts the label: nothing a series model can learn from. No sensor series is that short.
        int longest = rows.Max(r => r.Series.Length / seriesChannels);
        if (longest <= MaxStepsOfALongLayout)
            throw new CliException(IsTsFile(path)
                ? $"{path}: every series has at most {longest} step(s) per channel, too few to read as a series (at least {MaxStepsOfALongLayout + 1} " +
                  "are needed); for a few values per row, write them as a CSV table (one column per value, and the label) and use 'mlnet-ssl classification'."
                : $"{path}: every series has at most {longest} step(s) per channel; is this one line per time step (id, time, value)? " +
                  "mlnet-ssl reads one series per line (the label, then the values in time order), so put each series on one line. If each " +
                  $"line already is one series, {longest} value(s) per channel are too few for a series model (at least {MaxStepsOfALongLayout + 1} " +
                  "are needed): read the file as a table with 'mlnet-ssl classification' (one column per value, and the label).");

        int[] lengths = rows.Select(r => r.Series.Length / seriesChannels).ToArray();
        var lengthGroups = lengths.GroupBy(l => l).OrderByDescending(g => g.Count()).ToList();
        // Nearly every series of one length and a few of another: more likely a stray or lost cell in those lines than a
        // variable-length file, so they are named (they are resampled like any other).
        if (lengthGroups.Count > 1 && lengthGroups[0].Count() * 10 >= rows.Count * 9 && rows.Count - lengthGroups[0].Count() <= Math.Max(3, rows.Count / 50))
        {
            var odd = Enumerable.Range(0, rows.Count).Where(r => lengths[r] != lengthGroups[0].Key).ToList();
            notes.Add($"{path}: every series has {lengthGroups[0].Key} steps per channel but {odd.Count}: " +
                string.Join(", ", odd.Take(5).Select(r => $"{names[r]} ({lengths[r]})")) + (odd.Count > 5 ? ", ..." : "") +
                "; check those lines for a stray or lost value (they are resampled with the others).");
        }
        if (!IsTsFile(path) && findLabel && seriesChannels == 1 && ChannelsHint(lengths) is int multiple)
            notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"{path}: the rows differ in length ({lengths.Min()} to {lengths.Max()} values, {lengthGroups.Count} lengths), but every one is a multiple " +
                $"of {multiple}: rows that hold {multiple} channels one after another (each of its own length) read so. They are read as one channel " +
                $"(a row's channels joined into one series and resampled together); if each row holds several channels, give --channels {multiple} (or the count it holds)."));
        // One class whatever Unicode form a file writes it in ('ü' composed, or 'u' and a combining diaeresis as macOS
        // writes it), as image folder names are: two forms were two classes that look the same. (TsFile composes a .ts
        // file's classes itself; this composes a CSV's.)
        (string[] labels, string? labelNote) = CsvTable.UnifyNumericLabels(rows.Select(r => ClassLabels.Compose(r.Label)).ToArray());
        if (labelNote is not null) notes.Add(labelNote);
        for (int i = 0; i < rows.Count; i++) rows[i].Label = labels[i];
        return new TrainingData
        {
            LabelNote = notes.Count > 0 ? string.Join(" ", notes) : null,
            Kind = DatasetKind.Series,
            LabelColumn = "Label",
            View = ml.Data.LoadFromEnumerable(rows),
            Columns = [new InputColumn(SeriesColumn, SeriesColumn, InputColumnKind.Series, null)],
            Labels = labels,
            RowNames = [.. names],
            RowValues = row => new Dictionary<string, string>
            {
                [SeriesColumn] = string.Join(",", rows[row].Series.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
            },
            SeriesChannels = seriesChannels,
            SeriesLengths = lengths,
            SeriesLabelColumn = labelColumn,
            FilledNote = missing.Note(),
            SeriesFormat = csvFormat,
            PaddingNote = padding.Note(path, seriesChannels),
            SizeSummary = lengthGroups.Count == 1
                ? [$"{seriesChannels} channel(s) x {lengths[0]} steps: {rows.Count:N0}"]
                : [$"{seriesChannels} channel(s), variable length: {lengths.Min()} to {lengths.Max()} steps (median {Median(lengths)}), {lengthGroups.Count} distinct lengths"],
        };
    }

    /// <summary>
    /// The channel count that rows of one channel seem to hold side by side: the greatest common divisor of their lengths,
    /// when the lengths vary (at least 5 distinct ones, so that a common factor is no coincidence), the divisor is 3 or
    /// more (2 divides the lengths of many sensors' even-sized windows) and each channel would keep more steps than a long
    /// layout has. JapaneseVowels' 12 channels of 7 to 26 steps, written one after another, make rows of 84 to 312
    /// values, all multiples of 12. Null otherwise.
    /// </summary>
    internal static int? ChannelsHint(IReadOnlyList<int> lengths)
    {
        if (lengths.Distinct().Count() < 5) return null;
        int divisor = lengths.Aggregate(0, (g, l) => { int a = g, b = l; while (b != 0) (a, b) = (b, a % b); return a; });
        return divisor >= 3 && lengths.Min() / divisor > MaxStepsOfALongLayout ? divisor : null;
    }

    /// <summary>
    /// A series CSV's label column when it is the last and no --label-col was given: every line has as many cells, the
    /// first column is a measurement (a fraction in some row, or a different number in nearly every row) and the last holds
    /// classes (whole numbers or words, each on three rows or more on average). Exports often put the class last, and
    /// reading its first step as the label would make as many classes as rows. Null when the file does not look so.
    /// </summary>
    internal static (int Index, string Note)? LabelAtEnd(string path, CsvSettings settings)
    {
        var lines = ContentLines(path, out char? directive).Select(l => l.Text).Take(100_000).ToList();
        if (lines.Count < 10) return null;
        char separator = settings.Separator ?? directive ?? DetectSeparator(lines);
        var cells = lines.Select(l => SplitCells(l, separator)).ToList();
        StripRowIndex(cells, settings.HasHeader);
        bool hasHeader = settings.HasHeader ?? LooksLikeHeader(cells[0], cells.Skip(1).ToList(), null);
        string? name = hasHeader ? cells[0][^1] : null;
        if (hasHeader) cells.RemoveAt(0);
        int width = cells[0].Length;
        if (width < 3 || cells.Any(c => c.Length != width)) return null;
        var first = cells.Select(c => c[0]).Where(v => !CsvTable.IsMissing(v)).ToList();
        var last = cells.Select(c => c[^1]).Where(v => !CsvTable.IsMissing(v)).ToList();
        if (first.Count < 10 || last.Count < 2) return null;
        static bool Whole(string v) => CsvTable.TryNumber(v, out float x) && x == MathF.Round(x);
        int firstDistinct = first.Distinct(StringComparer.Ordinal).Count();
        bool firstIsMeasurement = first.All(v => CsvTable.TryNumber(v, out _)) && (first.Any(v => !Whole(v)) || firstDistinct * 10 >= first.Count * 9);
        int classes = last.Distinct(StringComparer.Ordinal).Count();
        bool lastIsClass = classes >= 2 && classes * 3 <= last.Count && last.All(v => Whole(v) || !CsvTable.TryNumber(v, out _));
        if (!firstIsMeasurement || !lastIsClass) return null;
        int index = width - 1;
        return (index, string.Create(CultureInfo.InvariantCulture,
            $"The label is read from the last column ({index}{(name is null ? "" : $", '{name}'")}): the first holds {firstDistinct:N0} distinct numbers in {first.Count:N0} rows, a measurement, " +
            $"and the last {classes} classes. Give --label-col 0 to read the first column as the label."));
    }

    /// <summary>Whether <paramref name="path"/> is a UEA/UCR <c>.ts</c> file (by its extension, any case).</summary>
    public static bool IsTsFile(string path) => Path.GetExtension(path).Equals(".ts", StringComparison.OrdinalIgnoreCase);

    public static int Median(int[] values)
    {
        int[] sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    /// <summary>Reads a .ts file through the library's parser (<see cref="TsFile"/>), whose errors name the file and the line.</summary>
    private static int ReadTs(string path, List<SeriesRow> rows, List<string> names, List<string> notes, MissingValues missing)
    {
        TsFile file;
        try
        {
            file = TsFile.Read(path);
        }
        catch (InvalidDataException e)
        {
            throw new CliException(e.Message, e);
        }
        for (int i = 0; i < file.Series.Count; i++)
        {
            rows.Add(new SeriesRow { Series = file.Series[i], Label = file.Labels[i] });
            names.Add($"line {file.LineNumbers[i]}");
            missing.Add(file.LineNumbers[i], file.MissingValueCounts[i]);
        }
        // The file's last note counts its missing values when it had any; the run says that in its own words (FilledNote).
        bool filled = file.MissingValueCounts.Any(m => m > 0);
        notes.AddRange(file.Notes.Take(file.Notes.Count - (filled ? 1 : 0)));
        return file.Channels;
    }

    private static int ReadCsv(string path, CsvSettings settings, int channels, string channelsFrom, List<SeriesRow> rows, List<string> names, MissingValues missing,
        List<string> notes, Padding padding, out string format)
    {
        // Ragged rows are allowed here (variable-length series), so the CSV is split line by line, not through CsvTable.
        var lines = ContentLines(path, out char? directive).ToList();
        if (lines.Count == 0) throw new CliException($"{path}: the file is empty.");
        char separator = settings.Separator ?? directive ?? DetectSeparator(lines.Select(l => l.Text));
        var split = lines.Select(l => SplitCells(l.Text, separator)).ToList();
        string? rowIndex = split[0].Length > 0 ? split[0][0] : null;
        // Column numbers below (--label-col, messages) count the columns after pandas' row index, as pandas does.
        bool indexLeftOut = StripRowIndex(split, settings.HasHeader);
        if (indexLeftOut)
            notes.Add($"{path}: the first column ('{rowIndex}') holds a distinct whole number per row under the name pandas gives its row index " +
                "(df.to_csv() writes it unless told index=False); it numbers the rows, so it is left out (column numbers count from the column after it).");
        string[] first = split[0];
        bool hasHeader = settings.HasHeader ?? LooksLikeHeader(first, split.Skip(1).ToList(), settings.LabelColumn);
        string[] headers = hasHeader ? first : [];
        int labelIndex = 0;
        if (settings.LabelColumn == NoLabelColumn) labelIndex = -1;
        else if (settings.LabelColumn is { } labelColumn)
        {
            labelIndex = LabelIndexByName(headers, labelColumn);
            if (labelIndex < 0 && !int.TryParse(labelColumn, NumberStyles.None, CultureInfo.InvariantCulture, out labelIndex))
                throw new CliException(hasHeader
                    ? $"{path}: --label-col '{labelColumn}' is not a column; the columns are: {ColumnList(headers)}."
                    : $"{path}: --label-col '{labelColumn}' is not a column name, and the file has no header line; give the label column's 0-based index (or --has-header true).");
        }
        string counted = indexLeftOut ? " (columns counted after pandas' row index, which is left out)" : "";
        // How the file was read, for the run to show before the search: a wrong guess shows there, not in the accuracy.
        string separatorName = separator switch { Blanks => "runs of blanks", '\t' => "tab", char c => $"'{c}'" };
        int width = split.Skip(hasHeader ? 1 : 0).Select(c => c.Length).DefaultIfEmpty(0).Max();
        string labelName = labelIndex < 0 ? "none"
            : labelIndex < headers.Length ? $"column {labelIndex} ('{Shorten(headers[labelIndex])}')"
            : $"column {labelIndex}{(labelIndex == 0 ? " (the first)" : labelIndex == width - 1 ? " (the last)" : "")}";
        format = $"separator {separatorName}, header {(hasHeader ? "yes" : "no")}, label {labelName}{counted}";
        // The class last on lines of different lengths (values then label, as a .ts line is written) sits in another column
        // on each line: the advice to give --label-col <that column> failed on the next line of another length.
        var dataWidths = split.Skip(hasHeader ? 1 : 0).Select(c => c.Length).ToList();
        bool ragged = dataWidths.Distinct().Take(2).Count() > 1;
        CliException ClassLastOnRaggedLines(string[] cells, int line) => new(
            $"{path} line {line}: the last cell, column {cells.Length - 1}, holds '{Shorten(cells[^1])}', not a number, and the lines " +
            $"differ in length ({dataWidths.Min():N0} to {dataWidths.Max():N0} cells){counted}: a class written last is in another column on each line, and " +
            "--label-col names one column. Put the class first on each line (a series CSV reads its label from column 0 by default), or write the series " +
            "as a .ts file, whose lines end with their class.");
        foreach (var (cells, line) in split.Zip(lines.Select(l => l.Line)).Skip(hasHeader ? 1 : 0))
        {
            if (labelIndex >= cells.Length)
                throw ragged && cells.Length > 0 && !CsvTable.IsMissing(cells[^1]) && !CsvTable.TryNumber(cells[^1], out _)
                    ? ClassLastOnRaggedLines(cells, line)
                    : new CliException($"{path} line {line}: no label cell at index {labelIndex}{counted}.");
            int textCell = Enumerable.Range(0, cells.Length).FirstOrDefault(i => i != labelIndex && !CsvTable.IsMissing(cells[i]) && !CsvTable.TryNumber(cells[i], out _), -1);
            if (textCell >= 0 && DecimalComma(cells[textCell]))
                throw new CliException($"{path} line {line}: '{Shorten(cells[textCell])}' is not a number in a file separated by ',': write decimals " +
                    "with a point ('0.5'), or separate the values with ';' or a tab, and a decimal comma is read as such.");
            // (Not when the label column holds a class itself: then the last cell is another matter.)
            bool labelIsText = labelIndex >= 0 && !CsvTable.IsMissing(cells[labelIndex]) && !CsvTable.TryNumber(cells[labelIndex], out _);
            if (textCell >= 0 && textCell == cells.Length - 1 && !labelIsText && ragged) throw ClassLastOnRaggedLines(cells, line);
            // Another text on every line (a row id, a name, a date) is no class: --label-col there would make a class of each row.
            // Text on every line: one typo among the values (distinct numbers on the other lines) is not a row id.
            var textColumn = textCell < 0 ? [] : split.Skip(hasHeader ? 1 : 0).Select(c => textCell < c.Length ? c[textCell].Trim() : "").ToList();
            if (textCell >= 0 && labelIndex >= 0 && dataWidths.Count >= 5
                    && textColumn.All(c => !CsvTable.IsMissing(c) && !CsvTable.TryNumber(c, out _))
                    && textColumn.Distinct(StringComparer.Ordinal).Count() == dataWidths.Count)
                throw new CliException($"{path} line {line}: column {textCell} holds '{Shorten(cells[textCell])}', not a number, and another text on every line, " +
                    $"as a row id, a name or a date does; the label column is {labelIndex}{counted}. Every cell of a series CSV but the label is a value of the " +
                    "series: remove that column from the file, or read the file as a table with 'mlnet-ssl classification' (--ignore-cols leaves a column out there).");
            if (textCell >= 0)
                throw new CliException($"{path} line {line}: column {textCell} holds '{Shorten(cells[textCell])}', not a number, and the label column is " +
                    (labelIndex >= 0 ? $"{labelIndex}" : "none") +
                    $"{counted}; series values must be numbers ('?' marks a missing one). If column {textCell} holds the class, give --label-col {textCell}.");
            var valueCells = cells.Where((_, i) => i != labelIndex).ToList();
            int fields = valueCells.Count;
            // Empty or missing cells at the end shorten a univariate series: a shorter row of a variable-length file, padded
            // with empty cells or, in the UCR 2018 .tsv files, with NaN to the longest row. With several channels only the
            // last channel ends there, so the cells that complete its last step are missing values, not padding.
            int marked = 0;
            while (valueCells.Count > 0 && CsvTable.IsMissing(valueCells[^1].Trim()))
            {
                if (valueCells[^1].Trim().Length > 0) marked++;
                valueCells.RemoveAt(valueCells.Count - 1);
            }
            padding.Add(marked);
            if (valueCells.Count == 0 && fields > 0)
                throw new CliException($"{path} line {line}: every value of a channel is missing; give each channel at least one value, or remove the line.");
            int whole = (valueCells.Count + channels - 1) / channels * channels;
            if (whole <= fields)
                while (valueCells.Count < whole) valueCells.Add("");
            if (valueCells.Count == 0 || valueCells.Count % channels != 0)
                throw new CliException($"{path} line {line}: {valueCells.Count} values, not a whole number of steps for {channels} channel(s) ({channelsFrom}); " +
                    "each row holds its channels one after the other, every channel of a row the same length.");
            // Each channel is filled on its own, as the model's resampling step fills a series it is given.
            int steps = valueCells.Count / channels;
            float[] values = Enumerable.Range(0, channels).SelectMany(c => ParseValues(valueCells.Skip(c * steps).Take(steps), path, line, missing)).ToArray();
            string label = labelIndex >= 0 ? cells[labelIndex] : "";
            rows.Add(new SeriesRow { Series = values, Label = CsvTable.IsMissing(label) ? "" : label });
            names.Add($"line {line}");
        }
        return channels;
    }

    /// <summary>
    /// The column a header names <paramref name="labelColumn"/>, or -1 (then a number is the column's 0-based index). A
    /// number that is a step's name in a header of step numbers (pandas' <c>DataFrame(X).to_csv()</c> writes
    /// <c>label,0,1,2...</c>) is the index instead: no label column is named by a step's number, and the recorded label
    /// column 0 (the first, in training) matched the step named "0", the file's second column, so evaluate and predict
    /// refused the run's own test file, and the error's advice, --label-col 0, failed the same way.
    /// </summary>
    internal static int LabelIndexByName(string[] headers, string labelColumn)
    {
        int byName = Array.FindIndex(headers, h => string.Equals(h.Trim(), labelColumn, StringComparison.OrdinalIgnoreCase));
        if (byName < 0 || !int.TryParse(labelColumn, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index == byName || index >= headers.Length)
            return byName;
        // The header's other cells are numbers too (step numbers), all but the label's name at most.
        int numbers = headers.Count(h => CsvTable.TryNumber(h.Trim(), out _));
        return numbers >= headers.Length - 1 ? -1 : byName;
    }

    /// <summary>
    /// Removes pandas' row index from the split lines of a series CSV: a first column whose header cell is empty or
    /// "Unnamed: 0" (what df.to_csv() writes over the index) above a distinct whole number on every line, in any order (a
    /// split or shuffled frame keeps its index). Every reader of series CSVs strips it, so column numbers (a recorded
    /// label column included) count the columns after it, as pandas does, whether a file to score has the index or not.
    /// </summary>
    /// <returns>Whether the column was removed.</returns>
    internal static bool StripRowIndex(List<string[]> lines, bool? hasHeader)
    {
        if (hasHeader == false || lines.Count < 2 || lines[0].Length < 2) return false;
        string name = lines[0][0].Trim();
        if (name.Length > 0 && !name.Equals("Unnamed: 0", StringComparison.OrdinalIgnoreCase)) return false;
        var seen = new HashSet<long>();
        foreach (string[] cells in lines.Skip(1))
            if (cells.Length < 2 || !long.TryParse(cells[0].Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) || !seen.Add(value))
                return false;
        for (int i = 0; i < lines.Count; i++) lines[i] = lines[i][1..];
        return true;
    }

    /// <summary>
    /// Whether a series CSV to score holds the label column the model was trained with (index <paramref name="labelIndex"/>).
    /// Files to predict often hold the values only, and taking their first value for a label would shift every series by
    /// one step. See <see cref="ReadLabelColumn"/>.
    /// </summary>
    public static bool HoldsLabelColumn(string path, CsvSettings settings, int labelIndex, IReadOnlyCollection<string> classes, int? modelValues = null) =>
        ReadLabelColumn(path, settings, labelIndex, classes, modelValues).Holds;

    /// <summary>
    /// Whether a series CSV to score holds the label column the model was trained with, and a note when that is not plain
    /// (null when every cell there is one of the model's classes as written, or the file is clearly values only). Labels
    /// match the classes by value ("1" is the class "1.0000000e+00", as old UCR files write them). A class written in
    /// words there is a label (no value is a word). When every row has the same number of cells and that is the model's
    /// <paramref name="modelValues"/> (channels x steps) or one more, the width decides: exactly the model's values is
    /// values only; one more holds the label when the column holds classes, a few of them ones the model never saw (whole
    /// numbers or words, fewer rows than the known ones). Otherwise a number there that is not a class the model knows
    /// means values only (sensor readings such as counts are often whole numbers like numeric classes), and the column
    /// holds the label when some row has a known class or an empty cell there.
    /// </summary>
    public static (bool Holds, string? Note) ReadLabelColumn(string path, CsvSettings settings, int labelIndex, IReadOnlyCollection<string> classes,
        int? modelValues = null)
    {
        if (CsvCells(path, settings) is not { } rows) return (true, null);
        Func<string, int?> classOf = ClassLabels.Matcher([.. classes]);
        var exact = new HashSet<string>(classes, StringComparer.Ordinal);
        var cells = rows.Where(r => labelIndex < r.Length).Select(r => r[labelIndex].Trim()).ToList();
        // A header's cell is neither a class nor a number.
        if (cells.Count > 1 && (settings.HasHeader == true
                || classOf(cells[0]) is null && !CsvTable.IsMissing(cells[0]) && !CsvTable.TryNumber(cells[0], out _)))
            cells.RemoveAt(0);
        var known = cells.Where(c => classOf(c) is not null).ToList();
        var unseen = cells.Where(c => classOf(c) is null && !CsvTable.IsMissing(c)).ToList();
        var unseenNumbers = unseen.Where(c => CsvTable.TryNumber(c, out _)).ToList();
        bool respelled = known.Any(c => !exact.Contains(c));
        string column = $"column {labelIndex}";
        static string Few(IEnumerable<string> values)
        {
            var distinct = values.Distinct(StringComparer.Ordinal).ToList();
            return string.Join(", ", distinct.Take(5).Select(v => $"'{Shorten(v)}'")) + (distinct.Count > 5 ? ", ..." : "");
        }
        string Labels(string why) => $"{path}: {column} is read as the label, not as a step of each series: {why}" +
            (respelled ? $"; its labels match the model's classes by value ({Few(known.Where(c => !exact.Contains(c)))})" : "") +
            (unseen.Count > 0 ? $"; {unseen.Count} row(s) hold a class the model never saw ({Few(unseen)})" : "") + ".";
        string Step(string why) => $"{path}: {column} is read as a step of each series, not as the label: {why}; " +
            $"give --label-col {labelIndex} if it holds the labels.";

        // No value is a word: a column of the model's class names holds the labels, whatever the row lengths.
        if (known.Any(c => !CsvTable.TryNumber(c, out _)))
            return (true, respelled || unseen.Count > 0 ? Labels("it holds the model's class names") : null);

        int[] widths = rows.Select(r => r.Length).Distinct().ToArray();
        if (modelValues is int values && widths.Length == 1 && (widths[0] == values || widths[0] == values + 1))
        {
            if (widths[0] == values)
                return (false, known.Count > 0 && known.Count + cells.Count(CsvTable.IsMissing) == cells.Count
                    ? Step($"every row holds {values} cells, the model's values per row (channels x steps), though that column holds only the model's classes")
                    : null);
            // One cell more than the model reads: a label column when it holds classes (whole numbers or words), mostly
            // known ones, or only empty cells (unlabeled rows).
            static bool ClassLike(string cell) => !CsvTable.TryNumber(cell, out float x) || x == MathF.Round(x);
            bool labels = unseen.Count == 0 || known.Count > unseen.Count && unseen.All(ClassLike)
                && unseen.Distinct(StringComparer.Ordinal).Count() <= Math.Max(3, classes.Count);
            string width = $"every row holds {widths[0]} cells, one more than the model's {values} values per row";
            return labels
                ? (true, respelled || unseen.Count > 0 ? Labels(width) : null)
                : (false, Step($"{width}, but that column holds {(known.Count == 0 ? "none of the model's classes" : $"{unseen.Count} value(s) that are not classes the model knows")} ({Few(unseen)})"));
        }
        if (unseenNumbers.Count > 0)
            return (false, known.Count > 0
                ? Step($"it holds {unseenNumbers.Count} number(s) that are not classes the model knows ({Few(unseenNumbers)}) beside {known.Count} that are")
                : null);
        bool holds = known.Count > 0 || rows.Any(r => labelIndex < r.Length && CsvTable.IsMissing(r[labelIndex].Trim()) && r.Length > 1);
        return (holds, holds && respelled ? Labels("it holds the model's classes") : null);
    }

    /// <summary>
    /// The label column at an end of a series CSV to score, when it is not at the recorded index: the last when training
    /// read the first; when training read another column (the last of its rows), this file's last (series of another
    /// length put the label elsewhere), then its first. Found when every row has the same number of cells, not the model's
    /// values per row (<paramref name="modelValues"/>; for numeric classes, one more than them), and each cell there (below
    /// a header) is one of the model's <paramref name="classes"/> (numbers by value) or missing, at least one a class. Null
    /// otherwise, and for .ts files (labels always last): a file of values only keeps every value, even when its last step
    /// looks like a class.
    /// </summary>
    /// <param name="classOf">The model's class of a label (numbers by value), or null; as scoring matches labels.</param>
    public static int? LabelAtOtherEnd(string path, CsvSettings settings, int recordedIndex, IReadOnlyCollection<string> classes,
        Func<string, int?> classOf, int? modelValues)
    {
        if (CsvCells(path, settings) is not { } rows) return null;
        int[] widths = rows.Select(cells => cells.Length).Distinct().ToArray();
        if (widths.Length != 1 || widths[0] < 2 || widths[0] == modelValues) return null;
        // Numeric classes (0/1) look like values: only a row one value longer than the model's tells a label apart.
        if (classes.All(c => CsvTable.TryNumber(c, out _)) && widths[0] != modelValues + 1) return null;
        bool IsClass(string cell) => classOf(cell) is not null;
        bool HoldsClasses(int candidate)
        {
            var cells = rows.Select(r => r[candidate].Trim()).ToList();
            // A header's cell is neither a class nor a number.
            if (settings.HasHeader == true || !IsClass(cells[0]) && !CsvTable.IsMissing(cells[0]) && !CsvTable.TryNumber(cells[0], out _))
                cells.RemoveAt(0);
            return cells.Any(IsClass) && cells.All(c => IsClass(c) || CsvTable.IsMissing(c));
        }
        // A model trained label-last on 60 steps records column 60; its test series of 1,000 steps have the label in
        // column 1000, which only the first column used to be checked against, so evaluate refused the file.
        int last = widths[0] - 1;
        int[] candidates = recordedIndex == 0 ? [last] : [last, 0];
        return candidates.Where(c => c != recordedIndex).Cast<int?>().FirstOrDefault(c => HoldsClasses(c!.Value));
    }

    /// <summary>The cells of each non-empty line of a series CSV to score; null for a .ts file, a missing or an empty file.</summary>
    private static List<string[]>? CsvCells(string path, CsvSettings settings)
    {
        if (IsTsFile(path) || !File.Exists(path)) return null;
        var lines = ContentLines(path, out char? directive).Select(l => l.Text).ToList();
        if (lines.Count == 0) return null;
        char separator = settings.Separator ?? directive ?? DetectSeparator(lines);
        var cells = lines.Select(l => SplitCells(l, separator)).ToList();
        StripRowIndex(cells, settings.HasHeader);
        return cells;
    }

    /// <summary>
    /// Whether a series CSV to score has a header cell named <paramref name="labelColumn"/>, the label column training
    /// named. A file without it (values only, with or without a header of step names) is read whole, every cell a step.
    /// </summary>
    public static bool HoldsNamedColumn(string path, CsvSettings settings, string labelColumn)
    {
        if (IsTsFile(path) || !File.Exists(path) || settings.HasHeader == false) return true;
        var lines = ContentLines(path, out char? directive).Select(l => l.Text).Take(20).ToList();
        if (lines.Count == 0) return true;
        string first = lines[0];
        char separator = settings.Separator ?? directive ?? DetectSeparator(lines);
        return SplitCells(first, separator).Any(cell => string.Equals(cell, labelColumn, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// The lines of a series CSV that hold cells, with their 1-based line numbers: blank lines, lines of separators only
    /// (spreadsheets write ",,," below a formatted range) and Excel's "sep=X" first line are left out, as the table reader
    /// does; <paramref name="directive"/> is that X, or null.
    /// </summary>
    internal static IEnumerable<(string Text, int Line)> ContentLines(string path, out char? directive)
    {
        char? named = CsvTable.SeparatorDirective(path);
        directive = named;
        // Lazy: a caller that looks at the first lines only does not read the whole file.
        return TextFileEncoding.ReadLines(path).Select((text, i) => (Text: text, Line: i + 1))
            .Where(l => !(l.Line == 1 && named is not null) && l.Text.Any(c => !char.IsWhiteSpace(c) && c is not (',' or ';' or '|')));
    }

    /// <summary>
    /// The separator of a series CSV: the one that splits each of the first lines into the most fields (the fewest
    /// on any of them counts, so a class such as "walk; fast" on one line does not make ';' the separator); on a tie a tab,
    /// then ';' (decimal commas), then '|', then ','. Lines with none of them but blanks between values (the old UCR
    /// archive's .txt files: "   1.0000000e+00  -6.4789900e-01 ...") are separated by runs of blanks, <see cref="Blanks"/>.
    /// </summary>
    internal static char DetectSeparator(IEnumerable<string> lines)
    {
        var sample = lines.Take(20).ToList();
        if (sample.Count == 0) return ',';
        if (sample.All(l => l.IndexOfAny([',', ';', '\t', '|']) < 0) && sample.Any(l => l.Trim().Contains(' ', StringComparison.Ordinal)))
            return Blanks;
        char best = new[] { '\t', ';', '|', ',' }
            .Select((candidate, order) => (candidate, order, fields: sample.Min(l => CsvTable.Split(l, candidate).Length)))
            .OrderByDescending(c => c.fields).ThenBy(c => c.order).First().candidate;
        // Values that all carry a decimal comma ("-0,6478854;-0,6423;...", a file of values only) split at their commas
        // into one cell more than at the ';' between them: ',' is no separator when another one splits every line and
        // each of its cells that holds a comma is a number with a decimal comma.
        if (best == ',')
            foreach (char other in new[] { '\t', ';', '|' })
            {
                var cells = sample.Select(l => CsvTable.Split(l, other)).ToList();
                if (cells.All(c => c.Length > 1) && cells.SelectMany(c => c).Any(c => c.Contains(',', StringComparison.Ordinal))
                    && cells.SelectMany(c => c).Where(c => c.Contains(',', StringComparison.Ordinal)).All(c => DecimalComma(c.Trim())))
                    return other;
            }
        return best;
    }

    // A wide file has one column per step: name a few of them, not hundreds.
    private static string ColumnList(string[] headers) => headers.Length <= 12
        ? string.Join(", ", headers)
        : $"{string.Join(", ", headers.Take(8))}, ... {string.Join(", ", headers.TakeLast(3))} ({headers.Length} columns)";

    /// <summary>
    /// Whether the first line of a series CSV is a header. Every data line may hold one text cell, its class
    /// ("walking,0.1,0.2,..."), in whichever column the label is, so a text cell alone does not make a header: the first
    /// line is one when the label column is named by a cell of it, when it holds more text cells than the lines below,
    /// or when its one text cell is a name above numbered steps ("class,1,2,..."): a value its column never holds again,
    /// beside equally spaced rising numbers.
    /// </summary>
    private static bool LooksLikeHeader(string[] first, List<string[]> rest, string? labelColumn)
    {
        if (labelColumn is not null && !int.TryParse(labelColumn, NumberStyles.None, CultureInfo.InvariantCulture, out _)
            && first.Any(c => string.Equals(c, labelColumn, StringComparison.OrdinalIgnoreCase)))
            return true;
        static bool IsText(string cell) => !CsvTable.IsMissing(cell) && !CsvTable.TryNumber(cell, out _);
        int[] textColumns = Enumerable.Range(0, first.Length).Where(i => IsText(first[i])).ToArray();
        if (textColumns.Length == 0 || rest.Count == 0) return false;
        if (textColumns.Length > rest.Take(20).Max(cells => cells.Count(IsText))) return true;
        // A class seen once (one label per class is common with few labels) is also never seen again, so the numbers
        // beside the text cell must be step numbers (equally spaced and rising: 1,2,3... or 0,0.5,1...), which a data row is not.
        return NumberedSteps(first.Where((_, i) => !textColumns.Contains(i)).ToArray())
            && textColumns.All(i => rest.All(cells => i >= cells.Length || !string.Equals(cells[i], first[i], StringComparison.Ordinal)));
    }

    private static bool NumberedSteps(string[] cells)
    {
        var numbers = new List<double>();
        foreach (string cell in cells)
        {
            if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)) return false;
            numbers.Add(value);
        }
        if (numbers.Count < 2) return false;
        double step = numbers[1] - numbers[0];
        return step > 0 && numbers.Zip(numbers.Skip(1)).All(p => Math.Abs(p.Second - p.First - step) <= 1e-9 * Math.Max(1, Math.Abs(p.Second)));
    }

    /// <summary>The separator of a series file whose values are separated by runs of spaces or tabs (leading and trailing
    /// ones left out), as the old UCR .txt files are: '--separator space' (or ' ', or 'whitespace'), or detected.</summary>
    public const char Blanks = ' ';

    /// <summary>A line's cells. In a file not separated by ',' a cell such as "0,5" is a number with a decimal comma (as
    /// spreadsheets write them where ';' separates fields) and is read as 0.5; scoring reads files the same way.</summary>
    private static string[] SplitCells(string line, char separator)
    {
        // Runs of blanks align the columns of the old UCR files: no empty cell between two blanks, none before the first value.
        string[] cells = separator == Blanks
            ? CsvTable.Split(line.Replace('\t', ' ').Trim(), ' ').Where(c => c.Length > 0).ToArray()
            : CsvTable.Split(line, separator);
        if (separator != ',')
            for (int i = 0; i < cells.Length; i++)
                if (DecimalComma(cells[i].Trim())) cells[i] = cells[i].Trim().Replace(',', '.');
        return cells;
    }

    // "0,5" or "-1,25e3": a number written with a decimal comma.
    private static bool DecimalComma(string cell) =>
        cell.Count(c => c == ',') == 1 && CsvTable.TryNumber(cell.Replace(',', '.'), out _);

    private static string Shorten(string cell) => cell.Length <= 40 ? cell : cell[..40] + "...";

    /// <summary>Parses values; missing ones ('?', NaN, empty) are filled from the previous value (the next one at the start).</summary>
    private static float[] ParseValues(IEnumerable<string> cells, string path, int line, MissingValues missing)
    {
        var values = new List<float>();
        foreach (string cell in cells)
        {
            string trimmed = cell.Trim();
            if (CsvTable.IsMissing(trimmed)) values.Add(float.NaN);
            else if (CsvTable.TryNumber(trimmed, out float value))
            {
                // As the table loader and the model's ResampleSeries do: an infinity is no missing value to fill.
                if (!float.IsFinite(value))
                    throw new CliException($"{path} line {line}: '{Shorten(trimmed)}' is infinite as a 32-bit float (beyond about 3.4e38); " +
                        "write a finite number, or '?' to mark the value missing.");
                values.Add(value);
            }
            else if (DecimalComma(trimmed))
                throw new CliException($"{path} line {line}: '{trimmed}' is not a number in a file separated by ',': write decimals " +
                    "with a point ('0.5'), or separate the values with ';' or a tab, and a decimal comma is read as such.");
            else throw new CliException($"{path} line {line}: '{Shorten(trimmed)}' is not a number; series values must be numbers ('?' marks a missing one).");
        }
        float[] result = [.. values];
        int firstKnown = Array.FindIndex(result, float.IsFinite);
        if (result.Length > 0 && firstKnown < 0) throw new CliException($"{path} line {line}: every value of a channel is missing; give each channel at least one value, or remove the line.");
        int filled = 0;
        for (int i = 0; i < result.Length; i++)
            if (!float.IsFinite(result[i]))
            {
                result[i] = i == 0 ? result[firstKnown] : result[i - 1];
                filled++;
            }
        missing.Add(line, filled);
        return result;
    }

    /// <summary>Missing markers (NaN, '?', NA...) that ended rows, read as the end of their series: counted so the run can say so.</summary>
    private sealed class Padding
    {
        private int _rows;
        private int _cells;

        public void Add(int cells)
        {
            if (cells == 0) return;
            _rows++;
            _cells += cells;
        }

        public string? Note(string path, int channels) => _rows == 0 ? null : FormattableString.Invariant(
            $"{path}: {_rows:N0} row(s) end in missing values (NaN, '?' or NA; {_cells:N0} cells), as the UCR 2018 .tsv files pad shorter series to the longest: ") +
            (channels == 1
                ? "each such series ends at its last value, as a row ending in empty cells does, and they are not filled in as missing values."
                : $"with {channels} channels only the last channel ends there, so the cells that complete its last step are missing values.");
    }

    /// <summary>The missing values a file's series held, which take the value before them: counted so the run can say so.</summary>
    private sealed class MissingValues
    {
        private readonly HashSet<int> _lines = [];

        public int Values { get; private set; }

        public int Series => _lines.Count;

        public int? FirstLine { get; private set; }

        public void Add(int line, int values)
        {
            if (values == 0) return;
            Values += values;
            _lines.Add(line);
            FirstLine ??= line;
        }

        public string? Note() => Values == 0 ? null : FormattableString.Invariant(
            $"{Values:N0} missing value(s) (empty, '?', NA or NaN) in {Series:N0} series (the first on line {FirstLine}) take the value before them in their channel ") +
            "(the channel's first known value at its start), as the model does for a series it scores.";
    }
}
