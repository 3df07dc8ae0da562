using System.Text;

namespace MlNetSsl.Cli;

/// <summary>
/// Temp-then-move writes for every file the tool writes (model zip, report, CSVs, run.json), so a reader (a browser
/// refreshing report.html, a script polling leaderboard.csv) never sees half a file and a failed write leaves the old
/// file. The library's AtomicFile is internal to MlNetSsl; linking its source here would give the tests, which see the
/// internals of both assemblies, two types of the same name.
/// </summary>
internal static class CliFile
{
    /// <summary><paramref name="path"/> relative to <paramref name="folder"/>, with '/' between its parts on every OS (as
    /// run.json and the generated projects write paths). Only Windows' separator becomes '/': on Linux and macOS a
    /// backslash is a character of a file name (a class folder <c>dog \ cat</c>), which '/' would turn into two folders.</summary>
    public static string RelativePath(string folder, string path) => Portable(Path.GetRelativePath(folder, Path.GetFullPath(path)));

    /// <summary><paramref name="path"/> with '/' for this OS's directory separator (a no-op where that is '/').</summary>
    public static string Portable(string path) => Path.DirectorySeparatorChar == '/' ? path : path.Replace(Path.DirectorySeparatorChar, '/');

    /// <summary>Lets <paramref name="writeTemporary"/> write a unique temporary sibling of <paramref name="path"/>, then
    /// renames it over <paramref name="path"/> (atomic within one folder); on failure the temporary file is removed.</summary>
    public static void Replace(string path, Action<string> writeTemporary)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(writeTemporary);
        string target = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        string temp = TemporaryPathFor(target);
        try
        {
            writeTemporary(temp);
            File.Move(temp, target, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// Checks a file the user names for the tool to write (<paramref name="option"/> <paramref name="path"/>) before any
    /// work: not one of the files or folders the command reads (the temp-then-move write would replace the user's data
    /// without a trace), not a folder, and in a folder that exists or can be made.
    /// </summary>
    /// <param name="suggestedName">A file name to suggest inside a folder given by mistake.</param>
    /// <exception cref="Commands.CliException">The message names the option and what to give instead.</exception>
    public static void CheckOutput(string path, string option, string suggestedName, params (string Option, string Path)[] inputs)
    {
        string target = Path.GetFullPath(path);
        foreach (var (inputOption, input) in inputs)
        {
            if (SamePath(path, input))
                throw new Commands.CliException($"{option} {path}: is the {inputOption} file, which writing would replace; give another path for {option}.");
        }
        if (Directory.Exists(target))
            throw new Commands.CliException($"{option} {path}: is a folder; give a file path, such as {Path.Combine(path, suggestedName)}.");
        string folder = Path.GetDirectoryName(target)!;
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Commands.CliException($"{option} {path}: its folder cannot be made ({e.Message}); give a path in a folder you can write to.", e);
        }
    }

    /// <summary>How paths compare: without case on Windows and macOS, whose file systems ignore it by default.</summary>
    public static StringComparison PathComparison =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>Whether two paths name the same file or folder (full paths compared with <see cref="PathComparison"/>; a
    /// trailing separator aside).</summary>
    public static bool SamePath(string path, string other) =>
        string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(other)), PathComparison);

    /// <summary>A unique temporary sibling of <paramref name="path"/> ("&lt;path&gt;.&lt;32 hex digits&gt;.tmp").</summary>
    public static string TemporaryPathFor(string path) => $"{Path.GetFullPath(path)}.{Guid.NewGuid():N}.tmp";

    /// <summary>Deletes the temporary files (<see cref="TemporaryPathFor"/>) a killed write left in <paramref name="folder"/>
    /// (not below it).</summary>
    public static void RemoveLeftTemporaries(string folder)
    {
        foreach (string file in Directory.EnumerateFiles(folder, "*.tmp"))
        {
            string stem = Path.GetFileNameWithoutExtension(file);
            int dot = stem.LastIndexOf('.');
            if (dot < 0 || stem.Length - dot - 1 != 32 || !stem[(dot + 1)..].All(char.IsAsciiHexDigitLower)) continue;
            try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte-order mark, flushed to disk, through <see cref="Replace"/>.</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Replace(path, temp =>
        {
            using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            stream.Write(new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
            stream.Flush(flushToDisk: true);
        });
    }
}
