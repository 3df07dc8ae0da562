using Microsoft.ML;
using MlNetSsl.Cli.Commands;

namespace MlNetSsl.Cli.Data;

/// <summary>Reads a dataset the way a task reads it, for training and for scoring with a trained model.</summary>
internal static class DatasetReader
{
    public static CsvSettings Csv(bool? hasHeader, string? separator, string? labelColumn, IReadOnlyList<string> ignore, string? decimalMarker = null) =>
        new(hasHeader, ParseSeparator(separator), labelColumn, ignore, decimalMarker is { Length: 1 } marker ? marker[0] : null);

    public static char? ParseSeparator(string? separator) => separator switch
    {
        null or "" => null,
        "tab" or "\\t" => '\t',
        "comma" => ',',
        "semicolon" => ';',
        { Length: 1 } s => s[0],
        _ => throw new CliException($"--separator '{separator}': give one character (',' ';' '|'), 'tab' or 'comma'."),
    };

    /// <summary>Loads training rows (<paramref name="forTraining"/>: checks classes and labels) for a task.</summary>
    public static TrainingData Load(MLContext ml, string task, string path, CsvSettings csv, string unlabeledFolder, bool strict, int channels,
        bool forTraining) => task switch
    {
        "image-classification" => ImageFolder.Load(ml, path, unlabeledFolder, strict, forTraining),
        "classification" => TableLoader.LoadForTraining(path, csv),
        "series-classification" => SeriesLoader.Load(ml, path, csv, channels),
        _ => throw new CliException($"Unknown task '{task}'."),
    };

    /// <summary>Loads rows for a trained model whose input schema is <paramref name="modelInput"/>: an image folder (or one
    /// image file), a CSV with the model's columns, or a series file.</summary>
    /// <param name="training">A table: the training file's layout, when run.json records it (see <see cref="TableLoader.LoadForModel"/>).</param>
    /// <param name="trainingLabelIndex">A table trained without a header and no recorded layout: its label column's index.</param>
    public static TrainingData LoadForModel(MLContext ml, DataViewSchema modelInput, string path, CsvSettings csv, string unlabeledFolder, int channels,
        TableLayout? training = null, int? trainingLabelIndex = null)
    {
        if (modelInput.GetColumnOrNull(ImageFolder.PathColumn) is not null)
        {
            return File.Exists(path) ? ImageFolder.LoadFile(ml, path) : ImageFolder.Load(ml, path, unlabeledFolder, strict: false, forTraining: false);
        }
        if (modelInput.GetColumnOrNull(SeriesLoader.SeriesColumn) is not null) return SeriesLoader.Load(ml, path, csv, channels);
        return TableLoader.LoadForModel(path, modelInput, csv, training, trainingLabelIndex);
    }
}
