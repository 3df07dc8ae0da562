using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MlNetSsl.Cli.Data;
using MlNetSsl.Cli.Run;

namespace MlNetSsl.Cli.Commands;

/// <summary>image-classification, classification, series-classification and train --config.</summary>
internal static class TrainingCommands
{
    private sealed class Options
    {
        public readonly Option<string> Dataset = new("--dataset", "-d") { Description = "The training data: an image folder, a CSV or a .ts file.", Required = true };
        public readonly Option<string?> LabelColumn = new("--label-col") { Description = "The label column: a header name or a 0-based index. Empty cells are unlabeled rows." };
        public readonly Option<string?> TestDataset = new("--test-dataset") { Description = "Rows to score the final model on; without it, a stratified 20% of the labeled rows is held out." };
        public readonly Option<string?> ValidationDataset = new("--validation-dataset") { Description = "Labeled rows to hold out and score instead of the stratified 20% split (all --dataset rows then train). Not with --test-dataset." };
        public readonly Option<bool> LabelCurve = new("--label-curve") { Description = "Also refit the chosen and the best no-SSL pipeline on 10, 25, 50 and 100% of the labeled rows and plot their test metric in the report." };
        public readonly Option<int?> TrainTime = new("--train-time") { Description = "Time in seconds for the search and the refit of its best pipeline (the search leaves the time the refit is expected to take; scoring and outputs come after it). Default: chosen from the data size and printed." };
        public readonly Option<int?> MaxTrials = new("--max-trials") { Description = "The most trials to start." };
        public readonly Option<bool> NoEnsemble = new("--no-ensemble") { Description = "Keep the chosen pipeline alone: no ensemble of raw-feature pipelines when one of them is chosen (see docs/automl.md, \"Ensembles of raw-feature pipelines\")." };
        public readonly Option<string> Metric = new("--metric") { Description = "accuracy, macro-accuracy, log-loss, auc or f1 (auc and f1 for two classes).", DefaultValueFactory = _ => "accuracy" };
        public readonly Option<int> Seed = new("--seed") { Description = "Seed of the search, the hold-out split and training.", DefaultValueFactory = _ => 0 };
        public readonly Option<string> Device = new("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => "auto" };
        public readonly Option<string?> Name = new("--name") { Description = "The run's name: the folder, the model zip and the generated projects are named after it. Default SslModel." };
        public readonly Option<string> Output = new("--output", "-o") { Description = "The folder the run folder <Name>/ goes in.", DefaultValueFactory = _ => "." };
        public readonly Option<bool> Resume = new("--resume") { Description = "Continue an interrupted run from <output>/<Name>/checkpoint." };
        public readonly Option<string?> LogFile = new("--log-file-path") { Description = "Where to write the log. Default <output>/<Name>/log.txt." };
        public readonly Option<bool?> HasHeader = new("--has-header") { Description = "CSV: whether the first line is a header. Default: detected." };
        public readonly Option<string?> Separator = new("--separator") { Description = "CSV: the separator (',' ';' '|', tab, or space: runs of spaces and tabs, as in old UCR .txt files and tables of aligned columns). Default: detected." };
        public readonly Option<string[]> IgnoreColumns = new("--ignore-cols") { Description = "CSV: columns to leave out (names or 0-based indices, comma-separated).", AllowMultipleArgumentsPerToken = true };
        public readonly Option<string[]> KeepColumns = new("--keep-cols") { Description = "CSV: columns to keep as inputs although they look like row identifiers, which are otherwise left out (names or 0-based indices, comma-separated).", AllowMultipleArgumentsPerToken = true };
        public readonly Option<string> UnlabeledFolder = new("--unlabeled-folder") { Description = "Images: the sub-folder whose images have no label.", DefaultValueFactory = _ => "unlabeled" };
        public readonly Option<bool> Strict = new("--strict") { Description = "Images: stop at an unreadable image instead of skipping it." };
        public readonly Option<int> Channels = new("--channels") { Description = "Series CSV: channels per row (values are channel after channel). .ts files say it themselves.", DefaultValueFactory = _ => 1 };
        public readonly Option<string?> Storage = new("--storage") { Description = "Share the search with other processes and machines through a database: \"Host=...;Database=...;Username=...;Password=...\" (PostgreSQL) or \"Data Source=file.db\" (SQLite, one host). Every process run with the same settings and experiment name joins it (see docs/distributed.md)." };
        public readonly Option<string?> ExperimentName = new("--experiment-name") { Description = "With --storage: the experiment's name in the database. Default: the run's --name." };
        public readonly Option<int?> SeriesLength = new("--series-length") { Description = "Series: steps per channel after resampling. Default: the median length of the training series, at most 512 (longer series are averaged down)." };
    }

