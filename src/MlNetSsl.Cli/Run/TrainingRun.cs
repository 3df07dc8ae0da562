using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using MlNetSsl.Cli.CodeGen;
using MlNetSsl.Cli.Commands;
using MlNetSsl.Cli.Data;
using MlNetSsl.Cli.Report;
using SkiaSharp;

namespace MlNetSsl.Cli.Run;

/// <summary>
/// One training command from data to outputs: loads the data, holds out test rows when no test set is given, runs the
/// self-supervised AutoML search, saves the model and every output file in &lt;output&gt;/&lt;Name&gt;/, and fills the report.
/// Ctrl+C ends the search early and still saves the best model found so far (exit code 130).
/// </summary>
internal sealed partial class TrainingRun(RunSettings settings, bool resume, RunLog log)
{
    private readonly Dictionary<string, double> _phases = new(StringComparer.Ordinal);
    private readonly Stopwatch _total = Stopwatch.StartNew();
    private readonly DateTime _startedUtc = DateTime.UtcNow;
    private readonly List<string> _notes = [];
    // The outputs (by WriteOutput's names) that could not be written: the closing "Next:" line does not point to them.
    private readonly HashSet<string> _failedOutputs = new(StringComparer.Ordinal);

    // A note for the console (at every verbosity) and for the report's notes alike.
    private void ShowAndKeep(string note)
    {
        log.Always(note);
        _notes.Add(note);
    }
    private int _positive = 1;
    private string? _positiveClass;

    /// <summary>The most common class among the labeled test rows and its share: the accuracy of predicting it for every row.</summary>
    private (string Class, double Share)? _majority;
    private string? _decimalMarker;
    private IReadOnlyDictionary<string, double[]>? _numericRanges;
    private int[]? _seriesLengthRange;
    private string? _farBelowNote;
    // The log-loss note of the test rows (--metric log-loss), for the summary and the report.
    private string? _logLossNote;
    // The images of the report's maps, decoded once for both (Map).
    private IDataView? _mapImages;
    private TableLayout? _layout;
    private string? _seriesLabelColumn;
    // A .ts file's own channel count (it ignores --channels), recorded in run.json instead of the option's default.
    private int? _seriesChannels;
    // Where the "search and refit" phase went: before the search's clock, the search, its first trial (null when unknown).
    private (double BeforeSearch, double Search, double FirstTrial)? _searchTimes;

    /// <summary>The run's folder, &lt;output&gt;/&lt;Name&gt;.</summary>
    public string RunFolder => Path.GetFullPath(Path.Combine(settings.Output, settings.Name));

