using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace MlNetSsl.Cli.Data;

/// <summary>
/// The encoding to read a text dataset with: the byte-order mark's when there is one, else UTF-8 when every byte
/// sequence is valid UTF-8, else Windows-1252, what spreadsheets in Western Europe and the Americas save as "CSV"
/// (German Excel's "Größe;Schräge" export). Read as UTF-8, such a file turns every accented letter into U+FFFD, so
/// "grün" and "grön" would become one category and column names lose their letters.
/// </summary>
internal static class TextFileEncoding
{
    private static readonly Lazy<Encoding> Windows1252 = new(() =>
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        return Encoding.GetEncoding(1252);
    });

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, (long Length, DateTime Written, Encoding Encoding, string? Note)> Seen =
        new(StringComparer.Ordinal);

    /// <summary>The encoding of <paramref name="path"/>, and a note for the console when it is not UTF-8 (null otherwise).</summary>
    public static (Encoding Encoding, string? Note) Of(string path)
    {
        // Separator detection and the read itself open the file several times: look at its bytes once.
        var file = new FileInfo(path);
        string key = file.FullName;
        if (Seen.TryGetValue(key, out var seen) && seen.Length == file.Length && seen.Written == file.LastWriteTimeUtc)
            return (seen.Encoding, seen.Note);
        (Encoding encoding, string? note) = Detect(path);
        Seen[key] = (file.Length, file.LastWriteTimeUtc, encoding, note);
        return (encoding, note);
    }

    // The file is checked in blocks, a sequence cut by a block's end carried into the next: File.ReadAllBytes held the
    // whole file in memory and refused any over 2 GB ("The file is too long"), before the table was read at all.
    private static (Encoding Encoding, string? Note) Detect(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        byte[] block = new byte[1 << 20];
        char[] chars = new char[block.Length];
        int carried = 0;
        long newlines = 0;
        for (bool first = true; ; first = false)
        {
            int length = carried + stream.ReadAtLeast(block.AsSpan(carried), block.Length - carried, throwOnEndOfStream: false);
            bool last = length < block.Length;
            ReadOnlySpan<byte> bytes = block.AsSpan(0, length);
            if (first && HasByteOrderMark(bytes)) return (Encoding.UTF8, null); // StreamReader follows a mark
            OperationStatus status = Utf8.ToUtf16(bytes, chars, out int valid, out _, replaceInvalidSequences: false, isFinalBlock: last);
            newlines += bytes[..valid].Count((byte)'\n');
            if (status == OperationStatus.InvalidData)
                return (Windows1252.Value, FormattableString.Invariant($"{path} is not UTF-8 (line {1 + newlines} holds bytes that UTF-8 cannot read): read as Windows-1252 ") +
                    "(Western European, what spreadsheets save as CSV there); if its letters look wrong, save the file as UTF-8.");
            if (last) return (Encoding.UTF8, null);
            carried = length - valid; // the start of a sequence the next block completes
            block.AsSpan(valid, carried).CopyTo(block);
        }
    }

    /// <summary>The note for a dataset file read as text (a CSV, tables or series) that is not UTF-8; null for image
    /// folders and files, .ts files (read by the library as UTF-8) and UTF-8 files.</summary>
    public static string? NoteFor(string path, DatasetKind kind) =>
        kind == DatasetKind.Images || !File.Exists(path) || SeriesLoader.IsTsFile(path) ? null : Of(path).Note;

    /// <summary>The lines of <paramref name="path"/> in its encoding (see <see cref="Of"/>).</summary>
    public static IEnumerable<string> ReadLines(string path) => File.ReadLines(path, Of(path).Encoding);

    private static bool HasByteOrderMark(ReadOnlySpan<byte> bytes) =>
        bytes is [0xEF, 0xBB, 0xBF, ..] or [0xFE, 0xFF, ..] or [0xFF, 0xFE, ..];
}
