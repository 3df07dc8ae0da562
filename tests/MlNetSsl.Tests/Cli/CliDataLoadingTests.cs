using System.Globalization;
using Microsoft.ML;
using MlNetSsl.Cli.CodeGen;
using MlNetSsl.Cli.Commands;
using MlNetSsl.Cli.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// How the tool reads files a new user brings (series CSVs with text classes, labels anywhere, headers or not): every
/// data row is kept, nothing is silently taken for a header, and a wrong layout fails with one line saying what to do.
/// </summary>
public sealed class CliDataLoadingTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mlnetssl-cli-data-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>GunPoint's training series (univariate, length 150) with their classes named in words.</summary>
    internal static List<(string Label, string[] Values)> GunPoint()
    {
        var rows = new List<(string, string[])>();
        bool data = false;
        foreach (string raw in File.ReadLines(Path.Combine(SharedData.DataRoot, "uea", "GunPoint_TRAIN.ts")))
        {
            string line = raw.Trim();
            if (line.StartsWith("@data", StringComparison.OrdinalIgnoreCase)) { data = true; continue; }
            if (!data || line.Length == 0 || line.StartsWith('#')) continue;
            string[] parts = line.Split(':');
            rows.Add((parts[1] == "1" ? "gun" : "point", parts[0].Split(',')));
        }
        return rows;
    }

    private string Write(string name, IEnumerable<string> lines)
    {
        string path = Path.Combine(_work, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static CsvSettings Settings(string? label = null, bool? header = null) => new(header, null, label, []);

    [SkippableFact]
    public void CellsWithALoneCarriageReturnAreQuotedInTheCsvFilesTheToolWrites()
    {
        // predict's CSV quoted commas, quotes and '\n' but not a lone '\r' (an old Mac line end in a text input), which
        // spreadsheets read as a line break: the row split in two. The leaderboard's writer quoted it; both now share one rule.
        Assert.Equal("\"a\rb\"", CsvTable.QuoteCell("a\rb"));
        Assert.Equal("\"say \"\"hi\"\"\"", CsvTable.QuoteCell("say \"hi\""));
        Assert.Equal("\"1,5\"", CsvTable.QuoteCell("1,5"));
        Assert.Equal("plain", CsvTable.QuoteCell("plain"));
    }

    [SkippableFact]
    public void ATestSeriesALittleOutsideAVariableLengthTrainingRangeIsNotNamedButOneOfAnotherLengthIs()
    {
        // JapaneseVowels (7 to 26 steps in the training series): a 29-step test series drew the note that a series "cut short
        // or padded" predicts another series. With variable lengths only lengths beyond 1.5x of the range's ends are named;
        // a fixed-length model still names a series one step short.
        TrainingData Series(params int[] lengths) => new()
        {
            LabelColumn = "Label", Kind = DatasetKind.Series, View = new MLContext().Data.LoadFromEnumerable(new[] { new { X = 1f } }),
            Columns = [], Labels = [.. lengths.Select(_ => "a")], RowNames = [.. lengths.Select((_, i) => $"line {i + 1}")],
            RowValues = _ => new Dictionary<string, string>(), SeriesChannels = 12, SeriesLengths = lengths,
        };
        Assert.Null(ModelCommands.SeriesLengthNote([7, 26], Series(29, 5, 12)));
        Assert.Null(ModelCommands.SeriesLengthNote([7, 26], Series(39, 5)));
        string? far = ModelCommands.SeriesLengthNote([7, 26], Series(12, 40, 4));
        Assert.NotNull(far);
        Assert.StartsWith("2 of the 3 series have a length far outside the training series' (40 steps per channel in the first of them, line 2; " +
            "the training series had 7 to 26)", far, StringComparison.Ordinal);
        Assert.StartsWith("1 of the 1 series have a length the training series did not (149 steps",
            ModelCommands.SeriesLengthNote([150, 150], Series(149)), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void SeriesCsvWithTextClassesAndNoHeaderKeepsItsFirstRow()
    {
        var rows = GunPoint();
        string first = Write("first.csv", rows.Select(r => $"{r.Label},{string.Join(',', r.Values)}"));
        string last = Write("last.csv", rows.Select(r => $"{string.Join(',', r.Values)},{r.Label}"));

        TrainingData labelFirst = SeriesLoader.Load(new MLContext(0), first, Settings(), channels: 1);
        TrainingData labelLast = SeriesLoader.Load(new MLContext(0), last, Settings(label: "150"), channels: 1);

        foreach (TrainingData data in new[] { labelFirst, labelLast })
        {
            Assert.Equal(rows.Count, data.Count);
            Assert.Equal(rows.Select(r => r.Label), data.Labels);
            Assert.Equal("line 1", data.RowNames[0]);
            Assert.Equal(float.Parse(rows[0].Values[0], CultureInfo.InvariantCulture),
                float.Parse(data.RowValues(0)["Series"].Split(',')[0], CultureInfo.InvariantCulture));
        }
    }

    [SkippableFact]
    public void ASeriesCsvWithExcelsSepLineAndLinesOfSeparatorsKeepsOnlyItsSeries()
    {
        // A European spreadsheet export: "sep=;" first, ';' between cells, and lines of ';' only below the data.
        var rows = GunPoint().Take(30).ToList();
        string plain = Write("plain.csv", rows.Select(r => $"{r.Label};{string.Join(';', r.Values)}"));
        string export = Write("export.csv", ["sep=;", .. rows.Select(r => $"{r.Label};{string.Join(';', r.Values)}"), ";;;;", " ; ; "]);

        TrainingData expected = SeriesLoader.Load(new MLContext(0), plain, Settings(), channels: 1);
        TrainingData read = SeriesLoader.Load(new MLContext(0), export, Settings(), channels: 1);

        Assert.Equal(rows.Count, read.Count);
        Assert.Equal(expected.Labels, read.Labels);
        Assert.Equal("line 2", read.RowNames[0]);
        Assert.Equal(expected.RowValues(0)["Series"], read.RowValues(0)["Series"]);
        Assert.Equal(expected.RowValues(rows.Count - 1)["Series"], read.RowValues(rows.Count - 1)["Series"]);
    }

    [SkippableFact]
    public void ASeriesCsvWithItsNumericClassLastIsReadWithTheLabelLastWhenTrainingAndSaysSo()
    {
        // GunPoint with classes 1/2 after the 150 values, no header: its first step as the label made 50 classes.
        var rows = GunPoint().Select(r => (Label: r.Label == "gun" ? "1" : "2", r.Values)).ToList();
        string last = Write("numeric-last.csv", rows.Select((r, i) => $"{string.Join(',', r.Values)},{(i % 4 == 3 ? "" : r.Label)}"));

        TrainingData data = SeriesLoader.Load(new MLContext(0), last, Settings(), channels: 1, findLabel: true);

        Assert.Equal("150", data.SeriesLabelColumn);
        Assert.Equal(rows.Select((r, i) => i % 4 == 3 ? "" : r.Label), data.Labels);
        Assert.Equal(150, data.SeriesLengths![0]);
        Assert.Contains("The label is read from the last column (150): the first holds 50 distinct numbers in 50 rows, a measurement, and the last 2 classes. " +
            "Give --label-col 0", data.LabelNote, StringComparison.Ordinal);
        // Not for a file to score, nor when --label-col says where the label is, nor when the first column holds classes.
        Assert.Null(SeriesLoader.Load(new MLContext(0), last, Settings(), channels: 1).SeriesLabelColumn);
        Assert.Null(SeriesLoader.Load(new MLContext(0), last, Settings(label: "0"), channels: 1, findLabel: true).SeriesLabelColumn);
        string first = Write("numeric-first.csv", rows.Select(r => $"{r.Label},{string.Join(',', r.Values)}"));
        TrainingData labelFirst = SeriesLoader.Load(new MLContext(0), first, Settings(), channels: 1, findLabel: true);
        Assert.Null(labelFirst.SeriesLabelColumn);
        Assert.Equal(rows.Select(r => r.Label), labelFirst.Labels);
    }

    [SkippableFact]
    public void ChannelsWrittenOneAfterAnotherInRowsOfVaryingLengthAreNamedWithTheChannelsOption()
    {
        // A new user's JapaneseVowels CSV (12 channels of 7 to 26 steps, label first) trained without --channels read as
        // one channel of 84 to 312 values, each row's channels joined and resampled together, without a word. Here:
        // BasicMotions' 6 channels cut to 40 to 99 steps, written one after another after the class.
        string ts = Path.Combine(SharedData.DataRoot, "uea", "BasicMotions_TRAIN.ts");
        Skip.IfNot(File.Exists(ts), $"{ts} is not here");
        TsFile file = TsFile.Read(ts);
        string joined = Write("joined.csv", file.Series.Select((series, i) =>
        {
            int steps = 40 + (i * 7) % 60;
            var values = Enumerable.Range(0, file.Channels).SelectMany(c => series.Skip(c * 100).Take(steps));
            return $"{file.Labels[i]},{string.Join(',', values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}";
        }));

        TrainingData oneChannel = SeriesLoader.Load(new MLContext(0), joined, Settings(), channels: 1, findLabel: true);

        Assert.Equal(1, oneChannel.SeriesChannels);
        Assert.Contains("but every one is a multiple of 6", oneChannel.LabelNote ?? "", StringComparison.Ordinal);
        Assert.Contains("give --channels 6", oneChannel.LabelNote ?? "", StringComparison.Ordinal);
        // Read with its channels, nothing to say; nor for PLAID's univariate series of 100 to 1,344 steps.
        Assert.DoesNotContain("--channels", SeriesLoader.Load(new MLContext(0), joined, Settings(), channels: 6, findLabel: true).LabelNote ?? "",
            StringComparison.Ordinal);
        TsFile plaid = TsFile.Read(Path.Combine(SharedData.DataRoot, "uea", "PLAID_TRAIN.ts"));
        string univariate = Write("plaid.csv", plaid.Series.Select((series, i) =>
            $"{plaid.Labels[i]},{string.Join(',', series.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}"));
        Assert.DoesNotContain("--channels", SeriesLoader.Load(new MLContext(0), univariate, Settings(), channels: 1, findLabel: true).LabelNote ?? "",
            StringComparison.Ordinal);
    }

    [SkippableFact]
    public void PandasRowIndexBeforeTheSeriesIsLeftOutWithANote()
    {
        // GunPoint as df.to_csv() writes a shuffled frame: the unnamed index first (in any order), step names, 'label' last.
        var rows = GunPoint();
        var order = Enumerable.Range(0, rows.Count).Select(i => (i * 37) % rows.Count).ToArray();
        var header = "," + string.Join(',', Enumerable.Range(0, 150).Select(t => $"t{t}")) + ",label";
        string pandas = Write("pandas.csv", [header, .. rows.Select((r, i) => $"{order[i]},{string.Join(',', r.Values)},{r.Label}")]);
        string plain = Write("plain.csv", ["label," + string.Join(',', Enumerable.Range(0, 150).Select(t => $"t{t}")),
            .. rows.Select(r => $"{r.Label},{string.Join(',', r.Values)}")]);

        TrainingData expected = SeriesLoader.Load(new MLContext(0), plain, Settings(label: "label"), channels: 1);
        foreach (TrainingData actual in new[]
        {
            SeriesLoader.Load(new MLContext(0), pandas, Settings(), channels: 1, findLabel: true),
            SeriesLoader.Load(new MLContext(0), pandas, Settings(label: "label"), channels: 1),
        })
        {
            Assert.Equal(150, actual.SeriesLengths![0]);
            Assert.Equal(expected.Labels, actual.Labels);
            Assert.Equal(Enumerable.Range(0, rows.Count).Select(r => expected.RowValues(r)["Series"]), Enumerable.Range(0, rows.Count).Select(r => actual.RowValues(r)["Series"]));
            Assert.Contains("pandas gives its row index", actual.LabelNote, StringComparison.Ordinal);
        }
        // Label first after the index, numeric classes (",label,t0,..."): the default label column is the first after the index.
        var numeric = rows.Select(r => (Label: r.Label == "gun" ? "1" : "2", r.Values)).ToList();
        string labelFirst = Write("pandas-first.csv", [",label," + string.Join(',', Enumerable.Range(0, 150).Select(t => $"t{t}")),
            .. numeric.Select((r, i) => $"{order[i]},{r.Label},{string.Join(',', r.Values)}")]);
        TrainingData first = SeriesLoader.Load(new MLContext(0), labelFirst, Settings(), channels: 1, findLabel: true);
        Assert.Equal(numeric.Select(r => r.Label), first.Labels);
        Assert.Equal(150, first.SeriesLengths![0]);
        // Column numbers count after the index, in training and in files to score with or without it: the label-last
        // pandas file records column 150, which a file to score without the index has too.
        Assert.Equal("150", SeriesLoader.Load(new MLContext(0), pandas, Settings(), channels: 1, findLabel: true).SeriesLabelColumn);
        string withoutIndex = Write("no-index.csv", rows.Select(r => $"{string.Join(',', r.Values)},{r.Label}"));
        string unlabeledWithIndex = Write("index-only.csv", [header[..header.LastIndexOf(',')], .. rows.Select((r, i) => $"{i},{string.Join(',', r.Values)}")]);
        string[] classes = ["gun", "point"];
        Assert.True(SeriesLoader.HoldsLabelColumn(withoutIndex, Settings(), 150, classes, modelValues: 150));
        Assert.True(SeriesLoader.HoldsLabelColumn(pandas, Settings(), 150, classes, modelValues: 150));
        Assert.False(SeriesLoader.HoldsLabelColumn(unlabeledWithIndex, Settings(), 150, classes, modelValues: 150));
        Assert.Equal(expected.Labels, SeriesLoader.Load(new MLContext(0), withoutIndex, Settings(label: "150"), channels: 1).Labels);
        TrainingData toScore = SeriesLoader.Load(new MLContext(0), unlabeledWithIndex, Settings(label: SeriesLoader.NoLabelColumn), channels: 1);
        Assert.Equal(expected.RowValues(0)["Series"], toScore.RowValues(0)["Series"]);

        // A first column with a name is a measurement, even when it counts up.
        string named = Write("named.csv", ["step" + header,
            .. rows.Select((r, i) => $"{i},{string.Join(',', r.Values)},{r.Label}")]);
        Assert.Equal(151, SeriesLoader.Load(new MLContext(0), named, Settings(label: "label"), channels: 1).SeriesLengths![0]);
    }

    [SkippableFact]
    public void ASeriesCsvSeparatedBySemicolonsMayWriteDecimalCommas()
    {
        // GunPoint as a spreadsheet in much of Europe writes it: ';' between fields, a comma in each number.
        var rows = GunPoint();
        string points = Write("points.csv", rows.Select(r => $"{r.Label},{string.Join(',', r.Values)}"));
        string commas = Write("commas.csv", rows.Select(r => $"{r.Label};{string.Join(';', r.Values.Select(v => v.Replace('.', ',')))}"));

        TrainingData expected = SeriesLoader.Load(new MLContext(0), points, Settings(), channels: 1);
        TrainingData actual = SeriesLoader.Load(new MLContext(0), commas, Settings(), channels: 1, findLabel: true);

        Assert.Equal(expected.Labels, actual.Labels);
        Assert.Equal(Enumerable.Range(0, rows.Count).Select(r => expected.RowValues(r)["Series"]), Enumerable.Range(0, rows.Count).Select(r => actual.RowValues(r)["Series"]));
        // In a file separated by ',' a quoted "0,5" is no number, and the message says how to write it.
        string quoted = Write("quoted.csv", rows.Select(r => $"{r.Label},\"{r.Values[0].Replace('.', ',')}\",{string.Join(',', r.Values.Skip(1))}"));
        var error = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), quoted, Settings(), channels: 1));
        Assert.Contains("separate the values with ';' or a tab, and a decimal comma is read as such", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AHeaderThatRepeatsAColumnNameIsNamedWithTheNameTheModelGivesIt()
    {
        // "x" twice and "Size" / "size!" (the same name without case and punctuation): renamed x_2 and size_2 in silence.
        string csv = Write("repeated.csv", ["x,Size,x,size!,,label", .. Enumerable.Range(0, 20).Select(i => $"{i},{i % 3},{i * 2},{i % 5},{i % 4},{(i % 2 == 0 ? "a" : "b")}")]);
        TrainingData data = TableLoader.LoadForTraining(csv, Settings(label: "label"));
        Assert.Equal("repeated.csv: the header repeats column names 'x' (column 3, named x_2), 'size!' (column 4, named size_2) (names are compared " +
            "without case and punctuation); predict, evaluate and the generated code use these names.", data.RepeatedNameNote);
        string distinct = Write("distinct.csv", ["x,y,,label", .. Enumerable.Range(0, 20).Select(i => $"{i},{i % 3},{i % 4},{(i % 2 == 0 ? "a" : "b")}")]);
        Assert.Null(TableLoader.LoadForTraining(distinct, Settings(label: "label")).RepeatedNameNote);
    }

    [SkippableFact]
    public void NumericLabelsWrittenDifferentlyAreOneClassUnderTheirMostFrequentSpelling()
    {
        // GunPoint's classes 1 and 2, some written as pandas writes a float column ("1.0") or with more digits ("2.00").
        string[] classes = GunPoint().Select(r => r.Label == "gun" ? "1" : "2").ToArray();
        var rows = GunPoint().Select((r, i) => (Label: i % 5 == 0 ? classes[i] + ".0" : i % 7 == 0 && classes[i] == "2" ? "2.00" : classes[i], r.Values)).ToList();
        string series = Write("mixed.csv", rows.Select(r => $"{r.Label},{string.Join(',', r.Values)}"));
        TrainingData loaded = SeriesLoader.Load(new MLContext(0), series, Settings(), channels: 1);
        Assert.Equal(["1", "2"], loaded.Labels.Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(classes, loaded.Labels);
        Assert.Equal(["1", "2"], Microsoft.ML.Data.ColumnCursorExtensions.GetColumn<string>(loaded.View, "Label").Distinct().Order(StringComparer.Ordinal)); // what the model learns
        Assert.Contains("'1', '1.0' as '1'", loaded.LabelNote, StringComparison.Ordinal);

        // A table the same way; labels that are not numbers, and distinct numbers, stay as they are.
        string table = Write("mixed-table.csv", ["a,b,y", "1,2,3.0", "2,3,3", "3,4,3", "4,5,x", "5,6,4"]);
        TrainingData tabular = TableLoader.LoadForTraining(table, Settings(label: "y"));
        Assert.Equal(["3", "3", "3", "x", "4"], tabular.Labels);
        Assert.Null(CsvTable.UnifyNumericLabels(["1", "2", "cat", ""]).Note);
    }

    [SkippableFact]
    public void ClassLabelsInTwoUnicodeFormsAreOneClassInTablesTsFilesAndSeriesCsvs()
    {
        // GunPoint's classes named 'Zürich' and 'Genf'; every third 'Zürich' written decomposed ('u' and a combining
        // diaeresis, as macOS and some exports write it). The two look the same, but were learned as two classes
        // (3 classes where there are 2), as image folder names no longer are.
        string composed = "Z\u00fcrich", decomposed = composed.Normalize(System.Text.NormalizationForm.FormD);
        Assert.NotEqual(composed, decomposed);
        var rows = GunPoint().Select((r, i) => (Label: r.Label == "gun" ? (i % 3 == 0 ? decomposed : composed) : "Genf", r.Values)).ToList();
        Assert.Contains(rows, r => r.Label == decomposed);
        string[] expected = [.. rows.Select(r => r.Label == decomposed ? composed : r.Label)];

        string ts = Write("forms.ts", ["@problemName Forms", "@univariate true", "@equalLength true", "@seriesLength 150",
            $"@classLabel true {composed} Genf", "@data", .. rows.Select(r => $"{string.Join(',', r.Values)}:{r.Label}")]);
        string seriesCsv = Write("forms-series.csv", rows.Select(r => $"{r.Label},{string.Join(',', r.Values)}"));
        foreach (string series in new[] { ts, seriesCsv })
        {
            TrainingData loaded = SeriesLoader.Load(new MLContext(0), series, Settings(), channels: 1, findLabel: true);
            Assert.Equal(expected, loaded.Labels);
            Assert.Equal(2, loaded.ClassCounts().Count);
            // What the model learns its classes from.
            Assert.Equal(["Genf", composed], Microsoft.ML.Data.ColumnCursorExtensions.GetColumn<string>(loaded.View, "Label").Distinct().Order(StringComparer.Ordinal));
        }

        string table = Write("forms-table.csv", ["first,last,city", .. rows.Select(r => $"{r.Values[0]},{r.Values[^1]},{r.Label}")]);
        TrainingData tabular = TableLoader.LoadForTraining(table, Settings(label: "city"));
        Assert.Equal(expected, tabular.Labels);
        Assert.Equal(["Genf", composed], Microsoft.ML.Data.ColumnCursorExtensions.GetColumn<string>(tabular.View, tabular.LabelColumn).Distinct().Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public void ATableAlignedWithRunsOfBlanksIsReadAsItsCommaSeparatedOriginalAndTextWithSpacesKeepsItsSeparator()
    {
        // Banknote rows as the UCI and Statlog .data/.dat files lay tables out: columns aligned with runs of spaces (a
        // '?' for a missing value), and the same with a tab before the class. One space as the separator read every
        // alignment blank as an empty field ("line 3: 27 fields where line 1 has 26").
        string[][] cells = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv"))
            .Where(l => l.Length > 0).Take(80).Select(l => l.Split(',')).ToArray();
        cells[5][2] = "?";
        string csv = Write("banknote.csv", cells.Select(c => string.Join(',', c)));
        string aligned = Write("banknote.data", cells.Select(c => "  " + string.Concat(c.Take(4).Select(v => v.PadLeft(10))) + $"   {c[4]}  "));
        string tabbed = Write("banknote-tab.data", cells.Select(c => string.Join("   ", c.Take(4)) + $"\t{c[4]}"));
        TrainingData expected = TableLoader.LoadForTraining(csv, Settings(label: "4"));
        foreach (string path in new[] { aligned, tabbed })
        {
            TrainingData read = TableLoader.LoadForTraining(path, Settings(label: "4"));
            Assert.Equal(CsvTable.Blanks, read.Format!.Separator);
            Assert.Equal(expected.Labels, read.Labels);
            for (int row = 0; row < cells.Length; row++) Assert.Equal(expected.RowValues(row), read.RowValues(row));
            Assert.Contains("separator runs of blanks", read.SizeSummary[0], StringComparison.Ordinal);
        }
        // An aligned header whose names hold single spaces: its columns are apart by wider gaps, as the values are.
        string named = Write("banknote-named.data", cells.Select(c => "  " + string.Concat(c.Take(4).Select(v => v.PadLeft(10))) + $"   {c[4]}")
            .Prepend("  wavelet var  wavelet skew  wavelet kurt  image entropy   class"));
        TrainingData withHeader = TableLoader.LoadForTraining(named, Settings(label: "class"));
        Assert.Equal(expected.Labels, withHeader.Labels);
        Assert.Equal(["wavelet_var", "wavelet_skew", "wavelet_kurt", "image_entropy"], withHeader.Columns.Select(c => c.ColumnName));

        // Decimal commas in an aligned file are numbers, not separators; one ragged line is named by its line, not read as a
        // file of one column.
        string commas = Write("banknote-commas.data", cells.Select(c => string.Concat(c.Take(4).Select(v => v.Replace('.', ',').PadLeft(10))) + $"   {c[4]}"));
        TrainingData decimalCommas = TableLoader.LoadForTraining(commas, Settings(label: "4"));
        Assert.Equal(CsvTable.Blanks, decimalCommas.Format!.Separator);
        Assert.Equal(',', decimalCommas.Format.DecimalMarker);
        for (int row = 0; row < cells.Length; row++) Assert.Equal(expected.RowValues(row), decimalCommas.RowValues(row));
        string ragged = Write("banknote-ragged.data", cells.Select((c, i) => string.Concat(c.Take(i == 37 ? 3 : 4).Select(v => v.PadLeft(10))) + $"   {c[4]}"));
        Assert.Contains("line 38: 4 fields where line 1 has 5 (separator runs of blanks)",
            Assert.Throws<CliException>(() => TableLoader.LoadForTraining(ragged, Settings(label: "4"))).Message, StringComparison.Ordinal);

        // --separator space reads the same way.
        Assert.Equal(expected.Labels, TableLoader.LoadForTraining(aligned, new CsvSettings(null, DatasetReader.ParseSeparator("space"), "4", [])).Labels);

        // Tab-separated text with spaces inside cells (a date and time, a two-word place), and a CSV with a space after each
        // comma, keep their separators.
        string dated = Write("dated.tsv", Enumerable.Range(0, 30).Select(i => $"2020-01-{i % 28 + 1:00} 10:{i:00}:00\tNew York\t{i * 0.5}\t{(i % 2 == 0 ? "a" : "b")}"));
        Assert.Equal('\t', CsvTable.Read(dated, Settings(label: "3")).Separator);
        string spaced = Write("spaced.csv", Enumerable.Range(0, 30).Select(i => $"{i * 0.5}, {i % 7}, {(i % 2 == 0 ? "a" : "b")}"));
        Assert.Equal(',', CsvTable.Read(spaced, Settings(label: "2")).Separator);
        string wholeNumbers = Write("whole.csv", Enumerable.Range(0, 30).Select(i => $"{i}, {i % 7}, {i % 2}"));
        Assert.Equal(',', CsvTable.Read(wholeNumbers, Settings(label: "2")).Separator);
        // Numbers written with a space inside a tab-separated cell ("1 100", "1000 700") are not aligned columns.
        string thousands = Write("thousands.tsv", Enumerable.Range(0, 30).Select(i => $"{i} {100 + i}\t{i % 3}\t{(i % 2 == 0 ? "a" : "b")}"));
        Assert.Equal('\t', CsvTable.Read(thousands, Settings(label: "2")).Separator);

        // An aligned file whose quoted text holds a comma: a comma split every line evenly, inside the quotes only.
        string quoted = Write("quoted.data", Enumerable.Range(0, 30).Select(i => $"{i * 0.5,6}  {i % 7,3}  \"{(i % 2 == 0 ? "a, 0" : "b, 1")}\""));
        CsvTable table = CsvTable.Read(quoted, Settings(label: "2"));
        Assert.Equal(CsvTable.Blanks, table.Separator);
        Assert.Equal(["0", "0", "a, 0"], table.Rows[0]);
    }

    [SkippableFact]
    public void WorkbooksParquetCompressedArffAndJsonFilesAreNamedForWhatTheyAre()
    {
        // Read as text they gave "--label-col 'class' is not a column; the columns are: 0:PK..." or a ragged-line error.
        string Bytes(string name, byte[] content) { string path = Path.Combine(_work, name); File.WriteAllBytes(path, content); return path; }
        string Message(string path, string task = "classification") =>
            Assert.Throws<CliException>(() => DatasetReader.CheckPath(task, path)).Message;
        byte[] zip = [0x50, 0x4B, 0x03, 0x04, 20, 0, 0, 0, 8, 0];
        Assert.Contains("a spreadsheet workbook, not a CSV", Message(Bytes("sheet.xlsx", zip)), StringComparison.Ordinal);
        Assert.Contains("a zip archive", Message(Bytes("data.zip", zip)), StringComparison.Ordinal);
        Assert.Contains("Excel 97-2003", Message(Bytes("old.xls", [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0])), StringComparison.Ordinal);
        Assert.Contains("a Parquet file", Message(Bytes("t.parquet", "PAR1\0\0"u8.ToArray())), StringComparison.Ordinal);
        Assert.Contains("gzip-compressed", Message(Bytes("t.csv.gz", [0x1F, 0x8B, 8, 0])), StringComparison.Ordinal);
        string arff = Write("t.arff", ["% Weka", "@RELATION abalone", "@ATTRIBUTE length NUMERIC", "@ATTRIBUTE class {old,young}", "@DATA", "0.4,old"]);
        Assert.Contains("a Weka ARFF file, not a CSV", Message(arff), StringComparison.Ordinal);
        Assert.Contains("give the .ts file", Message(arff, "series-classification"), StringComparison.Ordinal);
        Assert.Contains("a JSON file", Message(Write("t.json", ["[{\"a\": 1}]"])), StringComparison.Ordinal);
        // Text files of the formats read stay accepted: a CSV, a .ts file, a CSV whose first cell holds a brace.
        DatasetReader.CheckPath("classification", Write("plain.csv", ["a,b", "1,2"]));
        DatasetReader.CheckPath("series-classification", Path.Combine(SharedData.DataRoot, "uea", "GunPoint_TRAIN.ts"));
        DatasetReader.CheckPath("classification", Write("braces.csv", ["{x},b", "1,2"]));
    }

    [SkippableFact]
    public void ALabelAtTheOtherEndIsFoundButAValuesOnlyFileKeepsItsLastStep()
    {
        // GunPoint's 150 steps; the model (trained label-first) reads 150 values per row.
        var rows = GunPoint().Take(20).ToList();
        string[] numeric = rows.Select(r => r.Label == "gun" ? "1" : "2").ToArray();
        string wordsLast = Write("words-last.csv", rows.Select(r => $"{string.Join(',', r.Values)},{r.Label}"));
        string numbersLast = Write("numbers-last.csv", rows.Select((r, i) => $"{string.Join(',', r.Values)},{numeric[i]}.0"));
        // Values only, whose last step happens to be a class (a 1/2 state series): no label there.
        string valuesOnly = Write("values-only.csv", rows.Select((r, i) => $"{string.Join(',', r.Values.Take(149))},{numeric[i]}"));

        static int? Find(string path, string[] classes, int modelValues) =>
            SeriesLoader.LabelAtOtherEnd(path, Settings(), 0, classes, MlNetSsl.Cli.Data.ClassLabels.Matcher(classes), modelValues);
        Assert.Equal(150, Find(wordsLast, ["gun", "point"], 150));
        Assert.Equal(150, Find(numbersLast, ["1", "2"], 150)); // "1.0" is class 1
        Assert.Null(Find(valuesOnly, ["1", "2"], 150));
        // Word classes on a model of another length (trained on resampled series): still found.
        Assert.Equal(150, Find(wordsLast, ["gun", "point"], 74));
        Assert.Null(Find(wordsLast, ["walking", "running"], 150));

        // A model trained label-last on 60 steps (it recorded column 60) scoring these 150-step rows: the label is in
        // column 150, the same end; it was looked for in column 0 only, and evaluate refused the file.
        static int? FindFrom(int recorded, string path, string[] classes, int modelValues) =>
            SeriesLoader.LabelAtOtherEnd(path, Settings(), recorded, classes, MlNetSsl.Cli.Data.ClassLabels.Matcher(classes), modelValues);
        Assert.Equal(150, FindFrom(60, wordsLast, ["gun", "point"], 60));
        Assert.Null(FindFrom(60, numbersLast, ["1", "2"], 60)); // numeric classes look like values at another length
        string wordsFirst = Write("words-first.csv", rows.Select(r => $"{r.Label},{string.Join(',', r.Values)}"));
        Assert.Equal(0, FindFrom(60, wordsFirst, ["gun", "point"], 60));
        Assert.Null(FindFrom(150, wordsLast, ["gun", "point"], 60)); // the recorded index itself is ReadLabelColumn's
    }

    [SkippableFact]
    public void InfiniteSeriesValuesTimestampedAndRegressionTsFilesAreRefusedNamingTheLine()
    {
        var rows = GunPoint().Take(10).ToList();
        string infinite = Write("inf.csv", rows.Select((r, i) => $"{r.Label},{(i == 3 ? "1e40" : r.Values[0])},{string.Join(',', r.Values.Skip(1))}"));
        var error = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), infinite, Settings(), channels: 1));
        Assert.Contains("line 4: '1e40' is infinite", error.Message, StringComparison.Ordinal);

        string stamped = Write("stamped.ts", ["@problemName x", "@timeStamps true", "@classLabel true 1 2", "@data", "(0,1.0),(1,2.0),(2,3.0),(3,4.0):1"]);
        error = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), stamped, Settings(), channels: 1));
        Assert.Contains("line 2: '@timeStamps true'", error.Message, StringComparison.Ordinal);

        // A class the header does not declare is learned, and said.
        string undeclared = Write("undeclared.ts", ["@problemName z", "@classLabel true 1 2", "@data", "1,2,3,4,5:1", "2,3,4,5,6:2", "3,4,5,6,7:3"]);
        TrainingData loaded = SeriesLoader.Load(new MLContext(0), undeclared, Settings(), channels: 1);
        Assert.Equal(["1", "2", "3"], loaded.Labels);
        Assert.Contains("class(es) '3' (line 6) are not in its @classLabel list (1 2)", loaded.LabelNote, StringComparison.Ordinal);
        Assert.Null(SeriesLoader.Load(new MLContext(0), Path.Combine(SharedData.DataRoot, "uea", "GunPoint_TRAIN.ts"), Settings(), channels: 1).LabelNote);

        string regression = Write("regression.ts", ["@problemName y", "@targetlabel true", "@data", "1,2,3,4,5:1.464", "2,3,4,5,6:2.349"]);
        error = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), regression, Settings(), channels: 1));
        Assert.Contains("line 2: '@targetLabel true' marks a regression file", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void SeriesCsvHeaderIsStillFound()
    {
        var rows = GunPoint();
        string[] data = rows.Select(r => $"{r.Label},{string.Join(',', r.Values)}").ToArray();
        string named = Write("named.csv", [$"class,{string.Join(',', Enumerable.Range(0, 150).Select(i => $"t{i}"))}", .. data]);
        string numbered = Write("numbered.csv", [$"class,{string.Join(',', Enumerable.Range(1, 150))}", .. data]);

        foreach (string path in new[] { named, numbered })
        {
            TrainingData loaded = SeriesLoader.Load(new MLContext(0), path, Settings(), channels: 1);
            Assert.Equal(rows.Count, loaded.Count);
            Assert.DoesNotContain("class", loaded.Labels);
            Assert.Equal("line 2", loaded.RowNames[0]);
        }
    }

    [SkippableFact]
    public void AFirstRowWhoseClassHasOneLabelIsDataNotAHeader()
    {
        // One labeled series per class, the rest unlabeled: the first line's class is never seen again in its column,
        // as a header's name is not, but the numbers beside it are readings, not step numbers.
        var rows = GunPoint().Take(30).ToList();
        var seen = new HashSet<string>();
        string path = Write("one-label.csv", rows.Select(r => $"{(seen.Add(r.Label) ? r.Label : "")},{string.Join(',', r.Values)}"));

        TrainingData loaded = SeriesLoader.Load(new MLContext(0), path, Settings(), channels: 1);

        Assert.Equal(30, loaded.Count);
        Assert.Equal("line 1", loaded.RowNames[0]);
        Assert.Equal(rows[0].Label, loaded.Labels[0]);
        Assert.Equal(2, loaded.ClassCounts().Count);
    }

    [SkippableFact]
    public void ASemicolonInAClassDoesNotMakeItTheSeparator()
    {
        // Classes with a ';' ("gun; drawn"), the first line labeled: the file is still comma-separated.
        var rows = GunPoint();
        string path = Write("semicolon-class.csv", rows.Select(r => $"{r.Label}; drawn,{string.Join(',', r.Values)}"));
        TrainingData loaded = SeriesLoader.Load(new MLContext(0), path, Settings(), channels: 1);
        Assert.Equal(rows.Count, loaded.Count);
        Assert.Equal(rows.Select(r => $"{r.Label}; drawn"), loaded.Labels);
        Assert.All(loaded.SeriesLengths!, l => Assert.Equal(150, l));
        // A ';'-separated file with decimal commas still reads ';' (and its decimal commas as such).
        Assert.Equal(';', SeriesLoader.DetectSeparator(rows.Select(r => $"{r.Label};{string.Join(';', r.Values.Select(v => v.Replace('.', ',')))}")));
        Assert.Equal('\t', SeriesLoader.DetectSeparator(rows.Select(r => $"{r.Label}\t{string.Join('\t', r.Values)}")));
    }

    [SkippableFact]
    public void SeriesCsvWithTheClassInAnotherColumnNamesTheOptionToGive()
    {
        var rows = GunPoint();
        string last = Write("last.csv", rows.Select(r => $"{string.Join(',', r.Values)},{r.Label}"));

        var error = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), last, Settings(), channels: 1));

        Assert.Contains("line 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("--label-col 150", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void TsFileWithoutClassLabelsKeepsEveryChannel()
    {
        // BasicMotions (6 channels) with "@classLabel false" and the class removed from each line, as files to predict are.
        var lines = new List<string>();
        foreach (string line in File.ReadLines(Path.Combine(SharedData.DataRoot, "uea", "BasicMotions_TEST.ts")))
        {
            if (line.StartsWith("@classLabel", StringComparison.OrdinalIgnoreCase)) lines.Add("@classLabel false");
            else if (line.StartsWith('@') || line.StartsWith('#') || line.Trim().Length == 0) lines.Add(line);
            else lines.Add(line[..line.LastIndexOf(':')]);
        }
        string path = Write("unlabeled.ts", lines);

        TrainingData data = SeriesLoader.Load(new MLContext(0), path, Settings(), channels: 1);

        Assert.Equal(6, data.SeriesChannels);
        Assert.Equal(40, data.Count);
        Assert.All(data.Labels, l => Assert.Equal("", l));
        Assert.All(data.SeriesLengths!, l => Assert.Equal(100, l));
    }

    [SkippableFact]
    public void MissingCellsOfAMultichannelSeriesCsvAreFilledWithinTheirChannel()
    {
        // BasicMotions (6 channels x 100 steps) as CSV, the class first. Line 1 misses its very last value (an empty cell at
        // the end of the line), line 2 the first value of channel 1: each takes a value of its own channel, and neither
        // line is taken for a shorter series.
        var rows = new List<(string Label, string[] Values)>();
        bool data = false;
        foreach (string raw in File.ReadLines(Path.Combine(SharedData.DataRoot, "uea", "BasicMotions_TEST.ts")))
        {
            string line = raw.Trim();
            if (line.StartsWith("@data", StringComparison.OrdinalIgnoreCase)) { data = true; continue; }
            if (!data || line.Length == 0) continue;
            string[] parts = line.Split(':');
            rows.Add((parts[^1], parts[..^1].SelectMany(c => c.Split(',')).ToArray()));
        }
        string[] first = (string[])rows[0].Values.Clone(), second = (string[])rows[1].Values.Clone();
        first[^1] = "";
        second[100] = "";
        string path = Write("motions.csv", rows.Select((r, i) => $"{r.Label},{string.Join(',', i == 0 ? first : i == 1 ? second : r.Values)}"));

        TrainingData loaded = SeriesLoader.Load(new MLContext(0), path, Settings(), channels: 6);

        Assert.Equal(rows.Count, loaded.Count);
        Assert.All(loaded.SeriesLengths!, l => Assert.Equal(100, l));
        float[] Values(int row) => loaded.RowValues(row)["Series"].Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        static float Parse(string cell) => float.Parse(cell, CultureInfo.InvariantCulture);
        Assert.Equal(Parse(rows[0].Values[598]), Values(0)[599]);
        Assert.Equal(Parse(rows[1].Values[101]), Values(1)[100]);
        Assert.Equal(Parse(rows[1].Values[99]), Values(1)[99]);
        // The run says how many values were filled, and where the first is.
        Assert.Equal("2 missing value(s) (empty, '?', NA or NaN) in 2 series (the first on line 1) take the value before them in their channel " +
            "(the channel's first known value at its start), as the model does for a series it scores.", loaded.FilledNote);
        // A '?' and a NaN more on line 4 (one series), as a .ts file would hold them: counted alike.
        string[] fourth = (string[])rows[3].Values.Clone();
        fourth[10] = "?";
        fourth[20] = "NaN";
        File.WriteAllLines(path, rows.Select((r, i) => $"{r.Label},{string.Join(',', i == 0 ? first : i == 1 ? second : i == 3 ? fourth : r.Values)}"));
        Assert.StartsWith("4 missing value(s) (empty, '?', NA or NaN) in 3 series (the first on line 1)",
            SeriesLoader.Load(new MLContext(0), path, Settings(), channels: 6).FilledNote, StringComparison.Ordinal);
        Assert.Null(SeriesLoader.Load(new MLContext(0), Write("whole.csv", rows.Select(r => $"{r.Label},{string.Join(',', r.Values)}")), Settings(), channels: 6).FilledNote);
    }

    [SkippableFact]
    public void AFewSeriesOfAnotherLengthAmongEqualOnesAreNamed()
    {
        // GunPoint as CSV: line 6 lost 3 values, line 8 has 2 more; the other 48 series have 150 steps.
        var rows = GunPoint();
        string path = Write("odd.csv", rows.Select((r, i) => $"{r.Label},{string.Join(',', i == 5 ? r.Values[..^3] : i == 7 ? [.. r.Values, "0.1", "0.2"] : r.Values)}"));
        Assert.Equal($"{path}: every series has 150 steps per channel but 2: line 6 (147), line 8 (152); check those lines for a stray or lost value " +
            "(they are resampled with the others).", SeriesLoader.Load(new MLContext(0), path, Settings(), channels: 1).LabelNote);
        // A variable-length file (lengths spread out) is not one with a few odd lines.
        path = Write("variable.csv", rows.Select((r, i) => $"{r.Label},{string.Join(',', r.Values[..(100 + i)])}"));
        Assert.Null(SeriesLoader.Load(new MLContext(0), path, Settings(), channels: 1).LabelNote);
    }

    [SkippableFact]
    public void ATsHeaderThatContradictsItsLinesIsPointedOutAndTheLinesDecide()
    {
        // The shared archives' headers agree with their lines: nothing said.
        foreach (string file in Directory.GetFiles(Path.Combine(SharedData.DataRoot, "uea"), "*.ts"))
            Assert.Null(SeriesLoader.Load(new MLContext(0), file, Settings(), channels: 1).LabelNote);

        // GunPoint's lines (1 channel, 150 steps) under headers that say otherwise.
        string[] lines = File.ReadAllLines(Path.Combine(SharedData.DataRoot, "uea", "GunPoint_TRAIN.ts"));
        string[] data = lines.SkipWhile(l => !l.StartsWith("@data", StringComparison.OrdinalIgnoreCase)).ToArray();
        string With(string name, params string[] header) => Write(name, [.. header, .. data]);
        string? Note(string path) => SeriesLoader.Load(new MLContext(0), path, Settings(), channels: 1).LabelNote;

        Assert.Contains("the header says @univariate false, but the lines hold 1 channel(s)", Note(With("multi.ts", "@univariate false", "@dimensions 6")), StringComparison.Ordinal);
        Assert.Contains("the header says @seriesLength 99, but the series have 150 steps", Note(With("length.ts", "@equalLength true", "@seriesLength 99")), StringComparison.Ordinal);
        Assert.Contains("header line(s) '@univarite' (line 1) are not .ts directives", Note(With("typo.ts", "@univarite true", "@seriesLength 150")), StringComparison.Ordinal);
        TrainingData read = SeriesLoader.Load(new MLContext(0), With("read.ts", "@univariate false", "@dimensions 6"), Settings(), channels: 1);
        Assert.Equal(1, read.SeriesChannels);
        Assert.All(read.SeriesLengths!, l => Assert.Equal(150, l));
    }

    [SkippableFact]
    public void ASeriesFileToScoreIsReadWholeWhenItLacksTheTrainingLabelColumn()
    {
        var rows = GunPoint();
        string steps = string.Join(',', Enumerable.Range(0, 150).Select(t => $"t{t}"));
        string named = Write("named.csv", [$"gesture,{steps}", .. rows.Select(r => $"{r.Label},{string.Join(',', r.Values)}")]);
        string stepsOnly = Write("steps.csv", [steps, .. rows.Select(r => string.Join(',', r.Values))]);
        Assert.True(SeriesLoader.HoldsNamedColumn(named, Settings(), "gesture"));
        Assert.False(SeriesLoader.HoldsNamedColumn(stepsOnly, Settings(), "gesture"));

        // Whole-number readings with numeric classes "1" and "2": many value-only rows start with 1 or 2.
        string[] Rounded((string Label, string[] Values) r) =>
            r.Values.Select(v => (Math.Round(2 * double.Parse(v, CultureInfo.InvariantCulture)) + 3).ToString(CultureInfo.InvariantCulture)).ToArray();
        string labeled = Write("counts.csv", rows.Select(r => $"{(r.Label == "gun" ? 1 : 2)},{string.Join(',', Rounded(r))}"));
        string valuesOnly = Write("counts-values.csv", rows.Select(r => string.Join(',', Rounded(r))));
        Assert.Contains(rows, r => Rounded(r)[0] is "1" or "2");
        Assert.True(SeriesLoader.HoldsLabelColumn(labeled, Settings(), 0, ["1", "2"], modelValues: 150));
        Assert.False(SeriesLoader.HoldsLabelColumn(valuesOnly, Settings(), 0, ["1", "2"], modelValues: 150));
    }

    [SkippableFact]
    public void AUcrTsvToScoreHoldsItsLabelWhenTheModelSpellsItsClassesOtherwiseOrSomeAreUnseen()
    {
        // A model trained on old UCR labels ("1.0000000e+00") scores UCR 2018 .tsv rows (label "1", tab, 150 values): one
        // cell that was not a class as written made the whole file values only, its label read as the first step.
        var rows = GunPoint().Select(r => (Label: r.Label == "gun" ? "1" : "2", r.Values)).ToList();
        string tsv = Write("GunPoint_TEST.tsv", rows.Select(r => $"{r.Label}\t{string.Join('\t', r.Values)}"));
        // Every 10th label a class the model never saw.
        string unseen = Write("GunPoint_TEST_unseen3.tsv", rows.Select((r, i) => $"{(i % 10 == 9 ? "3" : r.Label)}\t{string.Join('\t', r.Values)}"));
        string[] scientific = ["1.0000000e+00", "2.0000000e+00"];

        var (holds, note) = SeriesLoader.ReadLabelColumn(tsv, Settings(), 0, scientific, modelValues: 150);
        Assert.True(holds);
        Assert.Contains("column 0 is read as the label, not as a step of each series: every row holds 151 cells, one more than the model's 150", note, StringComparison.Ordinal);
        Assert.Matches(@"match the model's classes by value \('[12]', '[12]'\)", note);
        foreach (string[] classes in new[] { scientific, ["1", "2"] })
        {
            (holds, note) = SeriesLoader.ReadLabelColumn(unseen, Settings(), 0, classes, modelValues: 150);
            Assert.True(holds);
            Assert.Contains("5 row(s) hold a class the model never saw ('3')", note, StringComparison.Ordinal);
        }
        // The classes as written, and a plain width: nothing to say.
        Assert.Equal((true, (string?)null), SeriesLoader.ReadLabelColumn(tsv, Settings(), 0, ["1", "2"], modelValues: 150));
        // Without the model's length (no resampling step), by value alone.
        Assert.True(SeriesLoader.HoldsLabelColumn(tsv, Settings(), 0, scientific));

        // One value more than the model's per row, but a measurement there (series a step longer): kept as a step, said.
        string longer = Write("longer.tsv", rows.Select(r => $"{r.Values[0]}\t{string.Join('\t', r.Values)}"));
        (holds, note) = SeriesLoader.ReadLabelColumn(longer, Settings(), 0, scientific, modelValues: 150);
        Assert.False(holds);
        Assert.Contains("column 0 is read as a step of each series, not as the label", note, StringComparison.Ordinal);
        Assert.Contains("give --label-col 0", note, StringComparison.Ordinal);
        // No label in any row (an empty first cell): unlabeled rows, not a missing first step.
        string unlabeled = Write("unlabeled.tsv", rows.Select(r => $"\t{string.Join('\t', r.Values)}"));
        Assert.Equal((true, (string?)null), SeriesLoader.ReadLabelColumn(unlabeled, Settings(), 0, scientific, modelValues: 150));
        // Values only: the model's 150 values per row, nothing said unless the column holds nothing but classes.
        string values = Write("values.tsv", rows.Select(r => string.Join('\t', r.Values)));
        Assert.Equal((false, (string?)null), SeriesLoader.ReadLabelColumn(values, Settings(), 0, scientific, modelValues: 150));
        string classLike = Write("class-like.tsv", rows.Select(r => $"{r.Label}\t{string.Join('\t', r.Values.Skip(1))}"));
        (holds, note) = SeriesLoader.ReadLabelColumn(classLike, Settings(), 0, scientific, modelValues: 150);
        Assert.False(holds);
        Assert.Contains("every row holds 150 cells, the model's values per row", note, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AClassWrittenLastOnSeriesOfDifferentLengthsIsRefusedWithAFixThatWorks()
    {
        // PLAID written as a .ts line is (values, then the class) but as a CSV: the class sits in column 500 on line 1 and
        // 544 on line 3. The error told the user to give --label-col 500, then --label-col 544: neither reads the file.
        TrainingData ts = SeriesLoader.Load(new MLContext(0), Path.Combine(SharedData.DataRoot, "uea", "PLAID_TRAIN.ts"), Settings(), channels: 1);
        var lines = Enumerable.Range(0, 40).Select(r => $"{ts.RowValues(r)["Series"]},appliance{ts.Labels[r]}").ToList();
        string last = Write("plaid-class-last.csv", lines);
        int line1 = lines[0].Split(',').Length - 1;
        string message = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), last, Settings(), channels: 1, findLabel: true)).Message;
        Assert.Contains($"line 1: the last cell, column {line1}, holds 'appliance{ts.Labels[0]}', not a number, and the lines differ in length", message, StringComparison.Ordinal);
        Assert.Contains("Put the class first on each line", message, StringComparison.Ordinal);
        Assert.DoesNotContain("give --label-col", message, StringComparison.Ordinal);
        message = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), last, Settings(label: line1.ToString(CultureInfo.InvariantCulture)), channels: 1)).Message;
        Assert.Contains("a class written last is in another column on each line", message, StringComparison.Ordinal);
        // The fix the message gives reads it.
        string first = Write("plaid-class-first.csv", Enumerable.Range(0, 40).Select(r => $"appliance{ts.Labels[r]},{ts.RowValues(r)["Series"]}"));
        TrainingData read = SeriesLoader.Load(new MLContext(0), first, Settings(), channels: 1, findLabel: true);
        Assert.Equal(ts.SeriesLengths!.Take(40), read.SeriesLengths);
        // Equal lengths keep the plain message, whose --label-col then works.
        string equal = Write("gun-word-inside.csv", GunPoint().Take(12).Select(r => $"{r.Label},{string.Join(',', r.Values.Take(10))},oops,{string.Join(',', r.Values.Skip(11))}"));
        Assert.Contains("If column 11 holds the class, give --label-col 11.",
            Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), equal, Settings(), channels: 1)).Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ARowIdBesideTheLabelOfASeriesCsvIsNamedAsOneAndNotOfferedAsTheLabel()
    {
        // "s001,point,-0.64,..." with --label-col 1: the error said "If column 0 holds the class, give --label-col 0", which
        // made 50 classes of one row each; the id has to leave the file (series CSVs take no --ignore-cols).
        var rows = GunPoint().Take(20).ToList();
        string withId = Write("gun-id.csv", rows.Select((r, i) => $"s{i + 1:D3},{r.Label},{string.Join(',', r.Values)}"));
        string message = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), withId, Settings(label: "1"), channels: 1)).Message;
        Assert.Contains("line 1: column 0 holds 's001', not a number, and another text on every line", message, StringComparison.Ordinal);
        Assert.Contains("remove that column from the file", message, StringComparison.Ordinal);
        Assert.DoesNotContain("give --label-col 0", message, StringComparison.Ordinal);
        // Without --label-col the label column (a class on many rows) is offered as before.
        Assert.Contains("If column 1 holds the class, give --label-col 1.",
            Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), withId, Settings(), channels: 1)).Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void OneTextCellAmongASeriesValuesIsNamedAsATypoNotAsARowIdColumn()
    {
        // GunPoint with 'abc' typed over one value on line 7: the other lines hold distinct numbers in that column, which
        // counted as "another text on every line", so the error told the user to remove a column of the series.
        var rows = GunPoint().Take(20).ToList();
        string typo = Write("gun-typo.csv", rows.Select((r, i) =>
            $"{r.Label},{string.Join(',', r.Values.Select((v, j) => i == 6 && j == 4 ? "abc" : v))}"));
        string message = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), typo, Settings(), channels: 1, findLabel: true)).Message;
        Assert.Contains("line 7: column 5 holds 'abc', not a number, and the label column is 0", message, StringComparison.Ordinal);
        Assert.Contains("series values must be numbers", message, StringComparison.Ordinal);
        Assert.DoesNotContain("another text on every line", message, StringComparison.Ordinal);
        Assert.DoesNotContain("remove that column", message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void NumbersThatAllCarryADecimalCommaBetweenSemicolonsAreNotSplitAtTheirCommas()
    {
        // Every value with a decimal comma, ';' between them and no header: each line splits at its commas into one field
        // more than at its ';', so ',' won the separator detection. A table of banknote measurements (class in words last)
        // trained as 44 classes such as '00;' from text columns, and predict on a series file of values only (the label
        // column left out) failed with "column 1 holds '021696;0', not a number".
        string[][] cells = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv"))
            .Where(l => l.Length > 0).Select(l => l.Split(',')).Where(c => c.Take(4).All(v => v.Contains('.', StringComparison.Ordinal))).Take(80).ToArray();
        string[] Words(string[] c) => [.. c.Take(4), c[4] == "0" ? "genuine" : "forged"];
        TrainingData expected = TableLoader.LoadForTraining(Write("banknote-words.csv", cells.Select(c => string.Join(',', Words(c)))), Settings(label: "4"));
        string european = Write("banknote-eu.csv", cells.Select(c => string.Join(';', Words(c).Select(v => v.Replace('.', ',')))));
        TrainingData read = TableLoader.LoadForTraining(european, Settings(label: "4"));
        Assert.Equal(';', read.Format!.Separator);
        Assert.Equal(',', read.Format.DecimalMarker);
        Assert.All(read.Columns, c => Assert.Equal(InputColumnKind.Number, c.Kind));
        Assert.Equal(expected.Labels, read.Labels);
        for (int row = 0; row < cells.Length; row++) Assert.Equal(expected.RowValues(row), read.RowValues(row));

        // A series file of values only, as predict and embed take it.
        var rows = GunPoint();
        Assert.Equal(';', SeriesLoader.DetectSeparator(rows.Select(r => string.Join(';', r.Values.Select(v => v.Replace('.', ','))))));
        Assert.Equal('\t', SeriesLoader.DetectSeparator(rows.Select(r => string.Join('\t', r.Values.Select(v => v.Replace('.', ','))))));
        // Comma-separated files stay so: decimal points, and a class that holds a ';'.
        Assert.Equal(',', SeriesLoader.DetectSeparator(rows.Select(r => string.Join(',', r.Values))));
        Assert.Equal(',', SeriesLoader.DetectSeparator(rows.Select(r => $"{r.Label}; drawn,{string.Join(',', r.Values)}")));
    }

    [SkippableFact]
    public void TheNanPaddingOfAUcr2018TsvEndsEachSeriesAsEmptyCellsDo()
    {
        // PLAID (variable length) as the UCR 2018 archive writes it: label first, tab, each row padded with NaN to the
        // longest. The padding was filled as missing values, every series becoming 1,344 steps long.
        TrainingData ts = SeriesLoader.Load(new MLContext(0), Path.Combine(SharedData.DataRoot, "uea", "PLAID_TRAIN.ts"), Settings(), channels: 1);
        string[][] values = Enumerable.Range(0, ts.Count).Select(r => ts.RowValues(r)["Series"].Split(',')).ToArray();
        int longest = values.Max(v => v.Length);
        Assert.True(ts.SeriesLengths!.Distinct().Count() > 1);
        string Padded(string name, string marker) => Write(name, values.Select((v, r) =>
            $"{ts.Labels[r]}\t{string.Join('\t', v.Concat(Enumerable.Repeat(r % 2 == 0 ? marker : marker.ToLowerInvariant(), longest - v.Length)))}"));

        foreach (string marker in new[] { "NaN", "" })
        {
            TrainingData tsv = SeriesLoader.Load(new MLContext(0), Padded($"PLAID_TRAIN_{marker.Length}.tsv", marker), Settings(), channels: 1, findLabel: true);
            Assert.Equal(ts.Labels, tsv.Labels);
            Assert.Equal(ts.SeriesLengths, tsv.SeriesLengths);
            Assert.Equal(Enumerable.Range(0, ts.Count).Select(r => ts.RowValues(r)["Series"]), Enumerable.Range(0, ts.Count).Select(r => tsv.RowValues(r)["Series"]));
            Assert.Null(tsv.FilledNote);
            if (marker.Length == 0) Assert.Null(tsv.PaddingNote);
            else Assert.Contains($"{values.Count(v => v.Length < longest)} row(s) end in missing values", tsv.PaddingNote, StringComparison.Ordinal);
        }
        // A NaN inside a series is still a missing value, filled from the one before it.
        string inside = Write("inside.tsv", values.Take(5).Select((v, r) => $"{ts.Labels[r]}\tNaN\t{string.Join('\t', v.Skip(1))}"));
        TrainingData filled = SeriesLoader.Load(new MLContext(0), inside, Settings(), channels: 1);
        Assert.Equal(ts.SeriesLengths!.Take(5), filled.SeriesLengths);
        Assert.Contains("5 missing value(s)", filled.FilledNote, StringComparison.Ordinal);
        // Several channels: as with empty cells, only the cells that complete the last channel's last step are read, as missing values.
        var gun = GunPoint().Take(10).ToList();
        string Channels(string name, string marker) => Write(name, gun.Select(r => $"{r.Label},{string.Join(',', r.Values.Take(149))},{marker}"));
        TrainingData nan = SeriesLoader.Load(new MLContext(0), Channels("two-nan.csv", "NaN"), Settings(), channels: 2);
        TrainingData empty = SeriesLoader.Load(new MLContext(0), Channels("two-empty.csv", ""), Settings(), channels: 2);
        Assert.Equal(empty.SeriesLengths, nan.SeriesLengths);
        Assert.Equal(empty.RowValues(0)["Series"], nan.RowValues(0)["Series"]);
        Assert.Contains("with 2 channels only the last channel ends there", nan.PaddingNote, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AnOldUcrTxtFileSeparatedByRunsOfBlanksIsReadLabelFirst()
    {
        // GunPoint as the old UCR archive wrote it: blanks before the label, values after runs of blanks, all in scientific
        // notation. Read as one cell per line ("0 values"), or with --separator ' ' as an empty label and missing values.
        var rows = GunPoint().Select(r => (Label: r.Label == "gun" ? 1.0 : 2.0, Values: r.Values.Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray())).ToList();
        static string Sci(double v) => v.ToString("0.0000000e+00", CultureInfo.InvariantCulture);
        string txt = Write("GunPoint_TRAIN.txt", rows.Select(r => "   " + Sci(r.Label) + string.Concat(r.Values.Select(v => "  " + Sci(v)))));
        string noLead = Write("GunPoint_TRAIN_noLead.txt", rows.Select(r => Sci(r.Label) + string.Concat(r.Values.Select(v => "  " + Sci(v))) + " "));
        string csv = Write("GunPoint_TRAIN_sci.csv", rows.Select(r => Sci(r.Label) + string.Concat(r.Values.Select(v => "," + Sci(v)))));
        TrainingData expected = SeriesLoader.Load(new MLContext(0), csv, Settings(), channels: 1, findLabel: true);

        foreach (var (path, separator) in new[] { (txt, (string?)null), (noLead, null), (txt, " "), (txt, "space"), (noLead, "whitespace") })
        {
            CsvSettings settings = new(null, DatasetReader.ParseSeparator(separator), null, []);
            TrainingData read = SeriesLoader.Load(new MLContext(0), path, settings, channels: 1, findLabel: true);
            Assert.Null(read.SeriesLabelColumn); // the label first, as UCR writes it
            Assert.Equal(["1.0000000e+00", "2.0000000e+00"], read.Labels.Distinct().Order(StringComparer.Ordinal));
            Assert.Equal(expected.Labels, read.Labels);
            Assert.All(read.SeriesLengths!, l => Assert.Equal(150, l));
            Assert.Null(read.FilledNote);
            Assert.Equal(Enumerable.Range(0, rows.Count).Select(r => expected.RowValues(r)["Series"]), Enumerable.Range(0, rows.Count).Select(r => read.RowValues(r)["Series"]));
            // The run's "Read as" line says so.
            Assert.Equal("separator runs of blanks, header no, label column 0 (the first)", read.SeriesFormat);
        }
        Assert.Equal("separator ',', header no, label column 0 (the first)", expected.SeriesFormat);
        // Files to score find the label the same way.
        Assert.True(SeriesLoader.HoldsLabelColumn(txt, Settings(), 0, ["1.0000000e+00", "2.0000000e+00"], modelValues: 150));
        // A file with commas keeps its separator, though its cells hold blanks.
        Assert.Equal(',', SeriesLoader.DetectSeparator(["walking fast, 1, 2, 3", "running, 4, 5, 6"]));
        Assert.Null(DatasetReader.SeparatorProblem("whitespace"));
    }

    [SkippableFact]
    public void SeriesLayoutsTheToolDoesNotReadFailWithWhatToDo()
    {
        var rows = GunPoint().Take(20).ToList();
        // One line per time step (id, time, value, label): read as 3-step series, the id would predict the label.
        string longLayout = Write("long.csv", ["id,time,value,label",
            .. rows.SelectMany((r, i) => r.Values.Select((v, t) => $"{i},{t},{v},{r.Label}"))]);
        var error = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), longLayout, Settings(label: "label"), channels: 1));
        Assert.Contains("one line per time step", error.Message, StringComparison.Ordinal);
        // Series that are one per line but only 3 steps long (GunPoint every 50th step): the same error, which then also says
        // what to do with such a file instead of only asking for one series per line, as it already is.
        string shortSeries = Write("short.csv", rows.Select(r => $"{r.Label},{string.Join(',', r.Values.Where((_, t) => t % 50 == 0))}"));
        error = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), shortSeries, Settings(), channels: 1));
        Assert.Contains("3 value(s) per channel are too few", error.Message, StringComparison.Ordinal);
        Assert.Contains("'mlnet-ssl classification'", error.Message, StringComparison.Ordinal);
        // A folder of one file per series.
        string folder = Path.Combine(_work, "series-folder", "gun");
        Directory.CreateDirectory(folder);
        File.WriteAllLines(Path.Combine(folder, "s0.csv"), rows[0].Values);
        error = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), Path.GetDirectoryName(folder)!, Settings(), channels: 1));
        Assert.Contains("a folder", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not found", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ClassCodesNumberedFromZeroOrOneAreNotCalledAQuantity()
    {
        // The UCR archive numbers its classes 1..N (FiftyWords 50, Adiac 37, PigCVP 52): GunPoint's 50 series under 25
        // codes, written as the old .txt files and the 2018 .tsv files write them, were warned about as "a quantity to
        // predict" and told to bin the values into ranges.
        var rows = GunPoint();
        string Codes(string name, Func<int, string> code) =>
            Write(name, rows.Select((r, i) => $"{code(i)},{string.Join(',', r.Values)}"));
        string? Warning(string path) => MlNetSsl.Cli.Run.TrainingRun.RegressionLikeLabel(
            SeriesLoader.Load(new MLContext(0), path, Settings(), channels: 1, findLabel: true));

        Assert.Null(Warning(Codes("codes.txt", i => (i / 2 + 1).ToString("0.0000000e+00", CultureInfo.InvariantCulture))));
        Assert.Null(Warning(Codes("codes-from-0.csv", i => (i / 2).ToString(CultureInfo.InvariantCulture))));
        // 50 codes, a row each, some of them with no labeled row left (as when most labels are hidden): still codes.
        Assert.Null(Warning(Codes("codes-some.csv", i => i % 7 == 3 ? "" : (i + 1).ToString(CultureInfo.InvariantCulture))));
        // Whole numbers that do not start at 0 or 1 (ages 20 to 44), or that spread far beyond their count, still look
        // like a quantity.
        Assert.Contains("like a quantity to predict", Warning(Codes("ages.csv", i => (20 + i / 2).ToString(CultureInfo.InvariantCulture))), StringComparison.Ordinal);
        Assert.Contains("like a quantity to predict", Warning(Codes("spread.csv", i => (1 + i / 2 * 7).ToString(CultureInfo.InvariantCulture))), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ANumericLabelWithManyValuesIsCalledOutAsRegressionLike()
    {
        // Wine quality: alcohol (column 10, many distinct decimals) is a quantity; quality (column 11, 3..9) is a class.
        string wine = Path.Combine(SharedData.DataRoot, "tabular", "winequality-white.csv");

        string? alcohol = MlNetSsl.Cli.Run.TrainingRun.RegressionLikeLabel(TableLoader.LoadForTraining(wine, Settings(label: "10")));
        string? quality = MlNetSsl.Cli.Run.TrainingRun.RegressionLikeLabel(TableLoader.LoadForTraining(wine, Settings(label: "11")));

        Assert.NotNull(alcohol);
        // Counted by value: "10" and "10.0" are one label (one class).
        int distinct = File.ReadLines(wine).Where(l => l.Length > 0).Select(l => double.Parse(l.Split(',')[10], CultureInfo.InvariantCulture)).Distinct().Count();
        Assert.Contains($"{distinct} distinct numbers", alcohol, StringComparison.Ordinal);
        Assert.Contains("bin the values", alcohol, StringComparison.Ordinal);
        Assert.Null(quality);
    }

    [SkippableFact]
    public void RecordedCommandLineQuotesArgumentsAShellWouldSplit()
    {
        string line = TrainingCommands.RecordedCommandLine(
            ["classification", "--dataset", "data/bank notes.csv", "--label-col", "class label", "--name", "Bank", "--storage", "Host=db;Password=x", "--separator", ";"]);

        Assert.Equal("mlnet-ssl classification --dataset 'data/bank notes.csv' --label-col 'class label' --name Bank --storage <connection string> --separator ';'", line);
        Assert.Equal("mlnet-ssl classification --label-col 'it'\\''s'", TrainingCommands.RecordedCommandLine(["classification", "--label-col", "it's"]));
    }
}
