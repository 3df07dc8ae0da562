using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Cli.Data;
using MlNetSsl.Cli.Run;

namespace MlNetSsl.Cli.Commands;

/// <summary>predict, embed and evaluate: apply a saved model to data loaded the way training loaded it.</summary>
internal static class ModelCommands
{
    private sealed class Options
    {
        public readonly Option<string> Model = new("--model", "-m") { Description = "The model zip a training command wrote.", Required = true };
        public readonly Option<string?> LabelColumn = new("--label-col") { Description = "CSV: the label column (default: the one run.json beside the model records)." };
        public readonly Option<bool?> HasHeader = new("--has-header") { Description = "CSV: whether the first line is a header. Default: detected." };
        public readonly Option<string?> Separator = new("--separator") { Description = "CSV: the separator. Default: detected." };
        public readonly Option<string?> UnlabeledFolder = new("--unlabeled-folder") { Description = "Images: the unlabeled sub-folder's name. Default: as in training, or 'unlabeled'." };

        /// <summary>An unusable --separator is a usage error (exit 2), found before the model is loaded.</summary>
        public void ValidateSeparator(Command command) => command.Validators.Add(result =>
        {
            if (DatasetReader.SeparatorProblem(result.GetValue(Separator)) is string problem) result.AddError(problem);
        });
    }

    public static IEnumerable<Command> Create()
    {
        yield return Apply("predict", "Predict the class of every row (or image) of a dataset; writes a CSV.", embed: false);
        yield return Apply("embed", "Write the self-supervised embedding of every row (or image) of a dataset as a CSV.", embed: true);
        yield return Evaluate();
    }

