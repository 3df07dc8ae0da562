using Microsoft.ML;
using MlNetSsl.Cli.CodeGen;

namespace MlNetSsl.Cli.Data;

/// <summary>The three kinds of dataset the tool reads.</summary>
internal enum DatasetKind
{
    Images,
    Table,
    Series,
}

/// <summary>
/// A dataset as loaded for training or scoring: a view holding exactly the model's input columns (see
/// <see cref="ModelInputSchema"/>) plus the label as text (empty = unlabeled), and what the report needs about it.
/// </summary>
internal sealed class TrainingData
{
    /// <summary>The label column's name in <see cref="View"/>.</summary>
    public required string LabelColumn { get; init; }

    public required DatasetKind Kind { get; init; }

    /// <summary>Input columns and the label column.</summary>
    public required IDataView View { get; init; }

    /// <summary>The model's input columns (the label excluded).</summary>
    public required IReadOnlyList<InputColumn> Columns { get; init; }

    /// <summary>The label of each row; empty for unlabeled rows.</summary>
    public required string[] Labels { get; init; }

    /// <summary>How each row is named in messages and the report ("cat/01.jpg", "line 12").</summary>
    public required string[] RowNames { get; init; }

    /// <summary>Each row's input values as text per input column (for the generated example and misclassified rows).</summary>
    public required Func<int, IReadOnlyDictionary<string, string>> RowValues { get; init; }

    /// <summary>Images: absolute paths per row.</summary>
    public string[]? ImagePaths { get; init; }

    /// <summary>Series: channels per row, and the steps per channel of each row.</summary>
    public int SeriesChannels { get; init; }

    public int[]? SeriesLengths { get; init; }

    public IReadOnlyList<string> Skipped { get; init; } = [];

    /// <summary>Images (training): files directly in the dataset folder, outside every class folder, so not used.</summary>
    public IReadOnlyList<string> IgnoredTopLevel { get; init; } = [];

    /// <summary>Images (training): class folders without a readable image, so no class of that name is learned.</summary>
    public IReadOnlyList<string> EmptyClassFolders { get; init; } = [];

    /// <summary>CSV (training): columns that look like row identifiers (every value distinct, and consecutive integers,
    /// integers under an identifier's name, or single words), which a model can fit to the row order instead of the rows.</summary>
    public IReadOnlyList<string> IdentifierColumns { get; init; } = [];

    /// <summary>CSV (training): text input columns whose cells are numbers but for a few, each described with the other
    /// values and their lines ("'age' (995 numbers and 5 other values: '-' (lines 3, 9), ...)").</summary>
    public IReadOnlyList<string> MostlyNumericTextColumns { get; init; } = [];

    /// <summary>CSV (training): text input columns of numbers written with digit-group separators, each with an example
    /// and its line ("'income' (such as '12,500.75', line 4)").</summary>
    public IReadOnlyList<string> GroupedNumberTextColumns { get; init; } = [];

    /// <summary>CSV (training): text input columns of dates or date-times, each with an example and its line
    /// ("'sold on' (such as '2024-03-01', line 2)").</summary>
    public IReadOnlyList<string> DateTextColumns { get; init; } = [];

    /// <summary>CSV (training): text input columns of numbers written with a percent or currency sign, each with an
    /// example and its line ("'discount' (such as '12.5%', line 2)").</summary>
    public IReadOnlyList<string> UnitNumberTextColumns { get; init; } = [];

    /// <summary>Series and tables: how many missing values were filled (in how many series, or in which numeric columns),
    /// for the console and the report; null when none was.</summary>
    public string? FilledNote { get; init; }

    /// <summary>Series CSV: rows whose missing cells at the end (the NaN padding of a UCR 2018 .tsv) were read as the end of
    /// their series, not filled; said on the console and in the report. Null when none were.</summary>
    public string? PaddingNote { get; init; }

    /// <summary>Series CSV (training): the label column found without --label-col (the last, see
    /// <c>SeriesLoader.LabelAtEnd</c>), which test files are read with and run.json records; null otherwise.</summary>
    public string? SeriesLabelColumn { get; init; }

    /// <summary>Whether <see cref="IdentifierColumns"/> were left out of the inputs (they stay in when nothing else would).</summary>
    public bool IdentifiersLeftOut { get; init; }

    /// <summary>CSV (training): the <see cref="IdentifierColumns"/> that hold dates (a distinct date on every row), each with
    /// an example and its line, so the run can say that they are dates, not codes.</summary>
    public IReadOnlyList<string> IdentifierDateColumns { get; init; } = [];

    /// <summary>CSV (training): input columns with the same value in every row that has one, or with none, each
    /// described ("'unit' (kg in every row that has a value)", "'notes' (empty in every row)"): nothing to learn from.</summary>
    public IReadOnlyList<string> ConstantColumns { get; init; } = [];

    public IReadOnlyList<IReadOnlyList<string>> Duplicates { get; init; } = [];

    /// <summary>Images: the SHA-256 of each row's file, to find test images that are training images.</summary>
    public IReadOnlyList<string> ContentHashes { get; init; } = [];

    /// <summary>Images: files whose picture is only in their transparency (<c>ImageFolder.PictureOnlyInAlpha</c>), relative to
    /// the dataset folder: the model reads them as blank.</summary>
    public IReadOnlyList<string> PictureInAlpha { get; init; } = [];

    /// <summary>Images: hidden folders and image files left out (names starting with a dot, __MACOSX), relative to the
    /// dataset folder; folders end with '/'.</summary>
    public IReadOnlyList<string> HiddenEntries { get; init; } = [];

    public IReadOnlyList<string> SizeSummary { get; init; } = [];

    /// <summary>Series CSV: how the file was read (separator, header, label column), for the run's "Read as" line; null
    /// for a .ts file and other data.</summary>
    public string? SeriesFormat { get; init; }

    /// <summary>Tables: the decimal marker the file was read with ('.' or ',').</summary>
    public char DecimalMarker { get; init; } = '.';

    /// <summary>Tables: the separator, header and decimal marker the file was read with, for the generated code's loader.</summary>
    public TextFileFormat? Format { get; init; }

    /// <summary>CSV with a label column: every column of the file and the label's place, which run.json records so files
    /// to score are matched by position where names cannot tell.</summary>
    public TableLayout? Layout { get; init; }

    /// <summary>Tables: the lines that repeat the header and were left out (<see cref="CsvTable.RepeatedHeaderNote"/>); null when none did.</summary>
    public string? RepeatedHeaderNote { get; init; }

    /// <summary>Tables: the header cells that repeat a column name and what the model calls them
    /// (<see cref="CsvTable.RepeatedNameNote"/>); null when no name repeats.</summary>
    public string? RepeatedNameNote { get; init; }

    /// <summary>Scoring: how the file's columns were matched, when the console should say it (by position, not by name).</summary>
    public string? MatchNote { get; init; }

    /// <summary>Numeric labels written differently ("1" and "1.0") that were made one class, when there were any.</summary>
    public string? LabelNote { get; init; }

    public int Count => Labels.Length;

    public int LabeledCount => Labels.Count(l => l.Length > 0);

    /// <summary>Labeled rows per class, in first-seen order.</summary>
    public IReadOnlyDictionary<string, int> ClassCounts()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string label in Labels.Where(l => l.Length > 0)) counts[label] = counts.GetValueOrDefault(label) + 1;
        return counts;
    }
}