    public static IEnumerable<Command> Create()
    {
        yield return Training("image-classification", "Train an image classifier from <folder>/<class>/*.jpg|png (<folder>/unlabeled/ holds unlabeled images).", csv: false, images: true, series: false);
        yield return Training("classification", "Train a classifier on a CSV; rows with an empty label cell are unlabeled.", csv: true, images: false, series: false);
        yield return Training("series-classification", "Train a time-series classifier on a UEA/UCR .ts file or a series CSV (variable length accepted).", csv: true, images: false, series: true);
        yield return Replay();
        yield return Worker();
    }

    /// <summary><c>mlnet-ssl worker &lt;task&gt; ... --storage ...</c>: joins a shared search with the training command's
    /// options, runs trials until the search is done, and writes only its log (the process that runs the training
    /// command writes the model, report and projects).</summary>
    private static Command Worker()
    {
        var worker = new Command("worker", "Add a worker to a search shared through --storage: the same task and options as the training command, " +
            "no model or report written. Run one per GPU or machine (see docs/distributed.md).");
        worker.Subcommands.Add(Training("image-classification", "Join a shared image-classification search.", csv: false, images: true, series: false, workerOnly: true));
        worker.Subcommands.Add(Training("classification", "Join a shared classification search on a CSV.", csv: true, images: false, series: false, workerOnly: true));
        worker.Subcommands.Add(Training("series-classification", "Join a shared time-series classification search.", csv: true, images: false, series: true, workerOnly: true));
        return worker;
    }

