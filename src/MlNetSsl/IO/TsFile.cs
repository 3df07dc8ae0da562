using System.Globalization;

namespace MlNetSsl;

/// <summary>
/// A time-series classification file in the UEA/UCR archives' <c>.ts</c> text format (sktime's), read whole into memory.
/// </summary>
/// <remarks>
/// <para>The format: comment lines start with <c>#</c> (or <c>%</c>, as in ARFF), and a comment is a line of its own
/// (a <c>#</c> after a blank at the end of a data line is refused, not read into the class); header lines start with <c>@</c> (<c>@problemName</c>,
/// <c>@univariate</c>, <c>@dimensions</c>, <c>@equalLength</c>, <c>@seriesLength</c>, <c>@classLabel</c>, ...) and end
/// with <c>@data</c>; below it each line is one series: its channels separated by <c>:</c>, the values of a channel by
/// <c>,</c>, and the class last. <c>@classLabel false</c> means the lines hold channels only.</para>
/// <para>The lines decide, not the header: a header that contradicts them (a channel count, a length) or a directive
/// that is not one, and classes that the <c>@classLabel</c> list does not declare, are read all the same and described
/// in <see cref="Notes"/>, as are classes the list declares that no series has (in a file where some series have a class:
/// a model trained on it cannot predict them). Series may differ in length from each other (<c>@equalLength false</c>); the channels of one
/// series may not.</para>
/// <para>A <c>,</c> that ends a channel or the class with nothing after it is a stray separator, not one more value; a
/// quoted class (<c>'a'</c> or <c>"a"</c>, in the lines or the <c>@classLabel</c> list) is the class <c>a</c>; a class is read
/// in Unicode's composed form (NFC), in the lines and the <c>@classLabel</c> list, so <c>Zürich</c> written with a
/// combining diaeresis (as macOS tools may) and with a composed <c>ü</c> is one class; classes that are
/// one number written differently (<c>1</c> and <c>1.0</c>) are one class, spelled as the <c>@classLabel</c> list declares
/// it (else as most lines write it). <see cref="Notes"/> say so, for all but the quotes and the Unicode forms.</para>
/// <para>A missing value (<c>?</c>, an empty cell, <c>NA</c>, <c>N/A</c>, <c>NaN</c> or <c>null</c>) takes the value
/// before it in its channel, the channel's first known value at its start, as
/// <see cref="ResampleSeriesCatalog.ResampleSeries(Microsoft.ML.TransformsCatalog, string, string, int, int)"/> fills a
/// NaN; <see cref="MissingValueCounts"/> and a note count them.</para>
/// <para>This type does not depend on ML.NET; <c>mlContext.Data.LoadFromTsFile</c> (<see cref="TsFileCatalog"/>) turns
/// a file into an <c>IDataView</c>.</para>
/// </remarks>
/// <example><code>
/// TsFile train = TsFile.Read("BasicMotions_TRAIN.ts");
/// foreach (string note in train.Notes) Console.WriteLine(note);
/// IDataView data = mlContext.Data.LoadFromTsFile(train);
/// var pipeline = mlContext.Transforms.SelfSupervised("Embedding", "Features", SslMethod.SimClr,
///     o => o.SeriesChannels = train.Channels);
/// </code></example>
public sealed class TsFile
{
    // The markers a value or a label may be missing with (any case); the same as the CLI's CSV reading takes.
    private static readonly HashSet<string> MissingMarkers = new(StringComparer.OrdinalIgnoreCase) { "", "?", "NA", "N/A", "NaN", "null" };

    private TsFile(string path, int channels, List<float[]> series, List<string> labels, List<int> lengths, List<int> lines, List<int> missing,
        List<string> notes)
    {
        Path = path;
        Channels = channels;
        Series = series.AsReadOnly();
        Labels = labels.AsReadOnly();
        Lengths = lengths.AsReadOnly();
        LineNumbers = lines.AsReadOnly();
        MissingValueCounts = missing.AsReadOnly();
        Notes = notes.AsReadOnly();
    }

