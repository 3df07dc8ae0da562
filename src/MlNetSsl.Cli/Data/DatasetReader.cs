using Microsoft.ML;
using MlNetSsl.Cli.Commands;

namespace MlNetSsl.Cli.Data;

/// <summary>Reads a dataset the way a task reads it, for training and for scoring with a trained model.</summary>
internal static class DatasetReader
{
    public static CsvSettings Csv(bool? hasHeader, string? separator, string? labelColumn, IReadOnlyList<string> ignore, string? decimalMarker = null) =>
        new(hasHeader, ParseSeparator(separator), labelColumn, ignore, decimalMarker is { Length: 1 } marker ? marker[0] : null);

    public static char? ParseSeparator(string? separator) =>
        SeparatorProblem(separator) is string problem ? throw new CliException(problem) : separator switch
        {
            null or "" => null,
            "tab" or "\\t" => '\t',
            "comma" => ',',
            "semicolon" => ';',
            // Runs of spaces and tabs, in tables (CsvTable.Blanks) and series files (SeriesLoader.Blanks) alike.
            "space" or "whitespace" => ' ',
            _ => separator[0],
        };

    /// <summary>Why <paramref name="separator"/> cannot separate CSV fields, or null when it can. A letter, digit, quote,
    /// decimal point or sign would split numbers and names apart ('x' cut "dioxide" in two).</summary>
    public static string? SeparatorProblem(string? separator) => separator switch
    {
        null or "" or "tab" or "\\t" or "comma" or "semicolon" or "space" or "whitespace" => null,
        { Length: 1 } s when char.IsLetterOrDigit(s[0]) || s[0] is '"' or '.' or '-' or '+' || (char.IsWhiteSpace(s[0]) && s[0] != ' ') =>
            $"--separator '{separator}': a separator cannot be a letter, digit, quote, '.', '-' or '+'; give ',' ';' '|' ':' or a space, 'tab', or leave it out to detect it.",
        { Length: 1 } => null,
        _ => $"--separator '{separator}': give one character (',' ';' '|'), 'tab', 'comma' or 'space' (runs of spaces and tabs).",
    };

    /// <summary>Refuses a path of the wrong kind for a task (a folder for a CSV task, a file for images) or one that is
    /// not there, in one line that says what the task reads.</summary>
    /// <exception cref="CliException">The path is missing or of the wrong kind.</exception>
    public static void CheckPath(string task, string path)
    {
        if (task == "image-classification")
        {
            if (File.Exists(path))
                throw new CliException($"{path}: a file, where a folder is expected; image-classification reads a folder with one sub-folder of images per class " +
                    "(for a CSV of numbers use classification, for series series-classification).");
            if (!Directory.Exists(path))
                throw new CliException($"{path}: folder not found; --dataset takes a folder with one sub-folder of images per class.");
            return;
        }
        if (Directory.Exists(path))
            throw new CliException(task == "series-classification"
                ? $"{path}: a folder; series are read from one file, a UEA/UCR .ts file or a CSV with one series per row " +
                  "(a folder of one file per series is not read): put the series in one file, one per line."
                : $"{path}: a folder, where a CSV file is expected; for a folder of images in one sub-folder per class use image-classification.");
        if (!File.Exists(path)) throw new CliException($"{path}: file not found; check the path given to --dataset or --test-dataset.");
        // Read as a CSV, a .ts file failed on its header lines ("line 4: 2 fields where line 1 has 1 ..., give the right
        // --separator") and an image on its bytes, neither saying which command reads such a file.
        if (task == "classification" && SeriesLoader.IsTsFile(path))
            throw new CliException($"{path}: a .ts series file, where a CSV table is expected; series-classification reads it.");
        if (task != "image-classification" && IsImage(path))
            throw new CliException($"{path}: an image, where a {(task == "classification" ? "CSV file" : "series file")} is expected; image-classification reads a " +
                "folder with one sub-folder of images per class.");
        if (OtherFormat(path, task) is string other) throw new CliException($"{path}: {other}");
    }

