using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MlNetSsl.Cli.Commands;
using MlNetSsl.Cli.Run;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// <c>train --config</c> on a run.json edited by hand: a value the training command refuses on its command line is
/// refused in one line naming the field, before a run folder is made (a metric 'foo' used to run the whole search and
/// fail at its end with "Unknown metric"); and <c>evaluate</c> prints the intervals the run printed for the same rows.
/// </summary>
public sealed class CliReplayValidationTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mlnetssl-replay-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private string Banknote(int rows)
    {
        string[] lines = File.ReadAllLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv")).Where(l => l.Length > 0).ToArray();
        new Random(11).Shuffle(lines);
        string path = Path.Combine(_work, "bank.csv");
        File.WriteAllLines(path, ["variance,skewness,curtosis,entropy,class", .. lines.Take(rows)]);
        return path;
    }

    [SkippableTheory]
    [InlineData("metric", "\"foo\"", "\"metric\": 'foo' is not a metric")]
    [InlineData("trainTimeSeconds", "0", "\"trainTimeSeconds\": 0;")]
    [InlineData("trainTimeSeconds", "-5", "\"trainTimeSeconds\": -5;")]
    [InlineData("maxTrials", "-1", "\"maxTrials\": -1;")]
    [InlineData("channels", "0", "\"channels\": 0;")]
    [InlineData("holdOutFraction", "2", "\"holdOutFraction\": 2;")]
    [InlineData("task", "\"regression\"", "\"task\": 'regression' is not a training command")]
    [InlineData("dataset", "null", "\"dataset\" is missing")]
    [InlineData("labelColumn", "null", "\"labelColumn\" is missing")]
    [InlineData("separator", "\"ab\"", "\"separator\": 'ab': give one character")]
    public void AHandEditedValueIsRefusedInOneLineBeforeAnyFolderIsMade(string field, string value, string expected)
    {
        Banknote(60);
        var settings = new JsonObject
        {
            ["task"] = "classification", ["dataset"] = "bank.csv", ["labelColumn"] = "class", ["trainTimeSeconds"] = 5,
            ["maxTrials"] = 1, ["metric"] = "accuracy", ["seed"] = 0, ["name"] = "Edited", ["output"] = "out",
        };
        settings[field] = JsonNode.Parse(value);
        string config = Path.Combine(_work, "run.json");
        File.WriteAllText(config, settings.ToJsonString());

        var (code, stdout, stderr) = CliCoreTests.Run("train", "--config", config);
        Assert.True(code == 1, $"exit {code}: {stderr}\n{stdout}");
        Assert.Contains($"run.json: {expected}", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(_work, "out")), "no run folder is made for a refused run.json");
    }

    [SkippableFact]
    public void AFieldTheCommandLineGivesIsNotRefusedAsMissing()
    {
        // A run.json with an empty "dataset" and "name", replayed with -d and --name: the replay has both.
        string data = Banknote(60);
        var settings = new JsonObject
        {
            ["task"] = "classification", ["dataset"] = "", ["labelColumn"] = "class", ["trainTimeSeconds"] = 5, ["maxTrials"] = 1,
            ["metric"] = "accuracy", ["seed"] = 0, ["name"] = "", ["output"] = "out",
        };
        string config = Path.Combine(_work, "run.json");
        File.WriteAllText(config, settings.ToJsonString());
        var refused = CliCoreTests.Run("train", "--config", config);
        Assert.Contains("\"dataset\" is missing", refused.Stderr, StringComparison.Ordinal);
        var (code, stdout, stderr) = CliCoreTests.Run("train", "--config", config, "-d", data, "--name", "Given");
        Assert.True(code == 0, $"exit {code}: {stderr}\n{stdout}");
        Assert.True(File.Exists(Path.Combine(_work, "out", "Given", "Given.zip")));
    }

    [SkippableFact]
    public void AMetricSpelledAsTheCommandLineAcceptsItIsReplayedUnderItsCanonicalName()
    {
        var recorded = new RunSettings { Task = "classification", Dataset = "d.csv", LabelColumn = "class", TrainTimeSeconds = 5, Metric = "Log_Loss", Name = "N", Output = "." };
        Assert.Equal("log-loss", TrainingCommands.ValidatedReplay("run.json", recorded).Metric);
        // Fields written by hand as null: a missing metric is named as missing; null lists and folders read as left out.
        var nulls = recorded with { IgnoreColumns = null!, KeepColumns = null!, UnlabeledFolder = null!, Device = null! };
        RunSettings read = TrainingCommands.ValidatedReplay("run.json", nulls);
        Assert.Empty(read.IgnoreColumns);
        Assert.Empty(read.KeepColumns);
        Assert.Equal("unlabeled", read.UnlabeledFolder);
        Assert.Equal("auto", read.Device);
        var missing = Assert.Throws<CliException>(() => TrainingCommands.ValidatedReplay("run.json", recorded with { Metric = null! }));
        Assert.StartsWith("run.json: \"metric\" is missing;", missing.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void EvaluatePrintsTheIntervalsTheRunPrintedForItsTestRows()
    {
        // The run's bootstrap is seeded with --seed; evaluate's was always seeded with 0, so its log-loss interval on the
        // same model and test file differed from the console's and the report's.
        string train = Banknote(160);
        string test = Path.Combine(_work, "bank-test.csv");
        string[] lines = File.ReadAllLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv")).Where(l => l.Length > 0).ToArray();
        new Random(11).Shuffle(lines);
        File.WriteAllLines(test, ["variance,skewness,curtosis,entropy,class", .. lines.Skip(160).Take(120)]);
        string output = Path.Combine(_work, "out");
        var run = CliCoreTests.Run("classification", "--dataset", train, "--label-col", "class", "--test-dataset", test, "--metric", "log-loss",
            "--seed", "5", "--train-time", "5", "--max-trials", "1", "-o", output, "--name", "Seeded");
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);
        Match printed = Regex.Match(run.Stdout, @"Test log-loss: (\d\.\d{4}) \(95% interval (\d\.\d{4}) to (\d\.\d{4})\)");
        Assert.True(printed.Success, run.Stdout);

        var evaluate = CliCoreTests.Run("evaluate", "--model", Path.Combine(output, "Seeded", "Seeded.zip"), "--test-dataset", test);
        Assert.True(evaluate.ExitCode == 0, evaluate.Stderr + evaluate.Stdout);
        Assert.Contains($"log-loss        {printed.Groups[1].Value}  (95% interval {printed.Groups[2].Value} to {printed.Groups[3].Value})",
            evaluate.Stdout, StringComparison.Ordinal);
    }
    [SkippableFact]
    public void AResumeRefusedForAnotherExperimentNamesTheSettingThatDiffers()
    {
        // The journal names it; the CLI's one-line refusal dropped that list, so the user could not tell which option.
        string journal = "The checkpoint folder /r/checkpoint belongs to a different experiment (differs in: metric: checkpoint Accuracy, now MacroAccuracy; " +
            "trial runner: checkpoint CrossValidatedAccuracy(folds=5), now LabelFree). Use another folder, or the same settings to resume.";
        Assert.Equal(" (differs in: metric: checkpoint Accuracy, now MacroAccuracy; trial runner: checkpoint CrossValidatedAccuracy(folds=5), now LabelFree)",
            TrainingRun.CheckpointDifferences(journal));
        Assert.Equal("", TrainingRun.CheckpointDifferences("belongs to a different experiment"));
    }

    [SkippableFact]
    public void AResumeWithALargerTrialLimitThanTheCheckpointReachedSaysItStartedNoMore()
    {
        // The journal records that no more trials start, so --resume --max-trials 8 on a search that ended at 6 trials ran
        // none, while the header said "at most 8 trials" and run.json recorded 8.
        string? note = TrainingRun.ResumedTrialLimitNote(true, 8, MlNetSsl.AutoML.SearchStopReason.MaxTrials, 6);
        Assert.Equal("--resume: the checkpoint's search had already reached its trial limit (6 trials), so --max-trials 8 started no more; " +
            "leave out --resume (a new search) to run more trials.", note);
        Assert.Null(TrainingRun.ResumedTrialLimitNote(false, 8, MlNetSsl.AutoML.SearchStopReason.MaxTrials, 6));
        Assert.Null(TrainingRun.ResumedTrialLimitNote(true, 6, MlNetSsl.AutoML.SearchStopReason.MaxTrials, 6));
        Assert.Null(TrainingRun.ResumedTrialLimitNote(true, 8, MlNetSsl.AutoML.SearchStopReason.TimeBudget, 6));
    }
}