    /// <summary>The file read, as given to <see cref="Read"/>.</summary>
    public string Path { get; }

    /// <summary>Channels per series, the same for every series (at least 1). Give it to
    /// <see cref="SelfSupervisedOptions.SeriesChannels"/> and to <c>ResampleSeries</c>.</summary>
    public int Channels { get; }

    /// <summary>The series in file order, each one array of <see cref="Channels"/> x its length values, channel after
    /// channel (the layout <see cref="SelfSupervisedOptions.SeriesChannels"/> expects). Missing values are filled.</summary>
    public IReadOnlyList<float[]> Series { get; }

    /// <summary>The class of each series, trimmed, unquoted and in Unicode's composed form (NFC) (one number written differently is one class, see the remarks
    /// of <see cref="TsFile"/>); empty when the line has no class (<c>@classLabel false</c>) or a
    /// missing one (<c>?</c>, <c>NA</c>, ...), which is how ML.NET's <c>MapValueToKey</c> and the self-supervised stage
    /// mark an unlabeled row.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>The steps per channel of each series (its value count divided by <see cref="Channels"/>).</summary>
    public IReadOnlyList<int> Lengths { get; }

    /// <summary>The 1-based line of the file that holds each series, to name it in messages.</summary>
    public IReadOnlyList<int> LineNumbers { get; }

    /// <summary>How many missing values each series held (all of them filled, see the remarks of <see cref="TsFile"/>);
    /// 0 for a complete series.</summary>
    public IReadOnlyList<int> MissingValueCounts { get; }

