using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Cli.CodeGen;
using MlNetSsl.Cli.Commands;
using MlNetSsl.Cli.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// Tables as users export them (spreadsheets, UCI/Kaggle files): quoted cells with separators and line breaks, a BOM and
/// Windows line endings, missing values written in several ways, text columns. Every row keeps its values, and what the
/// tool writes about a row (the generated example) is what the model reads.
/// </summary>
public sealed class CliHeterogeneousTableTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mlnetssl-cli-hetero-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>The first <paramref name="count"/> abalone rows (sex, 7 measurements, rings).</summary>
    private static string[][] Abalone(int count) =>
        File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "abalone.csv")).Where(l => l.Length > 0).Take(count).Select(l => l.Split(',')).ToArray();

    private static CsvSettings Settings(string label) => new(null, null, label, []);

    [SkippableFact]
    public void QuotedCellsMayHoldSeparatorsQuotesAndLineBreaks()
    {
        string[][] rows = Abalone(120);
        // A spreadsheet export: BOM, CRLF, a free-text column whose cells hold commas, quotes and (every 7th) a line break.
        var text = new StringBuilder("\uFEFFsex,length,diameter,note,rings\r\n");
        var notes = new List<string>();
        for (int i = 0; i < rows.Length; i++)
        {
            string note = i % 7 == 0 ? $"line one, row {i}\r\nline \"two\"" : $"row {i}, fine";
            notes.Add(note);
            text.Append($"{rows[i][0]},{rows[i][1]},{rows[i][2]},\"{note.Replace("\"", "\"\"")}\",{rows[i][8]}\r\n");
        }
        string path = Path.Combine(_work, "notes.csv");
        File.WriteAllText(path, text.ToString(), new UTF8Encoding(false));

        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));

        Assert.Equal(rows.Length, data.Count);
        Assert.Equal(rows.Select(r => r[8]), data.Labels);
        Assert.Equal(notes, Enumerable.Range(0, rows.Length).Select(r => data.RowValues(r)["note"]));
        Assert.Equal(rows[1][1], data.RowValues(1)["length"]);
        // Row names are the line each record starts on: the header is line 1 and every 7th record takes two lines.
        Assert.Equal("line 2", data.RowNames[0]);
        Assert.Equal("line 4", data.RowNames[1]);
        Assert.Equal($"line {2 + rows.Length - 1 + Enumerable.Range(0, rows.Length - 1).Count(i => i % 7 == 0)}", data.RowNames[^1]);
    }

    [SkippableFact]
    public void NumbersWithDigitGroupSeparatorsAreNamedAsTheReasonAColumnIsText()
    {
        // Whole weights in grams, as a spreadsheet exports them with its thousands format: "1,234" quoted.
        string[][] rows = Abalone(60);
        string Grams(string kilograms) => (float.Parse(kilograms, CultureInfo.InvariantCulture) * 10000).ToString("#,##0.0", CultureInfo.InvariantCulture);
        string path = Path.Combine(_work, "grouped.csv");
        File.WriteAllLines(path, ["sex,length,weight,rings", .. rows.Select(r => $"{r[0]},{r[1]},\"{Grams(r[4])}\",{r[8]}")]);
        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));
        string first = Grams(rows.First(r => float.Parse(r[4], CultureInfo.InvariantCulture) * 10000 >= 1000)[4]);
        Assert.Single(data.GroupedNumberTextColumns);
        Assert.StartsWith($"'weight' (such as '{first}', line ", data.GroupedNumberTextColumns[0], StringComparison.Ordinal);
        Assert.Empty(data.MostlyNumericTextColumns);

        // Decimal commas with dots between the groups ("12.345,6"), separated by semicolons.
        File.WriteAllLines(path, ["sex;length;weight;rings", .. rows.Select(r => $"{r[0]};{r[1].Replace('.', ',')};{Grams(r[4]).Replace(",", "_").Replace('.', ',').Replace('_', '.')};{r[8]}")]);
        Assert.Single(TableLoader.LoadForTraining(path, Settings("rings")).GroupedNumberTextColumns);

        // Codes with commas that are not digit groups ("12,3456"), and words: no such note.
        File.WriteAllLines(path, ["sex,length,code,rings", .. rows.Select((r, i) => $"{r[0]},{r[1]},\"{i + 10},{i:0000}\",{r[8]}")]);
        Assert.Empty(TableLoader.LoadForTraining(path, Settings("rings")).GroupedNumberTextColumns);
    }

    [SkippableFact]
    public void NumbersWithAPercentOrCurrencySignAreNamedAsTheReasonAColumnIsText()
    {
        // Spreadsheet exports of a percentage and a price: "12.5%" and "$1,204.50" were read as text without a word.
        string[][] rows = Abalone(60);
        string path = Path.Combine(_work, "units.csv");
        string Price(string[] r) => (float.Parse(r[4], CultureInfo.InvariantCulture) * 3000).ToString("$#,##0.00", CultureInfo.InvariantCulture);
        File.WriteAllLines(path, ["sex,length,share,price,rings", .. rows.Select((r, i) =>
            $"{r[0]},{r[1]},{(float.Parse(r[2], CultureInfo.InvariantCulture) * 100).ToString("0.0", CultureInfo.InvariantCulture)}%,\"{(i == 3 ? "" : Price(r))}\",{r[8]}")]);
        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));
        Assert.Equal(2, data.UnitNumberTextColumns.Count);
        Assert.StartsWith("'share' (such as '", data.UnitNumberTextColumns[0], StringComparison.Ordinal);
        Assert.EndsWith("%', line 2)", data.UnitNumberTextColumns[0], StringComparison.Ordinal);
        Assert.Equal($"'price' (such as '{Price(rows[0])}', line 2)", data.UnitNumberTextColumns[1]);
        Assert.Empty(data.GroupedNumberTextColumns);

        // Euros after a decimal comma, separated by semicolons.
        File.WriteAllLines(path, ["sex;length;price;rings", .. rows.Select(r => $"{r[0]};{r[1].Replace('.', ',')};{r[4].Replace('.', ',')} €;{r[8]}")]);
        Assert.Single(TableLoader.LoadForTraining(path, Settings("rings")).UnitNumberTextColumns);

        // Words, a lone '%' and a code such as "A12%x": no such note; plain numbers stay numbers.
        File.WriteAllLines(path, ["sex,code,mark,rings", .. rows.Select((r, i) => $"{r[0]},A{i}%x,{(i % 2 == 0 ? "%" : "5%")},{r[8]}")]);
        Assert.Empty(TableLoader.LoadForTraining(path, Settings("rings")).UnitNumberTextColumns);
    }

    [SkippableFact]
    public void DateColumnsAreNamedAsTextAModelCannotCarryToLaterDates()
    {
        // A sales table's date column: read as text it is one category (or hashed word) per day, which nothing learned
        // carries over to later dates, and which blocks export-onnx once hashed; the run names it.
        string[][] rows = Abalone(60);
        var start = new DateTime(2024, 1, 30, 9, 15, 0, DateTimeKind.Unspecified);
        string path = Path.Combine(_work, "dates.csv");
        // Two rows a day, so the column is not every row's own value (an identifier, left out by that rule).
        File.WriteAllLines(path, ["sex,length,sold on,rings", .. rows.Select((r, i) => $"{r[0]},{r[1]},{start.AddDays(i / 2):yyyy-MM-dd},{r[8]}")]);
        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));
        Assert.Equal(["'sold on' (such as '2024-01-30', line 2)"], data.DateTextColumns);
        Assert.Empty(data.MostlyNumericTextColumns);

        // Date-times (US, with a time), European dates with dots, and ISO date-times with a T: named too.
        foreach (string format in new[] { "M/d/yyyy h:mm tt", "dd.MM.yyyy", "yyyy-MM-dd'T'HH:mm:ss" })
        {
            File.WriteAllLines(path, ["sex,length,sold on,rings", .. rows.Select((r, i) => $"{r[0]},{r[1]},{start.AddHours(7 * (i / 2)).ToString(format, CultureInfo.InvariantCulture)},{r[8]}")]);
            Assert.Single(TableLoader.LoadForTraining(path, Settings("rings")).DateTextColumns);
        }

        // A different date on every row reads as a row identifier and is left out; it is named as dates, not as a code.
        File.WriteAllLines(path, ["sex,length,sold on,rings", .. rows.Select((r, i) => $"{r[0]},{r[1]},{start.AddDays(i):yyyy-MM-dd},{r[8]}")]);
        TrainingData daily = TableLoader.LoadForTraining(path, Settings("rings"));
        Assert.Equal(["sold on"], daily.IdentifierColumns);
        Assert.True(daily.IdentifiersLeftOut);
        Assert.Equal(["'sold on' (such as '2024-01-30', line 2)"], daily.IdentifierDateColumns);
        Assert.Empty(daily.DateTextColumns);

        // Words, ranges such as "3-4" and one cell that is not a date: no such note.
        File.WriteAllLines(path, ["sex,range,sold on,rings", .. rows.Select((r, i) => $"{r[0]},{i % 5}-{i % 5 + 1},{(i == 7 ? "unknown" : start.AddDays(i / 2).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))},{r[8]}")]);
        Assert.Empty(TableLoader.LoadForTraining(path, Settings("rings")).DateTextColumns);
    }

    [SkippableFact]
    public void MissingNumbersAreCountedPerColumnForTheRunToSay()
    {
        // Breast-cancer-wisconsin's 13 '?' cells were filled without a word; series runs count theirs.
        string[][] rows = Abalone(40);
        string path = Path.Combine(_work, "holes.csv");
        File.WriteAllLines(path, ["sex,length,diameter,height,rings",
            .. rows.Select((r, i) => $"{r[0]},{(i % 10 == 0 ? "?" : r[1])},{(i % 4 == 1 ? "" : i == 2 ? "NA" : r[2])},{r[3]},{r[8]}")]);

        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));
        Assert.Equal("15 missing number(s) in 2 column(s) ('length' 4, 'diameter' 11) are filled with their column's mean, " +
            "in training and when the model scores.", data.FilledNote);
        File.WriteAllLines(path, ["sex,length,rings", .. rows.Select(r => $"{r[0]},{r[1]},{r[8]}")]);
        Assert.Null(TableLoader.LoadForTraining(path, Settings("rings")).FilledNote);
    }

    [SkippableFact]
    public void RowNumbersAndCodesAreNamedAsLikelyIdentifiersAndOrdinaryColumnsAreNot()
    {
        string[][] rows = Abalone(60);
        // id: 101, 102, ... (a row number); code: one distinct word per row; even: distinct whole numbers, not in order;
        // note: distinct free text (spaces); sex and length: the real columns, with repeats.
        string path = Path.Combine(_work, "ids.csv");
        int[] evens = [.. Enumerable.Range(0, rows.Length).Select(i => 2 * i)];
        new Random(5).Shuffle(evens);
        File.WriteAllLines(path, ["id,code,even,note,sex,length,rings",
            .. rows.Select((r, i) => $"{101 + i},P-{i:00000},{evens[i]},row {i} fine,{r[0]},{r[1]},{r[8]}")]);

        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));
        Assert.Equal(["id", "code"], data.IdentifierColumns);
        // Left out of the inputs, as --ignore-cols would; --keep-cols keeps one.
        Assert.True(data.IdentifiersLeftOut);
        Assert.Equal(["even", "note", "sex", "length"], data.Columns.Select(c => c.ColumnName));
        data = TableLoader.LoadForTraining(path, Settings("rings") with { KeepColumns = ["code"] });
        Assert.Equal(["id"], data.IdentifierColumns);
        Assert.Equal(["code", "even", "note", "sex", "length"], data.Columns.Select(c => c.ColumnName));
        // When identifiers are all there is, they stay (and are still named).
        data = TableLoader.LoadForTraining(path, Settings("rings") with { IgnoreColumns = ["even", "note", "sex", "length"] });
        Assert.False(data.IdentifiersLeftOut);
        Assert.Equal(["id", "code"], data.Columns.Select(c => c.ColumnName));

        // Distinct whole numbers in shuffled order are an identifier only under an identifier's name.
        int[] shuffled = [.. Enumerable.Range(1, rows.Length)];
        new Random(3).Shuffle(shuffled);
        File.WriteAllLines(path, ["PassengerId,Paid,sex,length,rings", .. rows.Select((r, i) => $"{shuffled[i]},{shuffled[i] * 3},{r[0]},{r[1]},{r[8]}")]);
        Assert.Equal(["PassengerId"], TableLoader.LoadForTraining(path, Settings("rings")).IdentifierColumns);
        // A database key: rising in file order with the gaps of deleted rows (or falling), under any name.
        File.WriteAllLines(path, ["ref,sex,length,rings", .. rows.Select((r, i) => $"{5000 + 2 * i + (i % 3 == 0 ? 1 : 0)},{r[0]},{r[1]},{r[8]}")]);
        Assert.Equal(["ref"], TableLoader.LoadForTraining(path, Settings("rings")).IdentifierColumns);
        File.WriteAllLines(path, ["ref,sex,length,rings", .. rows.Select((r, i) => $"{5000 - 2 * i - (i % 3 == 0 ? 1 : 0)},{r[0]},{r[1]},{r[8]}")]);
        Assert.Equal(["ref"], TableLoader.LoadForTraining(path, Settings("rings")).IdentifierColumns);
        // Under 20 rows nothing is called an identifier (every column of a tiny table is mostly distinct).
        File.WriteAllLines(path, ["id,code,sex,length,rings", .. rows.Take(19).Select((r, i) => $"{101 + i},P-{i:00000},{r[0]},{r[1]},{r[8]}")]);
        Assert.Empty(TableLoader.LoadForTraining(path, Settings("rings")).IdentifierColumns);
        // A repeated or missing value: not an identifier.
        File.WriteAllLines(path, ["id,sex,length,rings", .. rows.Select((r, i) => $"{(i == 30 ? "" : (101 + i).ToString())},{r[0]},{r[1]},{r[8]}")]);
        Assert.Empty(TableLoader.LoadForTraining(path, Settings("rings")).IdentifierColumns);
    }

    [SkippableFact]
    public void ColumnListsInNotesStopAtTen()
    {
        // MNIST as a table: 150 of its 784 pixel columns are 0 in every row; the note names ten and counts the rest.
        var columns = Enumerable.Range(0, 150).Select(i => $"'pixel{i}'").ToList();
        Assert.Equal(string.Join(", ", columns.Take(10)) + " and 140 more", MlNetSsl.Cli.Run.TrainingRun.FirstTen(columns, ", "));
        Assert.Equal("'a'; 'b'", MlNetSsl.Cli.Run.TrainingRun.FirstTen(["'a'", "'b'"], "; "));
    }

    [SkippableTheory]
    [InlineData("id", true)]
    [InlineData("ID", true)]
    [InlineData("PassengerId", true)]
    [InlineData("customerID", true)]
    [InlineData("customer_id", true)]
    [InlineData("row index", true)]
    [InlineData("Unnamed: 0", true)]
    [InlineData("", true)]
    [InlineData("Paid", false)]
    [InlineData("valid", false)]
    [InlineData("Idle", false)]
    [InlineData("width", false)]
    public void IdentifierNamesAreTheLastWordIdOrIndex(string header, bool identifier) =>
        Assert.Equal(identifier, TableLoader.IsIdentifierName(header));

    [SkippableFact]
    public void ANumberColumnWithAFewWordsIsNamedWithThoseWordsAndTheirLines()
    {
        string[][] rows = Abalone(60);
        // length: numbers but '-' on two lines and 'unknown' on one; half: half words; sex: words only.
        string path = Path.Combine(_work, "mostly.csv");
        File.WriteAllLines(path, ["sex,length,half,rings",
            .. rows.Select((r, i) => $"{r[0]},{(i is 4 or 30 ? "-" : i == 9 ? "unknown" : r[1])},{(i % 2 == 0 ? r[2] : "w" + i)},{r[8]}")]);

        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));

        Assert.Equal(["'length' (57 numbers and 3 other values: '-' (lines 6, 32), 'unknown' (line 11))"], data.MostlyNumericTextColumns);
        Assert.Equal(InputColumnKind.Text, data.Columns.Single(c => c.ColumnName == "length").Kind);
        Assert.Contains("3 text: 'sex', 'length', 'half')", data.SizeSummary[0], StringComparison.Ordinal);
        // The same column with those cells left empty is read as numbers, and nothing is said.
        File.WriteAllLines(path, ["sex,length,rings", .. rows.Select((r, i) => $"{r[0]},{(i is 4 or 30 or 9 ? "" : r[1])},{r[8]}")]);
        data = TableLoader.LoadForTraining(path, Settings("rings"));
        Assert.Empty(data.MostlyNumericTextColumns);
        Assert.Equal(InputColumnKind.Number, data.Columns.Single(c => c.ColumnName == "length").Kind);
    }

    [SkippableFact]
    public void AHeaderOfNumbersReadAsDataIsPointedOutWhenTheLabelIsGivenByIndex()
    {
        string[][] rows = Abalone(40);
        // A header of years around a text label name: every cell but one is a number, so the line reads as data.
        string path = Path.Combine(_work, "years.csv");
        File.WriteAllLines(path, ["2019,2020,outcome", .. rows.Select(r => $"{r[1]},{r[2]},{(int.Parse(r[8]) >= 10 ? "old" : "young")}")]);

        TrainingData data = TableLoader.LoadForTraining(path, Settings("2"));

        Assert.Equal(41, data.Count);
        Assert.Equal("Line 1 was read as data (its cells look like data), and its label 'outcome' is a class no other line has; " +
            "if that line is a header, give --has-header true.", data.LabelNote);
        // Said to be a header: read as one, no note.
        Assert.Null(TableLoader.LoadForTraining(path, Settings("2") with { HasHeader = true }).LabelNote);
        // A first line whose class other lines share is data.
        File.WriteAllLines(path, rows.Select(r => $"{r[1]},{r[2]},{(int.Parse(r[8]) >= 10 ? "old" : "young")}"));
        Assert.Null(TableLoader.LoadForTraining(path, Settings("2")).LabelNote);
    }

    [SkippableFact]
    public void ColumnsWithOneValueOrNoneAreNamedAndColumnsThatVaryAreNot()
    {
        string[][] rows = Abalone(40);
        // unit: one word everywhere; seven: 7 written three ways, with gaps; empty: no value at all; sex, length: real columns;
        // rare: one value but a second in a single row (varies, so not named).
        string path = Path.Combine(_work, "constants.csv");
        File.WriteAllLines(path, ["unit,seven,empty,sex,length,rare,rings",
            .. rows.Select((r, i) => $"kg,{(i % 3 == 0 ? "7" : i % 3 == 1 ? "7.0" : "")},{(i % 2 == 0 ? "" : "NA")},{r[0]},{r[1]},{(i == 17 ? "b" : "a")},{r[8]}")]);

        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));

        Assert.Equal(["'unit' (kg in every row that has a value)", "'seven' (7 in every row that has a value)", "'empty' (empty in every row)"],
            data.ConstantColumns);
        // They stay inputs: the model's input columns are the file's.
        Assert.Equal(["unit", "seven", "empty", "sex", "length", "rare"], data.Columns.Select(c => c.ColumnName));
        // A label column with one value is the label's business (another message), not an input's.
        File.WriteAllLines(path, ["sex,length,rings", .. rows.Select(r => $"{r[0]},{r[1]},{r[8]}")]);
        Assert.Empty(TableLoader.LoadForTraining(path, Settings("rings")).ConstantColumns);
    }

    [SkippableFact]
    public void ASeparatorEndingEveryLineIsNotAColumnAndAFileWithoutItScoresTheSameModel()
    {
        string[][] rows = Abalone(30);
        string trailing = Path.Combine(_work, "trailing.csv");
        File.WriteAllLines(trailing, ["sex,length,diameter,rings,", .. rows.Select(r => $"{r[0]},{r[1]},{r[2]},{r[8]},")]);
        string plain = Path.Combine(_work, "plain.csv");
        File.WriteAllLines(plain, ["sex,length,diameter,rings", .. rows.Select(r => $"{r[0]},{r[1]},{r[2]},{r[8]}")]);

        TrainingData data = TableLoader.LoadForTraining(trailing, Settings("rings"));

        Assert.Equal(["sex", "length", "diameter"], data.Columns.Select(c => c.ColumnName));
        Assert.Equal(rows.Select(r => r[8]), data.Labels);
        var modelInput = new MLContext(0).Transforms.DropColumns(data.LabelColumn).Fit(data.View).Transform(data.View).Schema;
        Assert.Equal(data.View.GetColumn<float>("length"), TableLoader.LoadForModel(plain, modelInput, Settings("rings")).View.GetColumn<float>("length"));
        // A last column that holds values somewhere is a column, even when its header is empty.
        File.WriteAllLines(trailing, ["sex,length,rings,", .. rows.Select((r, i) => $"{r[0]},{r[1]},{r[8]},{(i == 5 ? "1" : "")}")]);
        Assert.Equal(3, TableLoader.LoadForTraining(trailing, Settings("rings")).Columns.Count);
    }

    [SkippableFact]
    public void AQuoteInsideAnUnquotedCellIsAnOrdinaryCharacter()
    {
        string[][] rows = Abalone(30);
        string path = Path.Combine(_work, "inches.csv");
        File.WriteAllLines(path, ["sex,length,pipe,rings", .. rows.Select((r, i) => $"{r[0]},{r[1]},{(i == 3 ? "12\" pipe" : "none")},{r[8]}")]);

        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));

        Assert.Equal(rows.Length, data.Count);
        Assert.Equal("12\" pipe", data.RowValues(3)["pipe"]);
        Assert.Equal(rows.Select(r => r[8]), data.Labels);
    }

    [SkippableFact]
    public void AQuoteLeftOpenNamesTheLineItStartsOn()
    {
        string[][] rows = Abalone(30);
        string path = Path.Combine(_work, "open.csv");
        File.WriteAllLines(path, ["sex,length,note,rings", .. rows.Select((r, i) => $"{r[0]},{r[1]},{(i == 10 ? "\"never closed" : "ok")},{r[8]}")]);

        var error = Assert.Throws<CliException>(() => TableLoader.LoadForTraining(path, Settings("rings")));

        Assert.Contains("line 12", error.Message, StringComparison.Ordinal);
        Assert.Contains("not closed", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void MissingCellsOfTheExampleRowReachTheGeneratedCodeAsTheModelReadsThem()
    {
        // The generated program predicts the first labeled row; its missing cells are written NA and null here.
        string[][] rows = Abalone(40);
        string path = Path.Combine(_work, "na.csv");
        File.WriteAllLines(path, ["sex,length,diameter,rings", .. rows.Select((r, i) => i == 0 ? $"null,NA,N/A,{r[8]}" : $"{r[0]},{r[1]},{r[2]},{r[8]}")]);
        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));
        var example = data.RowValues(0);
        Assert.Equal("", example["sex"]);
        Assert.Equal("", example["length"]);
        Assert.Equal(float.NaN, data.View.GetColumn<float>("length").First());
        Assert.Equal("", data.View.GetColumn<ReadOnlyMemory<char>>("sex").First().ToString());

        string run = Path.Combine(_work, "run");
        var schema = new ModelInputSchema("classification", data.Columns, ["7", "9", "10"], 0, example.ToDictionary(), data.Labels[0]);
        ConsumptionCodeGenerator.Generate(run, "Abalone", schema);

        string program = File.ReadAllText(Path.Combine(run, "Abalone.ConsoleApp", "Program.cs"));
        Assert.Contains("Length = float.NaN,", program, StringComparison.Ordinal);
        Assert.Contains("Sex = \"\",", program, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AColumnThatIsNotThereIsNamedWithTheWaysToReachIt()
    {
        string[][] rows = Abalone(30);
        // A header with a comma inside quotes: --ignore-cols splits its list on commas, so "Area, mm" arrives in two parts.
        string comma = Path.Combine(_work, "comma.csv");
        File.WriteAllLines(comma, ["sex,\"length, mm\",rings", .. rows.Select(r => $"{r[0]},{r[1]},{r[8]}")]);
        var split = Assert.Throws<CliException>(() => TableLoader.LoadForTraining(comma, new CsvSettings(null, null, "rings", ["length", " mm"])));
        Assert.Contains("the columns are: 0:sex, 1:length, mm (length__mm), 2:rings.", split.Message, StringComparison.Ordinal);
        Assert.Contains("--ignore-cols splits its list on commas: name a column whose header holds a comma by its index or by the name in brackets.",
            split.Message, StringComparison.Ordinal);
        Assert.Equal(["sex"], TableLoader.LoadForTraining(comma, new CsvSettings(null, null, "rings", ["length__mm"])).Columns.Select(c => c.ColumnName));

        // A ';' file read with --separator ',': one column, and the message says which separator its lines hold.
        string semicolons = Path.Combine(_work, "semicolons.csv");
        File.WriteAllLines(semicolons, ["sex;length;rings", .. rows.Select(r => $"{r[0]};{r[1]};{r[8]}")]);
        var wrong = Assert.Throws<CliException>(() => TableLoader.LoadForTraining(semicolons, new CsvSettings(null, ',', "rings", [])));
        Assert.Contains("The file was read as one column with the separator ','; its lines hold ';': give --separator ';'.", wrong.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void LinesOfSeparatorsARepeatedHeaderAndExcelsSepLineAreNotRows()
    {
        string[][] rows = Abalone(40);
        string plain = Path.Combine(_work, "plain.csv");
        File.WriteAllLines(plain, ["sex;length;diameter;rings", .. rows.Select(r => $"{r[0]};{r[1]};{r[2]};{r[8]}")]);
        // Excel's "sep=;" line first, the header repeated at line 23 (two exports joined), lines of separators only at
        // the end (as spreadsheets write below a formatted range).
        string messy = Path.Combine(_work, "messy.csv");
        File.WriteAllLines(messy, ["sep=;", "sex;length;diameter;rings", .. rows.Take(20).Select(r => $"{r[0]};{r[1]};{r[2]};{r[8]}"),
            "sex;length;diameter;rings", .. rows.Skip(20).Select(r => $"{r[0]};{r[1]};{r[2]};{r[8]}"), ";;;", " ; ; ; "]);

        TrainingData expected = TableLoader.LoadForTraining(plain, Settings("rings"));
        TrainingData read = TableLoader.LoadForTraining(messy, Settings("rings"));

        Assert.Equal(40, read.Count);
        Assert.Equal(expected.Labels, read.Labels);
        Assert.Equal(expected.View.GetColumn<float>("length"), read.View.GetColumn<float>("length"));
        Assert.Equal(["sex", "length", "diameter"], read.Columns.Select(c => c.ColumnName));
        Assert.Null(read.FilledNote);
        Assert.Null(expected.RepeatedHeaderNote);
        Assert.Equal("messy.csv: line 23 repeats the header (as files exported in parts and joined do) and is left out, as the header is.",
            read.RepeatedHeaderNote);
        // A file to score reads the same way.
        var modelInput = new MLContext(0).Transforms.DropColumns(read.LabelColumn).Fit(read.View).Transform(read.View).Schema;
        TrainingData scored = TableLoader.LoadForModel(messy, modelInput, Settings("rings"), read.Layout);
        Assert.Equal(40, scored.Count);
        Assert.Equal(read.View.GetColumn<float>("diameter"), scored.View.GetColumn<float>("diameter"));

        // The same with decimal commas (a European export): the repeated header must not make the numbers text.
        string commas = Path.Combine(_work, "commas.csv");
        File.WriteAllLines(commas, File.ReadAllLines(messy).Select(l => l.Replace('.', ',')));
        TrainingData commaRead = TableLoader.LoadForTraining(commas, Settings("rings"));
        Assert.Equal(',', commaRead.DecimalMarker);
        Assert.Equal(expected.View.GetColumn<float>("length"), commaRead.View.GetColumn<float>("length"));
    }

    [SkippableFact]
    public void AHeaderlessFileThatLeavesOutTheIgnoredIdColumnIsNotReadOnePlaceOff()
    {
        // Trained headerless with an id column ignored (--ignore-cols 0) and the label last; a file to score that leaves
        // out the id (the model does not use it) has the training count minus one, as one without the label has.
        string[][] rows = Abalone(60);
        string train = Path.Combine(_work, "ids.csv");
        File.WriteAllLines(train, rows.Select((r, i) => $"{90_000 + 37 * i},{r[1]},{r[2]},{r[3]},{r[8]}"));
        TrainingData trained = TableLoader.LoadForTraining(train, new CsvSettings(null, null, "4", ["0"]));
        DataViewSchema modelInput = new MLContext(0).Transforms.DropColumns(trained.LabelColumn).Fit(trained.View).Transform(trained.View).Schema;
        Assert.Equal(["Col1", "Col2", "Col3"], modelInput.Select(c => c.Name));
        TableLayout layout = trained.Layout!;
        string[] classes = [.. trained.Labels.Distinct()];

        string noId = Path.Combine(_work, "no-id.csv");
        File.WriteAllLines(noId, rows.Select(r => $"{r[1]},{r[2]},{r[3]},{r[8]}"));
        TrainingData scored = TableLoader.LoadForModel(noId, modelInput, new CsvSettings(null, null, null, []), layout, classes: classes);
        foreach (string column in new[] { "Col1", "Col2", "Col3" })
            Assert.Equal(trained.View.GetColumn<float>(column), scored.View.GetColumn<float>(column));
        Assert.Equal(trained.Labels, scored.Labels);
        Assert.Contains("column 'Col0' (which the model does not use) was taken as the one left out", scored.MatchNote, StringComparison.Ordinal);

        // The id kept and the label left out: read as before (label left out), and the note names the other reading.
        string noLabel = Path.Combine(_work, "no-label.csv");
        File.WriteAllLines(noLabel, rows.Select((r, i) => $"{90_000 + 37 * i},{r[1]},{r[2]},{r[3]}"));
        TrainingData unlabeled = TableLoader.LoadForModel(noLabel, modelInput, new CsvSettings(null, null, null, []), layout, classes: classes);
        foreach (string column in new[] { "Col1", "Col2", "Col3" })
            Assert.Equal(trained.View.GetColumn<float>(column), unlabeled.View.GetColumn<float>(column));
        Assert.All(unlabeled.Labels, l => Assert.Equal("", l));
        Assert.Contains("If the file instead leaves out 'Col0', which the model does not use, add it back", unlabeled.MatchNote, StringComparison.Ordinal);

        // A 0/1 input just before a 0/1 label: leaving out the label puts that input at the label's place, where it holds
        // only classes; the id kept at its place (distinct whole numbers) says the label was left out.
        string flags = Path.Combine(_work, "flags.csv");
        File.WriteAllLines(flags, rows.Select((r, i) => $"{90_000 + 37 * i},{r[1]},{(r[0] == "M" ? 1 : 0)},{(int.Parse(r[8], CultureInfo.InvariantCulture) >= 10 ? 1 : 0)}"));
        TrainingData flagged = TableLoader.LoadForTraining(flags, new CsvSettings(null, null, "3", ["0"]));
        DataViewSchema flagInput = new MLContext(0).Transforms.DropColumns(flagged.LabelColumn).Fit(flagged.View).Transform(flagged.View).Schema;
        string flagsNoLabel = Path.Combine(_work, "flags-no-label.csv");
        File.WriteAllLines(flagsNoLabel, File.ReadAllLines(flags).Select(l => l[..l.LastIndexOf(',')]));
        TrainingData flagScored = TableLoader.LoadForModel(flagsNoLabel, flagInput, new CsvSettings(null, null, null, []), flagged.Layout, classes: ["0", "1"]);
        Assert.Equal(flagged.View.GetColumn<float>("Col1"), flagScored.View.GetColumn<float>("Col1"));
        Assert.Equal(flagged.View.GetColumn<float>("Col2"), flagScored.View.GetColumn<float>("Col2"));
    }

    [SkippableFact]
    public void NonAsciiHeadersKeepTheirColumnsWhenAFileToScoreOrdersThemOtherwise()
    {
        // Russian and Chinese headers (no ASCII letter): each model column must read its own values from a file whose
        // columns come in another order, the label first, and one header in another case.
        string[][] rows = Abalone(60);
        string train = Path.Combine(_work, "train.csv");
        File.WriteAllLines(train, ["Пол,Длина,直径,Высота,Кольца", .. rows.Select(r => $"{r[0]},{r[1]},{r[2]},{r[3]},{r[8]}")]);
        string other = Path.Combine(_work, "other.csv");
        File.WriteAllLines(other, ["Кольца,Высота,直径,длина,Пол", .. rows.Select(r => $"{r[8]},{r[3]},{r[2]},{r[1]},{r[0]}")]);
        TrainingData trained = TableLoader.LoadForTraining(train, Settings("Кольца"));
        DataViewSchema modelInput = new MLContext(0).Transforms.DropColumns(trained.LabelColumn).Fit(trained.View).Transform(trained.View).Schema;

        TrainingData scored = TableLoader.LoadForModel(other, modelInput, Settings("Кольца"));

        Assert.Equal(["Пол", "Длина", "直径", "Высота"], modelInput.Select(c => c.Name).ToArray());
        foreach (DataViewSchema.Column column in modelInput)
        {
            Assert.Equal(column.Type, scored.View.Schema[column.Name].Type);
            if (column.Type is TextDataViewType)
                Assert.Equal(trained.View.GetColumn<ReadOnlyMemory<char>>(column.Name).Select(v => v.ToString()), scored.View.GetColumn<ReadOnlyMemory<char>>(column.Name).Select(v => v.ToString()));
            else
                Assert.Equal(trained.View.GetColumn<float>(column.Name), scored.View.GetColumn<float>(column.Name));
        }
        Assert.Equal(trained.Labels, scored.Labels);
    }

    [SkippableFact]
    public void AHeaderThatNamesTheModelsColumnsButLacksOneNamesTheMissingColumn()
    {
        // sex,length,diameter,rings trained with the label 'rings'; the file keeps the label and drops 'diameter', so it
        // has one column fewer than training, the count of "training without its label". Read by position, 'rings' would
        // have been taken for 'diameter' and the error would have blamed another column.
        string[][] rows = Abalone(20);
        string path = Path.Combine(_work, "missing.csv");
        File.WriteAllLines(path, ["sex,length,rings", .. rows.Select(r => $"{r[0]},{r[1]},{r[8]}")]);
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("sex", TextDataViewType.Instance);
        builder.AddColumn("length", NumberDataViewType.Single);
        builder.AddColumn("diameter", NumberDataViewType.Single);
        var training = new TableLayout(["sex", "length", "diameter", "rings"], 3);

        var error = Assert.Throws<CliException>(() => TableLoader.LoadForModel(path, builder.ToSchema(), new CsvSettings(null, null, null, []), training));

        Assert.Contains("needs column 'diameter'", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AModelWithTheOlderAsciiNamesStillFindsItsColumns()
    {
        // Before non-ASCII letters were kept, "Größe" was named "Gr__e" and "直径" "Col1" in the model.
        string[][] rows = Abalone(20);
        string path = Path.Combine(_work, "legacy.csv");
        File.WriteAllLines(path, ["Größe,直径,sex", .. rows.Select(r => $"{r[1]},{r[2]},{r[0]}")]);
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Gr__e", NumberDataViewType.Single);
        builder.AddColumn("Col1", NumberDataViewType.Single);
        builder.AddColumn("sex", TextDataViewType.Instance);

        TrainingData scored = TableLoader.LoadForModel(path, builder.ToSchema(), new CsvSettings(null, null, null, []));

        Assert.Equal(rows.Select(r => float.Parse(r[1], System.Globalization.CultureInfo.InvariantCulture)), scored.View.GetColumn<float>("Gr__e"));
        Assert.Equal(rows.Select(r => float.Parse(r[2], System.Globalization.CultureInfo.InvariantCulture)), scored.View.GetColumn<float>("Col1"));
    }

    [SkippableFact]
    public void DecimalCommasWithSemicolonsAreNumbers()
    {
        // A spreadsheet export in much of Europe: ';' between fields, ',' before the fraction.
        string[][] rows = Abalone(80);
        string path = Path.Combine(_work, "eu.csv");
        File.WriteAllLines(path, ["sex;length;diameter;rings", .. rows.Select(r => $"{r[0]};{r[1].Replace('.', ',')};{r[2].Replace('.', ',')};{r[8]}")]);

        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));

        Assert.Equal(',', data.DecimalMarker);
        Assert.Equal([InputColumnKind.Text, InputColumnKind.Number, InputColumnKind.Number], data.Columns.Select(c => c.Kind).ToArray());
        var expected = rows.Select(r => float.Parse(r[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(expected, data.View.GetColumn<float>("length"));
        Assert.Equal(expected[0].ToString("R", System.Globalization.CultureInfo.InvariantCulture), data.RowValues(0)["length"]);
        Assert.Contains("decimal comma", data.SizeSummary[0], StringComparison.Ordinal);
        // A file to score is read with the recorded marker.
        DataViewSchema modelInput = new MLContext(0).Transforms.DropColumns(data.LabelColumn).Fit(data.View).Transform(data.View).Schema;
        TrainingData scored = TableLoader.LoadForModel(path, modelInput, new CsvSettings(null, null, null, [], ','));
        Assert.Equal(expected, scored.View.GetColumn<float>("length"));
        // Points stay points where fields are separated by ';' too.
        string points = Path.Combine(_work, "points.csv");
        File.WriteAllLines(points, ["sex;length;diameter;rings", .. rows.Select(r => $"{r[0]};{r[1]};{r[2]};{r[8]}")]);
        Assert.Equal(expected, TableLoader.LoadForTraining(points, Settings("rings")).View.GetColumn<float>("length"));
        // The model of the decimal-comma file scores an ordinary CSV (',' between fields, decimal points), and the ';' file.
        string ordinary = Path.Combine(_work, "ordinary.csv");
        File.WriteAllLines(ordinary, ["sex,length,diameter", .. rows.Select(r => $"{r[0]},{r[1]},{r[2]}")]);
        Assert.Equal(expected, TableLoader.LoadForModel(ordinary, modelInput, new CsvSettings(null, null, null, [], ',')).View.GetColumn<float>("length"));
        Assert.Equal(expected, TableLoader.LoadForModel(points, modelInput, new CsvSettings(null, null, null, [], ',')).View.GetColumn<float>("length"));
    }

    [SkippableTheory]
    [InlineData("1e39")]
    [InlineData("-Infinity")]
    public void AnInfiniteNumberNamesItsLineAndColumn(string value)
    {
        string[][] rows = Abalone(30);
        string path = Path.Combine(_work, "inf.csv");
        File.WriteAllLines(path, ["sex,length,diameter,rings", .. rows.Select((r, i) => $"{r[0]},{(i == 4 ? value : r[1])},{r[2]},{r[8]}")]);

        var error = Assert.Throws<CliException>(() => TableLoader.LoadForTraining(path, Settings("rings")));

        Assert.Contains("line 6", error.Message, StringComparison.Ordinal);
        Assert.Contains("'length'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{value}'", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ALabelNameWrittenTwiceIsRefusedWithTheIndicesToChooseFrom()
    {
        // "class" twice: the first holds diameters, the second the age class; taking the first trained on the wrong column.
        string[][] rows = Abalone(40);
        string path = Path.Combine(_work, "twice.csv");
        File.WriteAllLines(path, ["sex,length,class,class", .. rows.Select(r => $"{r[0]},{r[1]},{r[2]},{(int.Parse(r[8]) > 9 ? "old" : "young")}")]);

        var error = Assert.Throws<CliException>(() => TableLoader.LoadForTraining(path, Settings("class")));

        Assert.Contains("2:class, 3:class", error.Message, StringComparison.Ordinal);
        Assert.Equal(rows.Select(r => int.Parse(r[8]) > 9 ? "old" : "young"), TableLoader.LoadForTraining(path, Settings("3")).Labels);
    }

    [SkippableFact]
    public void AFileWithOnlyAHeaderSaysSo()
    {
        string path = Path.Combine(_work, "header.csv");
        File.WriteAllLines(path, ["sex,length,diameter,rings"]);

        var error = Assert.Throws<CliException>(() => TableLoader.LoadForTraining(path, Settings("rings")));

        Assert.Contains("header line but no data row", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void FreeTextKeepsItsWordsAsFeatures()
    {
        // Abalone's sex written inside a free-text note: every note is distinct (a specimen number and shuffled filler), so
        // hashing whole cells gave one meaningless slot per row and a classifier at chance; the words carry the class.
        string[][] rows = Abalone(900);
        var random = new Random(3);
        string[] filler = ["shell", "rough", "collected", "tide", "sample", "weighed", "measured", "dry", "wet", "pool"];
        string Note(string sex, int i) => string.Join(' ', filler.OrderBy(_ => random.Next()).Take(4)
            .Append(sex switch { "M" => "Male,", "F" => "female.", _ => "INFANT" }).Append($"specimen-{i}").OrderBy(_ => random.Next()));
        string path = Path.Combine(_work, "notes.csv");
        File.WriteAllLines(path, ["note,sex", .. rows.Select((r, i) => $"\"{Note(r[0], i)}\",{r[0]}")]);
        TrainingData data = TableLoader.LoadForTraining(path, Settings("sex"));
        var ml = new MLContext(0);
        var (preparation, column) = MlNetSsl.Cli.Run.ModelParts.Preparation(ml, data, 0, SeriesResampling.Linear);
        var train = new RowSubsetView(data.View, Enumerable.Range(0, 600).Select(i => (long)i).ToHashSet());
        var test = new RowSubsetView(data.View, Enumerable.Range(600, 300).Select(i => (long)i).ToHashSet());

        var model = preparation.Append(ml.Transforms.Conversion.MapValueToKey("Key", data.LabelColumn))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Key", column)).Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test), "Key");

        Assert.True(metrics.MicroAccuracy > 0.9, $"test accuracy {metrics.MicroAccuracy:0.000} from the notes' words (three classes, chance about 0.37)");
    }

    [SkippableFact]
    public void AHeaderOfNumbersThatWasReadAsDataNamesTheOptionToGive()
    {
        // Columns named by years look like a row of numbers, so the header is not detected; the label's name is in it.
        string[][] rows = Abalone(30);
        string path = Path.Combine(_work, "years.csv");
        File.WriteAllLines(path, ["2019,2020,2021,sex", .. rows.Select(r => $"{r[1]},{r[2]},{r[3]},{r[0]}")]);

        var error = Assert.Throws<CliException>(() => TableLoader.LoadForTraining(path, Settings("sex")));

        Assert.Contains("--has-header true", error.Message, StringComparison.Ordinal);
        Assert.Contains("Line 1", error.Message, StringComparison.Ordinal);
        TrainingData data = TableLoader.LoadForTraining(path, new CsvSettings(true, null, "sex", []));
        Assert.Equal(rows.Select(r => r[0]), data.Labels);
    }

    [SkippableFact]
    public void InputColumnsNamedLikeTheFeaturizedColumnsKeepTheirValues()
    {
        // Text columns named as the columns the featurizing steps make ("Ssl_Numbers", "Ssl_Text0"): each was replaced by
        // the made column before its own step read it, so its values never reached the model, silently.
        string[][] rows = Abalone(200);
        string path = Path.Combine(_work, "internal-names.csv");
        File.WriteAllLines(path, ["sex,Ssl_Text0,Ssl_Numbers,length,rings",
            .. rows.Select((r, i) => $"{r[0]},{(int.Parse(r[8], CultureInfo.InvariantCulture) % 2 == 0 ? "even" : "odd")},{r[0]}{r[0]},{r[1]},{r[8]}")]);
        TrainingData data = TableLoader.LoadForTraining(path, Settings("rings"));
        var ml = new MLContext(0);
        var (preparation, column) = MlNetSsl.Cli.Run.ModelParts.Preparation(ml, data, 0, SeriesResampling.Linear);
        ITransformer model = preparation.Fit(data.View);

        // One number, then one indicator per category: sex (3), Ssl_Text0 (even, odd), Ssl_Numbers (MM, FF, II).
        var type = Assert.IsType<VectorDataViewType>(model.Transform(data.View).Schema[column].Type);
        Assert.Equal(1 + 3 + 2 + 3, type.Size);
        // A value training never saw in the column named Ssl_Numbers is named, as in any other text column.
        string unseen = Path.Combine(_work, "internal-names-unseen.csv");
        File.WriteAllLines(unseen, [.. File.ReadLines(path).Take(20), "M,odd,XX,0.5,9"]);
        TrainingData scored = TableLoader.LoadForTraining(unseen, Settings("rings"));
        string note = Assert.Single(MlNetSsl.Cli.Run.ModelParts.UnseenCategories(model, scored));
        Assert.Contains("Column 'Ssl_Numbers'", note, StringComparison.Ordinal);
        Assert.Contains("'XX'", note, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void TheLabelColumnTakesANameNoInputHas()
    {
        // Inputs named "Label" and "Label_target": the label column, named Label_target beside an input "Label", hid the
        // input of that name, and read in its place the label became an input (cross-validated accuracy 1.0).
        string[][] rows = Abalone(60);
        string path = Path.Combine(_work, "label-names.csv");
        File.WriteAllLines(path, ["Label,Label_target,sex", .. rows.Select((r, i) => $"{r[1]},{(i % 2 == 0 ? "even" : "odd")},{r[0]}")]);
        TrainingData data = TableLoader.LoadForTraining(path, Settings("sex"));

        Assert.DoesNotContain(data.LabelColumn, data.Columns.Select(c => c.ColumnName));
        Assert.Single(data.View.Schema, c => c.Name == data.LabelColumn);
        Assert.Equal(rows.Select(r => r[0]), data.View.GetColumn<ReadOnlyMemory<char>>(data.LabelColumn).Select(v => v.ToString()));
        Assert.Equal(rows.Select((_, i) => i % 2 == 0 ? "even" : "odd"),
            data.View.GetColumn<ReadOnlyMemory<char>>(data.View.Schema.Last(c => c.Name == "Label_target")).Select(v => v.ToString()));
    }
}
