using System.Text;

namespace MlNetSsl.Cli.Report;

/// <summary>
/// Temp-then-move writes for the report's files, so a reader (a browser refreshing report.html, a script polling
/// leaderboard.csv) never sees half a file. The library's AtomicFile is internal to MlNetSsl; linking its source here
/// would give the tests, which see the internals of both assemblies, two types of the same name.
/// </summary>
internal static class ReportFile
{
    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte-order mark: a unique temporary sibling, flushed
    /// to disk, then renamed over <paramref name="path"/> (atomic within one folder).</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(text);
        string target = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        string temp = $"{target}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