    public async Task<int> ExecuteAsync(CancellationToken cancellation)
    {
        // The run folder exists: the command made it (CreateRunFolder) before it opened the log inside it.
        if (!settings.WorkerOnly) CliFile.RemoveLeftTemporaries(RunFolder);
        string checkpoint = Path.Combine(RunFolder, "checkpoint");
        var ml = new MLContext(settings.Seed);
        CheckDevice(settings.Device);

        // ---- data ----
        var clock = Stopwatch.StartNew();
        CsvSettings csv = TrainingCsv(settings);
        TrainingData all = LoadTrainingData(ml, settings, settings.Dataset);
        NoteEncoding(settings.Dataset, all.Kind);
        // Test files and files to score are read with the training file's decimal marker (run.json records a comma).
        if (all.Kind == DatasetKind.Table) csv = csv with { DecimalMarker = all.DecimalMarker };
        _decimalMarker = all.Kind == DatasetKind.Table && all.DecimalMarker == ',' ? "," : null;
        _layout = all.Kind == DatasetKind.Table ? all.Layout : null;
        _numericRanges = ModelParts.NumericRanges(all);
        _seriesLengthRange = all.Kind == DatasetKind.Series && all.SeriesLengths is { Length: > 0 } trainingLengths ? [trainingLengths.Min(), trainingLengths.Max()] : null;
        // A series CSV's label found at the end of its lines: test files are read alike, and run.json records it for
        // predict, evaluate and replays.
        if (all.SeriesLabelColumn is { } seriesLabel) csv = csv with { LabelColumn = seriesLabel };
        _seriesLabelColumn = all.SeriesLabelColumn;
        _seriesChannels = all.Kind == DatasetKind.Series ? all.SeriesChannels : null;
        if (all.LabeledCount == 0)
            throw new CliException($"{settings.Dataset}: no labeled row (every label is empty); label some rows of at least two classes.");
        TrainingData train, test;
        string testDescription;
        if (settings.TestDataset is not null)
        {
            train = all;
            test = LoadTest(ml, all, settings.TestDataset, csv);
            testDescription = $"--test-dataset {settings.TestDataset}";
        }
        else if (settings.ValidationDataset is not null)
        {
            // Rows the user set aside take the place of the stratified hold-out: every training row trains.
            train = all;
            test = LoadTest(ml, all, settings.ValidationDataset, csv);
            testDescription = $"--validation-dataset {settings.ValidationDataset} (the hold-out; they were not used for training)";
        }
        else
        {
            var (trainRows, testRows) = all.StratifiedHoldOut(settings.HoldOutFraction, settings.Seed);
            train = all.Subset(trainRows);
            test = all.Subset(testRows);
            testDescription = HoldOutDescription(settings.HoldOutFraction, testRows.Length, all.LabeledCount, settings.Seed);
        }
        if (train.ClassCounts().Count < 2)
            throw new CliException($"{settings.Dataset}: the training rows hold a single class ('{train.ClassCounts().Keys.FirstOrDefault()}'); label rows of at least two classes.");
        int testLabeled = test.LabeledCount;
        if (testLabeled == 0)
            throw new CliException((settings.TestDataset ?? settings.ValidationDataset) is { } testPath
                ? $"{testPath}: no labeled test row to score the model on; give it labeled rows."
                // The stratified hold-out takes rows only from classes with 2 labels or more, so one label per class leaves none.
                : $"{settings.Dataset}: no labeled row can be held out to score the model (the hold-out takes rows only from classes with at least 2 labels); " +
                  // A label of one distinct number per row is a quantity, not classes: the warning that says so comes
                  // after this check, so without it here the advice was to label more rows of some class.
                  (RegressionLikeLabel(all) is { } quantity ? quantity["Warning: ".Length..] + " Or " : "") +
                  "label at least 2 rows of some class, or give labeled test rows with --test-dataset.");
        log.Info($"Data: {train.Count:N0} training rows ({train.LabeledCount:N0} labeled, {train.Count - train.LabeledCount:N0} unlabeled, " +
            $"{train.ClassCounts().Count} classes); {testLabeled:N0} test row{(testLabeled == 1 ? "" : "s")} ({testDescription}).");
        if (testLabeled < MinimumTestRows)
        {
            // One row moves a 10-row test accuracy by 10 points: two pipelines' test figures then differ by noise.
            string few = string.Create(CultureInfo.InvariantCulture,
                $"Only {testLabeled} labeled test row{(testLabeled == 1 ? "" : "s")}: one row moves the test accuracy by {100.0 / testLabeled:0.#} points, so test figures ") +
                "(the chosen pipeline's and the best without SSL) can differ by chance; the cross-validated leaderboard ranks pipelines on more rows. " +
                "For a firmer test figure, give --test-dataset with more labeled rows.";
            ShowAndKeep(few);
        }
        // How a CSV was read (separator, header, decimal comma): a wrong detection shows here, before the search.
        if (all.Kind == DatasetKind.Table) foreach (string read in all.SizeSummary) log.Info($"Read as: {read}.");
        if (all.SeriesFormat is { } seriesFormat) log.Info($"Read as: {string.Join("; ", all.SizeSummary)}; {seriesFormat}.");
        // Larger photos are not read at their size: say so before a user wonders why 128-pixel images train as fast.
        if (all.Kind == DatasetKind.Images)
            log.Info($"Images are resized to {ImageSide}x{ImageSide} for the encoder and the raw-pixel trainers; sizes found: {string.Join(", ", all.SizeSummary.Take(4))}{(all.SizeSummary.Count > 4 ? ", ..." : "")}.");
        foreach (string skipped in all.Skipped) log.Detail($"skipped {skipped}");
        if (all.Skipped.Count > 0) log.Info($"Skipped {all.Skipped.Count} unreadable file(s); they are listed in the report and log.txt.");
        if (RegressionLikeLabel(all) is { } regression)
        {
            ShowAndKeep(regression);
        }
        if (all.IgnoredTopLevel.Count > 0)
        {
            foreach (string ignored in all.IgnoredTopLevel) log.Detail($"ignored {ignored}: directly in the dataset folder, not in a class folder");
            log.Info($"Ignored {all.IgnoredTopLevel.Count:N0} image(s) lying directly in {settings.Dataset} (first: {all.IgnoredTopLevel[0]}); " +
                $"move them into a class folder, or into '{ImageFolder.UnlabeledFolderIn(Path.GetFullPath(settings.Dataset), settings.Dataset, settings.UnlabeledFolder, forTraining: false)}' " +
                "to pretrain on them unlabeled.");
        }

        IReadOnlyDictionary<string, int> trainedClasses = train.ClassCounts();
        // The report's data summary marks imbalance already; the console did not.
        if (ImbalanceNote(trainedClasses, settings.Metric) is { } imbalance) log.Always(imbalance);
        // Among the classes the model learns: a test class training never saw is one it cannot predict.
        _majority = test.Labels.Where(l => l.Length > 0 && trainedClasses.ContainsKey(l)).GroupBy(l => l, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => ((string Class, double Share)?)(g.Key, g.Count() / (double)testLabeled)).FirstOrDefault();
        foreach (string note in ImageFolderNotes(all, train, test))
        {
            ShowAndKeep(note);
        }

        if (all.LabelNote is { } labelNote)
        {
            ShowAndKeep(labelNote);
        }
        if (CaseVariantLabels(all.ClassCounts()) is { } caseNote)
        {
            ShowAndKeep(caseNote);
        }
        if (all.IdentifierColumns.Count > 0)
        {
            string ids = string.Join(", ", all.IdentifierColumns.Select(c => $"'{c}'"));
            string kinds = "every value distinct: whole numbers rising or falling in file order, whole numbers under an identifier's name, or single words";
            string identifiers = all.IdentifiersLeftOut
                ? $"Column(s) {ids} look like row identifiers ({kinds}), so they are left out of the inputs: a model would learn the rows' order in this file from them, " +
                    $"not what the rows are. If they are measurements, keep them with --keep-cols {string.Join(",", all.IdentifierColumns)}."
                : $"Column(s) {ids} look like row identifiers ({kinds}) but are the only inputs, so they stay; a model can learn only the row order from them.";
            ShowAndKeep(identifiers);
            // A daily table's date column is every row's own value, so it reads as an identifier; said as a date, with
            // what would make it usable (a date no training row holds, every later one, tells a model nothing).
            if (all.IdentifierDateColumns.Count > 0)
                ShowAndKeep($"Column(s) {FirstTen(all.IdentifierDateColumns, "; ")} hold a different date on every row, which is why they read as row identifiers. " +
                    "To use them, derive number columns from them (year, month, day of week, days since a start).");
        }
        if (all.ConstantColumns.Count > 0)
        {
            // Kept as inputs (the model's input schema stays the file's), but a user who meant them to matter should know.
            // The first ten: an image flattened into a table (MNIST's 784 pixels) has 150 blank border columns.
            string constants = $"Column(s) {FirstTen(all.ConstantColumns, ", ")} " +
                "hold no more than one value, so no model can learn from them; check the export if they should vary, or leave them out with --ignore-cols.";
            ShowAndKeep(constants);
        }
        foreach (string note in new[] { all.RepeatedHeaderNote, all.RepeatedNameNote, all.PaddingNote }.OfType<string>())
        {
            ShowAndKeep(note);
        }
        // Named as the test file's note is, so a user with two files knows which one holds the missing values.
        if (all.FilledNote is { } filled) ShowAndKeep($"{settings.Dataset} (the training rows): {filled}");
        // Text columns that a user most likely meant as numbers (or, for dates, as something a model can carry to later
        // rows), each kind with what to do about it.
        foreach (var (columns, why) in new (IReadOnlyList<string> Columns, string Why)[]
        {
            (all.MostlyNumericTextColumns, "hold numbers but for a few cells, so they are read as text (categories or words), not as numbers. " +
                "If those cells mean a missing value, leave them empty (or write ?, NA) and the column is read as numbers."),
            (all.GroupedNumberTextColumns, "hold numbers written with digit-group separators, so they are read as text (categories or words), not as numbers. " +
                "Write them without the separators (as a spreadsheet's General number format does) for the column to be read as numbers."),
            // Categories of amounts have no order and know no unseen amount; hashed words of them mean nothing.
            (all.UnitNumberTextColumns, "hold numbers written with a percent or currency sign, so they are read as text (categories or words), not as numbers. " +
                "Write them without the sign (and without digit-group separators) for the column to be read as numbers."),
            // A date read as text is one category (or one hashed word) per day: nothing carries over to the later dates a
            // model scores, and more than 100 of them are hashed words, which export-onnx cannot convert.
            (all.DateTextColumns, "hold dates, so they are read as text: each date is a category or a word of its own, and the model learns nothing it " +
                "can use on a date the training rows do not hold (every later one). Derive number columns from them (year, month, day of week, days since " +
                "a start) and leave them out with --ignore-cols."),
        })
        {
            if (columns.Count > 0) ShowAndKeep($"Column(s) {FirstTen(columns, "; ")} {why}");
        }

        if (all.EmptyClassFolders.Count > 0)
        {
            string empty = $"Class folder(s) without a readable image, so not learned as classes: {string.Join(", ", all.EmptyClassFolders.Take(5).Select(f => $"'{f}'"))}" +
                (all.EmptyClassFolders.Count > 5 ? $" and {all.EmptyClassFolders.Count - 5} more" : "") + "; add images to them, or remove them.";
            ShowAndKeep(empty);
        }

        int medianLength = train.SeriesLengths is { } lengths ? SeriesLoader.Median(lengths) : 0;
        int seriesLength = settings.SeriesLength ?? Math.Min(medianLength, MaxDefaultSeriesLength);
        // Shrinking averages (picking every k-th step keeps the noise of the steps it skips); stretching interpolates.
        // Mean does both, row by row, so it serves whenever a training series is longer than the length: with a
        // variable-length file at its median length, the longer half is averaged down (PLAID's 1,344 steps into 300).
        int longestLength = train.SeriesLengths is { Length: > 0 } trainLengths ? trainLengths.Max() : 0;
        int shortestLength = train.SeriesLengths is { Length: > 0 } ? train.SeriesLengths.Min() : 0;
        SeriesResampling seriesResampling = longestLength > seriesLength ? SeriesResampling.Mean : SeriesResampling.Linear;
        string how = seriesResampling == SeriesResampling.Linear ? "linear interpolation"
            : shortestLength < seriesLength ? "a longer one averaged, each step the mean of the steps it covers, a shorter one stretched by linear interpolation"
            : "each step the mean of the steps it covers";
        string? lengthNote = train.Kind != DatasetKind.Series ? null
            : train.SeriesLengths!.Distinct().Count() > 1
                ? $"Series differ in length ({train.SeriesLengths!.Min()} to {train.SeriesLengths!.Max()} steps); every channel is resampled to {seriesLength} steps ({how}; --series-length changes it)."
            : seriesLength != medianLength
                ? $"Series have {medianLength} steps per channel; every channel is resampled to {seriesLength} steps ({how}" +
                    (settings.SeriesLength is null ? $": the default stops at {MaxDefaultSeriesLength}, as the encoder's time and memory grow with the length; --series-length changes it)." : ").")
            : null;
        // The experiment's own note on long series speaks of the API's ResampleSeries; here --series-length is the lever.
        if (train.Kind == DatasetKind.Series && seriesLength > MaxDefaultSeriesLength)
            lengthNote = (lengthNote is null ? "" : lengthNote + " ") + $"Series of {seriesLength} steps per channel, above the default's {MaxDefaultSeriesLength}: " +
                "the encoder's time and memory grow with the length, and a pretraining step is never cut short, so trials run long and can outlast --train-time.";
        if (lengthNote is not null)
        {
            log.Info(lengthNote);
            _notes.Add(lengthNote);
        }
        var (preparation, inputColumn) = ModelParts.Preparation(ml, train, seriesLength, seriesResampling);
        ITransformer prepared = preparation.Fit(train.View);
        IDataView trainPrepared = prepared.Transform(train.View);
        _phases["load data"] = clock.Elapsed.TotalSeconds;

        // Only now, with the data read and checked: a run that fails on its data (a wrong option, say) keeps the previous
        // run's checkpoint, so that run can still be resumed. With --storage the checkpoint folder is the cache the
        // workers of this host share (and the store says what is done).
        if (!resume && settings.Storage is null && Directory.Exists(checkpoint)) Directory.Delete(checkpoint, recursive: true);
        if (resume && settings.Storage is null && !Directory.Exists(checkpoint))
            log.Always($"--resume: no checkpoint in {RunFolder} (check --name and -o), so the search starts from the beginning.");

        // ---- search ----
        clock.Restart();
        long searchPhaseStarted = Stopwatch.GetTimestamp();
        // The live table's metric column is the search's metric (--metric auc or f1 on more than two classes searches accuracy).
        string searchMetricName = SearchMetric(settings.Metric, LabeledClassCount(train)) == SslMetric.Accuracy ? "accuracy" : settings.Metric;
        // Said before the search, not after it: the header above still names the metric asked for.
        if (settings.Metric is "auc" or "f1" && searchMetricName == "accuracy")
            ShowAndKeep($"--metric {settings.Metric} needs two classes ({LabeledClassCount(train)} here); the search ranks pipelines on accuracy, and accuracy is reported instead.");
        // With --storage, replayed events are other workers' trials (or an earlier run's), not a checkpoint's.
        string replayedFrom = settings.Storage is null ? "from checkpoint" : "from the shared store";
        var progress = new SearchProgress(log, searchMetricName, replayedFrom);
        SslExperimentResult? result;
        try
        {
            result = await progress.RunAsync(token => Experiment(ml, trainPrepared, train, inputColumn, checkpoint, settings.TrainTimeSeconds, progress)
                .RunAsync(token), cancellation).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            result = null;
        }
        catch (InvalidOperationException e) when (resume && e.Message.Contains("belongs to a different experiment", StringComparison.Ordinal))
        {
            throw new CliException($"--resume: the checkpoint in {RunFolder} was written by a run with other data or options{CheckpointDifferences(e.Message)}; " +
                "give that run's options to resume it, or leave out --resume to start a new search (which replaces the checkpoint).", e);
        }
        if (result is null && cancellation.IsCancellationRequested)
        {
            // The search paused at Ctrl+C and its journal holds every finished trial: resuming it with no time left starts
            // nothing and refits the best trial found so far.
            // With no trial finished there is nothing to keep, and that pass would run the interrupted first trial again from
            // its start, which nothing cuts short: Ctrl+C 59 s into 3 SimCLR epochs on 20,000 images went on training for
            // minutes. (With --storage another process may have finished one.)
            if (!progress.AnyMetric && settings.Storage is null)
                throw new OperationCanceledException("Cancelled before any trial finished; no model to keep (--resume runs the interrupted trial again).");
            log.Always("Cancelled: keeping the best model found so far (Ctrl+C or SIGTERM again to stop at once).");
            try
            {
                result = await Experiment(ml, trainPrepared, train, inputColumn, checkpoint, 0, new SearchProgress(log, searchMetricName, replayedFrom, logOnly: true))
                    .RunAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (InvalidOperationException e) when (e.Message.StartsWith("No trial produced", StringComparison.Ordinal))
            {
                throw new OperationCanceledException("Cancelled before any trial finished; no model to keep.", e);
            }
        }
        _phases["search and refit"] = clock.Elapsed.TotalSeconds;
        SslExperimentResult search = result!;
        if (ResumedTrialLimitNote(resume && settings.Storage is null, settings.MaxTrials, search.StopReason, search.Trials.Count) is { } limitNote)
            ShowAndKeep(limitNote);
        if (progress.SearchStarted is long searchStarted)
            _searchTimes = (Stopwatch.GetElapsedTime(searchPhaseStarted, searchStarted).TotalSeconds, search.Elapsed.TotalSeconds,
                search.Trials.MinBy(t => t.TrialId)?.Duration.TotalSeconds ?? 0);
        // The search's notes go to the report; the log keeps them too, and the console shows those a reader of the console
        // alone would miss (ShowsOnConsole).
        foreach (string note in search.Notes)
        {
            if (ShowsOnConsole(note)) log.Info($"Note: {InToolWords(note)}");
            else log.Detail($"Search note: {InToolWords(note)}");
        }
        if (settings.WorkerOnly)
        {
            // The pipeline in the words of the progress lines and the leaderboard, not the ML.NET chain's own text.
            TrialRecord best = search.Trials.First(t => t.TrialId == search.BestTrial.TrialId);
            log.Always(string.Create(CultureInfo.InvariantCulture,
                $"Worker done: the shared search holds {search.Trials.Count} trial(s), stopped by {search.StopReason}; chosen so far: trial {best.TrialId} " +
                $"({progress.Describe(best, search: search)}, {search.BestTrial.Metric:0.0000}). The training command's process makes the final choice and writes the model and report."));
            return cancellation.IsCancellationRequested ? ExitCodes.Cancelled : ExitCodes.Success;
        }
        // With --storage a worker's trial can outlast the budget, or its worker can die before its lease (60 s) expires:
        // the store still says Running, and the choice was made without it.
        var unfinished = settings.Storage is null ? [] : search.Trials.Where(t => t.Status == TrialStatus.Running).Select(t => t.TrialId).ToList();
        if (unfinished.Count > 0)
        {
            string note = $"Trial(s) {string.Join(", ", unfinished)} had not finished in another process when the search ended " +
                "(a worker still running it, or one that stopped without a word before its lease expired); they are listed as Running and took no part in the choice.";
            ShowAndKeep(note);
        }
        // From here on Ctrl+C changes only the exit code and skips the optional label curve: the model and every
        // output are still written, so what the search found is kept.
        log.Info("Search done; saving the model, scoring the test rows and writing the outputs.");

        // ---- model ----
        clock.Restart();
        var (trained, classNames) = ModelParts.WithoutLabelMap(search.BestTrial.Model, trainPrepared, train.LabelColumn);
        ITransformer model = prepared.Append(trained);
        DataViewSchema inputSchema = ml.Transforms.DropColumns(train.LabelColumn).Fit(train.View).Transform(train.View).Schema;
        // The model waits beside its place until run.json is written: predict, embed and evaluate read run.json next to
        // the zip, so a run killed while it scores the test rows or writes the report must leave the previous model
        // with its own run.json, not the new model with the old one.
        string modelPath = Path.Combine(RunFolder, settings.Name + ".zip");
        // (A run that fails before the move leaves it as a temporary file, which the next run in this folder removes.)
        string pendingModel = CliFile.TemporaryPathFor(modelPath);
        try
        {
            ml.Model.Save(model, inputSchema, pendingModel);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // A full disk left a truncated zip beside the model and an error naming only that temporary file.
            // Best effort: the save's own error is the one to report.
            try { File.Delete(pendingModel); } catch (Exception again) when (again is IOException or UnauthorizedAccessException) { }
            // Disk advice only where the disk is the cause: ArgumentOutOfRangeException is how .NET reports a file size
            // limit (EFBIG, "file length was too large"); an ML.NET argument error is not cured by free space.
            string advice = CliApp.IsDiskFull(e) || e is ArgumentOutOfRangeException ? "Free space on that disk (or give -o another folder)"
                : e is UnauthorizedAccessException ? "Give -o a folder you can write to"
                : "Fix the cause above (-v diag shows the details)";
            throw new CliException($"{modelPath}: the model could not be saved ({e.Message}); " +
                (File.Exists(modelPath) ? "the earlier model there is kept. " : "") +
                advice + " and run the same command again with --resume: the finished trials are kept in checkpoint/.", e);
        }
        _phases["save model"] = clock.Elapsed.TotalSeconds;

        // What run.json records about the classes, so that a run that fails from here on can still write it.
        _positive = TestMetrics.PositiveClass(classNames, train.ClassCounts());
        _positiveClass = classNames.Length == 2 ? classNames[_positive] : null;
        try
        {
            // ---- test ----
            clock.Restart();
            var labeledTestRows = Enumerable.Range(0, test.Count).Where(r => test.Labels[r].Length > 0).ToArray();
            TrainingData scoredTest = test.Subset(labeledTestRows);
            var scored = Score(model, scoredTest, classNames);
            Func<string, int?> classOf = ClassLabels.Matcher(classNames);
            var unseenRows = scoredTest.Labels.Where(l => classOf(l) is null).ToList();
            if (unseenRows.Count > 0)
            {
                int rows = unseenRows.Count;
                // The first ten: a test file read with the wrong label column has as many 'classes' as rows.
                string note = $"Test labels never seen in training count as errors: {FirstTen([.. unseenRows.Distinct().Select(l => $"'{l}'")], ", ")} " +
                    $"({rows:N0} {(rows == 1 ? "row" : "rows")}).";
                if (ClassLabels.CaseOnlyDifferences(unseenRows, classNames) is { Count: > 0 } sameButCase) note += " " + string.Join(" ", sameButCase);
                ShowAndKeep(note);
            }
            string metric = settings.Metric;
            if (metric is "auc" or "f1" && classNames.Length != 2)
            {
                // Said before the search when the labeled rows had other than two classes.
                if (searchMetricName != "accuracy") ShowAndKeep($"--metric {metric} needs two classes ({classNames.Length} here); accuracy is reported instead.");
                metric = "accuracy";
            }
            if (metric is "auc" or "f1")
                _notes.Add($"{metric.ToUpperInvariant()} takes '{classNames[_positive]}' as the positive class: the rarer class among the labeled training rows (the second on a tie), as the search does.");
            var (value, lower, upper) = TestMetrics.WithInterval(metric, scored, classNames.Length, _positive, settings.Seed);
            double accuracy = TestMetrics.Compute("accuracy", scored, classNames.Length, _positive);
            string? undefinedReason = null;
            if (double.IsNaN(value) && metric is "auc" or "f1")
            {
                // AUC compares positive rows with negative ones: a test set of one class has no such pair. F1 of test rows
                // without a positive, where none is predicted either, is 0 / 0.
                var testClasses = scoredTest.Labels.Distinct(StringComparer.Ordinal).Select(l => $"'{l}'").ToList();
                undefinedReason = (metric == "auc"
                    ? $"not defined: AUC needs test rows of both classes, and the test rows hold only {string.Join(", ", testClasses)}; "
                    : $"not defined: F1 needs a test row of the positive class '{_positiveClass}' or one predicted as it (it is 0 / 0 otherwise), " +
                      $"and the test rows hold only {string.Join(", ", testClasses)}; ") +
                    "add test rows of the other class (accuracy is below)";
                _notes.Add($"Test {metric} {undefinedReason}.");
            }
            _logLossNote = metric == "log-loss" ? TestMetrics.LogLossNote(scored, classNames.Length) : null;
            if (_logLossNote is not null) _notes.Add($"Test {_logLossNote}");
            // The comparison and the label curve decide as the model does: for macro accuracy, on balanced probabilities.
            var fits = new DownstreamFits(ml, prepared, trainPrepared, train.LabelColumn, reuseTestFeatures: settings.LabelCurve,
                balanced: metric == "macro-accuracy" && search.Objective?.Kind != SslObjectiveKind.LabelFree);
            DownstreamFits.LabeledFeatures? rawFeatures = null;
            // A chosen pipeline without SSL is itself the comparison: no second refit of it.
            TrialRecord chosenTrial = search.Trials.First(t => t.TrialId == search.BestTrial.TrialId);
            if (search.Objective?.Kind != SslObjectiveKind.LabelFree && undefinedReason is null
                && FarBelowCrossValidation(metric, value, upper, chosenTrial.Metric, train.Kind, train.ClassCounts(),
                    scoredTest.Labels.Select(l => classOf(l)).OfType<int>().GroupBy(c => classNames[c], StringComparer.Ordinal)
                        .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
                    unseenRows.Count, SeenOnly(metric, scored, classNames.Length, _positive, settings.Seed)) is { } shifted)
            {
                _notes.Add(char.ToUpperInvariant(shifted[0]) + shifted[1..]);
                _farBelowNote = shifted;
            }
            // An ensemble of raw-feature pipelines is itself without SSL, so it is the comparison as a single one is.
            string? ensemble = search.Ensemble.Count == 0 ? null : "Ensemble of " + string.Join(" and ", search.Ensemble.Select(m =>
                string.Create(CultureInfo.InvariantCulture, $"{m.Weight:0.##} x {TrialDescriptions.Describe(search.Trials.First(t => t.TrialId == m.TrialId))} (trial {m.TrialId})")));
            var baseline = search.BestFeatureSource == SslFeatureSource.RawFeatures
                ? new Baseline(ensemble ?? TrialDescriptions.Describe(chosenTrial), TrialDescriptions.Bind(chosenTrial).Downstream,
                    new MetricWithInterval(value, lower, upper), accuracy,
                    ensemble is null ? null : $"{TrialDescriptions.Describe(chosenTrial)} (trial {chosenTrial.TrialId} alone; the curve refits one pipeline, not the ensemble)")
                : NoSslBaseline(fits, search, train, scoredTest, classNames, metric, ref rawFeatures);
            _phases["test"] = clock.Elapsed.TotalSeconds;
            // The model's trainer, which the label-free objective sets instead of the trial's untuned one.
            SslDownstreamParameters chosenDownstream = TrialDescriptions.RefitDownstream(chosenTrial, search);
            string pipeline = ensemble ?? TrialDescriptions.Describe(chosenTrial, TrialDescriptions.EpochsReached(chosenTrial, search), refitDownstream: chosenDownstream);
            SslFeatureSource chosenSource = TrialDescriptions.Bind(chosenTrial).Features;

            List<LabelCurvePoint> labelCurve = [];
            if (settings.LabelCurve)
            {
                clock.Restart();
                if (cancellation.IsCancellationRequested)
                {
                    _notes.Add("Label curve: skipped (Ctrl+C).");
                }
                else
                {
                    try
                    {
                        labelCurve = LabelCurve(fits, trained, chosenTrial, pipeline, chosenDownstream, baseline, rawFeatures, train, scoredTest, classNames, metric, cancellation);
                    }
                    catch (Exception e) when (e is InvalidOperationException or ArgumentException or ExternalException)
                    {
                        _notes.Add($"Label curve: not computed ({e.GetType().Name}: {e.Message}).");
                        log.Detail(e.ToString());
                    }
                }
                _phases["label curve"] = clock.Elapsed.TotalSeconds;
            }

            // ---- outputs ----
            clock.Restart();
            List<LeaderboardRow> leaderboard = Leaderboard(search, progress);
            var writeFailures = new List<string>();
            WriteOutput("trials.jsonl", path => WriteTrials(path, leaderboard, search, progress), writeFailures);
            bool labelFree = search.Objective?.Kind == SslObjectiveKind.LabelFree;
            WriteOutput("leaderboard.csv", path => LeaderboardCsv.Write(leaderboard, path, metric, labelFree), writeFailures);

            var confusion = new int[classNames.Length][];
            for (int i = 0; i < confusion.Length; i++) confusion[i] = new int[classNames.Length];
            foreach (var row in scored.Where(r => r.Actual >= 0)) confusion[row.Actual][row.Predicted]++;
            var report = new RunReport
            {
                Name = settings.Name,
                CommandLine = settings.CommandLine ?? "",
                Task = settings.Task,
                MetricName = metric,
                HigherIsBetter = TestMetrics.HigherIsBetter(metric),
                LeaderboardIsLabelFree = labelFree,
                ChosenPipeline = pipeline,
                TestMetric = new MetricWithInterval(value, lower, upper),
                TestSetDescription = testDescription,
                BestNoSslPipeline = baseline?.Description,
                BestNoSslTestMetric = baseline?.Metric,
                Data = new DataHealth(train.LabeledCount, train.Count - train.LabeledCount, scoredTest.Count, train.ClassCounts(),
                    all.Skipped, all.Duplicates, all.SizeSummary),
                Leaderboard = leaderboard,
                PretrainingCurve = PretrainingCurve(model),
                FineTuneCurve = FineTuneCurve(model),
                FineTuneOrigin = chosenSource switch
                {
                    SslFeatureSource.SupervisedFromScratch => "The chosen network was trained from scratch on the labeled rows (no SSL pretraining).",
                    SslFeatureSource.SelfSupervised or SslFeatureSource.RawAndSelfSupervised =>
                        "The chosen network's encoder was pretrained with SSL during the search, as its pipeline says, then fine-tuned.",
                    _ => null,
                },
                ClassNames = classNames,
                ConfusionMatrix = confusion,
                Misclassified = Misclassified(scoredTest, scored, classNames),
                MapBefore = Map(ml, "Raw input (PCA)", prepared, train, inputColumn, embedding: null),
                MapAfter = Map(ml, "Learned embedding (PCA)", prepared, train, inputColumn, embedding: trained),
                AugmentedViews = ViewsForReport(trained, search, train),
                LabelCurve = labelCurve,
                Environment = Environment(),
                Notes = [.. _notes, .. search.Notes.Where(n => !SaidByTheToolItself(n)).Select(InToolWords), search.ObjectiveExplanation ?? "", search.SelectionExplanation ?? "", $"Search stopped: {search.StopReason}."],
            };
            WriteOutput("report.html", path => ReportWriter.Write(report, path), writeFailures);
            WriteOutput($"{settings.Name}.ConsoleApp", _ => ConsumptionCodeGenerator.Generate(RunFolder, settings.Name, Schema(train, classNames, seriesLength)), writeFailures,
                folders: true, $"{settings.Name}.WebApi");
            // The model and the run.json that describes it, one right after the other.
            File.Move(pendingModel, modelPath, overwrite: true);
            WriteOutput("run.json", WriteRunJson, writeFailures);
            _phases["outputs"] = clock.Elapsed.TotalSeconds;

            PrintSummary(leaderboard, chosenTrial.TrialId, LeaderboardHeading(search, metric), pipeline, metric, classNames.Length, value, lower, upper, accuracy, baseline, testDescription, undefinedReason,
                search.BestTrial.TrialId == leaderboard.FirstOrDefault()?.TrialId ? null : search.SelectionExplanation);
            if (log.FileProblem is { } logProblem)
                writeFailures.Add($"{(Path.GetDirectoryName(log.FilePath) == RunFolder ? Path.GetFileName(log.FilePath) : log.FilePath)} ({logProblem})");
            if (writeFailures.Count > 0)
            {
                // On standard error, as every other error of the tool: a script that reads it saw nothing, only exit 1.
                log.Error($"error: could not write {string.Join("; ", writeFailures)}");
                return ExitCodes.Failed;
            }
            return cancellation.IsCancellationRequested ? ExitCodes.Cancelled : ExitCodes.Success;
        }
        catch (Exception) when (File.Exists(pendingModel))
        {
            // Scoring the test rows or writing the report failed (or was stopped): the search's model is kept with
            // the run.json that lets predict, embed and evaluate read it, and the error still ends the run.
            KeepModelAfterFailure(pendingModel, modelPath,
                () => ConsumptionCodeGenerator.Generate(RunFolder, settings.Name, Schema(train, classNames, seriesLength)));
            throw;
        }
    }

    /// <summary>Moves the saved model into place with its run.json and its generated code after a failure past the search,
    /// and says so: the search is the run's cost, and its model is usable without the test scores and the report.</summary>
    private void KeepModelAfterFailure(string pendingModel, string modelPath, Action generateCode)
    {
        try
        {
            File.Move(pendingModel, modelPath, overwrite: true);
            WriteRunJson(Path.Combine(RunFolder, "run.json"));
            // An earlier run's console app and Web API may read another schema: the code is made again for this model.
            generateCode();
            // A report of an earlier run in this folder would now stand beside another model.
            foreach (string output in new[] { "report.html", "leaderboard.csv", "trials.jsonl" }.Select(n => Path.Combine(RunFolder, n)))
            {
                if (File.Exists(output) && File.GetLastWriteTimeUtc(output) < _startedUtc)
                    File.Delete(output);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
        {
            log.Always($"The model could not be kept whole either ({e.Message}).");
            return;
        }
        string evaluate = (settings.TestDataset ?? settings.ValidationDataset) is { } testPath
            // Quoted as the closing "Next:" line quotes its paths: a folder with a space is common on Windows and macOS.
            ? $"; score it with `mlnet-ssl evaluate --model \"{modelPath}\" --test-dataset \"{testPath}\"`"
            : "";
        log.Always($"The search's model is saved as {modelPath} with its run.json, but the run failed after it (below), so the test figures and the report were not written{evaluate}.");
    }

    /// <summary>The most steps per channel series are resampled to unless <c>--series-length</c> says otherwise: the Conv1d
    /// encoder's time and memory grow with the length, and one of its steps cannot be cut short. On 300 series of 3
    /// channels x 3,000 steps a SimCLR epoch took 14.7 s and 6.9 GB at full length against 3.2 s and 1.3 GB at 500 steps;
    /// read as one channel of 9,000 steps, a 60 s run ended at 108 s with a 14.7 GB peak, waiting for a pretraining step.
    /// The shared UEA series (24 to 1,344 steps, PLAID's median 300) are below it.</summary>
    public const int MaxDefaultSeriesLength = 512;

    /// <summary>Words of the experiment's note on long series (SslExperiment), which the report leaves out for its own.</summary>
    private const string LongSeriesAdvice = "steps per channel: the Conv1d encoder's time and memory grow with the length";

    /// <summary>The side images are resized to for the encoder and the raw-pixel trainers: the size the image portfolio
    /// and the CPU timings were measured at.</summary>
    private const int ImageSide = 32;

    /// <summary>The first ten items joined, then how many more there are: a note stays readable on a table of hundreds
    /// of columns.</summary>
    internal static string FirstTen(IReadOnlyList<string> items, string separator) =>
        string.Join(separator, items.Take(10)) + (items.Count > 10 ? string.Create(CultureInfo.InvariantCulture, $" and {items.Count - 10:N0} more") : "");

    /// <summary>Below this many labeled test rows the run says its test figures are coarse.</summary>
    private const int MinimumTestRows = 30;

    private SslExperiment Experiment(MLContext ml, IDataView data, TrainingData train, string inputColumn, string checkpoint, int seconds,
        IProgress<SslTrialReport> progress)
    {
        SslExperiment experiment = ml.SelfSupervisedExperiment()
            .SetDataset(data, train.LabelColumn)
            .SetInputColumn(inputColumn, train.Kind == DatasetKind.Series ? train.SeriesChannels : 0)
            .SetScheduler(Scheduler)
            .SetSeed(settings.Seed)
            .SetCheckpoint(checkpoint)
            .SetDevice(CudaDeviceChoice.ExperimentDevice(settings.Device))
            .SetProgress(progress);
        if (train.Kind == DatasetKind.Images) experiment.SetImageSize(ImageSide, ImageSide);
        if (settings.Storage is string storage)
        {
            try
            {
                experiment.SetStorage(storage);
            }
            catch (ArgumentException e)
            {
                throw new CliException($"--storage: {e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal)} See docs/distributed.md.", e);
            }
            experiment.SetExperimentName(settings.ExperimentName ?? settings.Name);
        }
        experiment = seconds > 0 ? experiment.SetTrainingTimeInSeconds((uint)seconds) : experiment.SetTrainingTime(TimeSpan.FromMilliseconds(1));
        if (settings.MaxTrials is int max) experiment.SetMaxTrials(max);
        experiment.SetEnsembleSelection(!settings.NoEnsemble);
        // --metric reaches the search here; AUC and F1 need two classes, so other data is searched on accuracy (the run
        // notes it again when it scores the test rows).
        experiment.SetOptimizingMetric(SearchMetric(settings.Metric, LabeledClassCount(train)));
        return experiment;
    }

    private static int LabeledClassCount(TrainingData train) => train.Labels.Where(l => l.Length > 0).Distinct(StringComparer.Ordinal).Count();

    /// <summary>The search metric for a --metric value (see <see cref="TestMetrics.Names"/>).</summary>
    internal static SslMetric SearchMetric(string metric, int classCount) => metric switch
    {
        "macro-accuracy" => SslMetric.MacroAccuracy,
        "log-loss" => SslMetric.LogLoss,
        "auc" when classCount == 2 => SslMetric.AreaUnderRocCurve,
        "f1" when classCount == 2 => SslMetric.F1Score,
        _ => SslMetric.Accuracy,
    };

    /// <summary>No multi-fidelity scheduler: the library's default search (the portfolio of baselines, then TPE, each trial
    /// at its configured epochs), which is what the AutoML benchmarks measure.</summary>
    public static SslScheduler Scheduler => SslScheduler.None;

    private static void CheckDevice(string device)
    {
        if (device is "auto" or "cpu") return;
        if (!device.StartsWith("cuda", StringComparison.Ordinal))
            throw new CliException($"--device '{device}': use auto, cpu, cuda or cuda:N.");
        if (!TorchSharp.torch.cuda.is_available())
            throw new CliException($"--device {device}: no CUDA device is visible to TorchSharp (this tool ships the CPU backend); use --device cpu or auto.");
    }

    private TrainingData LoadTest(MLContext ml, TrainingData train, string path, CsvSettings csv)
    {
        TrainingData test = ReadTest(ml, train, path, csv);
        CheckSeriesChannels(train, test, path);
        NoteEncoding(path, test.Kind);
        foreach (string note in new[] { test.RepeatedHeaderNote, test.MatchNote, test.PaddingNote }.OfType<string>())
        {
            ShowAndKeep(note);
        }
        // Filled as the training file's are, and as silently unless said: the test figures include those rows.
        if (test.FilledNote is { } filled)
        {
            string note = $"{path} (the test rows): {filled}";
            ShowAndKeep(note);
        }
        return test;
    }

    // The model regroups each test series into the training channels only when it scores the test rows, after the
    // search: a .ts test file of other channels (or a series CSV whose rows do not split into them) must stop the run
    // here, before the search's time is spent and its model lost.
    private void CheckSeriesChannels(TrainingData train, TrainingData test, string path)
    {
        if (train.Kind != DatasetKind.Series || test.Kind != DatasetKind.Series || test.SeriesLengths is not { Length: > 0 } lengths) return;
        int channels = train.SeriesChannels;
        if (SeriesLoader.IsTsFile(path) && test.SeriesChannels != channels)
            throw new CliException($"{path} holds series of {test.SeriesChannels} channel(s), but {settings.Dataset} of {channels}; " +
                "give test series with the training file's channels, in the same order.");
        int row = Array.FindIndex(lengths, l => l * test.SeriesChannels % channels != 0);
        if (row >= 0)
            throw new CliException(string.Create(CultureInfo.InvariantCulture,
                $"{path}: test row {row + 1} holds {lengths[row] * test.SeriesChannels} values, not a whole number of steps for the {channels} channel(s) of {settings.Dataset}; ") +
                "give test series with the training file's channels, in the same order.");
    }

    private TrainingData ReadTest(MLContext ml, TrainingData train, string path, CsvSettings csv)
    {
        if (train.Kind != DatasetKind.Table)
            return DatasetReader.Load(ml, settings.Task, path, csv, settings.UnlabeledFolder, settings.Strict, settings.Channels, forTraining: false);
        DataViewSchema inputs = ml.Transforms.DropColumns(train.LabelColumn).Fit(train.View).Transform(train.View).Schema;
        // The training file's layout finds the label (by name in a header, by position without one), so a test file
        // with or without the training file's header is read either way.
        return TableLoader.LoadForModel(path, inputs, train.Layout is null ? csv : csv with { LabelColumn = null }, train.Layout,
            classes: [.. train.Labels.Where(l => l.Length > 0).Distinct(StringComparer.Ordinal)]);
    }

    /// <summary>" (differs in: ...)" from the journal's refusal of a checkpoint of another experiment, which names each
    /// setting that differs (metric: checkpoint Accuracy, now MacroAccuracy); empty when the message has no such list.</summary>
    internal static string CheckpointDifferences(string message)
    {
        const string start = "(differs in: ", end = "). Use another folder";
        int from = message.IndexOf(start, StringComparison.Ordinal), to = message.LastIndexOf(end, StringComparison.Ordinal);
        return from >= 0 && to > from ? $" ({message[(from + 1)..to]})" : "";
    }

    /// <summary>Whether a search note is shown on the console as well as written to the log and the report: those that ask
    /// the user to label more (a class too thin to cross-validate fine-tuning), the first trial stopped by the budget after
    /// fewer epochs than its pipeline names, and an ensemble that was selected but not built (the "Chosen:" line then names
    /// one pipeline, and only this note says why).</summary>
    internal static bool ShowsOnConsole(string note) =>
        note.Contains("label more", StringComparison.OrdinalIgnoreCase)
        // The tool's own column checks do not look for a column that gives the class away.
        || note.Contains(LeakNote, StringComparison.Ordinal)
        || note.StartsWith("The first trial stopped pretraining", StringComparison.Ordinal)
        || note.StartsWith("Ensemble selection picked", StringComparison.Ordinal)
        || note.StartsWith("The ensemble of ", StringComparison.Ordinal);

    private const string LeakNote = "that tell the class of every labeled row by itself";

    // The report's data section lists repeated rows by their lines; the search's note counts positions in the tool's view.
    private const string RepeatedRowsNote = "labeled rows repeat the input of another labeled row";

    // The experiment's note on slots with one value or none in every row (InputSlotChecks in MlNetSsl.AutoML): the tool's
    // own check of the CSV's columns names them already, by column.
    private const string ConstantEverywhereNote = "hold one value or none in every row";

    /// <summary>Whether a search note repeats what the tool says itself (the long-series advice, its duplicate rows and
    /// constant columns), so the report keeps one of them; the log keeps both.</summary>
    internal static bool SaidByTheToolItself(string note) =>
        note.Contains(LongSeriesAdvice, StringComparison.Ordinal) || note.Contains(RepeatedRowsNote, StringComparison.Ordinal)
        || (note.StartsWith($"Column '{ModelParts.TableColumn}' has ", StringComparison.Ordinal) && note.Contains(ConstantEverywhereNote, StringComparison.Ordinal));

    /// <summary>A search note in the tool's words. The experiment's notes on a table's slots name the tool's own input
    /// column (<see cref="ModelParts.TableColumn"/>), slot indexes of that vector and "the input column", none of which a
    /// CSV user sees: they become the table's columns by name and --ignore-cols.</summary>
    internal static string InToolWords(string note)
    {
        string prefix = $"Column '{ModelParts.TableColumn}' has ";
        if (!note.StartsWith(prefix, StringComparison.Ordinal)) return note;
        // Only the note's own words, outside the quoted column names: a column named 'timeslot' stays 'timeslot'.
        string[] parts = SlotIndex().Replace(note[prefix.Length..], "'").Split('\'');
        for (int i = 0; i < parts.Length; i += 2)
            parts[i] = parts[i].Replace("slot(s)", "input column(s)", StringComparison.Ordinal).Replace("slot", "column", StringComparison.Ordinal)
                .Replace("leave them out of the input column", "leave them out with --ignore-cols", StringComparison.Ordinal)
                .Replace("leave it out of the input column", "leave it out with --ignore-cols", StringComparison.Ordinal);
        return "The table has " + string.Join('\'', parts);
    }

    // "slot 4 'outcome'" -> "'outcome'": the index counts the tool's vector, not the CSV's columns.
    [System.Text.RegularExpressions.GeneratedRegex(@"slot \d+ '")]
    private static partial System.Text.RegularExpressions.Regex SlotIndex();

    /// <summary>A resumed search whose checkpoint had already reached its trial limit keeps that limit (the journal records
    /// that no more trials start, so a replay makes the same calls): a larger --max-trials given with --resume starts no
    /// trial, which the console and the report must say, since the header and run.json show the larger limit.</summary>
    internal static string? ResumedTrialLimitNote(bool resumed, int? maxTrials, SearchStopReason stop, int trials) =>
        resumed && maxTrials is int max && stop == SearchStopReason.MaxTrials && trials < max
            ? string.Create(CultureInfo.InvariantCulture,
                $"--resume: the checkpoint's search had already reached its trial limit ({trials} trial{(trials == 1 ? "" : "s")}), so --max-trials {max} started no more; leave out --resume (a new search) to run more trials.")
            : null;

    /// <summary>How a run reads its CSV files, from its settings (run.json's, for a replay or <c>evaluate --holdout</c>).</summary>
    internal static CsvSettings TrainingCsv(RunSettings settings) =>
        DatasetReader.Csv(settings.HasHeader, settings.Separator, settings.LabelColumn, settings.IgnoreColumns, settings.DecimalMarker)
            with { KeepColumns = settings.KeepColumns };

    /// <summary>The run's training data at <paramref name="dataset"/>, read as the run reads it: the same rows, in the same
    /// order, so its stratified hold-out can be drawn again.</summary>
    internal static TrainingData LoadTrainingData(MLContext ml, RunSettings settings, string dataset) =>
        DatasetReader.Load(ml, settings.Task, dataset, TrainingCsv(settings), settings.UnlabeledFolder, settings.Strict, settings.Channels, forTraining: true);

    /// <summary>For an image run, the data folder option (--dataset, --test-dataset, --validation-dataset) and folder that
    /// <paramref name="runFolder"/> would lie inside (`-d .` with the default -o . in the dataset folder); null otherwise.</summary>
    private static (string Option, string Folder)? ImageFolderHolding(RunSettings settings, string runFolder)
    {
        if (settings.Task != "image-classification") return null;
        foreach (var (option, data) in settings.DataPaths)
        {
            if (data is null || !Directory.Exists(data)) continue;
            string folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(data));
            if (runFolder.StartsWith(folder + Path.DirectorySeparatorChar, CliFile.PathComparison)) return (option, folder);
        }
        return null;
    }

    // The first folder below <folder> on the way to <inner>.
    private static string RelativeTop(string folder, string inner) => Path.GetRelativePath(folder, inner).Split(Path.DirectorySeparatorChar)[0];

    /// <summary>The output folder and the run folder in it, made before anything is read or trained (and before the log
    /// inside it is opened); a path that cannot hold them fails here, naming -o.</summary>
    internal static void CreateRunFolder(RunSettings settings)
    {
        string output = Path.GetFullPath(settings.Output), runFolder = Path.GetFullPath(Path.Combine(settings.Output, settings.Name));
        // A folder where the run writes a file (the model zip above all) failed the run only after the search, with the
        // runtime's "Is a directory" and a report and code for a model that was not there.
        string? folderInTheWay = settings.WorkerOnly ? null : new[] { settings.Name + ".zip", "run.json", "report.html", "leaderboard.csv", "trials.jsonl" }
            .Select(name => Path.Combine(runFolder, name)).FirstOrDefault(Directory.Exists);
        string? problem = File.Exists(output) ? $"-o {settings.Output}: is a file; -o takes the folder the run folder '{settings.Name}' goes in."
            : File.Exists(runFolder) ? $"-o {settings.Output}: it holds a file named '{settings.Name}' where the run folder goes; give another --name or -o."
            : folderInTheWay is not null ? $"{folderInTheWay}: is a folder, where the run writes its {(folderInTheWay.EndsWith(".zip", StringComparison.Ordinal) ? "model" : "file of that name")}; " +
              "move or rename that folder, or give another --name or -o."
            : ImageFolderHolding(settings, runFolder) is var (option, folder)
                ? $"-o {settings.Output}: the run folder {runFolder} would be inside the {option} folder {folder}, where it is a class folder to " +
                  $"every later run (the console app's copy of an example image makes '{RelativeTop(folder, runFolder)}' a class of one image); give -o a folder outside it."
            : null;
        if (problem is not null) throw new CliException(problem);
        try
        {
            Directory.CreateDirectory(runFolder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"-o {settings.Output}: the run folder {runFolder} cannot be made ({e.Message}); give -o a folder you can write to.", e);
        }
    }

    /// <summary>Says, once per file, that a CSV was not UTF-8 and how it was read (see <see cref="TextFileEncoding"/>).</summary>
    private void NoteEncoding(string path, DatasetKind kind)
    {
        if (TextFileEncoding.NoteFor(path, kind) is not { } note || _notes.Contains(note)) return;
        ShowAndKeep(note);
    }

    /// <summary>"stratified hold-out of 20% of the labeled rows (...)", or the share it really took when few labels per
    /// class round it away from the one asked (whole rows per class, at least one of every class with two labels).</summary>
    internal static string HoldOutDescription(double fraction, int held, int labeled, int seed)
    {
        double share = labeled == 0 ? 0 : held / (double)labeled;
        string asked = string.Create(CultureInfo.InvariantCulture, $"{fraction * 100:0.#}%");
        return Math.Abs(share - fraction) <= 0.05
            ? string.Create(CultureInfo.InvariantCulture, $"stratified hold-out of {asked} of the labeled rows ({held} rows, seed {seed}); they were not used for training")
            : string.Create(CultureInfo.InvariantCulture,
                $"stratified hold-out of {held} of the {labeled} labeled rows ({share * 100:0}%, not the {asked} asked: each class's share is rounded to whole rows, at least one of every class with 2 labels or more; seed {seed}); they were not used for training");
    }

    /// <summary>Classes whose names differ only in letter case ('Genuine' and 'genuine'): the model learns them as
    /// different classes and can predict only one spelling for the rows of either, which a typo in a spreadsheet causes
    /// more often than a real distinction. Null when there are none.</summary>
    internal static string? CaseVariantLabels(IReadOnlyDictionary<string, int> classCounts)
    {
        var groups = classCounts.Keys.GroupBy(c => c, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).ToList();
        if (groups.Count == 0) return null;
        string Describe(IGrouping<string, string> g) => string.Join(" and ", g.Select(c => string.Create(CultureInfo.InvariantCulture, $"'{c}' ({classCounts[c]:N0} rows)")));
        return $"Labels that differ only in letter case are different classes: {string.Join("; ", groups.Take(5).Select(Describe))}" +
            (groups.Count > 5 ? $" and {groups.Count - 5} more" : "") + ". If each is one class, write its labels the same way.";
    }

    /// <summary>Many distinct numbers as labels look like a quantity to regress; the tool classifies, so it says what it
    /// does with them (one class per value) and how to get a classification task instead. Null for ordinary classes,
    /// and for class codes: whole numbers from 0 or 1 that leave at most as many codes unused as they use, as the UCR
    /// archive numbers FiftyWords' 50 classes or PigCVP's 52.</summary>
    internal static string? RegressionLikeLabel(TrainingData data)
    {
        var classes = data.ClassCounts();
        var values = new List<double>();
        foreach (string c in classes.Keys)
        {
            if (!CsvTable.TryNumber(c, out float value)) return null;
            values.Add(value);
        }
        if (classes.Count <= MaxNumericClassesWithoutWarning) return null;
        if (values.All(v => v == Math.Floor(v)) && values.Min() is 0 or 1 && values.Max() - values.Min() + 1 <= 2.0 * values.Count) return null;
        int single = classes.Values.Count(n => n == 1);
        return string.Create(CultureInfo.InvariantCulture,
            $"Warning: the label holds {classes.Count} distinct numbers{(single > 0 ? $" ({single} of them on a single row)" : "")}, like a quantity to predict. ") +
            "mlnet-ssl classifies: every distinct value is a class of its own and a near miss counts as an error. " +
            "For regression-like targets, bin the values into a few ranges (for example low, medium, high) in the label column first.";
    }

    /// <summary>More numeric classes than this get the regression warning (wine quality's 3..9 and similar scores do not).</summary>
    internal const int MaxNumericClassesWithoutWarning = 20;

    /// <summary>Each row's <c>PredictedLabel</c> and <c>Score</c>, read in one pass: a pass per column ran the model twice,
    /// decoding every image twice.</summary>
    public static (string[] Predicted, float[][] Scores) ReadPredictions(IDataView predictions)
    {
        var predicted = new List<string>();
        var scores = new List<float[]>();
        using DataViewRowCursor cursor = predictions.GetRowCursor([predictions.Schema["PredictedLabel"], predictions.Schema["Score"]]);
        ValueGetter<ReadOnlyMemory<char>> label = cursor.GetGetter<ReadOnlyMemory<char>>(predictions.Schema["PredictedLabel"]);
        ValueGetter<VBuffer<float>> score = cursor.GetGetter<VBuffer<float>>(predictions.Schema["Score"]);
        ReadOnlyMemory<char> labelValue = default;
        VBuffer<float> scoreValue = default;
        while (cursor.MoveNext())
        {
            label(ref labelValue);
            score(ref scoreValue);
            predicted.Add(labelValue.ToString());
            scores.Add(scoreValue.DenseValues().ToArray());
        }
        return ([.. predicted], [.. scores]);
    }

    /// <summary>Scores rows: the true and predicted class indices and the scores.</summary>
    public static List<TestMetrics.Scored> Score(ITransformer model, TrainingData data, string[] classNames) =>
        Score(model.Transform(data.View), data, classNames);

    /// <summary>Scores <paramref name="predictions"/>, a model's output on <paramref name="data"/>'s rows in their order.</summary>
    public static List<TestMetrics.Scored> Score(IDataView predictions, TrainingData data, string[] classNames)
    {
        var (predicted, scores) = ReadPredictions(predictions);
        Func<string, int?> classOf = ClassLabels.Matcher(classNames);
        // Each label the model never saw gets its own index below -1 (-1: a prediction outside the classes), so
        // macro-accuracy counts each such class once.
        var unseen = UnseenLabels(data.Labels, classOf)
            .Select((label, k) => (label, k)).ToDictionary(p => p.label, p => -2 - p.k, StringComparer.Ordinal);
        return Enumerable.Range(0, data.Count)
            .Select(r => new TestMetrics.Scored(classOf(data.Labels[r]) ?? unseen[data.Labels[r]],
                classOf(predicted[r]) ?? -1, scores[r]))
            .ToList();
    }

    /// <summary>The note for hidden folders and images an image folder's reading left out; null when there were none.</summary>
    internal static string? HiddenNote(IReadOnlyList<string> hiddenEntries) => hiddenEntries.Count == 0 ? null
        : $"Left out {hiddenEntries.Count:N0} hidden folder(s) and image(s), as tools leave them beside data (names starting with a dot, " +
          $"such as .ipynb_checkpoints and macOS' ._ copies, and __MACOSX): {FirstTen(hiddenEntries, ", ")}; rename one without its dot to use it.";

    /// <summary>The note for images whose picture is only in their transparency, which the model reads as blank; null when
    /// there are none. Such a folder trained silently at chance (MNIST as black ink on transparent PNGs: 0.119 test
    /// accuracy, the raw-pixel comparison the same, and "every input was read").</summary>
    internal static string? PictureInAlphaNote(TrainingData data) => data.PictureInAlpha.Count == 0 ? null
        : string.Create(CultureInfo.InvariantCulture, $"{data.PictureInAlpha.Count:N0} of the {data.Labels.Length:N0} image(s) hold their picture only in their transparency ") +
          $"(such as black ink on a transparent background): the model reads images without transparency, a transparent pixel as black, so these are blank " +
          $"to it: {FirstTen(data.PictureInAlpha, ", ")}. Flatten them onto a background colour (such as white) before training and predicting.";

    /// <summary>The console's note for labeled rows whose largest class has 3 times the rows of the smallest or more (the
    /// report's data summary marks them too), unless the metric already weighs classes; null otherwise.</summary>
    internal static string? ImbalanceNote(IReadOnlyDictionary<string, int> classCounts, string metric)
    {
        // AUC and F1 score the rarer of two classes; with more classes the search ranks on accuracy in their place.
        if (classCounts.Count < 2 || metric == "macro-accuracy" || (metric is "auc" or "f1" && classCounts.Count == 2)) return null;
        var largest = classCounts.MaxBy(c => c.Value);
        var smallest = classCounts.MinBy(c => c.Value);
        if (smallest.Value <= 0 || largest.Value < 3 * smallest.Value) return null;
        // Log-loss scores every row's probabilities, so it does not reward ignoring a class as accuracy does, but the rows
        // of the large classes dominate its mean and the predicted class follows their frequency.
        string why = metric == "log-loss"
            ? "Log-loss averages over the rows, so the large classes weigh most in it and the predicted class leans toward them"
            : "Accuracy rewards predicting the large classes, so a model can score high while missing the small ones";
        return string.Create(CultureInfo.InvariantCulture,
            $"Classes are imbalanced: '{largest.Key}' has {largest.Value:N0} labeled rows, '{smallest.Key}' {smallest.Value:N0}. {why}") +
            "; --metric macro-accuracy (balanced accuracy) weighs every class the same, " +
            "and the model then decides as if the classes were equally frequent" +
            (classCounts.Count == 2 ? ", and --metric f1 or auc score the rarer class." : ".");
    }

    /// <summary>
    /// What an image folder holds that a user should know before trusting the test figure: hidden folders and files left
    /// out (an .ipynb_checkpoints folder would otherwise be a class), identical files under different classes (one of the
    /// two labels is wrong for the model), and test images that are training images (scored as new, they inflate the
    /// test accuracy).
    /// </summary>
    internal static IEnumerable<string> ImageFolderNotes(TrainingData all, TrainingData train, TrainingData test)
    {
        if (all.Kind != DatasetKind.Images) yield break;
        if (HiddenNote(all.HiddenEntries) is { } hidden) yield return hidden;
        // A test folder of its own (a hold-out shares the training folder's list).
        if (!ReferenceEquals(test.HiddenEntries, all.HiddenEntries) && HiddenNote(test.HiddenEntries) is { } hiddenInTest) yield return "Test folder: " + hiddenInTest;
        if (PictureInAlphaNote(all) is { } alpha) yield return alpha;
        if (!ReferenceEquals(test.PictureInAlpha, all.PictureInAlpha) && PictureInAlphaNote(test) is { } alphaInTest) yield return "Test folder: " + alphaInTest;
        var labelOf = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < all.RowNames.Length; i++) labelOf[all.RowNames[i]] = all.Labels[i];
        var conflicting = all.Duplicates
            .Where(g => g.Select(n => labelOf.GetValueOrDefault(n, "")).Where(l => l.Length > 0).Distinct(StringComparer.Ordinal).Count() > 1)
            .Select(g => string.Join(" = ", g))
            .ToList();
        if (conflicting.Count > 0)
            yield return $"{conflicting.Count:N0} image(s) are in two or more class folders as identical files, so one of their labels is wrong for the model: " +
                $"{FirstTen(conflicting, "; ")}; keep each in its one class folder.";
        if (train.ContentHashes.Count > 0 && test.ContentHashes.Count > 0)
        {
            var trained = train.ContentHashes.Where((_, i) => train.Labels[i].Length > 0).ToHashSet(StringComparer.Ordinal);
            string[] seen = [.. test.RowNames.Where((_, i) => test.Labels[i].Length > 0 && trained.Contains(test.ContentHashes[i]))];
            if (seen.Length > 0)
                yield return FormattableString.Invariant(
                    $"{seen.Length:N0} of the {test.LabeledCount:N0} labeled test image(s) are identical to training images ({FirstTen(seen, ", ")}): the model was ") +
                    "fitted to them, so the test accuracy counts them as new when they are not; remove them from one of the two sets for a figure that holds on new images.";
        }
    }

    /// <summary>The labels no class matches, each once, in order of first appearance: the k-th is actual class -2 - k in
    /// <see cref="Score"/>.</summary>
    internal static List<string> UnseenLabels(IEnumerable<string> labels, Func<string, int?> classOf) =>
        labels.Where(l => classOf(l) is null).Distinct(StringComparer.Ordinal).ToList();

    /// <param name="CurveDescription">What the label curve refits when it is not <paramref name="Description"/>'s pipeline
    /// (an ensemble: the curve refits its chosen member alone).</param>
    private sealed record Baseline(string Description, SslDownstreamParameters Downstream, MetricWithInterval Metric, double Accuracy, string? CurveDescription = null);

    /// <summary>The best trial without pretraining (raw features into its trainer), refitted and scored on the test rows; when
    /// the search reached none, the default raw-feature L-BFGS probe, so the comparison is always there.</summary>
    private Baseline? NoSslBaseline(DownstreamFits fits, SslExperimentResult search, TrainingData train, TrainingData test, string[] classNames,
        string metric, ref DownstreamFits.LabeledFeatures? rawFeatures)
    {
        TrialRecord? best = search.Trials.FirstOrDefault(t => t.Metric is not null && TrialDescriptions.Bind(t).Features == SslFeatureSource.RawFeatures);
        // A label-free search scores no raw-feature pipeline, and its model's probe has no L1: ML.NET's default L1 of 1
        // zeroes every weight on one or two labels per class, so the comparison gets the model's own trainer.
        bool labelFree = search.Objective?.Kind == SslObjectiveKind.LabelFree;
        SslDownstreamParameters downstream = best is not null ? TrialDescriptions.Bind(best).Downstream
            : labelFree && search.BestDownstream is { } fitted ? fitted
            : new SslDownstreamParameters();
        string description = best is not null ? TrialDescriptions.Describe(best)
            : labelFree ? string.Create(CultureInfo.InvariantCulture,
                $"Raw features + L-BFGS (L1 {downstream.L1Regularization:G2}, L2 {downstream.L2Regularization:G2}): the model's own trainer on raw features, " +
                $"fitted for comparison (at most {DownstreamFits.MaxLbfgsIterations} iterations; a label-free search scores no raw-feature pipeline)")
            : string.Create(CultureInfo.InvariantCulture,
                $"Raw features + L-BFGS (L1 {downstream.L1Regularization:G2}, L2 {downstream.L2Regularization:G2}): the search's default trainer (at most {DownstreamFits.MaxLbfgsIterations} iterations), " +
                $"fitted for comparison ({(search.Trials.Any(t => TrialDescriptions.Bind(t).Features == SslFeatureSource.RawFeatures) ? "no raw-feature trial of the search finished" : "the search did not reach a raw-feature trial")})");
        try
        {
            // Raw features first: images are decoded once, and the cache holds only vectors.
            rawFeatures ??= fits.Labeled(fits.Raw(train.Kind));
            var scored = fits.FitAndScore(rawFeatures, downstream, subset: null, test, classNames);
            var (value, lower, upper) = TestMetrics.WithInterval(metric, scored, classNames.Length, _positive, settings.Seed);
            return new Baseline(description, downstream, new MetricWithInterval(value, lower, upper), TestMetrics.Compute("accuracy", scored, classNames.Length, _positive));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _notes.Add($"The no-SSL comparison could not be fitted: {e.GetType().Name}: {e.Message}");
            log.Detail(e.ToString());
            return null;
        }
    }

    /// <summary>The labeled shares of --label-curve.</summary>
    public static readonly double[] LabelShares = [0.1, 0.25, 0.5, 1.0];

    /// <summary>--label-curve: the chosen pipeline and the best no-SSL pipeline refitted on stratified, seeded shares of the
    /// labeled training rows and scored on the test rows. Pretraining is label-free, so the chosen pipeline keeps its
    /// pretrained stage and only its downstream trainer is refitted; a fine-tuned network (trained with every label) is
    /// left out with a note.</summary>
    private List<LabelCurvePoint> LabelCurve(DownstreamFits fits, ITransformer trained, TrialRecord chosen, string chosenDescription,
        SslDownstreamParameters chosenDownstream, Baseline? baseline,
        DownstreamFits.LabeledFeatures? rawFeatures, TrainingData train, TrainingData test, string[] classNames, string metric, CancellationToken cancellation)
    {
        var points = new List<LabelCurvePoint>();
        string[] labeledClasses = train.Labels.Where(l => l.Length > 0).ToArray();
        var curves = new List<(string Pipeline, bool UsesSsl, Func<DownstreamFits.LabeledFeatures> Features, SslDownstreamParameters Downstream)>();
        if (TrialDescriptions.UsesSsl(chosen))
        {
            if (DownstreamFits.FrontOf(trained) is { } front)
                curves.Add((chosenDescription, true, () => fits.Labeled(front), chosenDownstream));
            else
                _notes.Add("Label curve: the chosen pipeline fine-tunes its network with every label, so it has no label-free part to keep; only the no-SSL pipeline is shown.");
        }
        else if (TrialDescriptions.Bind(chosen).Features == SslFeatureSource.SupervisedFromScratch)
            _notes.Add("Label curve: the chosen pipeline trains its network from scratch with every label, so it has no label-free part to keep; only the raw-feature pipeline is shown.");
        if (baseline is not null)
            curves.Add((baseline.CurveDescription ?? baseline.Description, false, () => rawFeatures ?? fits.Labeled(fits.Raw(train.Kind)), baseline.Downstream));
        foreach (var curve in curves)
        {
            DownstreamFits.LabeledFeatures features = curve.Features();
            foreach (double share in LabelShares)
            {
                if (cancellation.IsCancellationRequested)
                {
                    _notes.Add("Label curve: stopped by Ctrl+C; the points computed before it are shown.");
                    return points;
                }
                int[]? subset = share >= 1 ? null : DownstreamFits.StratifiedShare(labeledClasses, share, settings.Seed);
                var scored = fits.FitAndScore(features, curve.Downstream, subset, test, classNames);
                points.Add(new LabelCurvePoint(share, curve.Pipeline, curve.UsesSsl, TestMetrics.Compute(metric, scored, classNames.Length, _positive)));
                // A point that is the share of one class is no measure of the pipeline at that many labels: say so rather
                // than let the flat curve speak.
                if (subset is not null && scored.Select(r => r.Predicted).Distinct().ToList() is [int only] && only >= 0
                    && scored.Select(r => r.Actual).Where(a => a >= 0).Distinct().Count() > 1)
                {
                    _notes.Add(string.Create(CultureInfo.InvariantCulture,
                        $"Label curve: at {share * 100:0}% of the labels ({subset.Length} rows) {curve.Pipeline} predicts '{classNames[only]}' for every test row; it learned nothing that tells the classes apart from that few rows."));
                }
                log.Info(string.Create(CultureInfo.InvariantCulture,
                    $"Label curve: {share * 100:0}% of the labels ({subset?.Length ?? labeledClasses.Length} rows), {(curve.UsesSsl ? "chosen" : "no SSL")}: test {metric} {points[^1].Metric:0.0000}"));
            }
        }
        return points;
    }

    /// <summary>Whose augmentations the report's views show when the chosen model keeps no SSL stage, and the note saying so:
    /// the chosen trial's own when it fine-tuned a pretrained encoder (its pretraining saw those views, though the network
    /// keeps no separate stage), else the best SSL trial's; null when no SSL trial has a metric.</summary>
    internal static (SslTrialParameters Parameters, string Note)? ViewsSourceWithoutStage(SslExperimentResult search)
    {
        static string Policy(int trialId, SslPretrainingParameters pre) =>
            $"{trialId}: {pre.Augmentations} augmentations at {pre.AugmentationStrength.ToString("0.##", CultureInfo.InvariantCulture)}";
        SslTrialParameters chosen = search.BestTrial.Parameters.AsType<SslTrialParameters>();
        if (chosen.Features == SslFeatureSource.SelfSupervised && chosen.Downstream.Trainer == DownstreamTrainer.FineTune)
            return (chosen, $"Augmented views: the chosen network was fine-tuned from an encoder pretrained on such views (trial {Policy(search.BestTrial.TrialId, chosen.Pretraining)}); " +
                "its encoder is trained into the classifier, so the model keeps no separate SSL stage.");
        if (search.Trials.FirstOrDefault(t => t.Metric is not null && TrialDescriptions.Bind(t).Features == SslFeatureSource.SelfSupervised) is not { } ssl)
            return null;
        SslTrialParameters best = TrialDescriptions.Bind(ssl);
        return (best, $"Augmented views: the chosen pipeline has no SSL pretraining; the views are those of the best SSL trial ({Policy(ssl.TrialId, best.Pretraining)}).");
    }

    /// <summary>A few training images (one per class, up to four) and five views of each made with the chosen SSL stage's
    /// augmentation policy, or with the best SSL trial's when the chosen pipeline has no stage.</summary>
    private IReadOnlyList<AugmentedExample> ViewsForReport(ITransformer trained, SslExperimentResult search, TrainingData train)
    {
        if (train.Kind != DatasetKind.Images || train.ImagePaths is null) return [];
        try
        {
            AugmentationPolicy? policy = null;
            SslInputShape? shape = null;
            if (ModelParts.Flatten(trained).OfType<SelfSupervisedTransformer>().FirstOrDefault() is { } stage)
            {
                (policy, shape) = (stage.Augmentations, stage.InputShape);
            }
            else if (ViewsSourceWithoutStage(search) is { } source)
            {
                SslPretrainingParameters pre = source.Parameters.Pretraining;
                shape = new SslInputShape(SslInputKind.Image, 3, 32, 32);
                policy = SslAugmentationTemplates.Build(pre.Augmentations, pre.Method, shape, pre.AugmentationStrength);
                _notes.Add(source.Note);
            }
            if (policy is null || shape is null) return [];
            var sources = Enumerable.Range(0, train.Count).Where(r => train.Labels[r].Length > 0)
                .DistinctBy(r => train.Labels[r], StringComparer.Ordinal).Take(4)
                .Select(r => (train.RowNames[r], train.ImagePaths[r])).ToList();
            return AugmentedViews.Make(policy, shape, sources, viewsPerImage: 5, settings.Seed);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or ExternalException)
        {
            _notes.Add($"Augmented views: not made ({e.Message}).");
            return [];
        }
    }

    private static List<LeaderboardRow> Leaderboard(SslExperimentResult search, SearchProgress progress) =>
        search.Trials.Select(progress.AsStoppedHere).Select((trial, i) => new LeaderboardRow(
            Rank: i + 1,
            TrialId: trial.TrialId,
            Pipeline: progress.Describe(trial, scoredLabelFree: search.Objective?.Kind == SslObjectiveKind.LabelFree, search),
            Metric: trial.Metric,
            MetricSpread: search.MeasuresOf(trial)?.MetricStandardDeviation,
            Fidelity: trial.Fidelity,
            DurationSeconds: trial.Duration.TotalSeconds,
            StartedAt: progress.StartedAt(trial.TrialId),
            Status: trial.Status.ToString(),
            UsesSsl: TrialDescriptions.UsesSsl(trial),
            Parameters: TrialDescriptions.Flatten(trial))).ToList();

    private static void WriteTrials(string path, List<LeaderboardRow> rows, SslExperimentResult search, SearchProgress progress)
    {
        var lines = new StringBuilder();
        foreach (LeaderboardRow row in rows.OrderBy(r => r.TrialId))
        {
            TrialRecord trial = progress.AsStoppedHere(search.Trials.First(t => t.TrialId == row.TrialId));
            lines.Append(JsonSerializer.Serialize(new
            {
                trial = row.TrialId,
                rank = row.Rank,
                pipeline = row.Pipeline,
                status = row.Status,
                metric = row.Metric,
                metricSpread = row.MetricSpread,
                fidelity = row.Fidelity,
                rungs = trial.Rungs.Select(r => new { fidelity = r.Fidelity, metric = r.Metric, seconds = r.Duration.TotalSeconds }),
                durationSeconds = row.DurationSeconds,
                startedAt = row.StartedAt,
                usesSsl = row.UsesSsl,
                error = trial.ErrorMessage,
                parameters = row.Parameters,
            })).Append(System.Environment.NewLine);
        }
        CliFile.WriteAllText(path, lines.ToString());
    }

    private void WriteRunJson(string path)
    {
        string Relative(string p) => CliFile.RelativePath(RunFolder, p);
        RunSettings recorded = settings with
        {
            Dataset = Relative(settings.Dataset),
            TestDataset = settings.TestDataset is null ? null : Relative(settings.TestDataset),
            ValidationDataset = settings.ValidationDataset is null ? null : Relative(settings.ValidationDataset),
            Output = Relative(settings.Output),
            Versions = Versions(),
            Scheduler = Scheduler.Name,
            PositiveClass = _positiveClass,
            LabelColumn = _seriesLabelColumn ?? settings.LabelColumn,
            Channels = _seriesChannels ?? settings.Channels,
            DecimalMarker = _decimalMarker,
            TableColumns = _layout?.Columns,
            TableLabelIndex = _layout?.LabelIndex,
            NumericRanges = _numericRanges,
            SeriesLengthRange = _seriesLengthRange,
        };
        CliFile.WriteAllText(path, JsonSerializer.Serialize(recorded, RunSettings.Json));
    }

    /// <summary>Writes one output (each writer replaces its file or folder whole, see <see cref="CliFile"/>); a failure is
    /// recorded, an earlier run's output of that name (and of <paramref name="alsoWritten"/>; <paramref name="folders"/>: they
    /// are folders) is removed, and the other outputs are still written.</summary>
    private void WriteOutput(string name, Action<string> write, List<string> failures, bool folders = false, params string[] alsoWritten)
    {
        try
        {
            write(Path.Combine(RunFolder, name));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException or FormatException)
        {
            failures.Add($"{name} ({e.Message})");
            _failedOutputs.Add(name);
            log.Detail(e.ToString());
            // A rerun on a full disk kept the earlier run's report.html (or code) beside the new model and run.json, which it
            // does not describe (another leaderboard, test metric and schema): complete or absent, as after a failed search.
            foreach (string output in alsoWritten.Prepend(name).Select(n => Path.Combine(RunFolder, n)))
            {
                try
                {
                    // Files for a file output, folders for the generated projects: nothing else of that name is touched.
                    if (!folders && File.Exists(output) && File.GetLastWriteTimeUtc(output) < _startedUtc) File.Delete(output);
                    else if (folders && Directory.Exists(output) && Directory.GetLastWriteTimeUtc(output) < _startedUtc) Directory.Delete(output, recursive: true);
                }
                catch (Exception stale) when (stale is IOException or UnauthorizedAccessException)
                {
                    failures.Add($"{Path.GetFileName(output)} of an earlier run, which could not be removed ({stale.Message})");
                }
            }
        }
    }

    private static IReadOnlyList<FineTunePoint> FineTuneCurve(ITransformer model) =>
        ModelParts.Flatten(model).OfType<SelfSupervisedFineTuneTransformer>().FirstOrDefault()?.History
            .Select((h, i) => new FineTunePoint(i + 1,
                string.Create(CultureInfo.InvariantCulture, $"{h.Stage}{(h.Stage == FineTuneStage.SelfTraining ? $" round {h.Round}" : "")} epoch {h.Epoch}"),
                h.TrainLoss, h.AcceptanceRate)).ToList() ?? [];

    private static IReadOnlyList<EpochPoint> PretrainingCurve(ITransformer model) =>
        ModelParts.Flatten(model).OfType<SelfSupervisedTransformer>().FirstOrDefault()?.History
            .Select(h => new EpochPoint(h.Epoch, h.MeanLoss, h.MonitorAccuracy)).ToList() ?? [];

    private List<Misclassified> Misclassified(TrainingData test, List<TestMetrics.Scored> scored, string[] classNames)
    {
        var list = new List<Misclassified>();
        for (int r = 0; r < scored.Count && list.Count < 24; r++)
        {
            if (scored[r].Actual == scored[r].Predicted) continue;
            string predicted = scored[r].Predicted >= 0 ? classNames[scored[r].Predicted] : "?";
            double confidence = scored[r].Predicted >= 0 ? scored[r].Scores[scored[r].Predicted] : 0;
            string description = test.Kind == DatasetKind.Images
                ? test.RowNames[r]
                : $"{test.RowNames[r]}: " + string.Join(", ", test.RowValues(r).Select(p => $"{p.Key}={Shorten(p.Value)}"));
            list.Add(new Misclassified(test.Labels[r], predicted, confidence, description,
                test.ImagePaths is { } paths ? Thumbnail(paths[r]) : null));
        }
        return list;
    }

    private static string Shorten(string value) => value.Length <= 60 ? value : value[..57] + "...";

    private static byte[]? Thumbnail(string path)
    {
        using SKBitmap? resized = ImageOrientation.DecodeShown(path, (width, height) =>
        {
            double scale = 64.0 / Math.Max(width, height);
            return (Math.Max(1, (int)(width * scale)), Math.Max(1, (int)(height * scale)));
        }, SKImageInfo.PlatformColorType);
        if (resized is null) return null;
        using SKImage image = SKImage.FromBitmap(resized);
        using SKData png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    /// <summary>A PCA map of up to 1,000 training rows: the raw input vector, or the SSL stage's embedding.</summary>
    private EmbeddingMap? Map(MLContext ml, string title, ITransformer prepared, TrainingData train, string inputColumn, ITransformer? embedding)
    {
        try
        {
            int[] rows = Enumerable.Range(0, train.Count).Where(r => r % Math.Max(1, train.Count / 1000) == 0).Take(1000).ToArray();
            TrainingData sample = train.Subset(rows);
            IDataView view = prepared.Transform(sample.View);
            // Both maps read the same sample: its images are decoded once (a folder of large photos took seconds a map).
            if (train.Kind == DatasetKind.Images) view = _mapImages ??= ml.Data.PreloadImages(view, inputColumn, ImageSide, ImageSide);
            string column;
            if (embedding is null)
            {
                if (train.Kind == DatasetKind.Images)
                {
                    view = ml.Transforms.ResizeImages("Ssl_MapResized", 32, 32, inputColumn).Append(ml.Transforms.ExtractPixels("Ssl_MapPixels", "Ssl_MapResized"))
                        .Fit(view).Transform(view);
                    column = "Ssl_MapPixels";
                }
                else column = inputColumn;
            }
            else
            {
                // Apply the model up to its self-supervised stage and read the stage's own output column.
                SelfSupervisedTransformer? stage = null;
                foreach (ITransformer part in ModelParts.Flatten(embedding))
                {
                    if (part is SelfSupervisedTransformer ssl) { stage = ssl; view = ssl.Transform(view); break; }
                    view = part.Transform(view);
                }
                if (stage is null)
                {
                    _notes.Add("The chosen model has no separate self-supervised stage (raw features or fine-tuned network), so there is no embedding map.");
                    return null;
                }
                column = stage.OutputColumnName;
            }
            float[][] vectors = view.GetColumn<VBuffer<float>>(column).Select(v => v.DenseValues().ToArray()).ToArray();
            var points = Pca.Project2D(vectors, settings.Seed);
            return new EmbeddingMap(title, points.Select((p, i) => new MapPoint(p.X, p.Y, sample.Labels[i].Length > 0 ? sample.Labels[i] : null)).ToList());
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or InvalidDataException)
        {
            _notes.Add($"{title}: not computed ({e.Message}).");
            return null;
        }
    }

    private ModelInputSchema Schema(TrainingData train, string[] classNames, int seriesLength)
    {
        int example = Array.FindIndex(train.Labels, l => l.Length > 0);
        var values = train.RowValues(example).ToDictionary(p => p.Key, p => p.Value);
        if (train.Kind == DatasetKind.Images)
            values[ImageFolder.PathColumn] = CliFile.RelativePath(RunFolder, values[ImageFolder.PathColumn]);
        // The file's columns that are neither the label nor an input: a whole record posted to the Web API holds them too.
        var unused = train.Layout is { } file
            ? file.Columns.Where((_, i) => i != file.LabelIndex && !train.Columns.Any(c => c.SourceColumnIndex == i)).ToList()
            : [];
        return new ModelInputSchema(settings.Task, train.Columns, classNames, train.Kind == DatasetKind.Series ? train.SeriesChannels : 0,
            values, train.Labels[example], train.Layout is { } layout ? layout.Columns[layout.LabelIndex] : null, train.Format, unused);
    }

    public static IReadOnlyDictionary<string, string> Versions()
    {
        static string Of(Type type) => type.Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? type.Assembly.GetName().Version?.ToString() ?? "unknown";
        return new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["mlnet-ssl"] = Of(typeof(TrainingRun)),
            ["MlNetSsl"] = Of(typeof(SslEnvironment)),
            ["MlNetSsl.AutoML"] = Of(typeof(SslExperiment)),
            ["Microsoft.ML"] = Of(typeof(MLContext)),
            ["TorchSharp"] = Of(typeof(TorchSharp.torch)),
            [".NET"] = System.Environment.Version.ToString(),
        };
    }

    private EnvironmentInfo Environment() => new(
        ToolVersion: Versions()["mlnet-ssl"],
        TorchBackend: SslEnvironment.Describe(),
        Device: TorchSharp.torch.cuda.is_available() ? "CUDA" : "CPU",
        Cpu: CpuModel(),
        Threads: TorchSharp.torch.get_num_threads(),
        Seed: settings.Seed,
        StartedAt: settings.StartedAt ?? DateTimeOffset.UtcNow,
        TotalSeconds: _total.Elapsed.TotalSeconds,
        PhaseSeconds: new Dictionary<string, double>(_phases));

    public static string CpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
                    ?? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (IOException)
        {
            // Fall through to the architecture.
        }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }

    /// <summary>Whether a row's metric is better than that of a row above it: the leaderboard ranks higher fidelity first
    /// (<see cref="SearchResult.Trials"/>), which the console's metric column alone does not show.</summary>
    internal static bool OutrankedByLongerTraining(IReadOnlyList<LeaderboardRow> rows, bool minimized)
    {
        double? worstAbove = null;
        foreach (LeaderboardRow row in rows)
        {
            if (row.Metric is not double metric) continue;
            if (worstAbove is double w && (minimized ? metric < w : metric > w)) return true;
            worstAbove = worstAbove is double v ? (minimized ? Math.Max(v, metric) : Math.Min(v, metric)) : metric;
        }
        return false;
    }

    /// <summary>
    /// A note when the test metric's 95% interval ends more than 0.1 below the chosen trial's cross-validated metric, and
    /// (given <paramref name="trainCounts"/>) below that metric's own 95% interval over the labeled training rows (Wilson):
    /// more than noise, so the test rows differ from the training rows in a way the model did not learn (another source
    /// or period, a key or date that encodes where a row sits in the training file, a column in another unit). Null
    /// otherwise, and for log-loss (no fixed scale). When the metric weighs classes by their share (accuracy, F1) and
    /// the test rows' classes come in other proportions than the labeled training rows' (<paramref name="trainCounts"/>,
    /// <paramref name="testCounts"/>: a test set balanced by hand, a training folder of one large class), the note says
    /// that first: a model that learned the training mix scores another mix differently, with nothing else wrong. Keys,
    /// units and <c>--ignore-cols</c> are named for tables only, which have them. When <paramref name="unseenRows"/> test
    /// rows have a class the model never saw (errors whatever the model does) and the metric on the other rows
    /// (<paramref name="seenOnly"/>) is not itself far below, those rows are the cause the note names.
    /// </summary>
    internal static string? FarBelowCrossValidation(string metric, double test, double testUpper, double? crossValidated,
        DatasetKind kind = DatasetKind.Table, IReadOnlyDictionary<string, int>? trainCounts = null, IReadOnlyDictionary<string, int>? testCounts = null,
        int unseenRows = 0, (double Value, double Upper)? seenOnly = null)
    {
        if (!TestMetrics.HigherIsBetter(metric) || crossValidated is not double cv || double.IsNaN(cv) || double.IsNaN(testUpper) || cv - testUpper <= 0.1)
            return null;
        // Test rows of a class missing from training are errors the model cannot avoid: BasicMotions trained without
        // 'Badminton' scored every known row right (0.75 with 10 of 40 rows unseen), and the note blamed the sensor.
        if (unseenRows > 0 && seenOnly is { } seen && testCounts is not null
            && FarBelowCrossValidation(metric, seen.Value, seen.Upper, cv, kind, trainCounts, testCounts) is null)
        {
            int known = testCounts.Values.Sum();
            return string.Create(CultureInfo.InvariantCulture,
                $"the test {metric}, {test:0.0000} (95% interval up to {testUpper:0.0000}), is below the chosen model's cross-validated {cv:0.0000} on the training rows ") +
                string.Create(CultureInfo.InvariantCulture,
                $"because {unseenRows:N0} of the {known + unseenRows:N0} test rows have classes the model never saw, which count as errors; on the {known:N0} rows of the model's classes the test {metric} is ") +
                (double.IsNaN(seen.Value) ? "not defined" : seen.Value.ToString("0.0000", CultureInfo.InvariantCulture)) +
                ". Label training rows of those classes, or leave them out of the test set.";
        }
        // The cross-validated figure is an estimate too, on the labeled training rows: on few of them (ArrowHead's 36
        // series, 0.7833 cross-validated, its own 95% interval down to 0.63) a test interval that reaches into it is noise,
        // not a difference between the two sets (ArrowHead's split tested 0.6114, up to 0.6805, and the note blamed
        // "another sensor, sampling rate, unit or period").
        if (trainCounts is not null && trainCounts.Values.Sum() is int labeled and > 0
            && TestMetrics.Wilson((int)Math.Round(Math.Clamp(cv, 0, 1) * labeled), labeled).Lower <= testUpper)
            return null;
        string far = string.Create(CultureInfo.InvariantCulture,
            $"the test {metric}, {test:0.0000} (95% interval up to {testUpper:0.0000}), is far below the chosen model's cross-validated {cv:0.0000} on the training rows: ");
        if (metric is "accuracy" or "f1" && ClassMixShift(trainCounts, testCounts) is { } mix)
            return far + mix;
        return far + "the test rows differ from the training rows in a way the model did not learn, such as " + (kind == DatasetKind.Table
            ? "another source or period, a key or date that tells where a row sits in the training file (leave it out with --ignore-cols), or a column in another unit or order."
            : kind == DatasetKind.Images
                ? "another source, camera or period, or another kind of picture of the same classes."
                : "another sensor, sampling rate, unit or period.");
    }

