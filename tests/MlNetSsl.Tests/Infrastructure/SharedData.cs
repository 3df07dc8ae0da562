using System.Globalization;
using Xunit;

namespace MlNetSsl.Tests.Infrastructure;

/// <summary>Locates the repository and the shared datasets (<c>../shared/data</c> beside the checkout).</summary>
internal static class SharedData
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
            // A test that needs the real data reports skipped where they are not (every test is a SkippableFact or
            // SkippableTheory, so the exception this throws is a skip, not a failure).
            Skip.IfNot(Directory.Exists(path), $"Shared datasets not found at {path}: check out the repository beside 'shared/' or set MLNETSSL_SHARED_DATA.");
            return path;
        }
    }

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
