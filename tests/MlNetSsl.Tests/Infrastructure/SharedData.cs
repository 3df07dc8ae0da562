using System.Globalization;

namespace MlNetSsl.Tests.Infrastructure;

/// <summary>Locates the repository and the shared datasets (<c>../shared/data</c> beside the checkout).</summary>
internal static partial class SharedData
{
    private static readonly Lazy<string> RepoRootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MlNetSsl.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"No MlNetSsl.sln above {AppContext.BaseDirectory}.");
    });

    /// <summary>The repository root (the folder holding MlNetSsl.sln).</summary>
    public static string RepoRoot => RepoRootPath.Value;

    /// <summary>The shared data folder; MLNETSSL_SHARED_DATA overrides the default <c>../shared/data</c>.</summary>
    public static string DataRoot
    {
        get
        {
            string path = DataRootPath;
            if (Directory.Exists(path)) return path;
            string message = $"Shared datasets not found at {path}: check out the repository beside 'shared/' or set MLNETSSL_SHARED_DATA.";
            ReportMissing(message);
            throw new DirectoryNotFoundException(message);
        }
    }

    /// <summary>What a project does where the shared data are not before <see cref="DataRoot"/> throws: the test project
    /// reports the test skipped (SharedData.Skip.cs); the benchmarks let the exception say it.</summary>
    static partial void ReportMissing(string message);

    /// <summary>The shared data folder, or null where it is not (for code that does without it).</summary>
    public static string? DataRootIfPresent => Directory.Exists(DataRootPath) ? DataRootPath : null;

    private static string DataRootPath => Environment.GetEnvironmentVariable("MLNETSSL_SHARED_DATA")
        ?? Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));

    /// <summary>Reads rows of the HIGGS subset: label first, then 28 features, tab-separated.</summary>
    public static (float Label, float[] Features)[] ReadHiggs(string split, int maxRows)
    {
        string path = Path.Combine(DataRoot, "higgs", $"binary.{split}");
        return File.ReadLines(path)
            .Where(line => line.Length > 0)
            .Take(maxRows)
            .Select(line =>
            {
                float[] values = line.Split('\t').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                return (values[0], values[1..]);
            })
            .ToArray();
    }
}