    /// <summary>The metric and its interval's top on the scored rows of the model's classes, when some rows have a class
    /// the model never saw (null otherwise, or when none has a known class).</summary>
    private static (double Value, double Upper)? SeenOnly(string metric, IReadOnlyList<TestMetrics.Scored> scored, int classCount, int positive, int seed)
    {
        var known = scored.Where(r => r.Actual >= 0).ToList();
        if (known.Count == scored.Count || known.Count == 0) return null;
        var (value, _, upper) = TestMetrics.WithInterval(metric, known, classCount, positive, seed);
        return (value, upper);
    }

    /// <summary>The test rows' class mix against the labeled training rows', when the shares differ by 0.2 or more in
    /// total (half the summed absolute differences): the class whose share moved most, in both sets, and what to do.</summary>
    internal static string? ClassMixShift(IReadOnlyDictionary<string, int>? trainCounts, IReadOnlyDictionary<string, int>? testCounts)
    {
        if (trainCounts is null || testCounts is null) return null;
        double trainTotal = trainCounts.Values.Sum(), testTotal = testCounts.Values.Sum();
        if (trainTotal <= 0 || testTotal <= 0) return null;
        var shifts = trainCounts.Keys.Union(testCounts.Keys, StringComparer.Ordinal)
            .Select(c => (Class: c, Train: trainCounts.GetValueOrDefault(c) / trainTotal, Test: testCounts.GetValueOrDefault(c) / testTotal))
            .OrderByDescending(x => Math.Abs(x.Train - x.Test)).ThenBy(x => x.Class, StringComparer.Ordinal).ToList();
        if (shifts.Sum(x => Math.Abs(x.Train - x.Test)) / 2 < 0.2) return null;
        var top = shifts[0];
        return string.Create(CultureInfo.InvariantCulture,
            $"the test rows' classes come in other proportions than the labeled training rows' ('{top.Class}' is {top.Train:0%} of the labeled training rows and {top.Test:0%} of the test rows). ") +
            "A model learns the training mix and leans towards its large classes, which the cross-validation, drawn from that mix, rewards; " +
            "a test set of another mix scores it lower with nothing else wrong. Add labeled rows of the rarer classes, train with --metric macro-accuracy " +
            "(the model then decides as if the classes were balanced), or test on rows in the proportions the model will meet.";
    }

