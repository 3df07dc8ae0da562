using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// The mlnet-ssl tool end to end, run as a child process on tiny real data: outputs exist and agree (the model zip
/// predicts what `predict` wrote, run.json replays), bad input gives exit 1 and one line naming the problem, a usage
/// error exit 2, and Ctrl+C exit 130 with a model kept.
/// </summary>
public sealed class CliCoreTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mlnetssl-cli-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static string Tool
    {
        get
        {
            string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
            string path = Path.Combine(SharedData.RepoRoot, "src", "MlNetSsl.Cli", "bin", configuration, "net10.0", "mlnet-ssl.dll");
            Assert.True(File.Exists(path), $"{path} is missing: build the solution first.");
            return path;
        }
    }

    private static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Tool);
        foreach (string a in args) info.ArgumentList.Add(a);
        info.Environment["NO_COLOR"] = "1";
        return Process.Start(info)!;
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        using Process process = Start(args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mlnet-ssl {string.Join(' ', args)} did not end within 3 minutes.");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>200 banknote rows (shuffled with a fixed seed), every third label emptied (unlabeled rows).</summary>
    private string BanknoteCsv(string name = "bank.csv", int rows = 200)
    {
        var random = new Random(7);
        string[] lines = File.ReadAllLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv")).Where(l => l.Length > 0).ToArray();
        random.Shuffle(lines);
        string path = Path.Combine(_work, name);
        File.WriteAllLines(path, ["variance,skewness,curtosis,entropy,class",
            .. lines.Take(rows).Select((l, i) => i % 3 == 0 ? l[..(l.LastIndexOf(',') + 1)] : l)]);
        return path;
    }

    [Fact]
    public void ClassificationRunWritesAModelThatPredictsWhatPredictWroteAndReplaysFromRunJson()
    {
        string csv = BanknoteCsv();
        string output = Path.Combine(_work, "out");
        var (code, stdout, stderr) = Run("classification", "--dataset", csv, "--label-col", "class", "--train-time", "8", "--max-trials", "2",
            "-o", output, "--name", "Bank", "--seed", "3");
        Assert.True(code == 0, $"exit {code}: {stderr}\n{stdout}");
        string run = Path.Combine(output, "Bank");
        foreach (string file in new[] { "Bank.zip", "run.json", "trials.jsonl", "log.txt" })
            Assert.True(File.Exists(Path.Combine(run, file)), $"{file} missing in {run}");
        Assert.Contains("Test accuracy", stdout, StringComparison.Ordinal);

        // trials.jsonl: one JSON object per trial, each with a pipeline and a status.
        string[] trials = File.ReadAllLines(Path.Combine(run, "trials.jsonl"));
        Assert.InRange(trials.Length, 1, 2);
        foreach (string line in trials)
        {
            using JsonDocument trial = JsonDocument.Parse(line);
            Assert.False(string.IsNullOrEmpty(trial.RootElement.GetProperty("pipeline").GetString()));
            Assert.False(string.IsNullOrEmpty(trial.RootElement.GetProperty("status").GetString()));
        }

        // run.json holds no absolute path.
        using (JsonDocument settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "run.json"))))
        {
            Assert.False(Path.IsPathRooted(settings.RootElement.GetProperty("dataset").GetString()));
            Assert.Equal(3, settings.RootElement.GetProperty("seed").GetInt32());
        }

        // predict, then the same zip in this process: the same classes.
        string predictions = Path.Combine(_work, "predictions.csv");
        var predict = Run("predict", "--model", Path.Combine(run, "Bank.zip"), "--dataset", csv, "--out", predictions);
        Assert.True(predict.ExitCode == 0, predict.Stderr);
        string[] written = File.ReadAllLines(predictions).Skip(1).Select(l => l.Split(',')[1]).ToArray();
        Assert.Equal(200, written.Length);
        var ml = new MLContext(0);
        ITransformer model = ml.Model.Load(Path.Combine(run, "Bank.zip"), out DataViewSchema input);
        Assert.Equal(["variance", "skewness", "curtosis", "entropy"], input.Select(c => c.Name).ToArray());
        var rows = File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')).Select(c => new BankRow
        {
            variance = Parse(c[0]), skewness = Parse(c[1]), curtosis = Parse(c[2]), entropy = Parse(c[3]),
        }).ToArray();
        string[] inProcess = model.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<ReadOnlyMemory<char>>("PredictedLabel").Select(v => v.ToString()).ToArray();
        Assert.Equal(inProcess, written);
        // A classifier that learned something: most labeled rows right.
        string[] labels = File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')[4]).ToArray();
        int labeled = labels.Count(l => l.Length > 0);
        Assert.True(labels.Where((l, i) => l.Length > 0 && l == written[i]).Count() > 0.8 * labeled);

        var evaluate = Run("evaluate", "--model", Path.Combine(run, "Bank.zip"), "--test-dataset", csv);
        Assert.True(evaluate.ExitCode == 0, evaluate.Stderr);
        Assert.Contains("Confusion matrix", evaluate.Stdout, StringComparison.Ordinal);

        // Replay into another folder: the same trials with the same metrics (same seed, data and settings).
        string replayOutput = Path.Combine(_work, "replay");
        var replay = Run("train", "--config", Path.Combine(run, "run.json"), "-o", replayOutput);
        Assert.True(replay.ExitCode == 0, replay.Stderr + replay.Stdout);
        Assert.True(File.Exists(Path.Combine(replayOutput, "Bank", "Bank.zip")));
        Assert.Equal(trials.Length, File.ReadAllLines(Path.Combine(replayOutput, "Bank", "trials.jsonl")).Length);
    }

    private static float Parse(string cell) => float.Parse(cell, CultureInfo.InvariantCulture);

    private sealed class BankRow
    {
#pragma warning disable IDE1006 // the CSV header's names
        public float variance { get; set; }
        public float skewness { get; set; }
        public float curtosis { get; set; }
        public float entropy { get; set; }
#pragma warning restore IDE1006
    }

    [Fact]
    public void SeriesRunOnBasicMotionsWritesALoadableModel()
    {
        string ts = Path.Combine(SharedData.DataRoot, "uea", "BasicMotions_TRAIN.ts");
        string output = Path.Combine(_work, "series");
        var (code, stdout, stderr) = Run("series-classification", "--dataset", ts, "--train-time", "5", "--max-trials", "1", "-o", output, "--name", "Motions");
        Assert.True(code == 0, $"exit {code}: {stderr}\n{stdout}");
        var ml = new MLContext(0);
        ml.Model.Load(Path.Combine(output, "Motions", "Motions.zip"), out DataViewSchema input);
        DataViewSchema.Column series = Assert.Single(input);
        Assert.Equal("Series", series.Name);
        Assert.False(((VectorDataViewType)series.Type).IsKnownSize);
    }

    [Fact]
    public void ImageRunOnAFolderWithAnUnlabeledSubFolder()
    {
        string root = Path.Combine(_work, "images");
        string source = Path.Combine(SharedData.RepoRoot, "samples", "Quickstart", "data", "cifar10-small", "train");
        foreach (string cls in new[] { "cat", "ship" })
        {
            Directory.CreateDirectory(Path.Combine(root, cls));
            Directory.CreateDirectory(Path.Combine(root, "unlabeled"));
            string[] files = Directory.GetFiles(Path.Combine(source, cls)).Order(StringComparer.Ordinal).Take(30).ToArray();
            foreach (string f in files.Take(15)) File.Copy(f, Path.Combine(root, cls, Path.GetFileName(f)));
            foreach (string f in files.Skip(15)) File.Copy(f, Path.Combine(root, "unlabeled", $"{cls}-{Path.GetFileName(f)}"));
        }
        File.WriteAllText(Path.Combine(root, "cat", "broken.jpg"), "not an image");
        string output = Path.Combine(_work, "imgout");
        var (code, stdout, stderr) = Run("image-classification", "--dataset", root, "--train-time", "5", "--max-trials", "1", "-o", output, "--name", "Pets");
        Assert.True(code == 0, $"exit {code}: {stderr}\n{stdout}");
        Assert.Contains("24 labeled, 30 unlabeled", stdout, StringComparison.Ordinal); // 6 labeled images held out for the test
        Assert.Contains("Skipped 1 unreadable", stdout, StringComparison.Ordinal);
        Assert.Contains("broken.jpg", File.ReadAllText(Path.Combine(output, "Pets", "log.txt")), StringComparison.Ordinal);

        var strict = Run("image-classification", "--dataset", root, "--strict", "--train-time", "5", "-o", output, "--name", "Strict");
        Assert.Equal(1, strict.ExitCode);
        Assert.Contains("broken.jpg", strict.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void BadInputGivesExitOneAndOneLineNamingTheProblem()
    {
        static void Fails(string[] args, params string[] expected)
        {
            var (code, _, stderr) = Run(args);
            Assert.True(code == 1, $"exit {code} for {string.Join(' ', args)}: {stderr}");
            string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length == 1, $"expected one line, got: {stderr}");
            foreach (string part in expected) Assert.Contains(part, lines[0], StringComparison.Ordinal);
        }

        string missing = Path.Combine(_work, "nowhere.csv");
        Fails(["classification", "--dataset", missing, "--label-col", "0"], missing);

        string ragged = Path.Combine(_work, "ragged.csv");
        File.WriteAllLines(ragged, ["a,b,label", "1,2,x", "3,4,y", "5,6,7,x", "7,8,y"]);
        Fails(["classification", "--dataset", ragged, "--label-col", "label"], "line 4", "ragged.csv");

        string csv = BanknoteCsv("columns.csv", 40);
        Fails(["classification", "--dataset", csv, "--label-col", "species"], "'species'", "variance", "class");

        string oneClass = Path.Combine(_work, "oneclass.csv");
        File.WriteAllLines(oneClass, ["a,b,label", "1,2,x", "3,4,x", "5,6,", "7,8,x"]);
        Fails(["classification", "--dataset", oneClass, "--label-col", "label"], "single class", "'x'");

        string noLabels = Path.Combine(_work, "nolabels.csv");
        File.WriteAllLines(noLabels, ["a,b,label", "1,2,", "3,4,", "5,6,"]);
        Fails(["classification", "--dataset", noLabels, "--label-col", "label"], "no labeled row");

        string oneFolder = Path.Combine(_work, "oneclassimages", "cat");
        Directory.CreateDirectory(oneFolder);
        File.Copy(Path.Combine(SharedData.RepoRoot, "tests", "MlNetSsl.Tests", "Fixtures", "cat-grey.jpg"), Path.Combine(oneFolder, "a.jpg"));
        Fails(["image-classification", "--dataset", Path.GetDirectoryName(oneFolder)!], "one class", "'cat'");
    }

    [Fact]
    public void UsageErrorGivesExitTwo()
    {
        Assert.Equal(2, Run("classification", "--label-col", "0").ExitCode);
        Assert.Equal(2, Run("no-such-command").ExitCode);
        Assert.Equal(2, Run("classification", "--dataset", "x.csv", "--metric", "precision").ExitCode);
        Assert.Equal(0, Run("--help").ExitCode);
    }

    [SkippableFact]
    public async Task InterruptMidRunExitsWith130AndKeepsALoadableModel()
    {
        Skip.IfNot(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "SIGINT is sent with kill(1).");
        string csv = BanknoteCsv("interrupt.csv", 300);
        string output = Path.Combine(_work, "interrupt");
        using Process process = Start("classification", "--dataset", csv, "--label-col", "class", "--train-time", "120", "-o", output, "--name", "Stop");
        var stderr = process.StandardError.ReadToEndAsync();
        // Wait for a trial to report a metric, then interrupt.
        string? line;
        var seen = new List<string>();
        while ((line = await process.StandardOutput.ReadLineAsync()) is not null)
        {
            seen.Add(line);
            if (line.Contains("RungCompleted", StringComparison.Ordinal)) break;
        }
        Assert.True(line is not null, "the run ended before a trial reported: " + string.Join('\n', seen));
        using (Process kill = Process.Start("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)])!) await kill.WaitForExitAsync();
        string rest = await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}: {await stderr}\n{rest}");
        var ml = new MLContext(0);
        ITransformer model = ml.Model.Load(Path.Combine(output, "Stop", "Stop.zip"), out DataViewSchema input);
        Assert.Equal(4, input.Count);
        Assert.True(File.Exists(Path.Combine(output, "Stop", "trials.jsonl")));
    }
}