    /// <summary>
    /// What the reading found worth saying, one sentence each, each starting with <see cref="Path"/>: header lines that
    /// are not <c>.ts</c> directives, a header that contradicts the lines (channel count, length), lines that end a channel
    /// or the class with a stray <c>,</c>, classes that are one number written differently, classes that are not in
    /// the <c>@classLabel</c> list, classes of that list that no series has (when some series have a class), and, last when there were any, how many missing values were filled. Empty when there
    /// is nothing to say.
    /// </summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>Reads a <c>.ts</c> file whole; see the remarks of <see cref="TsFile"/> for the format.</summary>
    /// <param name="path">The file (UTF-8 or ASCII).</param>
    /// <returns>Every series of the file; nothing is returned for a file with an error.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist (other <see cref="IOException"/>s and
    /// <see cref="UnauthorizedAccessException"/> as <see cref="File.ReadLines(string)"/> raises them).</exception>
    /// <exception cref="InvalidDataException">The file is not a readable <c>.ts</c> classification file; the message names
    /// the file, the line and what to change for bytes that are not UTF-8, data before <c>@data</c>, <c>@targetLabel true</c> (regression) or
    /// <c>@timeStamps true</c>, a class that is a list of numbers (a channel of a file without classes that does not say
    /// <c>@classLabel false</c>), a line with another channel count than the first or with channels of different lengths,
    /// a value that is not a number or is infinite as a 32-bit float, a channel whose values are all missing, a comment at
    /// the end of a data line (<c>1,2,3:a # note</c>: comments are lines of their own); it names
    /// the file for a file with no <c>@data</c> line or no series.</exception>
    public static TsFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var header = new TsHeader();
        var series = new List<float[]>();
        var labels = new List<string>();
        var lines = new List<int>();
        var missing = new List<int>();
        bool inData = false, labeled = true;
        HashSet<string>? declared = null;
        var strayCommas = new List<int>();
        int channels = 0, lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.Trim();
            // '#' comments, and '%' ones as in ARFF, the format .ts grew from (sktime's own UnitTest files open with them).
            if (line.Length == 0 || line.StartsWith('#') || line.StartsWith('%')) continue;
            // Bytes that are not UTF-8 (a file saved as Windows-1252 or Latin-1) read as U+FFFD: classes "grün" and "grön"
            // were both "gr\uFFFDn", one class, without a word.
            if (line.Contains('\uFFFD'))
                throw Error(path, lineNumber, "bytes that are not UTF-8 (read as U+FFFD); is the file saved as Windows-1252 or Latin-1? " +
                    "Class names that differ in such letters would become one class: save the file as UTF-8.");
            if (line.StartsWith('@'))
            {
                if (line.StartsWith("@data", StringComparison.OrdinalIgnoreCase)) inData = true;
                // "@classLabel false": the lines hold channels only, no class after the last ':'.
                else if (line.StartsWith("@classLabel", StringComparison.OrdinalIgnoreCase))
                {
                    // Blanks or tabs between the words; a quoted class ('a' or "a", as ARFF lists nominal values) is the
                    // class a, blanks inside the quotes included ("gun draw" was two words, neither a class of the lines).
                    string[] words = ClassLabelWords(line["@classLabel".Length..]);
                    labeled = words.Length == 0 || !words[0].Equals("false", StringComparison.OrdinalIgnoreCase);
                    if (labeled && words.Length > 1) declared = new HashSet<string>(words[1..].Select(w => Compose(Unquote(w))), StringComparer.Ordinal);
                }
                // sktime's regression files: a number to predict after the last ':', which would be taken for classes.
                else if (DirectiveIsTrue(line, "@targetLabel"))
                    throw Error(path, lineNumber, "'@targetLabel true' marks a regression file (a number to predict); " +
                        "series are read with classes: put the target into a few ranges as class labels under '@classLabel true ...' first.");
                // "(time,value)" pairs instead of values: the UEA/UCR classification archives do not use them.
                else if (DirectiveIsTrue(line, "@timeStamps"))
                    throw Error(path, lineNumber, "'@timeStamps true' (values written as (time,value) pairs) is not read; " +
                        "write the values alone in time order (@timeStamps false), resampled to regular steps if they are not.");
                else header.Read(line, lineNumber);
                continue;
            }
            if (!inData) throw Error(path, lineNumber, "data before the '@data' line; a .ts file lists its header lines (@...) first.");
            // "1,2,3:walking  # subject 3": the format's comments are lines of their own, and sktime and aeon read the rest
            // of a line after its last ':' as the class; read so, the comment made a class of its own, silently.
            if (TrailingComment(line) is int comment)
                throw Error(path, lineNumber, $"'{Shorten(line[comment..])}' at the end of the line reads as a comment, but a .ts file has comments only on a line " +
                    $"of its own that starts with '#' (here it would be read into the {(labeled ? "class" : "last value")}): move it to a line of its own, or remove it" +
                    (labeled ? "; if '#' is part of the class name, quote the class ('a #1')." : "."));
            string[] parts = line.Split(':');
            // Without classes, sktime's write_ndarray_to_tsfile ends a multivariate line with ':' after its last channel too;
            // that empty part is no channel (read as one, it was "every value of a channel is missing").
            if (!labeled && parts.Length > 1 && parts[^1].Trim().Length == 0) parts = parts[..^1];
            if (labeled && parts.Length < 2)
                throw Error(path, lineNumber, "expected channels separated by ':' and the class last (a file without classes says '@classLabel false' in its header).");
            int lineChannels = labeled ? parts.Length - 1 : parts.Length;
            if (channels == 0) channels = lineChannels;
            else if (lineChannels != channels)
                throw Error(path, lineNumber, $"{lineChannels} channel(s) where earlier lines have {channels}; every series needs the same channels.");
            float[][] values = new float[lineChannels][];
            int filled = 0;
            bool stray = false;
            for (int c = 0; c < lineChannels; c++) values[c] = ParseChannel(parts[c], path, lineNumber, ref filled, ref stray, !labeled, c == lineChannels - 1);
            if (values.Any(v => v.Length != values[0].Length))
                throw Error(path, lineNumber, $"its channels differ in length ({string.Join(", ", values.Select(v => v.Length))}); " +
                    "the channels of one series must have the same length.");
            string label = labeled ? parts[^1].Trim() : "";
            // "1,2,3:a," (a writer that ends every value with ','): the class is a, not "a,".
            if (label.EndsWith(','))
            {
                label = label.TrimEnd(',', ' ', '\t');
                stray = true;
            }
            // One class whatever Unicode form a line writes it in ('ü' composed, or 'u' and a combining diaeresis as macOS
            // tools may write it): two forms were two classes that look the same, and one of them "not in the @classLabel list".
            label = Compose(Unquote(label));
            // "1,2,3:4,5,6" under '@classLabel true' (or no @classLabel line): the second channel was taken for the class
            // "4,5,6", one class per line.
            if (label.Contains(',') && label.Split(',').All(c => MissingMarkers.Contains(c.Trim()) || float.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
                throw Error(path, lineNumber, $"the class after the last ':' is '{Shorten(label)}', a list of numbers: a channel, not a class. " +
                    "A file whose lines hold channels only says '@classLabel false' in its header; otherwise end the line with ':' and its class.");
            if (MissingMarkers.Contains(label)) label = "";
            if (stray) strayCommas.Add(lineNumber);
            series.Add(values.Length == 1 ? values[0] : [.. values.SelectMany(v => v)]);
            labels.Add(label);
            lines.Add(lineNumber);
            missing.Add(filled);
        }
        if (!inData) throw new InvalidDataException($"{path}: no '@data' line; is this a UEA/UCR .ts file?");
        if (series.Count == 0)
            throw new InvalidDataException($"{path}: no series in the file; a .ts file lists one series per line below its '@data' line.");

        var lengths = series.Select(s => s.Length / channels).ToList();
        // The data decide; a header that says otherwise (an export that went wrong, a typo) is pointed out.
        var notes = header.Contradictions(path, channels, lengths).ToList();
        if (strayCommas.Count > 0)
            notes.Add(FormattableString.Invariant($"{path}: {strayCommas.Count:N0} line(s) (the first is line {strayCommas[0]}) end a channel or the class with ',' ") +
                "and nothing after it; that ',' is read as a stray separator, not as one more (missing) value: write '?' for a missing last value.");
        if (UnifyNumericLabels(labels, declared) is { } unified) notes.Add($"{path}: {unified}");
        // sktime refuses such files; the classes are kept all the same here, but a typo in a label shows this way.
        var undeclared = new Dictionary<string, int>(StringComparer.Ordinal);
        if (declared is not null)
            for (int i = 0; i < labels.Count; i++)
                if (labels[i].Length > 0 && !declared.Contains(labels[i])) undeclared.TryAdd(labels[i], lines[i]);
        if (undeclared.Count > 0)
            notes.Add($"{path}: class(es) {string.Join(", ", undeclared.Take(5).Select(u => $"'{u.Key}' (line {u.Value})"))}" +
                $"{(undeclared.Count > 5 ? $" and {undeclared.Count - 5} more" : "")} are not in its @classLabel list ({string.Join(" ", declared!)}); " +
                "they are learned as classes all the same.");
        if (UnlabeledClassesNote(labels, declared) is { } unlabeled) notes.Add($"{path}: {unlabeled}");
        if (MissingNote(path, lines, missing) is { } filledNote) notes.Add(filledNote);
        return new TsFile(path, channels, series, labels, lengths, lines, missing, notes);
    }

