// The contract between a training run and the code generator: what the saved model zip takes as input and gives as
// output, so the generated ModelInput/ModelOutput classes match it exactly.
//
// Model zip contract (every training command saves a model that honours it):
// - input columns are exactly Columns below, by ColumnName and type;
//   images: one string column "ImagePath" (absolute, or relative to the working directory);
//   tables: one column per used CSV column, Single for numeric, String for text, named after the CSV header
//           (sanitized: letters, digits, '_' only) or "Col{index}" without a header;
//   series: one variable-length Single vector column "Series" (channel-major: channel 0's values, then channel 1's...),
//           plus the model resamples it to its fixed length itself.
// - output columns: "PredictedLabel" (String, the class name) and "Score" (Single vector, one per class, in ClassNames order).
namespace MlNetSsl.Cli.CodeGen;

/// <summary>What kind of value a model input column holds.</summary>
internal enum InputColumnKind
{
    /// <summary>A path to an image file (String).</summary>
    ImagePath,

    /// <summary>A numeric column (Single; missing values are NaN).</summary>
    Number,

    /// <summary>A text column (String).</summary>
    Text,

    /// <summary>A variable-length series, channel-major (Single vector).</summary>
    Series,
}

/// <summary>One input column of the saved model.</summary>
/// <param name="ColumnName">The column's name in the model's input schema.</param>
/// <param name="PropertyName">A valid C# property name for it in ModelInput.</param>
/// <param name="Kind">What it holds.</param>
/// <param name="SourceColumnIndex">The 0-based column in the dataset file it came from (null for images and series).</param>
internal sealed record InputColumn(string ColumnName, string PropertyName, InputColumnKind Kind, int? SourceColumnIndex);

/// <summary>The saved model's input and output, and one example to predict.</summary>
/// <param name="Task">"image-classification", "classification" or "series-classification".</param>
/// <param name="Columns">The model's input columns.</param>
/// <param name="ClassNames">Class names in Score order.</param>
/// <param name="SeriesChannels">For series: the number of channels in the "Series" column (else 0).</param>
/// <param name="ExampleValues">One dataset row, as text per ColumnName (an image path relative to the run folder, a
/// number in invariant culture, a text, or a series as comma-separated values), for the generated Program.cs.</param>
/// <param name="ExampleLabel">That row's label, for the generated program to print next to the prediction.</param>
/// <param name="LabelName">For tables: the label column's name, a field the Web API accepts in a body (a whole record
/// posted as it is in the file) and ignores; null otherwise.</param>
/// <param name="FileFormat">For tables: how the training file was read, so the generated code reads files alike; null otherwise.</param>
/// <param name="UnusedColumns">For tables: the training file's other columns the model does not read (--ignore-cols, row
/// identifiers left out), by their names as identifiers: fields the Web API accepts in a whole record and ignores, as the label.</param>
internal sealed record ModelInputSchema(
    string Task,
    IReadOnlyList<InputColumn> Columns,
    IReadOnlyList<string> ClassNames,
    int SeriesChannels,
    IReadOnlyDictionary<string, string> ExampleValues,
    string? ExampleLabel,
    string? LabelName = null,
    TextFileFormat? FileFormat = null,
    IReadOnlyList<string>? UnusedColumns = null);

/// <summary>How a table's training file was read (detected or given), which a file laid out like it is read with.</summary>
/// <param name="Separator">The character between fields.</param>
/// <param name="HasHeader">Whether the first line is a header.</param>
/// <param name="DecimalMarker">'.' or ',': what separates a number's integer part from its fraction.</param>
internal sealed record TextFileFormat(char Separator, bool HasHeader, char DecimalMarker);