    /// <summary>The value given on the command line for <paramref name="option"/>; null when it was not given or does not
    /// parse (the parser reports that itself, and reading it would throw).</summary>
    private static int? Given<T>(System.CommandLine.Parsing.CommandResult result, Option<T> option)
    {
        if (result.GetResult(option) is not { Implicit: false } given) return null;
        try
        {
            return given.GetValueOrDefault<T>() is int value ? value : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static Command Training(string task, string description, bool csv, bool images, bool series, bool workerOnly = false)
    {
        var o = new Options();
        // Metric names are matched without regard to case or '_' against '-' ("Log_Loss" is log-loss), as a user types them
        // from ML.NET's MetricName or a report; the run records the canonical name.
        o.Metric.CustomParser = result => TestMetrics.Canonical(result.Tokens[0].Value) ?? result.Tokens[0].Value;
        o.Metric.CompletionSources.Add(TestMetrics.Names);
        o.Metric.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && TestMetrics.Canonical(result.Tokens[0].Value) is null)
                result.AddError($"--metric {result.Tokens[0].Value}: not a metric; give one of {string.Join(", ", TestMetrics.Names)}.");
        });
        // Each task reads one kind of data; the shared text named all three on every command.
        o.Dataset.Description = images ? "The training data: a folder of class sub-folders of images (<folder>/<class>/*.jpg)."
            : series ? "The training data: a UEA/UCR .ts file or a CSV of one series per row." : "The training data: a CSV file.";
        var command = new Command(task, description) { o.Dataset, o.TestDataset, o.ValidationDataset, o.TrainTime, o.MaxTrials, o.NoEnsemble, o.Metric, o.Seed, o.Device, o.Name, o.Output, o.LogFile, o.Storage, o.ExperimentName };
        if (workerOnly) o.Storage.Required = true;
        else { command.Options.Add(o.Resume); command.Options.Add(o.LabelCurve); }
        command.Validators.Add(result =>
        {
            // Usage errors (exit 2) naming the option, before any data is read: a budget of 0 s used to load the data and
            // then fail with "no trial produced a metric".
            if (Given(result, o.TrainTime) is < 1 and int seconds)
                result.AddError($"--train-time {seconds}: give the seconds the search and refit may take, at least 1.");
            if (Given(result, o.MaxTrials) is < 1 and int trials)
                result.AddError($"--max-trials {trials}: give at least 1 trial.");
            if (csv && DatasetReader.SeparatorProblem(result.GetValue(o.Separator)) is string separator)
                result.AddError(separator);
            if (task == "classification" && result.GetValue(o.LabelColumn) is null)
                result.AddError("classification needs --label-col: the column (name or 0-based index) holding the class.");
            if (result.GetValue(o.TestDataset) is not null && result.GetValue(o.ValidationDataset) is not null)
                result.AddError("--validation-dataset replaces the stratified hold-out when there is no --test-dataset; give one of them, not both " +
                    "(the search validates by cross-validation on the training rows).");
        });
        if (csv) { command.Options.Add(o.LabelColumn); command.Options.Add(o.HasHeader); command.Options.Add(o.Separator); command.Options.Add(o.IgnoreColumns); command.Options.Add(o.KeepColumns); }
        if (images) { command.Options.Add(o.UnlabeledFolder); command.Options.Add(o.Strict); }
        if (series)
        {
            command.Options.Add(o.Channels);
            command.Options.Add(o.SeriesLength);
            command.Validators.Add(result =>
            {
                // A usage error (exit 2) naming the option, not a failure deep in the model (0 channels read as 1 before).
                if (Given(result, o.Channels) is < 1 and int channels)
                    result.AddError($"--channels {channels}: a series has at least 1 channel.");
                if (Given(result, o.SeriesLength) is < 1 and int length)
                    result.AddError($"--series-length {length}: give at least 1 step per channel.");
                // A series CSV reads every cell but the label as a value of the series: the table options were accepted
                // and did nothing (an id column stayed the first step of every series).
                foreach (var option in new[] { o.IgnoreColumns, o.KeepColumns })
                {
                    if (result.GetResult(option) is { Implicit: false })
                        result.AddError($"{option.Name}: a series CSV has no columns to leave out or keep; every cell but the label is a value of the series. " +
                            "Remove other columns (a row id, a date) from the file, or read it as a table with 'mlnet-ssl classification'.");
                }
            });
        }
        command.SetAction(async (parse, token) =>
        {
            string dataset = parse.GetValue(o.Dataset)!;
            foreach (var (option, path) in new[] { ("--dataset", dataset), ("--test-dataset", parse.GetValue(o.TestDataset)), ("--validation-dataset", parse.GetValue(o.ValidationDataset)) })
            {
                if (path is null) continue;
                if (!File.Exists(path) && !Directory.Exists(path))
                    throw new CliException($"{path}: not found; {option} takes {(images ? "a folder of class sub-folders" : "a file")}.");
                DatasetReader.CheckPath(task, path); // a folder for a CSV task, a file for images: what the task reads
            }
            string? label = csv ? parse.GetValue(o.LabelColumn)?.Trim() : null; // a CR from a CRLF header pasted by a script
            int? trainTime = parse.GetValue(o.TrainTime);
            var settings = new RunSettings
            {
                Task = task,
                Dataset = dataset,
                TestDataset = parse.GetValue(o.TestDataset),
                ValidationDataset = parse.GetValue(o.ValidationDataset),
                LabelCurve = !workerOnly && parse.GetValue(o.LabelCurve),
                Storage = parse.GetValue(o.Storage),
                ExperimentName = parse.GetValue(o.ExperimentName),
                WorkerOnly = workerOnly,
                LabelColumn = label,
                HasHeader = csv ? parse.GetValue(o.HasHeader) : null,
                Separator = csv ? parse.GetValue(o.Separator) : null,
                IgnoreColumns = csv ? ColumnList(parse.GetValue(o.IgnoreColumns)) : [],
                KeepColumns = csv ? ColumnList(parse.GetValue(o.KeepColumns)) : [],
                UnlabeledFolder = images ? parse.GetValue(o.UnlabeledFolder)! : "unlabeled",
                Strict = images && parse.GetValue(o.Strict),
                Channels = series ? parse.GetValue(o.Channels) : 1,
                SeriesLength = series ? parse.GetValue(o.SeriesLength) : null,
                TrainTimeSeconds = trainTime ?? DefaultTrainTime(task, dataset),
                TrainTimeChosenFromData = trainTime is null,
                MaxTrials = parse.GetValue(o.MaxTrials),
                NoEnsemble = parse.GetValue(o.NoEnsemble),
                Metric = parse.GetValue(o.Metric)!,
                Seed = parse.GetValue(o.Seed),
                Device = parse.GetValue(o.Device)!,
                Name = parse.GetValue(o.Name) ?? "SslModel",
                Output = parse.GetValue(o.Output)!,
                CommandLine = RecordedCommandLine(),
                StartedAt = DateTimeOffset.UtcNow,
            };
            return await Execute(settings, !workerOnly && parse.GetValue(o.Resume), parse.GetValue(CliApp.Verbosity)!, parse.GetValue(o.LogFile), token).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The columns of a list option, given as one comma-separated token or several.</summary>
    private static List<string> ColumnList(string[]? tokens) =>
        (tokens ?? []).SelectMany(c => c.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();

    private static Command Replay()
    {
        var config = new Option<string>("--config") { Description = "A run.json written by an earlier run.", Required = true };
        var output = new Option<string?>("--output", "-o") { Description = "The folder the run folder goes in. Default: the recorded one." };
        var name = new Option<string?>("--name") { Description = "The run's name. Default: the recorded name + \"-replay\", so the original run is never overwritten." };
        var resume = new Option<bool>("--resume") { Description = "Continue an interrupted run from its checkpoint." };
        var dataset = new Option<string?>("--dataset", "-d") { Description = "The training data, when it is no longer where run.json says (paths in run.json are relative to its folder)." };
        var testDataset = new Option<string?>("--test-dataset") { Description = "The test rows, when they are no longer where run.json says." };
        var validationDataset = new Option<string?>("--validation-dataset") { Description = "The validation rows, when they are no longer where run.json says." };
        var command = new Command("train", "Replay a run from its run.json: the same data, settings and seed.")
            { config, output, name, resume, dataset, testDataset, validationDataset };
        command.SetAction(async (parse, token) =>
        {
            string path = parse.GetValue(config)!;
            if (!File.Exists(path)) throw new CliException($"{path}: not found; --config takes the run.json of an earlier run.");
            RunSettings recorded;
            try
            {
                recorded = JsonSerializer.Deserialize<RunSettings>(File.ReadAllText(path), RunSettings.Json)
                    ?? throw new CliException($"{path}: empty configuration.");
            }
            catch (JsonException e)
            {
                throw new CliException($"{path}: not a run.json ({e.Message}).", e);
            }
            // A hand-edited value is refused here, in one line naming the field, as the training command's own validators
            // refuse it on the command line: read as recorded, a metric 'foo' ran the whole search and failed at its end.
            // The fields the command line replaces are checked as replaced: -d, --name or -o given for a run.json without them.
            string? givenName = parse.GetValue(name), givenOutput = parse.GetValue(output), givenData = parse.GetValue(dataset);
            recorded = ValidatedReplay(path, recorded with
            {
                Name = string.IsNullOrWhiteSpace(recorded.Name) && givenName is not null ? givenName : recorded.Name,
                Output = recorded.Output ?? givenOutput!,
                Dataset = string.IsNullOrWhiteSpace(recorded.Dataset) && givenData is not null ? givenData : recorded.Dataset,
            });
            // Paths in run.json are relative to its folder.
            string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
            string Resolve(string p) => Path.GetFullPath(Path.Combine(folder, p));
            // A run.json copied or moved away from its run folder no longer reaches the data by its relative paths: say
            // so before a run folder is made, naming the recorded path and where it led.
            string? givenDataset = parse.GetValue(dataset), givenTest = parse.GetValue(testDataset), givenValidation = parse.GetValue(validationDataset);
            // Only the files the run read can be given again: a replay with other test rows than recorded is another run.
            if (givenTest is not null && recorded.TestDataset is null)
                throw new CliException($"{path}: the recorded run had no --test-dataset{(recorded.ValidationDataset is null ? "" : " (it had a --validation-dataset)")}, so the replay takes none.");
            if (givenValidation is not null && recorded.ValidationDataset is null)
                throw new CliException($"{path}: the recorded run had no --validation-dataset{(recorded.TestDataset is null ? "" : " (it had a --test-dataset)")}, so the replay takes none.");
            // A path given here is checked here too: a run folder is made only for data that is there.
            foreach (var (option, given) in new[] { ("-d", givenDataset), ("--test-dataset", givenTest), ("--validation-dataset", givenValidation) })
                if (given is not null && !File.Exists(given) && !Directory.Exists(given))
                    throw new CliException($"{given}: not found (given with {option}); give the path of the file or folder that holds the data.");
            foreach (var (option, recordedPath, flag) in new[] { ("--dataset", givenDataset is null ? recorded.Dataset : null, "-d"),
                         ("--test-dataset", givenTest is null ? recorded.TestDataset : null, "--test-dataset"),
                         ("--validation-dataset", givenValidation is null ? recorded.ValidationDataset : null, "--validation-dataset") })
            {
                if (recordedPath is null) continue;
                string resolved = Resolve(recordedPath);
                if (!File.Exists(resolved) && !Directory.Exists(resolved))
                    throw new CliException($"{path}: its {option} '{recordedPath}' (relative to the run.json's folder) leads to {resolved}, which does not exist; " +
                        $"give the data's place with {flag}, or replay the run.json in the run folder it was written to.");
            }
            RunSettings settings = recorded with
            {
                Dataset = givenDataset is null ? Resolve(recorded.Dataset) : Path.GetFullPath(givenDataset),
                TestDataset = givenTest is not null ? Path.GetFullPath(givenTest) : recorded.TestDataset is null ? null : Resolve(recorded.TestDataset),
                ValidationDataset = givenValidation is not null ? Path.GetFullPath(givenValidation)
                    : recorded.ValidationDataset is null ? null : Resolve(recorded.ValidationDataset),
                Output = parse.GetValue(output) ?? Resolve(recorded.Output),
                Name = parse.GetValue(name) ?? ReplayName(recorded.Name),
                CommandLine = RecordedCommandLine(),
                StartedAt = DateTimeOffset.UtcNow,
            };
            return await Execute(settings, parse.GetValue(resume), parse.GetValue(CliApp.Verbosity)!, null, token, replay: true).ConfigureAwait(false);
        });
        return command;
    }

    private static readonly string[] Tasks = ["image-classification", "classification", "series-classification"];

    /// <summary>The recorded settings of a run.json to replay, with the metric's canonical name; a value the training
    /// command would refuse on its command line (edited by hand, or damaged) is a <see cref="CliException"/> naming the
    /// run.json field and what it takes, before any folder is made or data read.</summary>
    internal static RunSettings ValidatedReplay(string path, RunSettings recorded)
    {
        string? problem =
            !Tasks.Contains(recorded.Task) ? $"\"task\": '{recorded.Task}' is not a training command; use {string.Join(", ", Tasks)}"
            : string.IsNullOrWhiteSpace(recorded.Dataset) ? "\"dataset\" is missing; give the training data's path (relative to the run.json's folder)"
            : string.IsNullOrWhiteSpace(recorded.Name) ? "\"name\" is missing; give the run's name"
            : recorded.Output is null ? "\"output\" is missing; give the folder the run folder goes in (relative to the run.json's folder)"
            : recorded.Metric is null ? $"\"metric\" is missing; use {string.Join(", ", TestMetrics.Names)}"
            : TestMetrics.Canonical(recorded.Metric) is null
                ? $"\"metric\": '{recorded.Metric}' is not a metric; use {string.Join(", ", TestMetrics.Names)}"
            : recorded.TrainTimeSeconds < 1 ? $"\"trainTimeSeconds\": {recorded.TrainTimeSeconds}; give the seconds the search and refit may take, at least 1"
            : recorded.MaxTrials is < 1 ? $"\"maxTrials\": {recorded.MaxTrials}; give at least 1 trial, or leave the field out"
            : recorded.Channels < 1 ? $"\"channels\": {recorded.Channels}; a series has at least 1 channel"
            : recorded.SeriesLength is < 1 ? $"\"seriesLength\": {recorded.SeriesLength}; give at least 1 step per channel, or leave the field out"
            : !(recorded.HoldOutFraction > 0 && recorded.HoldOutFraction < 1)
                ? $"\"holdOutFraction\": {recorded.HoldOutFraction.ToString(CultureInfo.InvariantCulture)}; give the share of the labeled rows held out, between 0 and 1"
            : recorded.Task == "classification" && string.IsNullOrWhiteSpace(recorded.LabelColumn)
                ? "\"labelColumn\" is missing; classification needs the label column (a header name or a 0-based index)"
            : recorded.TestDataset is not null && recorded.ValidationDataset is not null
                ? "it has both \"testDataset\" and \"validationDataset\"; a run takes one of them"
            : recorded.Separator is not null && DatasetReader.SeparatorProblem(recorded.Separator) is string separator
                ? $"\"separator\": {separator.Replace("--separator ", "", StringComparison.Ordinal)}"
            : null;
        if (problem is not null) throw new CliException($"{path}: {problem.TrimEnd('.')}.");
        // A null list or folder (written by hand as null) reads as the option left out, not as a crash after the run folder
        // is made ("Value cannot be null").
        return recorded with
        {
            Metric = TestMetrics.Canonical(recorded.Metric!)!,
            IgnoreColumns = recorded.IgnoreColumns ?? [],
            KeepColumns = recorded.KeepColumns ?? [],
            UnlabeledFolder = recorded.UnlabeledFolder ?? "unlabeled",
            Device = recorded.Device ?? "auto",
        };
    }

    /// <summary>The command line as run.json and the report record it: a --storage connection string (it may hold a
    /// password) is replaced by a placeholder.</summary>
    internal static string RecordedCommandLine() => RecordedCommandLine(Environment.GetCommandLineArgs().Skip(1).ToArray());

    /// <summary>The command line as a shell would take it back: an argument with a space or a shell character (a column
    /// named "class label") is single-quoted; the connection string of --storage is replaced by a placeholder.</summary>
    internal static string RecordedCommandLine(string[] args)
    {
        var words = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--storage" && i + 1 < args.Length)
            {
                words.Add(args[i]);
                words.Add("<connection string>");
                i++;
            }
            else if (args[i].StartsWith("--storage=", StringComparison.Ordinal)) words.Add("--storage=<connection string>");
            else words.Add(ShellQuote(args[i]));
        }
        return "mlnet-ssl " + string.Join(' ', words);
    }

    private static string ShellQuote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,+@%".Contains(c))
            ? arg
            : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The default name of a replay: beside the original run, never over it (run.json, the model and the
    /// generated projects of the original stay as they were).</summary>
    public static string ReplayName(string recordedName) => recordedName + "-replay";

    private static async Task<int> Execute(RunSettings settings, bool resume, string verbosity, string? logFile, CancellationToken token, bool replay = false)
    {
        string runFolder = Path.GetFullPath(Path.Combine(settings.Output, settings.Name));
        // Workers on one host share the run folder (and its checkpoint cache), each with its own log.
        string defaultLog = settings.WorkerOnly
            ? Path.Combine(runFolder, string.Create(CultureInfo.InvariantCulture, $"worker-{Environment.MachineName}-{Environment.ProcessId}.log"))
            : Path.Combine(runFolder, "log.txt");
        CheckLogFile(logFile, settings);
        // Before anything asks TorchSharp about CUDA: --device cuda:N makes GPU N the process's only visible one.
        CudaDeviceChoice.Apply(settings.Device);
        string? madeFolder = settings.WorkerOnly ? null : FirstMissingFolder(runFolder);
        TrainingRun.CreateRunFolder(settings);
        using var log = OpenLog(verbosity, logFile, defaultLog);
        log.Info($"mlnet-ssl {settings.Task}: {SslEnvironment.Describe()}");
        log.Info(string.Create(CultureInfo.InvariantCulture,
            $"Search and refit time {settings.TrainTimeSeconds} s{(!settings.TrainTimeChosenFromData ? "" : replay ? " (as recorded, chosen then from the data size)" : " (chosen from the data size; --train-time changes it)")}, " +
            $"metric {settings.Metric}, seed {settings.Seed}{(settings.MaxTrials is int m ? $", at most {m} trial{(m == 1 ? "" : "s")}" : "")}; output {runFolder}"));
        int code;
        try
        {
            code = await new TrainingRun(settings, resume, log).ExecuteAsync(token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // So the run folder's log says why this run stopped, not only the console.
            log.Failure(e is CliException ? e.Message : $"{e.GetType().Name}: {e.Message}");
            // A run folder this run made and left with nothing but that log (a mistyped --label-col, a data error): no
            // half-made run folder stays behind; the console has the error. An existing run folder keeps its log.
            log.Dispose();
            if (madeFolder is not null) RemoveIfOnlyLog(madeFolder, log.FilePath);
            throw;
        }
        // A log that stopped after the run's own list of failures (or in a worker, which writes no other output).
        if (code == ExitCodes.Success && log.FileProblem is { } problem)
        {
            Console.Error.WriteLine($"error: {log.FilePath}: the log could not be written ({problem}); the other outputs were written. Free space on that disk.");
            return ExitCodes.Failed;
        }
        return code;
    }

    /// <summary>The outermost folder on the way to <paramref name="folder"/> that does not exist yet (the folder itself,
    /// or a new <c>-o</c> folder above it), or null when the folder exists.</summary>
    internal static string? FirstMissingFolder(string folder)
    {
        string? missing = null;
        for (string? f = Path.GetFullPath(folder); f is not null && !Directory.Exists(f) && !File.Exists(f); f = Path.GetDirectoryName(f))
            missing = f;
        return missing;
    }

    /// <summary>Removes <paramref name="folder"/> when it holds no file but the log (empty folders aside); best effort.</summary>
    internal static void RemoveIfOnlyLog(string folder, string? logPath)
    {
        try
        {
            if (!Directory.Exists(folder)) return;
            string? log = logPath is null ? null : Path.GetFullPath(logPath);
            if (Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Any(f => !string.Equals(Path.GetFullPath(f), log, StringComparison.Ordinal)))
                return;
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left as it is: the error line that follows is what matters.
        }
    }

    /// <summary>Refuses a <c>--log-file-path</c> that is one of the data files the run reads, before anything is made: the
    /// log is appended to, so the data file given by mistake got the run's lines added to it (and the run, and every
    /// later one, then failed on them as a ragged line).</summary>
    internal static void CheckLogFile(string? logFile, RunSettings settings)
    {
        if (logFile is null) return;
        foreach (var (option, input) in settings.DataPaths)
        {
            if (input is not null && CliFile.SamePath(logFile, input))
                throw new CliException($"--log-file-path {logFile}: is the {option} file, which the log would be appended to; give another path for the log " +
                    "(or leave the option out for <output>/<Name>/log.txt).");
        }
    }

    private static RunLog OpenLog(string verbosity, string? logFile, string defaultLog)
    {
        try
        {
            return new RunLog(verbosity, logFile ?? defaultLog);
        }
        catch (Exception e) when (logFile is not null && e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--log-file-path {logFile}: the log cannot be written there ({e.Message}); give a file path in a folder you can write to.", e);
        }
    }

    /// <summary>The default search time: about 1 s per 40 images, 1 s per 100 table rows, 1 s per 20 series, within 30 s to an hour.</summary>
    public static int DefaultTrainTime(string task, string dataset)
    {
        long rows = task == "image-classification"
            ? Directory.EnumerateFiles(dataset, "*", SearchOption.AllDirectories).LongCount()
            : File.ReadLines(dataset).LongCount();
        double seconds = task switch
        {
            "image-classification" => 60 + rows / 40.0,
            "classification" => 30 + rows / 100.0,
            _ => 30 + rows / 20.0,
        };
        return (int)Math.Clamp(seconds, 30, 3600);
    }
}