    /// <summary>Classes the <c>@classLabel</c> list declares that no line has, in a file where some lines have a class: with
    /// a tenth of a small file's labels kept, a class can lose every one, and a model trained on the file then never
    /// predicts it without a word. Null when every declared class labels a series, or none does (series to predict).</summary>
    private static string? UnlabeledClassesNote(List<string> labels, HashSet<string>? declared)
    {
        int labeled = labels.Count(l => l.Length > 0);
        if (declared is null || labeled == 0) return null;
        var present = new HashSet<string>(labels, StringComparer.Ordinal);
        var absent = declared.Where(d => !present.Contains(d)).ToList();
        if (absent.Count == 0) return null;
        string names = string.Join(", ", absent.Take(10).Select(a => $"'{a}'")) + (absent.Count > 10 ? FormattableString.Invariant($" and {absent.Count - 10} more") : "");
        return $"class(es) {names} of its @classLabel list ({string.Join(" ", declared)}) label no series of the file " +
            FormattableString.Invariant($"({labeled:N0} of its {labels.Count:N0} series are labeled), ") +
            "so a model trained on it cannot predict them: label a few series of each.";
    }

    /// <summary>The words of an <c>@classLabel</c> line after the directive, split at blanks and tabs outside quotes: a
    /// word that starts with <c>'</c> or <c>"</c> runs to the same quote followed by a blank or the line's end (the rest
    /// of the line when none), quotes kept for <see cref="Unquote"/>.</summary>
    private static string[] ClassLabelWords(string text)
    {
        var words = new List<string>();
        int i = 0;
        while (i < text.Length)
        {
            if (text[i] is ' ' or '\t') { i++; continue; }
            int end;
            if (text[i] is '"' or '\'')
            {
                char quote = text[i];
                end = i + 1;
                while (end < text.Length && !(text[end] == quote && (end + 1 == text.Length || text[end + 1] is ' ' or '\t'))) end++;
                end = Math.Min(end + 1, text.Length);
            }
            else
            {
                end = i;
                while (end < text.Length && text[end] is not (' ' or '\t')) end++;
            }
            words.Add(text[i..end].Trim());
            i = end;
        }
        return [.. words];
    }

