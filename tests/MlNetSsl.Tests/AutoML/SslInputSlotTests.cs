using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>Odd slots in a table's feature vector, built as a new user builds it: a CSV read by <c>LoadFromTextFile</c>
/// and <c>Concatenate</c>d into "Features", most labels hidden. The mlnet-ssl tool checks a CSV's columns itself; through
/// the API such slots ran without a word.</summary>
public sealed class SslInputSlotTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-slots-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    // Banknote's four features and label, every 10th row labeled (138 of 1,372), with extra columns made from each row
    // (its index, its label, whether it is labeled); "" is a missing cell.
    private IDataView Table(MLContext ml, params (string Name, Func<int, string, bool, string> Cell)[] extra) => Table(ml, null, extra);

    // The same, with the lines (cells, the label last) changed by <paramref name="edit"/> before they are written.
    private IDataView Table(MLContext ml, Func<List<string[]>, List<string[]>>? edit, params (string Name, Func<int, string, bool, string> Cell)[] extra)
    {
        string[][] rows = [.. File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv"))
            .Where(l => l.Length > 0).Select(l => l.Split(','))];
        string path = Path.Combine(_folder, $"table{Directory.GetFiles(_folder).Length}.csv");
        string[] names = [.. new[] { "variance", "skewness", "curtosis", "entropy" }, .. extra.Select(e => e.Name)];
        List<string[]> lines = [.. rows.Select((r, i) => (string[])[.. r[..4], .. extra.Select(e => e.Cell(i, r[4], i % 10 == 0)), i % 10 == 0 ? r[4] : ""])];
        if (edit is not null) lines = edit(lines);
        File.WriteAllLines(path, lines.Select(l => string.Join(",", l)).Prepend(string.Join(",", [.. names, "class"])));
        IDataView view = ml.Data.LoadFromTextFile(path, new TextLoader.Options
        {
            Separators = [','],
            HasHeader = true,
            MissingRealsAsNaNs = true,
            Columns = [.. names.Select((n, j) => new TextLoader.Column(n, DataKind.Single, j)), new TextLoader.Column("class", DataKind.Single, names.Length)],
        });
        return ml.Transforms.Concatenate("Features", names).Fit(view).Transform(view);
    }

    private static SslExperimentResult Run(MLContext ml, IDataView data) =>
        ml.SelfSupervisedExperiment().SetDataset(data, "class").SetInputColumn("Features").SetMaxTrials(1).Run();

    [SkippableFact]
    public void SlotsThatHoldOneValueOrNoneInEveryLabeledRowAreNamedInTheNotes()
    {
        // A constant column, one missing everywhere (a wrong column index reads empty cells), one filled in only where the
        // label is missing, and one that is the same wherever the label is known: the classifier cannot learn from any of
        // them, and nothing said so (the search ran and the user saw a fine metric).
        var ml = new MLContext(seed: 1);
        IDataView data = Table(ml,
            ("constant", (_, _, _) => "5"),
            ("empty", (_, _, _) => ""),
            ("onlyUnlabeled", (i, _, labeled) => labeled ? "" : (i % 7).ToString(CultureInfo.InvariantCulture)),
            ("sameWhenLabeled", (i, _, labeled) => labeled ? "3" : (i % 7).ToString(CultureInfo.InvariantCulture)));
        SslExperimentResult result = Run(ml, data);
        // Two causes, two notes: a column empty or constant everywhere (the loader or the export), and one that varies only
        // where the label is missing (label rows that have it).
        string everywhere = Assert.Single(result.Notes, n => n.Contains("hold one value or none in every row", StringComparison.Ordinal));
        Assert.StartsWith("Column 'Features' has 2 slot(s) that hold one value or none in every row, so no pipeline can learn from them: " +
            "slot 4 'constant' (5 in every row), slot 5 'empty' (missing in every row).", everywhere, StringComparison.Ordinal);
        string whenLabeled = Assert.Single(result.Notes, n => n.Contains("hold one value or none in every labeled row", StringComparison.Ordinal));
        Assert.StartsWith("Column 'Features' has 2 slot(s) that vary in the unlabeled rows but hold one value or none in every labeled row (138 rows), " +
            "so no classifier can learn from them: slot 6 'onlyUnlabeled' (missing in every labeled row), slot 7 'sameWhenLabeled' (3 in every labeled row).",
            whenLabeled, StringComparison.Ordinal);
        Assert.All(new[] { everywhere, whenLabeled }, n => Assert.Contains("leave them out of the input column", n, StringComparison.Ordinal));

        // Banknote's own four features vary: no such note.
        Assert.DoesNotContain(Run(ml, Table(ml)).Notes, n => n.Contains("one value or none", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void ASlotThatTellsTheClassOfEveryLabeledRowByItselfIsNotedAsAPossibleLeak()
    {
        // A copy of the label left in the features, and a value recorded after the outcome (the class plus a little):
        // cross-validated accuracy 1 and no word, though rows scored later will not have them.
        var ml = new MLContext(seed: 1);
        IDataView data = Table(ml,
            ("outcome", (_, label, _) => label),
            ("followUp", (i, label, _) => (float.Parse(label, CultureInfo.InvariantCulture) + (i % 100) / 1000f).ToString(CultureInfo.InvariantCulture)));
        SslExperimentResult result = Run(ml, data);
        string note = Assert.Single(result.Notes, n => n.Contains("tell the class of every labeled row by itself", StringComparison.Ordinal));
        Assert.StartsWith("Column 'Features' has 2 slot(s) that tell the class of every labeled row by itself (138 rows, 2 classes): slot 4 'outcome', slot 5 'followUp'.",
            note, StringComparison.Ordinal);
        Assert.Contains("leave it out of the input column", note, StringComparison.Ordinal);
        Assert.DoesNotContain(Run(ml, Table(ml)).Notes, n => n.Contains("by itself", StringComparison.Ordinal));

        // With fewer than 10 labeled rows in a class, a slot that separates them can be chance: nothing is said.
        uint[] keys = [.. Enumerable.Range(0, 200).Select(i => i < 16 ? (uint)(1 + i % 2) : 0u)];
        IDataView few = ml.Data.LoadFromEnumerable(keys.Select((k, i) => new SlotRow { Features = [k, i % 5] }));
        Assert.DoesNotContain(InputSlotChecks.Notes(few, "Features", keys), n => n.Contains("by itself", StringComparison.Ordinal));
        keys = [.. Enumerable.Range(0, 200).Select(i => i < 20 ? (uint)(1 + i % 2) : 0u)];
        IDataView enough = ml.Data.LoadFromEnumerable(keys.Select((k, i) => new SlotRow { Features = [k, i % 5] }));
        Assert.Contains(InputSlotChecks.Notes(enough, "Features", keys), n => n.StartsWith("Column 'Features' has 1 slot(s) that tell the class of every labeled row by itself (20 rows, 2 classes): slot 0.", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void ASlotThatCountsTheRowsIsNotedAsARowIdentifier()
    {
        // A row number or a database key concatenated with the features: it says where a row sits in the file, and rows
        // scored later carry other numbers. The mlnet-ssl tool leaves such columns out; through the API nothing was said.
        var ml = new MLContext(seed: 1);
        IDataView data = Table(ml,
            ("rowNumber", (i, _, _) => i.ToString(CultureInfo.InvariantCulture)),
            ("customerKey", (i, _, _) => (90000 - 7 * i).ToString(CultureInfo.InvariantCulture)),
            ("bucket", (i, _, _) => (i / 2).ToString(CultureInfo.InvariantCulture)));
        SslExperimentResult result = Run(ml, data);
        string note = Assert.Single(result.Notes, n => n.Contains("like a row number", StringComparison.Ordinal));
        Assert.StartsWith("Column 'Features' has 2 slot(s) of whole numbers that rise or fall with the row through all 1,372 rows, like a row number " +
            "or a database key: slot 4 'rowNumber' (0, 1, 2, ...), slot 5 'customerKey' (90000, 89993, 89986, ...).", note, StringComparison.Ordinal);
        Assert.Contains("leave it out of the input column", note, StringComparison.Ordinal);
        // Banknote's file is sorted by class, so the row number also tells the class of every labeled row: said once.
        Assert.DoesNotContain(result.Notes, n => n.Contains("by itself", StringComparison.Ordinal) && n.Contains("rowNumber", StringComparison.Ordinal));
        Assert.DoesNotContain(Run(ml, Table(ml)).Notes, n => n.Contains("like a row number", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task AnInfinityNamesTheSlotItIsInByItsColumnName()
    {
        // The message gave the slot's index only ("at index 5"), which a user who concatenated named columns had to count.
        var ml = new MLContext(seed: 1);
        IDataView data = Table(ml, ("ratio", (i, _, _) => "0.5"), ("growth", (i, _, _) => i == 7 ? "-Infinity" : "1"));
        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            ml.SelfSupervisedExperiment().SetDataset(data, "class").SetInputColumn("Features").SetMaxTrials(1).RunAsync());
        Assert.StartsWith("Row 7 of column 'Features' holds -Infinity at index 5 (slot 'growth').", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void LabeledRowsThatRepeatAnotherLabeledRowAreCountedAndThoseOfAnotherClassNamed()
    {
        // A table exported twice and appended: the cross-validation put a row and its copy in different folds and
        // scored the copy as new, and a copy labeled with the other class taught the model both; nothing said so.
        var ml = new MLContext(seed: 1);
        IDataView data = Table(ml, lines =>
        {
            var labeled = lines.Where(l => l[^1].Length > 0).Take(20).ToList();
            // 20 copies of labeled rows, the last 5 of them with the other class.
            return [.. lines, .. labeled.Select((l, i) => (string[])[.. l[..^1], i < 15 ? l[^1] : l[^1] == "0" ? "1" : "0"])];
        });
        SslExperimentResult result = Run(ml, data);
        string note = Assert.Single(result.Notes, n => n.Contains("repeat the input of another labeled row", StringComparison.Ordinal));
        Assert.StartsWith("20 of the 158 labeled rows repeat the input of another labeled row (the first: row 1372, a copy of row 0), 5 of them with another class " +
            "(the first: row 1387, class 1 where row 150 has 0).", note, StringComparison.Ordinal);
        Assert.DoesNotContain(Run(ml, Table(ml)).Notes, n => n.Contains("repeat the input", StringComparison.Ordinal));
    }

    private sealed class SlotRow
    {
        [VectorType(2)]
        public float[] Features { get; set; } = [];
    }
}