    // The label-free objective ranks trials by a score of the embeddings alone; calling it a cross-validated metric
    // would send a user comparing it with the test metric.
    internal static string LeaderboardHeading(SslExperimentResult search, string metric) =>
        search.Objective?.Kind == SslObjectiveKind.LabelFree
            ? "Top 5 models (label-free score of the embeddings, not comparable with the test metric; see the report's notes):"
            : $"Top 5 models (cross-validated {metric} on the labeled training rows):";

    /// <summary>Why the run took <paramref name="over"/> seconds more than --train-time, from where the time went: the
    /// first trial runs to its end only when it outlasted the budget, which a slow preparation or refit does not explain.</summary>
    private string OverrunNote(double over)
    {
        double budget = settings.TrainTimeSeconds;
        if (_searchTimes is not { } times || !_phases.TryGetValue("search and refit", out double searchAndRefit))
            return string.Create(CultureInfo.InvariantCulture, $"that is {over:0} s past --train-time {budget:0}: ") +
                "the first trial always ends the pretraining epoch it has begun and its scoring so that there is a model, and reading the data, scoring the test rows and writing " +
                "the outputs come on top of the budget. Give a longer --train-time, or expect this on small budgets.";
        double load = _phases.GetValueOrDefault("load data");
        double afterSearch = Math.Max(0, searchAndRefit - times.BeforeSearch - times.Search);
        double outputs = Math.Max(0, _total.Elapsed.TotalSeconds - load - searchAndRefit);
        string firstTrial = times.FirstTrial > budget
            ? string.Create(CultureInfo.InvariantCulture, $" (its first trial, which ends the epoch it has begun so that there is a model, took {times.FirstTrial:0} s)")
            : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"that is {over:0} s past --train-time {budget:0}. The budget covers the search and the refit: the search took {times.Search:0} s{firstTrial}, " +
            $"the second look and the refit after it {afterSearch:0} s. On top of it came reading and checking the data before the search " +
            $"({load + times.BeforeSearch:0} s) and scoring the test rows and writing the outputs ({outputs:0} s). ") +
            "Give a longer --train-time, or expect this on small budgets.";
    }

    /// <summary>The run's closing line: the report, predict, and the generated console app and Web API, leaving out an
    /// output in <paramref name="failed"/> (a report that could not be written is not there to open, or is an earlier
    /// run's).</summary>
    internal static string NextSteps(string runFolder, string name, IReadOnlySet<string> failed)
    {
        var steps = new List<string>();
        if (!failed.Contains("report.html")) steps.Add($"open {Path.Combine(runFolder, "report.html")}");
        steps.Add($"predict with `mlnet-ssl predict --model \"{Path.Combine(runFolder, name + ".zip")}\" --dataset <file or folder>`");
        // Both projects are one output (ConsumptionCodeGenerator writes them together).
        if (!failed.Contains($"{name}.ConsoleApp"))
        {
            steps.Add($"use the model from C# with `dotnet run --project \"{Path.Combine(runFolder, name + ".ConsoleApp")}\"` (a console app that predicts one row) " +
                $"or serve it with `dotnet run --project \"{Path.Combine(runFolder, name + ".WebApi")}\"` (POST /predict)");
        }
        return $"Next: {string.Join("; ", steps)}.";
    }

    /// <summary>The scored rows the console shows (the first five, and the chosen trial's when the one-standard-error rule
    /// took it from below them) and what is said of the unscored ones left out.</summary>
    private static (List<LeaderboardRow> Shown, string? LeftOut) ShownRows(IReadOnlyList<LeaderboardRow> leaderboard, int chosenTrialId)
    {
        (List<LeaderboardRow> scored, string? leftOut) = LeaderboardRow.ScoredOnly(leaderboard);
        return ([.. scored.Take(5).Concat(scored.Skip(5).Where(r => r.TrialId == chosenTrialId))], leftOut);
    }

    /// <summary>The console's "Top 5 models" lines: the first five scored rows, the chosen trial's when the one-standard-error
    /// rule took it from below them, and how many trials without a score are left out.</summary>
    internal static List<string> LeaderboardLines(IReadOnlyList<LeaderboardRow> leaderboard, int chosenTrialId)
    {
        (List<LeaderboardRow> shown, string? leftOut) = ShownRows(leaderboard, chosenTrialId);
        List<string> lines = [.. shown.Select(row => string.Create(CultureInfo.InvariantCulture,
            $"  {row.Rank,2}. {row.Metric?.ToString("0.0000", CultureInfo.InvariantCulture) ?? "-",7}  {row.Status,-9} {row.DurationSeconds,6:0.0}s  {row.Pipeline}"))];
        if (leftOut is not null) lines.Add($"  ({leftOut})");
        return lines;
    }

    private void PrintSummary(List<LeaderboardRow> leaderboard, int chosenTrialId, string heading, string pipeline, string metric, int classCount, double value, double lower, double upper,
        double accuracy, Baseline? baseline, string testDescription, string? undefinedReason, string? whyNotTheTop)
    {
        log.Always("");
        log.Always(heading);
        foreach (string line in LeaderboardLines(leaderboard, chosenTrialId)) log.Always(line);
        List<LeaderboardRow> shown = ShownRows(leaderboard, chosenTrialId).Shown;
        if (OutrankedByLongerTraining(shown, minimized: metric == "log-loss"))
            log.Always("  (Trials scored after more training rank first: a better score after fewer epochs, from a trial the search stopped early, does not compare with it.)");
        log.Always($"Chosen: {pipeline}");
        // A choice below the top row (the one-standard-error rule) would otherwise look like a mistake.
        if (whyNotTheTop is not null) log.Always($"Why: {whyNotTheTop}");
        string positive = metric is "auc" or "f1" && _positiveClass is not null ? $" (positive class '{_positiveClass}')" : "";
        log.Always(undefinedReason is not null
            ? $"Test {metric} {undefinedReason}; on the {testDescription}."
            : string.Create(CultureInfo.InvariantCulture, $"Test {metric}{positive}: {value:0.0000} (95% interval {lower:0.0000} to {upper:0.0000}) on the {testDescription}."));
        if (metric != "accuracy") log.Always(string.Create(CultureInfo.InvariantCulture, $"Test accuracy: {accuracy:0.0000}."));
        if (_logLossNote is not null) log.Always($"Note: {_logLossNote}");
        if (_farBelowNote is not null) log.Always($"Note: {_farBelowNote}");
        // On imbalanced rows a high accuracy can be what predicting one class gives: say what that scores.
        if (_majority is { Share: >= 0.6 } majority)
            log.Always(string.Create(CultureInfo.InvariantCulture,
                $"Predicting the most common test class ('{majority.Class}', {majority.Share:P1} of the labeled test rows) for every row would score accuracy {majority.Share:0.0000}."));
        if (baseline is not null && undefinedReason is not null)
            log.Always(string.Create(CultureInfo.InvariantCulture, $"Best without SSL: {baseline.Description}: test {metric} not defined either; test accuracy {baseline.Accuracy:0.0000}."));
        else if (baseline is not null)
            log.Always(string.Create(CultureInfo.InvariantCulture, $"Best without SSL: {baseline.Description}: test {metric} {baseline.Metric.Value:0.0000} ({baseline.Metric.Lower:0.0000} to {baseline.Metric.Upper:0.0000})."));
        log.Always(string.Create(CultureInfo.InvariantCulture, $"Wrote {RunFolder} in {_total.Elapsed.TotalSeconds:0} s."));
        // Where a user goes next: the report, predicting with the model, and the generated code (docs/cli-generated-code.md).
        log.Always(NextSteps(RunFolder, settings.Name, _failedOutputs));
        // A run far past its budget says why, or a user reads the budget as ignored.
        double over = _total.Elapsed.TotalSeconds - settings.TrainTimeSeconds;
        if (over > Math.Max(10, 0.25 * settings.TrainTimeSeconds)) log.Always($"Note: {OverrunNote(over)}");
    }
}