    /// <summary>Where a comment starts on a data line: a '#' after a blank or tab, outside a quoted class ("C#" and
    /// <c>'a #1'</c> are classes); null when there is none.</summary>
    private static int? TrailingComment(string line)
    {
        for (int i = line.IndexOf('#'); i > 0; i = line.IndexOf('#', i + 1))
        {
            if (line[i - 1] is not (' ' or '\t')) continue;
            string segment = line[(line.LastIndexOf(':', i) + 1)..].Trim();
            if (Unquote(segment) != segment) continue;
            return i;
        }
        return null;
    }

    // 'a' or "a" is the class a (ARFF, which .ts grew from, quotes nominal values so); a lone or unmatched quote is kept.
    private static string Unquote(string label) =>
        label.Length >= 2 && (label[0] == '"' && label[^1] == '"' || label[0] == '\'' && label[^1] == '\'') ? label[1..^1].Trim() : label;

    /// <summary>Classes that are one number written differently ("1" and "1.0") become one: the spelling the
    /// <c>@classLabel</c> list declares, else the most frequent; as two classes they would split one class in two. Two
    /// spellings the list declares both stay apart. Returns the sentence for <see cref="Notes"/>, or null when none.</summary>
    private static string? UnifyNumericLabels(List<string> labels, HashSet<string>? declared)
    {
        var counts = labels.Where(l => l.Length > 0).GroupBy(l => l, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        // decimal, not double: long integer codes that round to one double stay apart.
        static decimal? Value(string label) =>
            decimal.TryParse(label, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal value) ? value : null;
        var canonical = new Dictionary<string, string>(StringComparer.Ordinal);
        var merged = new List<string>();
        foreach (var group in counts.Keys.Concat(declared ?? []).Distinct(StringComparer.Ordinal)
                     .Where(l => Value(l) is not null).GroupBy(l => Value(l)!.Value))
        {
            var spellings = group.Where(counts.ContainsKey).ToList();
            var declaredSpellings = group.Where(l => declared?.Contains(l) == true).ToList();
            if (declaredSpellings.Count > 1 || spellings.Count == 0 || spellings.Count == 1 && declaredSpellings.Count == 0) continue;
            string kept = declaredSpellings.Count == 1 ? declaredSpellings[0] : spellings.OrderByDescending(l => counts[l]).First();
            var others = spellings.Where(l => l != kept).ToList();
            if (others.Count == 0) continue;
            foreach (string other in others) canonical[other] = kept;
            merged.Add($"{string.Join(", ", others.Select(o => $"'{o}'"))} as '{kept}'");
        }
        if (canonical.Count == 0) return null;
        for (int i = 0; i < labels.Count; i++)
            if (canonical.TryGetValue(labels[i], out string? kept)) labels[i] = kept;
        return $"classes that are one number written differently are one class: {string.Join("; ", merged.Take(5))}" +
            (merged.Count > 5 ? $" and {merged.Count - 5} more" : "") + ".";
    }

    /// <summary>The text in Unicode's composed form (NFC); text that is not valid Unicode (a lone surrogate) cannot be
    /// normalized and is returned as it is.</summary>
    private static string Compose(string text)
    {
        try
        {
            return text.IsNormalized(System.Text.NormalizationForm.FormC) ? text : text.Normalize(System.Text.NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            return text;
        }
    }

    private static InvalidDataException Error(string path, int line, string message) => new($"{path} line {line}: {message}");

    // A .ts header line "<directive> true" (any case, any spacing).
    private static bool DirectiveIsTrue(string line, string directive) =>
        line.StartsWith(directive, StringComparison.OrdinalIgnoreCase) && line[directive.Length..].Trim().StartsWith("true", StringComparison.OrdinalIgnoreCase);

    /// <summary>One channel's values; missing ones take the value before them (the first known one at the start), and
    /// <paramref name="filled"/> counts them; <paramref name="stray"/> is set when a ',' ends the channel.</summary>
    private static float[] ParseChannel(string text, string path, int line, ref int filled, ref bool stray, bool classLabelFalse = false, bool last = false)
    {
        string[] cells = text.Split(',');
        // "1,2,3,": a writer that ends every value with ','. The empty cell after it is no step (read as a missing value,
        // it made every series one step longer, a copy of its last value).
        if (cells.Length > 1 && cells[^1].Trim().Length == 0)
        {
            cells = cells[..^1];
            stray = true;
        }
        var values = new float[cells.Length];
        int firstKnown = -1;
        for (int i = 0; i < cells.Length; i++)
        {
            string cell = cells[i].Trim();
            bool number = float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out float value);
            // A NaN spelled another way ("-nan", as C's printf writes a negative one) is missing too, not "infinite".
            if (MissingMarkers.Contains(cell) || number && float.IsNaN(value))
                values[i] = float.NaN;
            else if (number)
            {
                // An infinity is no missing value to fill (as ResampleSeries and the stage refuse one).
                if (!float.IsFinite(value))
                    throw Error(path, line, $"'{Shorten(cell)}' is infinite as a 32-bit float (beyond about 3.4e38); " +
                        "write a finite number, or '?' to mark the value missing.");
                values[i] = value;
                if (firstKnown < 0) firstKnown = i;
            }
            else throw Error(path, line, $"'{Shorten(cell)}' is not a number; series values must be numbers ('?' marks a missing one)" +
                (classLabelFalse && last ? "; the header says '@classLabel false', so no class ends the line: if the lines end with a class, say '@classLabel true'." : "."));
        }
        if (firstKnown < 0) throw Error(path, line, "every value of a channel is missing; give each channel at least one value, or remove the line.");
        for (int i = 0; i < values.Length; i++)
            if (float.IsNaN(values[i]))
            {
                values[i] = i == 0 ? values[firstKnown] : values[i - 1];
                filled++;
            }
        return values;
    }

    private static string Shorten(string cell) => cell.Length <= 40 ? cell : cell[..40] + "...";

    private static string? MissingNote(string path, List<int> lines, List<int> missing)
    {
        int values = missing.Sum(), series = missing.Count(m => m > 0);
        if (values == 0) return null;
        int first = lines[missing.FindIndex(m => m > 0)];
        return FormattableString.Invariant(
            $"{path}: {values:N0} missing value(s) (empty, '?', NA or NaN) in {series:N0} series (the first on line {first}) take the value before them ") +
            "in their channel (the channel's first known value at its start).";
    }
}
