using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.MlNet.Data;

/// <summary>
/// Names the file behind an image that failed to load. ML.NET's <c>LoadImages</c> names the path of a missing file but
/// not of a damaged one ("Invalid input stream contents"), and "row 12,345" alone sends the user counting rows of a
/// folder listing; the row's path column (LoadImages' input, kept in the view) says which file to fix.
/// </summary>
internal static class ImageRowSource
{
    private static readonly string[] ImageExtensions =
        [".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ico", ".wbmp", ".heic", ".heif", ".avif"];

    /// <summary>" (ImagePath 'cat/017.jpg')" for the failed row of <paramref name="row"/>, a cursor over
    /// <paramref name="source"/>, when a text column of that row holds an image file's path; otherwise empty.</summary>
    public static string Describe(IDataView? source, DataViewRow row) =>
        source is null || row is not DataViewRowCursor ? "" : Describe(source, row.Position);

    /// <summary>" (ImagePath 'cat/017.jpg')" for row <paramref name="position"/> of <paramref name="source"/> in cursor
    /// order, when one of its text columns holds an image file's path; otherwise empty.</summary>
    public static string Describe(IDataView source, long position)
    {
        try
        {
            DataViewSchema.Column[] text = source.Schema.Where(c => !c.IsHidden && c.Type is TextDataViewType).ToArray();
            if (text.Length == 0 || position < 0) return "";
            // Only the text columns are read, so the failing image is not decoded again.
            using DataViewRowCursor cursor = source.GetRowCursor(text);
            ValueGetter<ReadOnlyMemory<char>>[] getters = text.Select(cursor.GetGetter<ReadOnlyMemory<char>>).ToArray();
            while (cursor.MoveNext())
            {
                if (cursor.Position < position) continue;
                ReadOnlyMemory<char> value = default;
                var values = new string[text.Length];
                for (int i = 0; i < text.Length; i++)
                {
                    getters[i](ref value);
                    values[i] = value.ToString().Trim();
                }
                // An image's path first; else a file name of another kind (notes.txt, Thumbs.db listed with the images),
                // which fails to load just the same and was left unnamed.
                int column = Array.FindIndex(values, LooksLikeImagePath) is var image and >= 0 ? image : Array.FindIndex(values, LooksLikeFileName);
                return column < 0 ? "" : string.Create(CultureInfo.InvariantCulture, $" ({text[column].Name} '{values[column]}')");
            }
        }
        catch (Exception e) when (e is not OperationCanceledException && e is not OutOfMemoryException)
        {
            // Best effort: the load failure being reported matters more than naming its file.
        }
        return "";
    }

    private static bool LooksLikeImagePath(string value) =>
        value.Length > 0 && value.Length < 4096 && ImageExtensions.Contains(Path.GetExtension(value), StringComparer.OrdinalIgnoreCase);

    // A name with an extension of one to five letters (a label such as "3.5" or "v1.2" is not one).
    private static bool LooksLikeFileName(string value) =>
        value.Length > 0 && value.Length < 4096 && Path.GetExtension(value) is { Length: >= 2 and <= 6 } extension && extension[1..].All(char.IsAsciiLetter);
}