    /// <summary>
    /// What a data file is when it is a known format other than delimited text (a workbook, Parquet, a compressed file,
    /// ARFF, JSON), with what to do; null otherwise. Read as text, such files failed with a column list of binary noise
    /// ("0:PK..." for an .xlsx) or a ragged-line error, neither of which says that the file is of another kind.
    /// </summary>
    internal static string? OtherFormat(string path, string task)
    {
        var head = new byte[512];
        int read;
        using (var file = File.OpenRead(path)) read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        ReadOnlySpan<byte> bytes = head.AsSpan(0, read);
        string extension = Path.GetExtension(path).ToLowerInvariant();
        const string asCsv = "save the sheet as CSV (UTF-8) and give that file";
        if (bytes.StartsWith("PK\u0003\u0004"u8))
            return extension is ".xlsx" or ".xlsm" or ".ods" or ".numbers"
                ? $"a spreadsheet workbook, not a CSV; {asCsv}."
                : "a zip archive, not a CSV; unzip it and give the CSV (or .ts file) inside.";
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]))
            return $"an Excel 97-2003 workbook (.xls), not a CSV; {asCsv}.";
        if (bytes.StartsWith("PAR1"u8))
            return "a Parquet file, not a CSV; write it out as CSV (for example pandas' to_csv(path, index=False)).";
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0x1F, 0x8B]))
            return "gzip-compressed; decompress it first (gunzip) and give the file inside.";
        // Text formats: the first line that is not blank or a comment ('%' in ARFF).
        string text = System.Text.Encoding.UTF8.GetString(bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes[3..] : bytes);
        string first = text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0 && !l.StartsWith('%')) ?? "";
        if (first.StartsWith("@relation", StringComparison.OrdinalIgnoreCase))
            return task == "series-classification"
                ? "a Weka ARFF file; the UEA/UCR archive ships the same series as .ts files, which are read as they are: give the .ts file."
                : "a Weka ARFF file, not a CSV; write it as CSV with the @attribute names as the header line and the lines after @data below it " +
                  "(Weka's CSVSaver, or scipy.io.arff and pandas).";
        if (extension is ".json" or ".jsonl" or ".ndjson" && first.Length > 0 && first[0] is '[' or '{')
            return "a JSON file, not a CSV; write the records as CSV, one row per record and one column per field (for example pandas' read_json then to_csv).";
        return null;
    }

    /// <summary>Loads training rows (<paramref name="forTraining"/>: checks classes and labels) for a task.</summary>
    public static TrainingData Load(MLContext ml, string task, string path, CsvSettings csv, string unlabeledFolder, bool strict, int channels,
        bool forTraining) => task switch
    {
        "image-classification" => ImageFolder.Load(ml, path, unlabeledFolder, strict, forTraining),
        "classification" => TableLoader.LoadForTraining(path, csv),
        "series-classification" => SeriesLoader.Load(ml, path, csv, channels, findLabel: forTraining),
        _ => throw new CliException($"Unknown task '{task}'."),
    };

    /// <summary>Loads rows for a trained model whose input schema is <paramref name="modelInput"/>: an image folder (or one
    /// image file), a CSV with the model's columns, or a series file.</summary>
    /// <param name="training">A table: the training file's layout, when run.json records it (see <see cref="TableLoader.LoadForModel"/>).</param>
    /// <param name="trainingLabelIndex">A table trained without a header and no recorded layout: its label column's index.</param>
    /// <param name="classes">A table: the model's class names (see <see cref="TableLoader.LoadForModel"/>).</param>
    public static TrainingData LoadForModel(MLContext ml, DataViewSchema modelInput, string path, CsvSettings csv, string unlabeledFolder, int channels,
        TableLayout? training = null, int? trainingLabelIndex = null, IReadOnlyList<string>? classes = null)
    {
        string task = modelInput.GetColumnOrNull(ImageFolder.PathColumn) is not null ? "image-classification"
            : modelInput.GetColumnOrNull(SeriesLoader.SeriesColumn) is not null ? "series-classification" : "classification";
        if (OtherKind(task, path) is { } problem) throw new CliException($"{path}: {problem}");
        if (task == "image-classification")
        {
            return File.Exists(path) ? ImageFolder.LoadFile(ml, path) : ImageFolder.Load(ml, path, unlabeledFolder, strict: false, forTraining: false);
        }
        if (task == "series-classification")
            return SeriesLoader.Load(ml, path, csv, channels, channelsFrom: "the channels the model was trained on");
        return TableLoader.LoadForModel(path, modelInput, csv, training, trainingLabelIndex, classes);
    }

    /// <summary>
    /// Why <paramref name="path"/> is not what a model of <paramref name="task"/> scores, or null: a CSV or series file for
    /// an image model, an image or a .ts file for a table model, an image or an image folder for a series model. Such files
    /// failed with errors about the file alone ("not a readable image"; an image or a .ts file read as a CSV: "line 3: 3
    /// fields where line 1 has 1 ..., give the right --separator") that did not say the model reads another kind of data.
    /// </summary>
    internal static string? OtherKind(string task, string path)
    {
        bool image = File.Exists(path) && IsImage(path);
        return task switch
        {
            "image-classification" when File.Exists(path) && !image =>
                "not an image, and the model was trained by image-classification on images; give an image file (.jpg, .jpeg, .png, .bmp, " +
                ".gif, .webp) or a folder of them (directly in it or in one sub-folder per class).",
            "classification" when image || Directory.Exists(path) || (File.Exists(path) && SeriesLoader.IsTsFile(path)) =>
                $"{(image ? "an image" : Directory.Exists(path) ? "a folder" : "a .ts series file")}, and the model was trained by classification " +
                "on a table; give a CSV file with the training file's columns.",
            "series-classification" when image =>
                "an image, and the model was trained by series-classification on series; give a .ts file or a CSV with one series per row.",
            _ => null,
        };
    }

    /// <summary>Whether a file is an image by its extension or its first bytes (JPEG, PNG, GIF, BMP with its reserved zero
    /// bytes, so that a CSV whose header starts with "BM" is not one, WebP).</summary>
    private static bool IsImage(string path)
    {
        if (ImageFolder.IsImageExtension(Path.GetExtension(path))) return true;
        var head = new byte[12];
        int read;
        try
        {
            using var file = File.OpenRead(path);
            read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        ReadOnlySpan<byte> bytes = head.AsSpan(0, read);
        return bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]) || bytes.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G'])
            || bytes.StartsWith("GIF8"u8) || (bytes.StartsWith("BM"u8) && read >= 10 && bytes[6..10].IndexOfAnyExcept((byte)0) < 0) || (bytes.StartsWith("RIFF"u8) && bytes[8..].StartsWith("WEBP"u8));
    }
}