    private static Command Apply(string name, string description, bool embed)
    {
        var o = new Options();
        var dataset = new Option<string>("--dataset", "-d") { Description = "An image folder or file, a CSV or a series file.", Required = true };
        var output = new Option<string>("--out") { Description = $"The CSV to write.", DefaultValueFactory = _ => embed ? "embeddings.csv" : "predictions.csv" };
        var command = new Command(name, description) { o.Model, dataset, output, o.LabelColumn, o.HasHeader, o.Separator, o.UnlabeledFolder };
        o.ValidateSeparator(command);
        command.SetAction(parse =>
        {
            var ml = new MLContext(0);
            string path = parse.GetValue(output)!;
            CliFile.CheckOutput(path, "--out", embed ? "embeddings.csv" : "predictions.csv", ("--dataset", parse.GetValue(dataset)!), ("--model", parse.GetValue(o.Model)!));
            var (model, schema, settings) = LoadModel(ml, parse.GetValue(o.Model)!);
            TrainingData data = LoadData(ml, model, schema, settings, parse.GetValue(dataset)!, o, parse);
            if (embed) WriteEmbeddings(model, parse.GetValue(o.Model)!, data, path);
            else WritePredictions(model, data, path);
            Console.WriteLine($"Wrote {data.Count:N0} {(data.Count == 1 ? "row" : "rows")} to {path}.");
            PrintInputNotes(model, data, settings);
            // Unreadable images are left out of the CSV; say which, so a missing row is not a surprise.
            if (data.Skipped.Count > 0)
                Console.WriteLine($"Skipped {data.Skipped.Count:N0} unreadable file(s), not in {path}: {string.Join("; ", data.Skipped.Take(5))}{(data.Skipped.Count > 5 ? "; ..." : "")}.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Evaluate()
    {
        var o = new Options();
        var test = new Option<string?>("--test-dataset") { Description = "Labeled rows: an image folder, a CSV or a series file." };
        var holdOut = new Option<bool>("--holdout")
        {
            Description = "Score the rows the training run held out of its --dataset (read again from where run.json says), instead of a --test-dataset.",
        };
        var command = new Command("evaluate", "Score a model on labeled rows: metrics and the confusion matrix.") { o.Model, test, holdOut, o.LabelColumn, o.HasHeader, o.Separator, o.UnlabeledFolder };
        o.ValidateSeparator(command);
        command.Validators.Add(result =>
        {
            bool given = result.GetValue(test) is not null, held = result.GetValue(holdOut);
            if (given == held)
                result.AddError(given ? "Give --test-dataset or --holdout, not both." : "Give the labeled rows to score: --test-dataset <folder|file>, or --holdout for the rows the training run held out.");
        });
        command.SetAction(parse =>
        {
            var ml = new MLContext(0);
            var (model, schema, settings) = LoadModel(ml, parse.GetValue(o.Model)!);
            TrainingData data = parse.GetValue(holdOut)
                ? LoadHoldOut(ml, parse.GetValue(o.Model)!, settings)
                : LoadData(ml, model, schema, settings, parse.GetValue(test)!, o, parse);
            int[] labeled = Enumerable.Range(0, data.Count).Where(r => data.Labels[r].Length > 0).ToArray();
            if (labeled.Length == 0)
            {
                // A table read without a label column (renamed, or left out): say which column was looked for.
                string? trainingLabel = data.Kind == DatasetKind.Table && data.Layout is null && settings is { TableColumns: { } columns, TableLabelIndex: int at }
                    && at >= 0 && at < columns.Count ? columns[at] : null;
                throw new CliException(trainingLabel is not null
                    ? $"{parse.GetValue(test) ?? "--holdout"}: no labeled row: the file has no label column '{trainingLabel}' (the training file's, by name in a header, by " +
                      "position without one); give --label-col with the column that holds the labels."
                    : $"{parse.GetValue(test) ?? "--holdout"}: no labeled row; evaluate needs labels (class folders, --label-col, or the .ts class).");
            }
            if (data.Skipped.Count > 0)
                Console.WriteLine($"Skipped {data.Skipped.Count:N0} unreadable file(s): {string.Join("; ", data.Skipped.Take(5))}{(data.Skipped.Count > 5 ? "; ..." : "")}.");
            // The training data scored as a test set: a model scores its own training rows near perfectly (an MNIST
            // folder, 0.98 on its test folder, scored 1.0000 so), which read as a result without this note.
            if (parse.GetValue(test) is { } testPath && TrainingDataOf(parse.GetValue(o.Model)!, settings) is { } trainedOn
                && string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(testPath)), trainedOn, StringComparison.Ordinal))
                Console.WriteLine($"Note: {testPath} is the --dataset the model was trained on (run.json): its rows trained the model, so these figures overstate " +
                    "how it scores new rows. Score rows it did not train on: " + (settings!.TestDataset is null && settings.ValidationDataset is null
                        ? "--holdout (the rows the run held out), or another --test-dataset."
                        : $"another --test-dataset, such as the one the run scored ({Path.GetRelativePath(Environment.CurrentDirectory, Path.GetFullPath(
                            Path.Combine(Path.GetDirectoryName(Path.GetFullPath(parse.GetValue(o.Model)!))!, settings.TestDataset ?? settings.ValidationDataset!)))})."));
            int unlabeled = data.Count - labeled.Length;
            data = data.Subset(labeled);
            string[] classes = ClassNames(model, schema);
            // Metrics of rows whose classes are all unknown to the model say nothing (accuracy 0, AUC NaN): the wrong
            // file or label column is the likely cause, so stop and say so.
            Func<string, int?> known = ClassLabels.Matcher(classes);
            if (data.Labels.All(l => known(l) is null))
            {
                static string Few(IEnumerable<string> names) { var list = names.ToList(); return string.Join(", ", list.Take(8).Select(n => $"'{n}'")) + (list.Count > 8 ? ", ..." : ""); }
                throw new CliException($"{parse.GetValue(test) ?? "--holdout"}: none of its {data.Count:N0} labeled rows has a class the model knows " +
                    $"(the model's: {Few(classes)}; this file's: {Few(data.Labels.Distinct(StringComparer.Ordinal))}); check that it is a test set for this model, and --label-col.");
            }
            var scored = TrainingRun.Score(model, data, classes);
            // The training run's positive class; without run.json, the rarer class among these rows (the search's rule).
            int positive = settings?.PositiveClass is { } recorded && Array.IndexOf(classes, recorded) is >= 0 and var index
                ? index
                : TestMetrics.PositiveClass(classes, data.ClassCounts());
            int fileClasses = data.ClassCounts().Count;
            Console.WriteLine($"{data.Count:N0} labeled rows of {fileClasses} class{(fileClasses == 1 ? "" : "es")}" +
                (fileClasses != classes.Length ? $" (the model has {classes.Length})" : "") +
                (unlabeled > 0 ? $" ({unlabeled:N0} unlabeled row{(unlabeled == 1 ? "" : "s")} left out)." : ".") +
                (classes.Length == 2 ? $" AUC and F1 take '{classes[positive]}' as the positive class." : ""));
            foreach (string metric in TestMetrics.Names.Where(m => classes.Length == 2 || m is not ("auc" or "f1")))
            {
                // The training run's seed (run.json), so the bootstrap intervals are those its console and report printed
                // for the same model and test rows; 0 without run.json.
                var (value, lower, upper) = TestMetrics.WithInterval(metric, scored, classes.Length, positive, seed: settings?.Seed ?? 0);
                // AUC compares positive rows with negative ones: test rows of one class have no such pair.
                Console.WriteLine(double.IsNaN(value)
                    ? $"  {metric,-15} not defined: the test rows hold only {string.Join(", ", data.Labels.Distinct(StringComparer.Ordinal).Select(l => $"'{l}'"))}; add rows of the other class"
                    : string.Create(CultureInfo.InvariantCulture, $"  {metric,-15} {value:0.0000}  (95% interval {lower:0.0000} to {upper:0.0000})"));
            }
            if (TestMetrics.LogLossNote(scored, classes.Length) is { } logLossNote) Console.WriteLine($"Note: {logLossNote}");
            PrintInputNotes(model, data, settings);
            // In TrainingRun.Score's order: the k-th label the model never saw is actual class -2 - k; the first ten get rows.
            List<string> unseenNames = TrainingRun.UnseenLabels(data.Labels, known);
            // One pass over the rows (counting each cell over every row took classes² passes: minutes for a thousand classes).
            var cells = new Dictionary<(int Actual, int Predicted), int>();
            foreach (var row in scored) cells[(row.Actual, row.Predicted)] = cells.GetValueOrDefault((row.Actual, row.Predicted)) + 1;
            string Count(int actual, int predicted) => cells.GetValueOrDefault((actual, predicted)).ToString(CultureInfo.InvariantCulture);
            string ActualName(int actual) => actual >= 0 ? classes[actual] : $"{unseenNames[-2 - actual]} (unseen)";
            if (classes.Length <= MaxMatrixClasses)
            {
                Console.WriteLine("Confusion matrix (rows: actual, columns: predicted):");
                int width = Math.Max(6, classes.Concat(unseenNames.Take(10).Select(n => $"{n} (unseen)")).Max(c => c.Length) + 1);
                Console.WriteLine(new string(' ', width) + string.Concat(classes.Select(c => c.PadLeft(width))));
                for (int a = 0; a < classes.Length; a++)
                    Console.WriteLine(classes[a].PadRight(width) + string.Concat(classes.Select((_, p) => Count(a, p).PadLeft(width))));
                // Their rows too, so the matrix shows what the model took them for.
                for (int k = 0; k < Math.Min(10, unseenNames.Count); k++)
                    Console.WriteLine($"{unseenNames[k]} (unseen)".PadRight(width) + string.Concat(classes.Select((_, p) => Count(-2 - k, p).PadLeft(width))));
            }
            else
            {
                // A matrix of this many classes is wider than any console: the cells that hold the errors, largest first.
                var errors = cells.Where(c => c.Key.Actual != c.Key.Predicted).OrderByDescending(c => c.Value)
                    .ThenBy(c => c.Key.Actual < 0 ? int.MaxValue : c.Key.Actual).ThenBy(c => c.Key.Predicted).ToList();
                Console.WriteLine($"Confusion matrix: {classes.Length} classes, too many to print as a matrix; the {Math.Min(MaxListedConfusions, errors.Count)} most frequent " +
                    $"confusions of {errors.Sum(c => c.Value):N0} errors (actual -> predicted: rows):");
                foreach (var ((actual, predicted), rows) in errors.Take(MaxListedConfusions))
                    Console.WriteLine($"  {ActualName(actual)} -> {classes[predicted]}: {rows:N0}");
                if (errors.Count > MaxListedConfusions) Console.WriteLine($"  ({errors.Count - MaxListedConfusions:N0} more pairs, {errors.Skip(MaxListedConfusions).Sum(c => c.Value):N0} errors, not shown)");
            }
            int unseen = scored.Count(r => r.Actual < 0);
            if (unseen > 0)
            {
                if (unseenNames.Count > 10 && classes.Length <= MaxMatrixClasses) Console.WriteLine($"({unseenNames.Count - 10} more unseen classes, {scored.Count(r => r.Actual < -11)} row(s), not shown)");
                Console.WriteLine($"{unseen} row(s) have a class the model never saw ({string.Join(", ", unseenNames.Take(10).Select(n => $"'{n}'"))}" +
                    $"{(unseenNames.Count > 10 ? ", ..." : "")}); they count as errors, and each such class counts in macro-accuracy with recall 0.");
                foreach (string sameButCase in ClassLabels.CaseOnlyDifferences(unseenNames, classes)) Console.WriteLine($"  {sameButCase}");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The most classes evaluate prints as a matrix (a 20-class matrix of short names fits a wide console).</summary>
    internal const int MaxMatrixClasses = 20;

    /// <summary>How many confusions evaluate lists in place of a matrix of more classes.</summary>
    private const int MaxListedConfusions = 20;

    /// <summary>What predict and evaluate both say about rows unlike the training rows: category values training never
    /// saw, and numbers far outside its range.</summary>
    private static void PrintInputNotes(ITransformer model, TrainingData data, RunSettings? settings)
    {
        PrintFirst(ModelParts.UnseenCategories(model, data), "column(s) hold values the model has no category for");
        PrintFirst(ModelParts.FarOutsideTrainingRange(data, settings?.NumericRanges), "column(s) hold numbers far outside the training range");
    }

    /// <summary>The first <see cref="MaxInputNotes"/> notes, then how many more: a table of hundreds of columns would
    /// print a line for each.</summary>
    private static void PrintFirst(IEnumerable<string> notes, string rest)
    {
        int count = 0;
        foreach (string note in notes)
        {
            if (++count <= MaxInputNotes) Console.WriteLine(note);
        }
        if (count > MaxInputNotes) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"... and {count - MaxInputNotes:N0} more {rest}."));
    }

    /// <summary>How many notes of one kind predict and evaluate print about the input's columns.</summary>
    private const int MaxInputNotes = 10;

    /// <summary>The model, its input schema, and the run.json beside it when there is one.</summary>
    internal static (ITransformer Model, DataViewSchema Schema, RunSettings? Settings) LoadModel(MLContext ml, string path)
    {
        // A run folder given for its model was reported as "model not found", though it was found.
        if (Directory.Exists(path))
        {
            string[] zips = Directory.GetFiles(path, "*.zip");
            throw new CliException($"{path}: a folder; --model takes the <Name>.zip a training command wrote" +
                (zips.Length == 1 ? $", here {zips[0]}." : zips.Length > 1 ? $" ({zips.Length} zips in this folder)." : " (this folder has none)."));
        }
        if (!File.Exists(path)) throw new CliException($"{path}: model not found; --model takes the <Name>.zip a training command wrote.");
        ITransformer model;
        DataViewSchema schema;
        try
        {
            model = ml.Model.Load(path, out schema);
        }
        catch (Exception e) when (e is InvalidOperationException or InvalidDataException or FormatException)
        {
            throw new CliException($"{path}: not a loadable ML.NET model ({e.Message}).", e);
        }
        catch (Exception e) when (MissingPart(e) is Exception missing)
        {
            // The zip names the assemblies (and versions) that wrote its parts; another tool version may not have them.
            string? wrote = ReadRunSettings(path)?.Versions.GetValueOrDefault("mlnet-ssl");
            throw new CliException($"{path}: written by {(wrote is null ? "another version of mlnet-ssl or its libraries" : $"mlnet-ssl {wrote}")}, " +
                $"which this mlnet-ssl ({TrainingRun.Versions()["mlnet-ssl"]}) cannot load ({missing.Message.ReplaceLineEndings(" ").Trim()}); score it with the version " +
                "that trained it, or train it again with this one.", e);
        }
        return (model, schema, ReadRunSettings(path));
    }

    /// <summary>The assembly or type a model names that this process lacks (ML.NET wraps it in reflection exceptions).</summary>
    private static Exception? MissingPart(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is FileNotFoundException or FileLoadException or TypeLoadException or MissingMethodException) return e;
        return null;
    }

    /// <summary>The run.json beside a model, or null when there is none or it cannot be read (that only loses the recorded
    /// CSV settings; the command-line options still apply).</summary>
    private static RunSettings? ReadRunSettings(string modelPath)
    {
        string runJson = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, "run.json");
        if (!File.Exists(runJson)) return null;
        try
        {
            return JsonSerializer.Deserialize<RunSettings>(File.ReadAllText(runJson), RunSettings.Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The full path of the --dataset the model was trained on (run.json's, relative to its folder), without a
    /// trailing separator; null without run.json.</summary>
    private static string? TrainingDataOf(string modelPath, RunSettings? settings) =>
        settings?.Dataset is not { Length: > 0 } dataset ? null
            : Path.TrimEndingDirectorySeparator(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, dataset)));

    /// <summary>The rows a training run held out of its --dataset to score its model: the dataset read again as training read
    /// it (run.json's settings; its paths are relative to its folder) and split with the run's fraction and seed.</summary>
    private static TrainingData LoadHoldOut(MLContext ml, string modelPath, RunSettings? settings)
    {
        string runJson = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, "run.json");
        if (settings is null)
            throw new CliException($"{runJson}: not found or not readable; --holdout needs the run.json the training run wrote beside the model. Give --test-dataset instead.");
        string folder = Path.GetDirectoryName(runJson)!;
        string Resolve(string p) => Path.GetFullPath(Path.Combine(folder, p));
        if ((settings.TestDataset ?? settings.ValidationDataset) is { } scored)
            throw new CliException($"The training run held no rows out: it scored {(settings.TestDataset is null ? "--validation-dataset" : "--test-dataset")} " +
                $"{Resolve(scored)}; evaluate with --test-dataset {Resolve(scored)}.");
        string dataset = Resolve(settings.Dataset);
        if (!File.Exists(dataset) && !Directory.Exists(dataset))
            throw new CliException($"{dataset}: the training data run.json names ('{settings.Dataset}', relative to its folder) is not there; " +
                "put it back, or give the held-out rows as a file with --test-dataset.");
        TrainingData all = TrainingRun.LoadTrainingData(ml, settings, dataset);
        var (_, held) = all.StratifiedHoldOut(settings.HoldOutFraction, settings.Seed);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"The training run's hold-out: {held.Length:N0} of the {all.LabeledCount:N0} labeled rows of {dataset} (fraction {settings.HoldOutFraction}, seed {settings.Seed})."));
        return all.Subset(held);
    }

    private static TrainingData LoadData(MLContext ml, ITransformer model, DataViewSchema schema, RunSettings? settings, string path, Options o, ParseResult parse)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) throw new CliException($"{path}: not found.");
        // A recorded table layout finds the label itself (by name in a header, by position without one).
        TableLayout? layout = settings is { Task: "classification", TableColumns: { } columns, TableLabelIndex: int labelIndex }
            && labelIndex >= 0 && labelIndex < columns.Count ? new TableLayout(columns, labelIndex) : null;
        CsvSettings csv = DatasetReader.Csv(parse.GetValue(o.HasHeader) ?? settings?.HasHeader, parse.GetValue(o.Separator) ?? settings?.Separator,
            parse.GetValue(o.LabelColumn)?.Trim() ?? (layout is null && File.Exists(path) && settings?.Task == "classification" ? LabelIfPresent(path, settings!) : null), [],
            settings?.DecimalMarker);
        ResampleSeriesTransformer? resample = SeriesResampler(model);
        if (csv.LabelColumn is null && File.Exists(path) && schema.GetColumnOrNull(SeriesLoader.SeriesColumn) is not null)
        {
            // A series CSV: the label column training used (run.json), when this file has it; otherwise every cell is a value.
            string recorded = settings?.LabelColumn ?? "0";
            bool positional = int.TryParse(recorded, NumberStyles.None, CultureInfo.InvariantCulture, out int index);
            string[] classes = ClassNames(model, schema);
            int? modelValues = resample is null ? null : resample.Channels * resample.Length;
            var (holds, note) = positional ? SeriesLoader.ReadLabelColumn(path, csv, index, classes, modelValues)
                : (SeriesLoader.HoldsNamedColumn(path, csv, recorded), null);
            csv = csv with { LabelColumn = holds ? recorded : SeriesLoader.NoLabelColumn };
            // Labels at the other end (a file written label-last for a model trained label-first, or the reverse), or last
            // in series of another length than a label-last model's, would otherwise be read as steps (or refused as words).
            if (positional && csv.LabelColumn == SeriesLoader.NoLabelColumn
                && SeriesLoader.LabelAtOtherEnd(path, csv, index, classes, ClassLabels.Matcher(classes), modelValues) is int other)
            {
                csv = csv with { LabelColumn = other.ToString(CultureInfo.InvariantCulture) };
                Console.WriteLine($"Note: {path} holds the model's class names in its {(other == 0 ? "first" : "last")} column; they are read as " +
                    "labels, not as a step of the series (--label-col sets the column).");
            }
            // Said whenever the reading is not plain (labels matched by value, unseen classes, a class-like column kept as a step).
            else if (note is not null) Console.WriteLine($"Note: {note}");
        }
        int? trainingLabelIndex = settings?.Task == "classification" && int.TryParse(settings.LabelColumn, NumberStyles.None, CultureInfo.InvariantCulture, out int label)
            ? label : null;
        // A series CSV is read with the model's channels: run.json records --channels, which a .ts training file ignores.
        TrainingData data = DatasetReader.LoadForModel(ml, schema, path, csv, parse.GetValue(o.UnlabeledFolder) ?? settings?.UnlabeledFolder ?? "unlabeled",
            resample?.Channels ?? settings?.Channels ?? 1, layout, trainingLabelIndex, layout is null ? null : ClassNames(model, schema));
        if (data.RepeatedHeaderNote is not null) Console.WriteLine($"Note: {data.RepeatedHeaderNote}");
        if (data.MatchNote is not null) Console.WriteLine($"Note: {data.MatchNote}");
        if (data.PaddingNote is not null) Console.WriteLine($"Note: {data.PaddingNote}");
        // The scores include these rows, filled with the training means: say so, naming the file, as training does.
        if (data.FilledNote is not null) Console.WriteLine($"Note: {path}: {data.FilledNote}");
        if (TrainingRun.HiddenNote(data.HiddenEntries) is { } hidden) Console.WriteLine($"Note: {hidden}");
        if (TrainingRun.PictureInAlphaNote(data) is { } alpha) Console.WriteLine($"Note: {alpha}");
        if (TextFileEncoding.NoteFor(path, data.Kind) is { } encoding) Console.WriteLine($"Note: {encoding}");
        // A .ts file states its channels; other channels than the model's would be regrouped into its channels and scored.
        if (resample is not null && data.SeriesLengths is { Length: > 0 } && data.SeriesChannels != resample.Channels
            && SeriesLoader.IsTsFile(path))
            throw new CliException($"{path} holds series of {data.SeriesChannels} channel(s), but the model was trained on {resample.Channels}; " +
                "score series with the channels the model was trained on, in the same order.");
        if ((SeriesShapeNote(resample, data) ?? SeriesLengthNote(settings?.SeriesLengthRange, data)) is { } shape) Console.WriteLine($"Note: {shape}");
        return data;
    }

    // Series much shorter or longer than the model's (a univariate file for a 6-channel model reads as 6 short channels;
    // another sampling rate; a truncated export) are resampled and scored all the same; say so, as the predictions are then
    // likely meaningless. A variable-length training set's test series stay near its median, well inside 1.5x.
    private static string? SeriesShapeNote(ResampleSeriesTransformer? resample, TrainingData data)
    {
        if (data.SeriesLengths is not { Length: > 0 } lengths || resample is null) return null;
        int median = SeriesLoader.Median(lengths);
        // A model that averaged longer series down (SeriesResampling.Mean) was trained on series longer than its length.
        if (median * 3 >= resample.Length * 2 && (median * 2 <= resample.Length * 3 || resample.Resampling == SeriesResampling.Mean)) return null;
        return string.Create(CultureInfo.InvariantCulture,
            $"these series have {median} steps per channel (median, read as {data.SeriesChannels} channel(s)) where the model was trained on {resample.Length}; ") +
            "they are resampled to the model's length and scored, but check that the file holds the training file's channels (a series CSV row is channel after channel).";
    }

    /// <summary>A note when series of the file are shorter or longer than every training series (run.json's
    /// <see cref="RunSettings.SeriesLengthRange"/>): within 1.5x of the model's length <see cref="SeriesShapeNote"/> says
    /// nothing, yet a test export of 23 steps for a model of 24-step series was stretched and scored 0.854 against 0.968
    /// for the whole series. Null when they are all within the range, or run.json predates the range. When the training
    /// lengths varied, the range is only the training sample's: a test series a little outside it is another of the same
    /// kind (JapaneseVowels: 29 steps against 7 to 26 in training), so only lengths beyond 1.5x of its ends are named.</summary>
    internal static string? SeriesLengthNote(IReadOnlyList<int>? trainingRange, TrainingData data)
    {
        if (trainingRange is not [int shortest, int longest] || data.SeriesLengths is not { Length: > 0 } lengths) return null;
        (double low, double high) = shortest == longest ? (shortest, longest) : (shortest / 1.5, longest * 1.5);
        int[] outside = [.. Enumerable.Range(0, lengths.Length).Where(i => lengths[i] < low || lengths[i] > high)];
        if (outside.Length == 0) return null;
        string training = shortest == longest ? $"every training series had {shortest}" : $"the training series had {shortest} to {longest}";
        string which = shortest == longest ? "a length the training series did not" : "a length far outside the training series'";
        return string.Create(CultureInfo.InvariantCulture,
            $"{outside.Length:N0} of the {lengths.Length:N0} series have {which} ({lengths[outside[0]]} steps per channel in the ") +
            $"first of them, {data.RowNames[outside[0]]}; {training}); they are resampled to the model's length and scored, but a series cut short or " +
            "padded (a missing last column, another export) gives predictions of another series: check the file against the training file.";
    }

    // The model's series resampling step, the first of a series model.
    private static ResampleSeriesTransformer? SeriesResampler(ITransformer model) =>
        ModelParts.Flatten(model).OfType<ResampleSeriesTransformer>().FirstOrDefault();

    // The recorded label column, when the file to score has it (files to predict often do not).
    private static string? LabelIfPresent(string path, RunSettings settings)
    {
        if (settings.LabelColumn is null) return null;
        try
        {
            CsvTable table = CsvTable.Read(path, DatasetReader.Csv(settings.HasHeader, settings.Separator, null, [], settings.DecimalMarker));
            table.ColumnIndex(settings.LabelColumn, "--label-col");
            return table.HasHeader || int.TryParse(settings.LabelColumn, out _) ? settings.LabelColumn : null;
        }
        catch (CliException)
        {
            return null;
        }
    }

    /// <summary>Class names in Score order, from the Score column's slot names.</summary>
    public static string[] ClassNames(ITransformer model, DataViewSchema inputSchema)
    {
        DataViewSchema.Column score = model.GetOutputSchema(inputSchema)["Score"];
        VBuffer<ReadOnlyMemory<char>> names = default;
        if (score.HasSlotNames()) score.GetSlotNames(ref names);
        string[] result = names.DenseValues().Select(v => v.ToString()).ToArray();
        int size = score.Type is VectorDataViewType vector ? vector.Size : 1;
        return result.Length == size ? result : Enumerable.Range(0, size).Select(i => $"class{i}").ToArray();
    }

    private static void WritePredictions(ITransformer model, TrainingData data, string path)
    {
        string[] classes = ClassNames(model, data.View.Schema);
        var (predicted, scores) = TrainingRun.ReadPredictions(model.Transform(data.View));
        WriteCsv(path, ["Row", "PredictedLabel", .. classes.Select(c => $"Score_{c}")],
            Enumerable.Range(0, data.Count).Select(r => (IEnumerable<string>)[RowName(data, r), predicted[r], .. scores[r].Select(Format)]));
    }

    private static void WriteEmbeddings(ITransformer model, string modelPath, TrainingData data, string path)
    {
        IDataView view = data.View;
        foreach (ITransformer part in ModelParts.Flatten(model))
        {
            view = part.Transform(view);
            if (part is SelfSupervisedTransformer stage)
            {
                float[][] vectors = view.GetColumn<VBuffer<float>>(stage.OutputColumnName).Select(v => v.DenseValues().ToArray()).ToArray();
                WriteCsv(path, ["Row", .. Enumerable.Range(0, stage.EmbeddingSize).Select(i => $"e{i}")],
                    Enumerable.Range(0, data.Count).Select(r => (IEnumerable<string>)[RowName(data, r), .. vectors[r].Select(Format)]));
                return;
            }
        }
        // A fine-tuned network (pretrained or from scratch) holds its encoder inside the classifier: no stage outputs embeddings.
        bool fineTuned = ModelParts.Flatten(model).Any(p => p is SelfSupervisedFineTuneTransformer);
        throw new CliException(fineTuned
            ? $"{modelPath}: the model's search chose a fine-tuned network, whose encoder is trained into the classifier, so no " +
              "stage of it outputs an embedding to write (ml.Transforms.SelfSupervised in the MlNetSsl library pretrains an encoder " +
              "whose embedding you can keep)."
            : $"{modelPath}: the model's search chose a pipeline on the raw features, without an encoder, so it has no embedding " +
              "to write (ml.Transforms.SelfSupervised in the MlNetSsl library pretrains one directly).");
    }

    private static string RowName(TrainingData data, int row) => data.ImagePaths?[row] ?? data.RowNames[row];

    private static string Format(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static void WriteCsv(string path, IEnumerable<string> header, IEnumerable<IEnumerable<string>> rows)
    {
        try
        {
            CliFile.Replace(path, temporary =>
            {
                using var writer = new StreamWriter(temporary, false, new UTF8Encoding(false));
                writer.WriteLine(string.Join(',', header.Select(CsvTable.QuoteCell)));
                foreach (var row in rows) writer.WriteLine(string.Join(',', row.Select(CsvTable.QuoteCell)));
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--out {path}: the file cannot be written ({e.Message}); give a path in a folder you can write to.", e);
        }
    }
}
