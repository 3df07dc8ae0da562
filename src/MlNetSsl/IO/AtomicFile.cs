using System.Text;
using System.Text.RegularExpressions;

// One source, compiled into both assemblies (MlNetSsl.AutoML links this file), so neither exposes it publicly nor relies
// on the other's internals; the namespace keeps the two copies apart for the tests, which see both.
#if MLNETSSL_AUTOML
namespace MlNetSsl.AutoML;
#else
namespace MlNetSsl;
#endif

/// <summary>
/// Writes files so that readers only ever see the previous or the complete new content: the bytes go to a temporary
/// sibling with a unique name (<c>{file}.{guid}.tmp</c>, so concurrent writers, threads of one process included, never
/// share one), are flushed to disk and the temporary file is renamed over the target. A writer that fails removes its
/// temporary file; temporaries of a killed writer are removed by a later write of the same file once they are old
/// enough that no live writer can still own them.
/// </summary>
internal static class AtomicFile
{
    /// <summary>
    /// Temporaries untouched for this long belong to a writer that died: every writer here finishes within seconds,
    /// and one in another process (a shared checkpoint folder) must not lose a temporary it is still writing.
    /// </summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromHours(1);

    private const string TempExtension = ".tmp";

    /// <summary>Writes <paramref name="path"/> with <paramref name="write"/>, atomically.</summary>
    /// <param name="path">The target file; its folder is created when missing.</param>
    /// <param name="write">Writes the whole content to the stream it is given (do not dispose it).</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string target = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        RemoveStaleTemporaries(target, StaleAfter);
        string temp = $"{target}.{Guid.NewGuid():N}{TempExtension}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                if (stream.CanWrite) stream.Flush(flushToDisk: true); // false when the writer disposed it (closing flushed it)
            }
            MoveOver(temp, target);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/>, atomically.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, stream => stream.Write(bytes));
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 (no byte-order mark) to <paramref name="path"/>, atomically.</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
    }

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/>: a crash mid-copy leaves no partial destination.</summary>
    public static void Copy(string source, string destination)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        Write(destination, stream =>
        {
            using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read);
            input.CopyTo(stream);
        });
    }

    /// <summary>
    /// Removes temporaries of <paramref name="path"/> (this class's <c>{file}.{guid}.tmp</c>, and the <c>{file}.{pid}.tmp</c>
    /// and <c>{file}.tmp</c> of earlier versions) not written to for <paramref name="olderThan"/>. Files that cannot be
    /// removed (still open on Windows, no permission) are left; they only cost disk space.
    /// </summary>
    /// <returns>The number removed.</returns>
    public static int RemoveStaleTemporaries(string path, TimeSpan olderThan)
    {
        string target = Path.GetFullPath(path);
        string? folder = Path.GetDirectoryName(target);
        if (folder is null || !Directory.Exists(folder)) return 0;
        string name = Path.GetFileName(target);
        var ours = new Regex("^" + Regex.Escape(name) + @"(\.[0-9a-f]{32}|\.[0-9]{1,10})?\.tmp$", RegexOptions.CultureInvariant);
        DateTime cutoff = DateTime.UtcNow - olderThan;
        int removed = 0;
        foreach (string file in Directory.EnumerateFiles(folder, name + "*" + TempExtension))
        {
            if (!ours.IsMatch(Path.GetFileName(file))) continue;
            try
            {
                if (File.GetLastWriteTimeUtc(file) > cutoff) continue;
                File.Delete(file);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return removed;
    }

    // A rename within one folder: atomic on POSIX. Windows refuses to replace a file another handle has open without
    // delete sharing (a reader, or a concurrent writer's rename); that clears within moments, so it is retried briefly.
    private static void MoveOver(string temp, string target)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                File.Move(temp, target, overwrite: true);
                return;
            }
            catch (Exception e) when (attempt < 20 && OperatingSystem.IsWindows() && e is IOException or UnauthorizedAccessException)
            {
                Thread.Sleep(10 * attempt);
            }
        }
    }

    private static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind; a later write of the same target removes it once it is stale.
        }
    }
}
