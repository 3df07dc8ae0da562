using System.Buffers.Binary;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Cli.Commands;
using MlNetSsl.Cli.Data;
using MlNetSsl.Cli.Run;
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
        File.WriteAllLines(csv, CliCoreTests.TsAsCsvLines(Path.Combine(SharedData.DataRoot, "uea", "BasicMotions_TEST.ts"))
            .Select(l => l[..l.LastIndexOf(',')] is var values ? values[..values.LastIndexOf(',')] + l[l.LastIndexOf(',')..] : l));
        var uneven = CliCoreTests.Run("series-classification", "--dataset", train, "--test-dataset", csv, "--label-col", "599",
            "--train-time", "60", "-o", _work, "--name", "Uneven");
        Assert.True(uneven.ExitCode == 1, $"exit {uneven.ExitCode}: {uneven.Stderr}\n{uneven.Stdout}");
        Assert.Contains("not a whole number of steps for the 6 channel(s)", uneven.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("trial", uneven.Stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AColumnThatTellsTheClassOfEveryLabeledRowIsNamedOnTheConsoleInTheToolsWords()
    {
        // Banknote with its class copied into a column "outcome", every 10th row labeled: the tool's own column checks
        // said nothing and the run reported test accuracy 1. The search's note named the tool's internal column
        // ('Ssl_Input') and "the input column", which a CSV user does not have, and went to the report only.
        string csv = Path.Combine(_work, "leak.csv");
        var rows = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv")).Where(l => l.Length > 0)
            .Select(l => l.Split(',')).ToList();
        // And 30 labeled rows twice: the report's data section lists them by line, so the search's note on repeated rows,
        // which counts rows of the tool's view, stays out of the report.
        File.WriteAllLines(csv, rows.Select((r, i) => string.Join(",", [.. r[..4], r[4], i % 10 == 0 ? r[4] : ""]))
            .Concat(rows.Where((_, i) => i % 10 == 0).Take(30).Select(r => string.Join(",", [.. r[..4], r[4], r[4]])))
            .Prepend("variance,skewness,curtosis,entropy,outcome,class"));
        var (code, stdout, stderr) = CliCoreTests.Run("classification", "--dataset", csv, "--label-col", "class",
            "--train-time", "5", "--max-trials", "1", "-o", _work, "--name", "Leak");
        Assert.True(code == 0, $"exit {code}: {stderr}\n{stdout}");
        Assert.Contains("Note: The table has 1 input column(s) that tell the class of every labeled row by itself", stdout, StringComparison.Ordinal);
        Assert.Contains("row by itself (135 rows, 2 classes): 'outcome'. Sorted by such a column", stdout, StringComparison.Ordinal);
        Assert.Contains("leave it out with --ignore-cols", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Ssl_Input", stdout, StringComparison.Ordinal);
        string report = File.ReadAllText(Path.Combine(_work, "Leak", "report.html"));
        Assert.DoesNotContain("Ssl_Input", report, StringComparison.Ordinal);
        Assert.DoesNotContain("repeat the input of another labeled row", report, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AConstantColumnIsNamedOnceInTheReport()
    {
        // The tool names a CSV column with one value itself; the experiment's note on the same slot said it again in the
        // report, in other words. A column that varies only where the label is missing is the experiment's alone.
        string csv = Path.Combine(_work, "constant.csv");
        var rows = File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv")).Where(l => l.Length > 0)
            .Select(l => l.Split(',')).ToList();
        File.WriteAllLines(csv, rows.Select((r, i) => string.Join(",", [.. r[..4], "5", i % 10 == 0 ? "3" : (i % 7).ToString(System.Globalization.CultureInfo.InvariantCulture), i % 10 == 0 ? r[4] : ""]))
            .Prepend("variance,skewness,curtosis,entropy,unit,batch,class"));
        var (code, stdout, stderr) = CliCoreTests.Run("classification", "--dataset", csv, "--label-col", "class",
            "--train-time", "5", "--max-trials", "1", "-o", _work, "--name", "Constant");
        Assert.True(code == 0, $"exit {code}: {stderr}\n{stdout}");
        string report = File.ReadAllText(Path.Combine(_work, "Constant", "report.html"));
        Assert.Matches("unit.{0,80}hold no more than one value", stdout);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(report, "hold no more than one value"));
        Assert.DoesNotContain("one value or none in every row", report, StringComparison.Ordinal);
        Assert.Contains("vary in the unlabeled rows but hold one value or none in every labeled row", report, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void TheToolsWordsLeaveColumnNamesAsTheyAre()
    {
        // Only the note's own words change: a column named 'timeslot' or 'slot 2' is still that column.
        string note = TrainingRun.InToolWords($"Column '{ModelParts.TableColumn}' has 2 slot(s) that tell the class of every labeled row by itself " +
            "(40 rows, 2 classes): slot 3 'timeslot', slot 7 'slot 2'. Sorted by such a slot, the labeled rows fall into one run per class; " +
            "leave it out of the input column.");
        Assert.Equal("The table has 2 input column(s) that tell the class of every labeled row by itself (40 rows, 2 classes): 'timeslot', " +
            "'slot 2'. Sorted by such a column, the labeled rows fall into one run per class; leave it out with --ignore-cols.", note);
    }

    [SkippableFact]
    public void ANumericTargetOfOneRowPerValueIsNamedInTheHoldOutError()
    {
        // A new user's run: BasicMotions with a measured quantity as the label (a distinct number on each of the 40
        // series). The run stopped with "no labeled row can be held out ... label at least 2 rows of some class", and the
        // warning that the label is a quantity to regress, printed only after that check, never showed.
        string source = Path.Combine(SharedData.DataRoot, "uea", "BasicMotions_TRAIN.ts");
        string ts = Path.Combine(_work, "quantity.ts");
        int row = 0;
        File.WriteAllLines(ts, File.ReadLines(source)
            .Select(l => l.StartsWith("@classLabel", StringComparison.OrdinalIgnoreCase) ? "@classLabel true"
                : l.Length == 0 || l[0] is '#' or '@' ? l
                : l[..(l.LastIndexOf(':') + 1)] + (1.5 + 0.25 * row++).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(40, row);
        var (code, stdout, stderr) = CliCoreTests.Run("series-classification", "--dataset", ts, "--train-time", "30", "-o", _work, "--name", "Quantity");
        Assert.True(code == 1, $"exit {code}: {stderr}\n{stdout}");
        Assert.Contains("no labeled row can be held out", stderr, StringComparison.Ordinal);
        Assert.Contains("40 distinct numbers", stderr, StringComparison.Ordinal);
        Assert.Contains("bin the values into a few ranges", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("trial", stdout, StringComparison.Ordinal);
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

    /// <summary>A PNG file of a few hundred bytes whose header says <paramref name="width"/> x <paramref name="height"/>
    /// (one compressed row of zeros follows, then the end chunk): what a decoder must allocate, not what the file weighs.</summary>
    internal static byte[] PngHeaderOnly(int width, int height)
    {
        static byte[] Chunk(string type, byte[] data)
        {
            var chunk = new byte[12 + data.Length];
            BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
            System.Text.Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
            data.CopyTo(chunk, 8);
            uint crc = 0xFFFFFFFF;
            foreach (byte b in chunk.AsSpan(4, 4 + data.Length))
            {
                crc ^= b;
                for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
            BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), ~crc);
            return chunk;
        }
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // RGB
        using var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            zlib.Write(new byte[1 + width * 3]);
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, .. Chunk("IHDR", header), .. Chunk("IDAT", compressed.ToArray()), .. Chunk("IEND", [])];
    }

    [SkippableFact]
    public void AnImageOfMorePixelsThanTheToolDecodesIsSkippedAndNamed()
    {
        // A 1 KB PNG of 20000x20000 pixels took over 5 GB of memory to score (the model decodes it whole): it is skipped
        // and listed as unreadable images are, refused with --strict, and refused as a single file to predict.
        string root = Path.Combine(_work, "pictures");
        string[] cifar = Directory.GetFiles(Path.Combine(SharedData.RepoRoot, "samples", "Quickstart", "data", "cifar10-small", "train", "cat"))
            .Order(StringComparer.Ordinal).Take(6).ToArray();
        foreach (string cls in new[] { "a", "b" })
        {
            Directory.CreateDirectory(Path.Combine(root, cls));
            foreach (string f in cifar) File.Copy(f, Path.Combine(root, cls, Path.GetFileName(f)));
        }
        string huge = Path.Combine(root, "b", "huge.png");
        File.WriteAllBytes(huge, PngHeaderOnly(20000, 20000));

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);
        Assert.Equal(12, data.Count);
        Assert.Contains(data.Skipped, s => s.StartsWith("b/huge.png: 20000x20000 pixels (400 megapixels), more than the 100 megapixels", StringComparison.Ordinal));
        var strict = Assert.Throws<CliException>(() => ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: true, forTraining: true));
        Assert.Contains("400 megapixels", strict.Message, StringComparison.Ordinal);
        var single = Assert.Throws<CliException>(() => ImageFolder.LoadFile(new MLContext(0), huge));
        Assert.Contains("downscale it", single.Message, StringComparison.Ordinal);

        // 100 megapixels exactly still load (a 10000x10000 header).
        File.WriteAllBytes(huge, PngHeaderOnly(10000, 10000));
        Assert.Equal(13, ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true).Count);
    }

    [SkippableFact]
    public void ATableOfManyTextColumnsIsPreparedByOneFlatChain()
    {
        // Each text column added a level of nesting to the preparation chain, and a nested chain fits and maps each level
        // again: 300 text columns took over 10 minutes before the first trial. The chain is now one level.
        string csv = Path.Combine(_work, "text.csv");
        var random = new Random(3);
        File.WriteAllLines(csv, [string.Join(',', Enumerable.Range(0, 120).Select(j => $"c{j}").Append("x").Append("label")),
            .. Enumerable.Range(0, 200).Select(r => string.Join(',', Enumerable.Range(0, 120).Select(_ => $"v{random.Next(4)}")
                .Append((random.NextDouble() - 0.5).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)).Append(r % 2 == 0 ? "yes" : "no")))]);
        TrainingData data = TableLoader.LoadForTraining(csv, DatasetReader.Csv(null, null, "label", []));
        var ml = new MLContext(0);
        var (estimator, column) = MlNetSsl.Cli.Run.ModelParts.Preparation(ml, data, 0, MlNetSsl.SeriesResampling.Mean);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var chain = Assert.IsType<TransformerChain<ITransformer>>(estimator.Fit(data.View));
        IDataView prepared = chain.Transform(data.View);
        Assert.Equal(200, prepared.GetColumn<VBuffer<float>>(column).Count());
        Assert.DoesNotContain(chain, t => t is TransformerChain<ITransformer>);
        Assert.Equal(1 + 1 + 120 + 1, chain.Count()); // the numbers and their filling, one step per text column, the concatenation
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"fitting and mapping took {watch.Elapsed}");
    }

    [SkippableFact]
    public void ManyHashedTextColumnsShareABoundedNumberOfSlots()
    {
        // 150 text columns of ~500 values each were hashed into 256 slots apiece (38,401 features): the first trial took
        // 318 s of a 40 s budget and 5 GB. Past 16 hashed columns each gets fewer slots, 4,096 in all, at least 16 each.
        Assert.Equal(8, MlNetSsl.Cli.Run.ModelParts.HashBits(1));
        Assert.Equal(8, MlNetSsl.Cli.Run.ModelParts.HashBits(16));
        Assert.Equal(7, MlNetSsl.Cli.Run.ModelParts.HashBits(17));
        Assert.Equal(4, MlNetSsl.Cli.Run.ModelParts.HashBits(150));
        Assert.Equal(4, MlNetSsl.Cli.Run.ModelParts.HashBits(5000));

        string csv = Path.Combine(_work, "hashed.csv");
        var random = new Random(5);
        File.WriteAllLines(csv, [string.Join(',', Enumerable.Range(0, 40).Select(j => $"t{j}").Append("label")),
            .. Enumerable.Range(0, 300).Select(r => string.Join(',', Enumerable.Range(0, 40).Select(_ => $"w{random.Next(250)}").Append(r % 2 == 0 ? "yes" : "no")))]);
        TrainingData data = TableLoader.LoadForTraining(csv, DatasetReader.Csv(null, null, "label", []));
        var ml = new MLContext(0);
        var (estimator, column) = MlNetSsl.Cli.Run.ModelParts.Preparation(ml, data, 0, MlNetSsl.SeriesResampling.Mean);
        var type = (VectorDataViewType)estimator.Fit(data.View).GetOutputSchema(data.View.Schema)[column].Type;
        Assert.Equal(40 * 64, type.Size); // 4096 / 40 = 102 slots: 6 bits, 64 slots a column
    }

    [SkippableFact]
    public void ManyCategoryColumnsKeepTheirMostFrequentValuesWithinABoundedWidth()
    {
        // 300 columns of 100 categories made 30,000 features: the first trial took 184 s of a 30 s budget. Past 4,096
        // indicators in all, a larger column keeps only its most frequent values (its share, at least 16).
        Assert.Null(MlNetSsl.Cli.Run.ModelParts.CategoriesKept([100, 100, 3]));
        Assert.Null(MlNetSsl.Cli.Run.ModelParts.CategoriesKept([.. Enumerable.Repeat(64, 64)]));
        Assert.Equal(68, MlNetSsl.Cli.Run.ModelParts.CategoriesKept([.. Enumerable.Repeat(100, 60)]));
        Assert.Equal(16, MlNetSsl.Cli.Run.ModelParts.CategoriesKept([.. Enumerable.Repeat(100, 300)]));
        // Small columns keep all theirs and leave the rest to the large ones: 200 x 2 + 40 x 92 = 4,080.
        Assert.Equal(92, MlNetSsl.Cli.Run.ModelParts.CategoriesKept([.. Enumerable.Repeat(2, 200), .. Enumerable.Repeat(100, 40)]));

        // 60 columns of 100 values each, value k drawn with weight 1 / (k + 1), and a 3-value column that stays whole.
        string csv = Path.Combine(_work, "categories.csv");
        var random = new Random(11);
        double[] cumulative = [.. Enumerable.Range(0, 100).Select(k => 1.0 / (k + 1))];
        for (int k = 1; k < 100; k++) cumulative[k] += cumulative[k - 1];
        int Draw() => Array.FindIndex(cumulative, c => c >= random.NextDouble() * cumulative[^1]);
        File.WriteAllLines(csv, [string.Join(',', Enumerable.Range(0, 60).Select(j => $"c{j}").Append("small").Append("label")),
            .. Enumerable.Range(0, 3000).Select(r => string.Join(',', Enumerable.Range(0, 60).Select(j => $"v{(r < 100 ? r : Draw())}")
                .Append($"s{r % 3}").Append(r % 2 == 0 ? "yes" : "no")))]);
        TrainingData data = TableLoader.LoadForTraining(csv, DatasetReader.Csv(null, null, "label", []));
        var ml = new MLContext(0);
        var (estimator, column) = MlNetSsl.Cli.Run.ModelParts.Preparation(ml, data, 0, MlNetSsl.SeriesResampling.Mean);
        ITransformer prepared = estimator.Fit(data.View);
        var type = (VectorDataViewType)prepared.GetOutputSchema(data.View.Schema)[column].Type;
        Assert.Equal(60 * 68 + 3, type.Size); // the 3-value column keeps its 3, the others 68 each: 4,083 of 4,096
        // The kept values are the most frequent: v0 to v9 (about 1 row in 5 to 1 in 50) are among them, and a row of the
        // rarest values reads as no category in those columns.
        VBuffer<ReadOnlyMemory<char>> names = default;
        prepared.Transform(data.View).Schema["Ssl_Text0"].GetSlotNames(ref names);
        string[] kept = [.. names.DenseValues().Select(n => n.ToString())];
        Assert.Equal(68, kept.Length);
        Assert.All(Enumerable.Range(0, 10), k => Assert.Contains($"v{k}", kept));
        Assert.DoesNotContain("v99", kept);
    }

    [SkippableFact]
    public void AMissingCellTakesNoneOfTheMostFrequentValuesPlaces()
    {
        // 50 columns of 99 values (4,950 indicators: 81 kept a column), each missing in a third of the rows. A missing cell is
        // no category, so when it was counted among the most frequent values a column kept 80 indicators, not 81.
        string csv = Path.Combine(_work, "missing-categories.csv");
        var random = new Random(5);
        File.WriteAllLines(csv, [string.Join(',', Enumerable.Range(0, 50).Select(j => $"c{j}").Append("label")),
            .. Enumerable.Range(0, 2000).Select(r => string.Join(',', Enumerable.Range(0, 50)
                .Select(j => r < 99 ? $"v{r}" : random.NextDouble() < 0.35 ? "" : $"v{random.Next(99)}")
                .Append(r % 2 == 0 ? "yes" : "no")))]);
        TrainingData data = TableLoader.LoadForTraining(csv, DatasetReader.Csv(null, null, "label", []));
        var ml = new MLContext(0);
        var (estimator, column) = MlNetSsl.Cli.Run.ModelParts.Preparation(ml, data, 0, MlNetSsl.SeriesResampling.Mean);
        ITransformer prepared = estimator.Fit(data.View);

        Assert.Equal(50 * 81, ((VectorDataViewType)prepared.GetOutputSchema(data.View.Schema)[column].Type).Size);
        VBuffer<ReadOnlyMemory<char>> names = default;
        prepared.Transform(data.View).Schema["Ssl_Text0"].GetSlotNames(ref names);
        Assert.DoesNotContain("", names.DenseValues().Select(n => n.ToString()));
    }
}
