using System.Text;
using MlNetSsl.Cli.Commands;
using MlNetSsl.Cli.Data;
using MlNetSsl.Cli.Run;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// Text a spreadsheet user brings: a CSV saved in Windows-1252 (German Excel), labels that differ only in letter case,
/// a label column left empty on every line, and a hold-out that few labels round up.
/// </summary>
public sealed class CliTextInputTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mlnetssl-cli-text-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Banknote rows as German Excel writes them: ';' between fields, decimal commas, German headers, and a
    /// colour column whose values differ only in an umlaut.</summary>
    private static List<string> GermanLines(int rows)
    {
        var lines = new List<string> { "Größe;Schräge;Wölbung;Entropie;Farbe;Klasse" };
        string[] colours = ["grün", "grön", "weiß"];
        lines.AddRange(File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv")).Where(l => l.Length > 0).Take(rows)
            .Select((l, i) => string.Join(';', l.Split(',').Select(c => c.Replace('.', ','))
                .Take(4).Append(colours[i % 3]).Append(l.EndsWith('1') ? "echt" : "falsch"))));
        return lines;
    }

    [SkippableFact]
    public void AWindows1252CsvKeepsItsLettersAndSaysHowItWasRead()
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var lines = GermanLines(60);
        string latin = Path.Combine(_work, "latin.csv"), utf8 = Path.Combine(_work, "utf8.csv");
        File.WriteAllText(latin, string.Join("\r\n", lines) + "\r\n", Encoding.GetEncoding(1252));
        File.WriteAllText(utf8, string.Join("\n", lines) + "\n", new UTF8Encoding(false));

        CsvTable fromLatin = CsvTable.Read(latin, new CsvSettings(null, null, "Klasse", []));
        CsvTable fromUtf8 = CsvTable.Read(utf8, new CsvSettings(null, null, "Klasse", []));

        Assert.Equal(["Größe", "Schräge", "Wölbung", "Entropie", "Farbe", "Klasse"], fromLatin.Headers);
        Assert.Equal(fromUtf8.Names, fromLatin.Names);
        Assert.Equal(fromUtf8.Rows.Select(r => string.Join('|', r)), fromLatin.Rows.Select(r => string.Join('|', r)));
        // 'grün' and 'grön' stay two categories (read as UTF-8 both became "gr\uFFFDn").
        Assert.Equal(3, fromLatin.Rows.Select(r => r[4]).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(',', fromLatin.DecimalMarker);
        string? note = TextFileEncoding.Of(latin).Note;
        Assert.NotNull(note);
        Assert.Contains("is not UTF-8 (line 1 holds", note, StringComparison.Ordinal);
        Assert.Contains("Windows-1252", note, StringComparison.Ordinal);
        Assert.Null(TextFileEncoding.Of(utf8).Note);
    }

    [SkippableFact]
    public void TheEncodingOfACsvOver2GBIsFoundWithoutReadingItWhole()
    {
        // Banknote rows, then zeros (NUL is valid UTF-8) up to 2.2 GB: a sparse file where the file system has them. The
        // encoding was found by File.ReadAllBytes, which refuses a file over 2 GB ("The file is too long").
        const long size = 2_200_000_000;
        Skip.If(new DriveInfo(Path.GetPathRoot(_work)!).AvailableFreeSpace < 2 * size, "not enough free disk for a 2.2 GB file where files are not sparse");
        string path = Path.Combine(_work, "large.csv");
        using (var file = new FileStream(path, FileMode.CreateNew))
        {
            file.Write(Encoding.UTF8.GetBytes(string.Join("\n", GermanLines(20)) + "\n"));
            file.SetLength(size);
        }

        (Encoding encoding, string? note) = TextFileEncoding.Of(path);

        Assert.Equal(Encoding.UTF8.WebName, encoding.WebName);
        Assert.Null(note);
    }

    [SkippableFact]
    public void AWindows1252ByteFarIntoAFileIsFoundOnItsLineAcrossTheBlocksItIsReadIn()
    {
        // ASCII banknote rows up to the last byte of the first 1 MiB, a row whose 'ü' (two bytes in UTF-8) the block
        // boundary cuts, more rows, then a row with a Windows-1252 'ü' (one byte, invalid UTF-8).
        List<string> rows = [.. File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv")).Where(l => l.Length > 0)];
        var text = new StringBuilder("variance,skewness,curtosis,entropy,colour,class\n");
        int lines = 1;
        for (int i = 0; text.Length < (1 << 20) - 200; i++, lines++) text.Append(rows[i % rows.Count].Insert(rows[i % rows.Count].LastIndexOf(','), ",white")).Append('\n');
        text.Append("0,0,0,0,").Append('x', (1 << 20) - 1 - text.Length - 1).Append('\n');
        lines++;
        Assert.Equal((1 << 20) - 1, text.Length); // ASCII so far: one byte a character
        text.Append("\u00fcber,1,2,3,4,0\n");
        lines++;
        for (int i = 0; i < rows.Count; i++, lines++) text.Append(rows[i].Insert(rows[i].LastIndexOf(','), ",gr\u00fcn")).Append('\n');
        byte[] utf8 = Encoding.UTF8.GetBytes(text.ToString());
        string path = Path.Combine(_work, "mixed.csv"), clean = Path.Combine(_work, "utf8-only.csv");
        File.WriteAllBytes(path, [.. utf8, .. "1,2,3,4,gr"u8, 0xFC, .. "n,1\n"u8]);
        File.WriteAllBytes(clean, utf8);

        string? note = TextFileEncoding.Of(path).Note;

        Assert.NotNull(note);
        Assert.Contains($"is not UTF-8 (line {lines + 1} holds", note, StringComparison.Ordinal);
        Assert.Null(TextFileEncoding.Of(clean).Note);
    }

    [SkippableFact]
    public void LabelsThatDifferOnlyInCaseAreNamedAndOthersAreNot()
    {
        string? note = TrainingRun.CaseVariantLabels(new Dictionary<string, int> { ["genuine"] = 181, ["Genuine"] = 19, ["forged"] = 200 });
        Assert.NotNull(note);
        Assert.Contains("'genuine' (181 rows) and 'Genuine' (19 rows)", note, StringComparison.Ordinal);
        Assert.DoesNotContain("forged", note, StringComparison.Ordinal);
        Assert.Null(TrainingRun.CaseVariantLabels(new Dictionary<string, int> { ["genuine"] = 181, ["forged"] = 200 }));
    }

    [SkippableFact]
    public void AHoldOutThatFewLabelsRoundUpSaysItsRealShare()
    {
        Assert.Contains("hold-out of 20% of the labeled rows (40 rows", TrainingRun.HoldOutDescription(0.2, 40, 200, 1), StringComparison.Ordinal);
        string rounded = TrainingRun.HoldOutDescription(0.2, 2, 4, 1);
        Assert.Contains("hold-out of 2 of the 4 labeled rows (50%, not the 20% asked", rounded, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ALabelColumnEmptyOnEveryLineIsNamedAsSuchNotAsMissing()
    {
        // Wine rows whose quality was cut off, each line ending in the separator (the label cell empty).
        string path = Path.Combine(_work, "nolabels.csv");
        File.WriteAllLines(path, File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "winequality-white.csv")).Where(l => l.Length > 0).Take(100)
            .Select(l => l[..(l.LastIndexOf(',') + 1)]));
        var error = Assert.Throws<CliException>(() => TableLoader.LoadForTraining(path, new CsvSettings(null, null, "11", [])));
        Assert.Contains("'11': that column, the last, is empty on every line", error.Message, StringComparison.Ordinal);
        Assert.Contains("no labeled row", error.Message, StringComparison.Ordinal);
    }
}
