using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Cli.Commands;
using MlNetSsl.Cli.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>
/// The library's <c>.ts</c> loader: <see cref="TsFile.Read"/> on the shared UEA archives (equal and variable length)
/// and on small files that hold each case the format allows or forbids, <c>mlContext.Data.LoadFromTsFile</c> feeding the
/// self-supervised stage, and the CLI reading <c>.ts</c> files through it.
/// </summary>
public sealed class TsFileTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mlnetssl-tsfile-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private string Write(string name, params string[] lines)
    {
        string path = Path.Combine(_work, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    /// <summary>A file of the shared UEA archives; the test is reported skipped where the shared data are not.</summary>
    private static string Uea(string file)
    {
        string path = Path.Combine(SharedData.DataRoot, "uea", file);
        Skip.IfNot(File.Exists(path), $"{path} is not here");
        return path;
    }

    /// <summary>Checks the first series against the text of its line, split as the format says without the loader: its
    /// line number, its class, and every value, channel after channel. Returns the line's channels as written.</summary>
    private static string[][] AssertFirstSeriesIsTheText(string path, TsFile file)
    {
        string[] lines = File.ReadAllLines(path);
        int data = Array.FindIndex(lines, l => l.Trim().Equals("@data", StringComparison.OrdinalIgnoreCase));
        int first = Array.FindIndex(lines, data + 1, l => l.Trim().Length > 0);
        string[] parts = lines[first].Trim().Split(':');
        string[][] channels = parts[..^1].Select(c => c.Split(',')).ToArray();
        Assert.Equal(first + 1, file.LineNumbers[0]);
        Assert.Equal(parts[^1], file.Labels[0]);
        Assert.Equal(channels.Length, file.Channels);
        Assert.Equal(channels[0].Length, file.Lengths[0]);
        Assert.Equal(channels.SelectMany(c => c).Select(Number), file.Series[0]);
        return channels;
    }

    private static float Number(string text) => float.Parse(text, CultureInfo.InvariantCulture);

    private static float[] Row(IDataView data, string column, int row) =>
        data.GetColumn<VBuffer<float>>(column).ElementAt(row).DenseValues().ToArray();

    [SkippableFact]
    public void BasicMotionsIsSixChannelsOfOneHundredStepsInAKnownSizeVector()
    {
        string path = Uea("BasicMotions_TRAIN.ts");
        TsFile file = TsFile.Read(path);

        Assert.Equal(40, file.Series.Count);
        Assert.Equal(6, file.Channels);
        Assert.All(file.Lengths, l => Assert.Equal(100, l));
        Assert.All(file.Series, s => Assert.Equal(600, s.Length));
        Assert.Equal(["Badminton", "Running", "Standing", "Walking"], file.Labels.Distinct().Order(StringComparer.Ordinal));
        Assert.All(file.MissingValueCounts, m => Assert.Equal(0, m));
        Assert.Empty(file.Notes);
        // Channel after channel, as the text has them: channel 1 starts at index 100, channel 5 ends the array.
        string[][] channels = AssertFirstSeriesIsTheText(path, file);
        Assert.Equal(Number(channels[1][0]), file.Series[0][100]);
        Assert.Equal(Number(channels[5][99]), file.Series[0][599]);

        var ml = new MLContext(0);
        IDataView data = ml.Data.LoadFromTsFile(path);
        Assert.Equal(TextDataViewType.Instance, data.Schema["Label"].Type);
        var features = Assert.IsType<VectorDataViewType>(data.Schema["Features"].Type);
        Assert.Equal(NumberDataViewType.Single, features.ItemType);
        Assert.Equal(600, features.Size);
        Assert.Equal(file.Labels, data.GetColumn<string>("Label"));
        Assert.Equal(file.Series[0], Row(data, "Features", 0));
        Assert.Equal(file.Series[39], Row(data, "Features", 39));
    }

    [SkippableFact]
    public void GunPointIsOneChannelOfOneHundredFiftySteps()
    {
        string path = Uea("GunPoint_TRAIN.ts");
        TsFile file = TsFile.Read(path);

        Assert.Equal(50, file.Series.Count);
        Assert.Equal(1, file.Channels);
        Assert.All(file.Lengths, l => Assert.Equal(150, l));
        Assert.Equal(["1", "2"], file.Labels.Distinct().Order(StringComparer.Ordinal));
        Assert.Empty(file.Notes);
        AssertFirstSeriesIsTheText(path, file);
        // The next series is on the next line.
        Assert.Equal(file.LineNumbers[0] + 1, file.LineNumbers[1]);

        IDataView data = new MLContext(0).Data.LoadFromTsFile(file, labelColumnName: "Gesture", featuresColumnName: "Position");
        Assert.Equal(150, Assert.IsType<VectorDataViewType>(data.Schema["Position"].Type).Size);
        Assert.Equal(file.Labels, data.GetColumn<string>("Gesture"));
    }

    [SkippableFact]
    public void PlaidHasVariableLengthsAndLoadsAsAVariableSizeVectorForResampleSeries()
    {
        string path = Uea("PLAID_TRAIN.ts");
        TsFile file = TsFile.Read(path);

        Assert.Equal(537, file.Series.Count);
        Assert.Equal(1, file.Channels);
        Assert.Equal(100, file.Lengths.Min());
        Assert.Equal(1344, file.Lengths.Max());
        Assert.Equal(11, file.Labels.Distinct().Count());
        Assert.Empty(file.Notes); // its header says @equalLength false, and no @seriesLength
        AssertFirstSeriesIsTheText(path, file);

        var ml = new MLContext(0);
        IDataView data = ml.Data.LoadFromTsFile(file);
        var features = Assert.IsType<VectorDataViewType>(data.Schema["Features"].Type);
        Assert.False(features.IsKnownSize);
        Assert.Equal(file.Lengths, data.GetColumn<VBuffer<float>>("Features").Select(v => v.Length));
        // ResampleSeries takes the variable-size column and gives the stage the known size it needs.
        IDataView fixedLength = ml.Transforms.ResampleSeries("Series", "Features", channels: file.Channels, length: 128).Fit(data).Transform(data);
        Assert.Equal(128, Assert.IsType<VectorDataViewType>(fixedLength.Schema["Series"].Type).Size);
        Assert.Equal(file.Series[0][0], Row(fixedLength, "Series", 0)[0]);
    }

    [SkippableFact]
    public void BasicMotionsLoadedFromItsFileFeedsTheSelfSupervisedStage()
    {
        var ml = new MLContext(seed: 1);
        TsFile file = TsFile.Read(Uea("BasicMotions_TRAIN.ts"));
        IDataView data = ml.Data.LoadFromTsFile(file);

        using var model = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.SimClr, o =>
        {
            o.SeriesChannels = file.Channels;
            o.Epochs = 1;
            o.BatchSize = 20;
        }).Fit(data);

        Assert.Equal(SslInputShape.Series(6, 100), model.InputShape);
        IDataView embedded = model.Transform(data);
        Assert.Equal(model.EmbeddingSize, Assert.IsType<VectorDataViewType>(embedded.Schema["Embedding"].Type).Size);
        float[][] embeddings = StageData.Vectors(embedded, "Embedding");
        Assert.Equal(40, embeddings.Length);
        Assert.All(embeddings, e => Assert.True(e.All(float.IsFinite)));
        // The text label maps to a key of the 4 activities, as a trainer after the stage needs.
        var key = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(embedded).Transform(embedded);
        Assert.Equal(4UL, Assert.IsType<KeyDataViewType>(key.Schema["LabelKey"].Type).Count);
    }

    [SkippableFact]
    public void MissingValuesTakeThePreviousValueInTheirChannelAndAreCounted()
    {
        string path = Write("missing.ts",
            "# two channels, the class last",
            "@problemName gaps",
            "@classLabel true a b",
            "@data",
            "?,2,NaN,4:10,11,12,13:a", // line 5: channel 0 starts with a gap (its first known value), and has one inside
            "1,2,3,4:5,6,7,8:b",
            "1,2,3,4:5,,NA,8:?");     // line 7: two gaps in channel 1; the class is missing

        TsFile file = TsFile.Read(path);

        Assert.Equal(2, file.Channels);
        Assert.Equal([2f, 2, 2, 4, 10, 11, 12, 13], file.Series[0]);
        Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8], file.Series[1]);
        Assert.Equal([1f, 2, 3, 4, 5, 5, 5, 8], file.Series[2]);
        Assert.Equal([2, 0, 2], file.MissingValueCounts);
        Assert.Equal(["a", "b", ""], file.Labels);
        Assert.Equal([5, 6, 7], file.LineNumbers);
        Assert.Equal([4, 4, 4], file.Lengths);
        Assert.Equal($"{path}: 4 missing value(s) (empty, '?', NA or NaN) in 2 series (the first on line 5) take the value before them " +
            "in their channel (the channel's first known value at its start).", Assert.Single(file.Notes));
    }

    [SkippableFact]
    public void ANaNSpelledAsCWritesANegativeOneIsAMissingValueNotAnInfiniteOne()
    {
        string path = Write("nan.ts", "@problemName n", "@classLabel true a b", "@data", "1,-nan,3,4:a", "1,2,-NaN,4:b");

        TsFile file = TsFile.Read(path);

        Assert.Equal([1f, 1, 3, 4], file.Series[0]);
        Assert.Equal([1f, 2, 2, 4], file.Series[1]);
        Assert.Equal([1, 1], file.MissingValueCounts);
    }

    [SkippableFact]
    public void AFileWithoutClassesKeepsEveryChannelAndLoadsWithEmptyLabels()
    {
        string path = Write("unlabeled.ts", "@problemName x", "@classLabel false", "@data", "1,2,3:4,5,6", "7,8,9:1,2,3", "1,2,3,4:5,6,7,8");

        TsFile file = TsFile.Read(path);

        Assert.Equal(2, file.Channels);
        Assert.Equal(["", "", ""], file.Labels);
        Assert.Equal([3, 3, 4], file.Lengths);
        Assert.Equal([1f, 2, 3, 4, 5, 6], file.Series[0]);
        IDataView data = new MLContext(0).Data.LoadFromTsFile(file);
        Assert.Equal(["", "", ""], data.GetColumn<string>("Label"));
        Assert.False(((VectorDataViewType)data.Schema["Features"].Type).IsKnownSize);
    }

    [SkippableFact]
    public void PercentCommentLinesAsInSktimesUnitTestFilesAreSkipped()
    {
        // The opening of sktime's bundled UnitTest_TRAIN.ts: ARFF-style '%' comments before the header. They were taken
        // for data before '@data' and the file refused.
        string path = Write("UnitTest_TRAIN.ts", "%# This is a cut down version of the problem ChinaTown, useful for code examples",
            "% The Train set is the same as ChinaTown", "%", "@problemName UnitTest", "@timeStamps false", "@missing false",
            "@univariate true", "@equalLength true", "@seriesLength 4", "@classLabel true 1 2", "@data", "573.0,375.0,301.0,212.0:1",
            "% a comment among the series", "394.0,264.0,140.0,144.0:2");

        TsFile file = TsFile.Read(path);

        Assert.Equal(["1", "2"], file.Labels);
        Assert.Equal([12, 14], file.LineNumbers);
        Assert.Equal([573f, 375, 301, 212], file.Series[0]);
        Assert.Empty(file.Notes);
    }

    [SkippableFact]
    public void AFileWithoutClassesWhoseLinesEndWithAColonAsSktimeWritesThemKeepsItsChannels()
    {
        // sktime's write_ndarray_to_tsfile with no class values: a ':' after every channel of a multivariate series.
        string path = Write("written.ts", "@problemName sample_data", "@timeStamps false", "@univariate false", "@classLabel false", "@data",
            "1.0,2.0,3.0,4.0:5.0,6.0,7.0,8.0:", "2.0,3.0,NaN,5.0:6.0,7.0,8.0,9.0:");

        TsFile file = TsFile.Read(path);

        Assert.Equal(2, file.Channels);
        Assert.Equal(["", ""], file.Labels);
        Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8], file.Series[0]);
        Assert.Equal([2f, 3, 3, 5, 6, 7, 8, 9], file.Series[1]);
        Assert.Equal([0, 1], file.MissingValueCounts);
    }

    [SkippableFact]
    public void AClassMissingFromTheClassLabelListIsKeptAndNotedAndTheNoteReachesTheLog()
    {
        // A brace in a class: the note reaches the log as written, not as a format string.
        string path = Write("undeclared.ts", "@problemName z", "@classLabel true 1 2", "@data", "1,2,3,4,5:1", "2,3,4,5,6:2", "3,4,5,6,7:3", "4,5,6,7,8:3",
            "5,6,7,8,9:{0}");

        TsFile file = TsFile.Read(path);

        Assert.Equal(["1", "2", "3", "3", "{0}"], file.Labels);
        string note = $"{path}: class(es) '3' (line 6), '{{0}}' (line 8) are not in its @classLabel list (1 2); they are learned as classes all the same.";
        Assert.Equal(note, Assert.Single(file.Notes));
        var ml = new MLContext(0);
        var log = new List<string>();
        ml.Log += (_, e) => log.Add(e.Message);
        ml.Data.LoadFromTsFile(path);
        Assert.Contains(log, m => m.Contains(note, StringComparison.Ordinal));
    }

    [SkippableFact]
    public void DeclaredClassesThatLabelNoSeriesAreNamedWhenSomeSeriesAreLabeled()
    {
        // GunPoint with about 10% of its labels kept, all of them class 1 (as a random tenth of a small file can be): the
        // @classLabel list declares 1 and 2, and nothing said that a model trained on the file could never predict 2.
        int row = 0;
        string path = Write("gunpoint-tenth.ts", [.. File.ReadLines(Uea("GunPoint_TRAIN.ts")).Select(l =>
            l.Length == 0 || l[0] is '#' or '@' ? l
            : l.EndsWith(":1", StringComparison.Ordinal) && row++ < 5 ? l
            : l[..(l.LastIndexOf(':') + 1)] + "?")]);

        TsFile file = TsFile.Read(path);

        Assert.Equal(5, file.Labels.Count(l => l.Length > 0));
        Assert.Equal($"{path}: class(es) '2' of its @classLabel list (1 2) label no series of the file (5 of its 50 series are labeled), " +
            "so a model trained on it cannot predict them: label a few series of each.", Assert.Single(file.Notes));
        // The CLI's training shows it among its label notes.
        TrainingData data = SeriesLoader.Load(new MLContext(0), path, new CsvSettings(null, null, null, []), channels: 1);
        Assert.Contains("class(es) '2' of its @classLabel list (1 2) label no series", data.LabelNote, StringComparison.Ordinal);

        // A file of unlabeled series only (series to predict, or to pretrain on) says nothing of it; nor does one whose
        // declared classes all label a series.
        Assert.Empty(TsFile.Read(Write("none.ts", "@classLabel true 1 2", "@data", "1,2,3,4:?", "2,3,4,5:?")).Notes);
        Assert.DoesNotContain(TsFile.Read(Write("all.ts", "@classLabel true 1 2", "@data", "1,2,3,4:1", "2,3,4,5:?", "3,4,5,6:2.0")).Notes,
            n => n.Contains("label no series", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void AHeaderThatContradictsTheLinesIsNotedAndTheLinesDecide()
    {
        string[] data = ["@data", "1,2,3,4:1", "2,3,4,5:2"];
        TsFile file = TsFile.Read(Write("contradicts.ts", ["@univariate false", "@dimensions 3", "@equalLength true", "@seriesLength 9", "@clasLabel true 1 2", .. data]));

        Assert.Equal(1, file.Channels);
        Assert.Equal([4, 4], file.Lengths);
        Assert.Equal(3, file.Notes.Count);
        Assert.Contains("header line(s) '@clasLabel' (line 5) are not .ts directives", file.Notes[0], StringComparison.Ordinal);
        Assert.Contains("the header says @univariate false, but the lines hold 1 channel(s); they are read as 1.", file.Notes[1], StringComparison.Ordinal);
        Assert.Contains("the header says @seriesLength 9, but the series have 4 steps", file.Notes[2], StringComparison.Ordinal);
        Assert.All(file.Notes, n => Assert.StartsWith(file.Path + ": ", n, StringComparison.Ordinal));
        // A header that agrees says nothing.
        Assert.Empty(TsFile.Read(Write("agrees.ts", ["@univariate true", "@equalLength true", "@seriesLength 4", "@classLabel true 1 2", .. data])).Notes);
    }

    [SkippableFact]
    public void ATrailingCommaEndingAChannelOrTheClassIsAStraySeparatorNotAStepNorPartOfTheClass()
    {
        // A writer that ends every value with ',': the empty cell after it was a missing value, so every series got one
        // step more (a copy of its last value), and "a," was a class of its own.
        string[] header = ["@problemName t", "@timeStamps false", "@classLabel true a b", "@data"];
        TsFile channel = TsFile.Read(Write("channel.ts", [.. header, "1,2,3,4,:a", "2,3,4,5,:b"]));
        TsFile label = TsFile.Read(Write("label.ts", [.. header, "1,2,3,4:a,", "2,3,4,5:b ,"]));
        TsFile unlabeled = TsFile.Read(Write("unlabeled.ts", "@classLabel false", "@data", "1,2,3,4,:5,6,7,8,", "2,3,4,5,:6,7,8,9,"));

        foreach (TsFile file in new[] { channel, label })
        {
            Assert.Equal([4, 4], file.Lengths);
            Assert.Equal([1f, 2, 3, 4], file.Series[0]);
            Assert.Equal(["a", "b"], file.Labels);
            Assert.Equal([0, 0], file.MissingValueCounts);
            Assert.Equal($"{file.Path}: 2 line(s) (the first is line 5) end a channel or the class with ',' and nothing after it; that ',' is read as " +
                "a stray separator, not as one more (missing) value: write '?' for a missing last value.", Assert.Single(file.Notes));
        }
        Assert.Equal(2, unlabeled.Channels);
        Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8], unlabeled.Series[0]);
        // A missing last value written so is one, and an empty cell inside a channel still is a missing value.
        TsFile marked = TsFile.Read(Write("marked.ts", [.. header, "1,,3,?:a", "2,3,4,5:b"]));
        Assert.Equal([1f, 1, 3, 3], marked.Series[0]);
        Assert.Equal([2, 0], marked.MissingValueCounts);
    }

    [SkippableFact]
    public void QuotedClassesAndOneNumberWrittenTwoWaysAreOneClass()
    {
        // 'a' and "a" (ARFF quotes nominal values so) were two classes besides a; so were 1 and 1.0.
        TsFile quoted = TsFile.Read(Write("quoted.ts", "@problemName t", "@classLabel true \"a\" 'b-c'", "@data",
            "1,2,3,4:\"a\"", "2,3,4,5:'a'", "3,4,5,6:a", "4,5,6,7:b-c"));
        Assert.Equal(["a", "a", "a", "b-c"], quoted.Labels);
        Assert.Empty(quoted.Notes);

        // The spelling the @classLabel list declares wins; without one, the most frequent.
        TsFile declared = TsFile.Read(Write("declared.ts", "@classLabel true 1 2", "@data", "1,2,3,4:1.0", "2,3,4,5:2", "3,4,5,6:1.0", "4,5,6,7:1", "5,6,7,8:2.00"));
        Assert.Equal(["1", "2", "1", "1", "2"], declared.Labels);
        Assert.Equal($"{declared.Path}: classes that are one number written differently are one class: '1.0' as '1'; '2.00' as '2'.", Assert.Single(declared.Notes));
        TsFile undeclared = TsFile.Read(Write("undeclared.ts", "@classLabel true", "@data", "1,2,3,4:1.0", "2,3,4,5:2", "3,4,5,6:1.0", "4,5,6,7:1"));
        Assert.Equal(["1.0", "2", "1.0", "1.0"], undeclared.Labels);
        // Two spellings the list declares both are two classes, as declared.
        TsFile both = TsFile.Read(Write("both.ts", "@classLabel true 1 1.0", "@data", "1,2,3,4:1.0", "2,3,4,5:1"));
        Assert.Equal(["1.0", "1"], both.Labels);
        Assert.Empty(both.Notes);
    }

    [SkippableFact]
    public void AClassWrittenComposedAndDecomposedIsOneClassInItsComposedForm()
    {
        // 'ü' composed (U+00FC) in the @classLabel list and decomposed ('u' and U+0308, as macOS tools may write it) on
        // some lines: the note said 'Zürich' was not in the list, and Labels held two classes that look the same.
        const string zurichComposed = "Z\u00FCrich", zurichDecomposed = "Zu\u0308rich";
        const string geneveComposed = "Gen\u00E8ve", geneveDecomposed = "Gene\u0300ve";
        TsFile file = TsFile.Read(Write("forms.ts", $"@classLabel true {zurichComposed} {geneveDecomposed}", "@data",
            $"1,2,3,4:{zurichComposed}", $"2,3,4,5:{zurichDecomposed}", $"3,4,5,6:'{zurichDecomposed}'", $"4,5,6,7:{geneveComposed}",
            $"5,6,7,8:{geneveDecomposed}"));

        Assert.Equal([zurichComposed, zurichComposed, zurichComposed, geneveComposed, geneveComposed], file.Labels);
        Assert.Empty(file.Notes);
        // The CLI reads the same two classes, composed as before.
        TrainingData data = SeriesLoader.Load(new MLContext(0), file.Path, new CsvSettings(null, null, null, []), channels: 1);
        Assert.Equal(file.Labels, data.Labels);
        Assert.Null(data.LabelNote);
        // A class the list does not declare is still named, in its composed form.
        TsFile other = TsFile.Read(Write("forms-other.ts", $"@classLabel true {zurichComposed}", "@data", $"1,2,3,4:{zurichDecomposed}", "2,3,4,5:Bern"));
        Assert.Equal([zurichComposed, "Bern"], other.Labels);
        Assert.Contains("class(es) 'Bern' (line 4) are not in its @classLabel list", Assert.Single(other.Notes), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void QuotedClassesWithBlanksInTheClassLabelListAreDeclared()
    {
        // A new user's GunPoint with its classes named in words, quoted in the @classLabel list as ARFF quotes nominal
        // values with blanks: the list was split at every blank ('"gun', 'draw"', ...), and the note said both classes,
        // on every line of the file, were missing from the list.
        var names = new Dictionary<string, string> { ["1"] = "gun draw", ["2"] = "no gun" };
        int row = 0;
        string path = Write("words.ts", [.. File.ReadLines(Uea("GunPoint_TRAIN.ts")).Select(l =>
            l.StartsWith("@classLabel", StringComparison.OrdinalIgnoreCase) ? "@classLabel true \"gun draw\"\t'no gun'"
            : l.Length == 0 || l[0] is '#' or '@' ? l
            // The lines write the class plain or quoted, as writers do.
            : l[..(l.LastIndexOf(':') + 1)] + (row++ % 2 == 0 ? names[l[(l.LastIndexOf(':') + 1)..].Trim()] : $"'{names[l[(l.LastIndexOf(':') + 1)..].Trim()]}'"))]);
        TsFile file = TsFile.Read(path);
        Assert.Equal(50, file.Labels.Count);
        Assert.Equal(["gun draw", "no gun"], file.Labels.Distinct().Order(StringComparer.Ordinal));
        Assert.Empty(file.Notes);
        // A quote left open takes the rest of the line as one word, and a class outside the list is still named.
        TsFile open = TsFile.Read(Write("open.ts", "@classLabel true \"gun draw\" \"no gun", "@data", "1,2,3:gun draw", "2,3,4:no gun", "3,4,5:other"));
        Assert.Equal(2, open.Notes.Count);
        Assert.Contains("'other' (line 5)", open.Notes[0], StringComparison.Ordinal);
        // The open quote's word is a declared class no line has, which points at the quote.
        Assert.Contains("class(es) '\"no gun' of its @classLabel list (gun draw \"no gun) label no series", open.Notes[1], StringComparison.Ordinal);
    }

    [SkippableFact]
    public void HeaderSpellingsLineEndsAndCommentsANewUserWritesReadAsTheFormatSays()
    {
        // A UTF-8 byte order mark, CRLF line ends, directives in other case, a tab-separated @classLabel list, comments and
        // blank lines anywhere, a class with a hyphen.
        string path = Path.Combine(_work, "windows.ts");
        File.WriteAllText(path, "# made on Windows\r\n\r\n@PROBLEMNAME w\r\n@ClassLabel\ttrue\twalk-fast\twalk-slow\r\n# between\r\n@DATA\r\n\r\n" +
            "1,2,3,4:walk-fast\r\n  # among the series\r\n\r\n2,3,4,5:walk-slow\r\n3,4,5,6:run\r\n", new System.Text.UTF8Encoding(true));
        Assert.Equal([0xEF, 0xBB, 0xBF], File.ReadAllBytes(path)[..3]);

        TsFile file = TsFile.Read(path);

        Assert.Equal(["walk-fast", "walk-slow", "run"], file.Labels);
        Assert.Equal([8, 11, 12], file.LineNumbers);
        Assert.Equal([1f, 2, 3, 4], file.Series[0]);
        // The tab-separated list is read as a list: the class it lacks is named.
        Assert.Contains("class(es) 'run' (line 12) are not in its @classLabel list (walk-fast walk-slow)", Assert.Single(file.Notes), StringComparison.Ordinal);
    }

    public static TheoryData<string, string[], int?, string> BadFiles() => new()
    {
        { "channels.ts", ["@data", "1,2,3:4,5,6:a", "1,2,3:a"], 3, "1 channel(s) where earlier lines have 2; every series needs the same channels." },
        { "lengths.ts", ["@data", "1,2,3:4,5:a"], 2, "its channels differ in length (3, 2)" },
        { "text.ts", ["@data", "1,2,3:a", "1,two,3:a"], 3, "'two' is not a number; series values must be numbers ('?' marks a missing one)." },
        { "infinite.ts", ["@data", "1,2,3:a", "1,1e40,3:b"], 3, "'1e40' is infinite as a 32-bit float (beyond about 3.4e38); write a finite number, or '?' to mark the value missing." },
        { "all-missing.ts", ["@data", "1,2,3:4,5,6:a", "1,2,3:?,NaN,:b"], 3, "every value of a channel is missing; give each channel at least one value, or remove the line." },
        { "before.ts", ["@problemName p", "1,2,3:a", "@data"], 2, "data before the '@data' line; a .ts file lists its header lines (@...) first." },
        { "no-class.ts", ["@classLabel true a b", "@data", "1,2,3"], 3, "expected channels separated by ':' and the class last" },
        { "regression.ts", ["@problemName y", "@targetlabel true", "@data", "1,2,3,4,5:1.464"], 2, "'@targetLabel true' marks a regression file (a number to predict)" },
        { "stamped.ts", ["@timeStamps true", "@data", "(0,1.0),(1,2.0):1"], 1, "'@timeStamps true' (values written as (time,value) pairs) is not read" },
        { "no-data.ts", ["@problemName p", "@classLabel true a b"], null, "no '@data' line; is this a UEA/UCR .ts file?" },
        // Two channels and no class, read as one channel and the class "4,5,6,7": one class per line.
        { "unlabeled-channels.ts", ["@problemName p", "@data", "1,2,3,4:4,5,6,7", "2,3,4,5:5,6,?,8"], 3,
            "the class after the last ':' is '4,5,6,7', a list of numbers: a channel, not a class. A file whose lines hold channels only says '@classLabel false'" },
        { "labels-under-false.ts", ["@classLabel false", "@data", "1,2,3,4:a"], 3,
            "'a' is not a number; series values must be numbers ('?' marks a missing one); the header says '@classLabel false', so no class ends the line" },
        { "empty.ts", ["@problemName p", "@data", "", "# nothing"], null, "no series in the file" },
    };

    [SkippableFact]
    public void ACommentAtTheEndOfADataLineIsRefusedNamingTheFileAndTheLine()
    {
        // The format has comments on lines of their own that start with '#'; sktime and aeon read everything after a
        // line's last ':' as its class. A new user's "...:walking  # subject 3" was read the same, silently: a class
        // 'walking  # subject 3' of its own beside 'walking'. Nothing a comment says may become a class or a value.
        string path = Write("trailing.ts", "# a comment on its own line is fine", "@problemName p", "@classLabel true walking running", "@data",
            "1,2,3:walking", "2,3,4:walking  # subject 3", "3,4,5:running");

        var error = Assert.Throws<InvalidDataException>(() => TsFile.Read(path));

        Assert.StartsWith($"{path} line 6: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("'# subject 3'", error.Message, StringComparison.Ordinal);
        Assert.Contains("on a line of its own", error.Message, StringComparison.Ordinal);
        // The CLI says the same, as its own one-line error.
        var cli = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), path, new CsvSettings(null, null, null, []), channels: 1));
        Assert.Equal(error.Message, cli.Message);

        // Several channels, a comment holding ':' (which split it into one more "channel"), and a file without classes.
        Assert.StartsWith($"{path} line 4: ", Assert.Throws<InvalidDataException>(() => TsFile.Read(Write("trailing.ts", "@problemName p", "@classLabel true a b", "@data",
            "1,2,3:4,5,6:a # note: left hand", "1,2,3:4,5,6:b"))).Message, StringComparison.Ordinal);
        Assert.StartsWith($"{path} line 3: ", Assert.Throws<InvalidDataException>(() => TsFile.Read(Write("trailing.ts", "@classLabel false", "@data",
            "1,2,3 # first", "2,3,4"))).Message, StringComparison.Ordinal);

        // A '#' inside a class (no blank before it) or a quoted class is the class's own.
        Assert.Equal(["C#", "a #1"], TsFile.Read(Write("sharp.ts", "@classLabel true C# 'a #1'", "@data", "1,2,3:C#", "2,3,4:'a #1'")).Labels);
    }

    [SkippableFact]
    public void AFileNotInUtf8IsRefusedOnTheLineWhoseLettersItWouldLose()
    {
        // Windows-1252 'ü' and 'ö' (one byte each, not UTF-8): read as UTF-8 both classes became "gr\uFFFDn", one class.
        string path = Path.Combine(_work, "latin.ts");
        File.WriteAllBytes(path, [.. "@problemName t\n# gr"u8, 0xFC, .. "n in a comment\n@classLabel true a b\n@data\n1,2,3,4:gr"u8, 0xFC, .. "n\n1,2,3,5:gr"u8, 0xF6, .. "n\n"u8]);

        var error = Assert.Throws<InvalidDataException>(() => TsFile.Read(path));

        Assert.StartsWith($"{path} line 5: bytes that are not UTF-8", error.Message, StringComparison.Ordinal);
        // The same file in UTF-8 keeps both classes.
        File.WriteAllText(path, "@problemName t\n@classLabel true gr\u00fcn gr\u00f6n\n@data\n1,2,3,4:gr\u00fcn\n1,2,3,5:gr\u00f6n\n");
        Assert.Equal(["gr\u00fcn", "gr\u00f6n"], TsFile.Read(path).Labels);
    }

    [SkippableTheory]
    [MemberData(nameof(BadFiles))]
    public void AFileThatCannotBeReadFailsNamingTheFileAndTheLine(string name, string[] lines, int? line, string message)
    {
        string path = Write(name, lines);

        var error = Assert.Throws<InvalidDataException>(() => TsFile.Read(path));

        Assert.StartsWith(line is int l ? $"{path} line {l}: " : $"{path}: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        // The catalog method fails the same way, before any view exists.
        Assert.Equal(error.Message, Assert.Throws<InvalidDataException>(() => new MLContext(0).Data.LoadFromTsFile(path)).Message);
    }

    [SkippableFact]
    public void LoadFromTsFileRefusesOneNameForBothColumns()
    {
        string path = Write("ok.ts", "@data", "1,2,3:a", "2,3,4:b");
        var ml = new MLContext(0);
        Assert.Throws<ArgumentException>(() => ml.Data.LoadFromTsFile(path, labelColumnName: "X", featuresColumnName: "X"));
        Assert.Throws<FileNotFoundException>(() => ml.Data.LoadFromTsFile(Path.Combine(_work, "absent.ts")));
    }

    [SkippableFact]
    public void TheCliReadsTsFilesThroughTheLibraryWithItsOwnNotesAndErrors()
    {
        string path = Write("cli.ts", "@problemName z", "@classLabel true 1 2", "@data",
            "1,2,?,4,5:1", "2,3,4,5,6:2", "3,4,5,6,7:3", "4,5,6,7,8:1");

        TrainingData data = SeriesLoader.Load(new MLContext(0), path, new CsvSettings(null, null, null, []), channels: 1);

        Assert.Equal([1f, 2, 2, 4, 5], data.RowValues(0)["Series"].Split(',').Select(Number));
        Assert.Equal(["1", "2", "3", "1"], data.Labels);
        Assert.Equal("line 4", data.RowNames[0]);
        // The undeclared class is a label note; the filled value is the run's own note, not repeated among the label notes.
        Assert.Contains("class(es) '3' (line 6) are not in its @classLabel list (1 2)", data.LabelNote, StringComparison.Ordinal);
        Assert.DoesNotContain("missing value", data.LabelNote, StringComparison.Ordinal);
        Assert.Equal("1 missing value(s) (empty, '?', NA or NaN) in 1 series (the first on line 4) take the value before them in their channel " +
            "(the channel's first known value at its start), as the model does for a series it scores.", data.FilledNote);

        // The library's error reaches the user as the CLI's own, with the same message.
        string bad = Write("cli-bad.ts", "@data", "1,2,3:a", "1,x,3:a");
        var error = Assert.Throws<CliException>(() => SeriesLoader.Load(new MLContext(0), bad, new CsvSettings(null, null, null, []), channels: 1));
        Assert.Equal(Assert.Throws<InvalidDataException>(() => TsFile.Read(bad)).Message, error.Message);
        Assert.StartsWith($"{bad} line 3: 'x' is not a number", error.Message, StringComparison.Ordinal);
    }
}
