using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// The tool on inputs at the edges of what it reads (test files that do not match the training file, unusual
/// sizes): a mismatch is named before the search, not after its time is spent.
/// </summary>
public sealed class CliScaleAndOddInputTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mlnetssl-odd-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [SkippableFact]
    public void SeriesTestFileOfOtherChannelsIsRefusedBeforeTheSearch()
    {
        // BasicMotions has 6 channels, GunPoint 1: scoring GunPoint's series with the 6-channel model failed only after
        // the whole search (and left no model); now the run stops before any trial.
        string train = Path.Combine(SharedData.DataRoot, "uea", "BasicMotions_TRAIN.ts");
        string test = Path.Combine(SharedData.DataRoot, "uea", "GunPoint_TEST.ts");
        var (code, stdout, stderr) = CliCoreTests.Run("series-classification", "--dataset", train, "--test-dataset", test,
            "--train-time", "60", "-o", _work, "--name", "Channels");
        Assert.True(code == 1, $"exit {code}: {stderr}\n{stdout}");
        Assert.Contains("holds series of 1 channel(s), but", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("trial", stdout, StringComparison.Ordinal);

        // A series CSV whose rows do not split into the 6 channels (599 values) is refused the same way.
        string csv = Path.Combine(_work, "short.csv");
        File.WriteAllLines(csv, File.ReadLines(Path.Combine(SharedData.DataRoot, "uea", "BasicMotions_TEST.ts"))
            .SkipWhile(l => !l.StartsWith("@data", StringComparison.OrdinalIgnoreCase)).Skip(1).Where(l => l.Trim().Length > 0)
            .Select(l => l.Trim().Replace(':', ','))
            .Select(l => l[..l.LastIndexOf(',')] is var values ? values[..values.LastIndexOf(',')] + l[l.LastIndexOf(',')..] : l));
        var uneven = CliCoreTests.Run("series-classification", "--dataset", train, "--test-dataset", csv, "--label-col", "599",
            "--train-time", "60", "-o", _work, "--name", "Uneven");
        Assert.True(uneven.ExitCode == 1, $"exit {uneven.ExitCode}: {uneven.Stderr}\n{uneven.Stdout}");
        Assert.Contains("not a whole number of steps for the 6 channel(s)", uneven.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("trial", uneven.Stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void SeriesRunRefusesTheTableColumnOptionsItCannotApply()
    {
        // A series CSV with a row id first: --ignore-cols id was accepted and did nothing (the id stayed the first step).
        string csv = Path.Combine(_work, "rows.csv");
        File.WriteAllLines(csv, ["id,label," + string.Join(',', Enumerable.Range(0, 20).Select(i => $"t{i}")),
            .. Enumerable.Range(0, 12).Select(r => $"{r},{(r % 2 == 0 ? "a" : "b")}," + string.Join(',', Enumerable.Range(0, 20).Select(i => ((r % 2 + 1) * i).ToString(System.Globalization.CultureInfo.InvariantCulture))))]);
        foreach (string option in new[] { "--ignore-cols", "--keep-cols" })
        {
            var (code, stdout, stderr) = CliCoreTests.Run("series-classification", "--dataset", csv, "--label-col", "label", option, "id",
                "--train-time", "5", "-o", _work, "--name", "Ids");
            Assert.True(code == 2, $"exit {code}: {stderr}\n{stdout}");
            Assert.Contains($"{option}: a series CSV has no columns to leave out or keep", stderr + stdout, StringComparison.Ordinal);
        }
    }
}
