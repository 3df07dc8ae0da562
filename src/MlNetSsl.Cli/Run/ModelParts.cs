using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MlNetSsl.AutoML;
using MlNetSsl.Cli.Data;

namespace MlNetSsl.Cli.Run;

/// <summary>Building and taking apart the saved model: the input preparation in front of the experiment's pipeline, the
/// pipeline without its label-to-key step (so predicting needs no label column), and the class names in Score order.</summary>
internal static class ModelParts
{
    public const string ImageColumn = "Ssl_Image";
    public const string TableColumn = "Ssl_Input";
    public const string SeriesColumn = "Ssl_Series";

    /// <summary>What turns the dataset's input columns into the one column the experiment reads.</summary>
    public static (IEstimator<ITransformer> Estimator, string InputColumn) Preparation(MLContext ml, TrainingData data, int seriesLength,
        SeriesResampling seriesResampling)
    {
        switch (data.Kind)
        {
            case DatasetKind.Images:
                return (ml.Transforms.LoadImages(ImageColumn, "", ImageFolder.PathColumn), ImageColumn);
            case DatasetKind.Series:
                return (ml.Transforms.ResampleSeries(new ResampleSeriesOptions
                {
                    OutputColumnName = SeriesColumn,
                    InputColumnName = SeriesLoader.SeriesColumn,
                    Channels = data.SeriesChannels,
                    Length = seriesLength,
                    Resampling = seriesResampling,
                }), SeriesColumn);
            default:
                var parts = new List<string>();
                var (numbersColumn, textOutputs) = FeaturizedColumns(data);
                // One flat chain: IEstimator.Append (the extension) nests the chain so far in a new chain at every step,
                // and a nested chain fits and maps each level again, so 300 text columns took over 10 minutes before the
                // first trial (EstimatorChain.Append keeps one level).
                EstimatorChain<ITransformer> chain = new();
                string[] numeric = data.Columns.Where(c => c.Kind == CodeGen.InputColumnKind.Number).Select(c => c.ColumnName).ToArray();
                if (numeric.Length > 0)
                {
                    // Missing numbers take the column's mean, as mlnet's featurizer does.
                    chain = chain.Append<ITransformer>(ml.Transforms.Concatenate(numbersColumn, numeric))
                        .Append<ITransformer>(ml.Transforms.ReplaceMissingValues(numbersColumn, replacementMode: MissingValueReplacingEstimator.ReplacementMode.Mean));
                    parts.Add(numbersColumn);
                }
                int index = 0;
                var textColumns = data.Columns.Where(c => c.Kind == CodeGen.InputColumnKind.Text)
                    .Select(c => (Column: c, Counts: ValueCounts(data, c.ColumnName))).ToList();
                int bits = HashBits(textColumns.Count(c => c.Counts.Count > MaxCategories));
                int? kept = CategoriesKept([.. textColumns.Where(c => c.Counts.Count <= MaxCategories).Select(c => Categories(c.Counts))]);
                foreach (var (text, counts) in textColumns)
                {
                    string output = textOutputs[index++];
                    // Few categories: one indicator each (the most frequent ones only when the table's categories are too
                    // many together: CategoriesKept). Many (free text, ids, dates): the words, lower-cased and without
                    // punctuation, hashed into 256 slots (fewer when many columns are hashed: HashBits) to keep the vector
                    // small; hashing each whole cell instead made free text (every cell distinct) one meaningless slot per row.
                    chain = counts.Count > MaxCategories
                        ? chain.Append<ITransformer>(ml.Transforms.Text.NormalizeText(output, text.ColumnName, keepPunctuations: false))
                            .Append<ITransformer>(ml.Transforms.Text.ProduceHashedWordBags(output, output, numberOfBits: bits, ngramLength: 1))
                        : kept is int k && Categories(counts) > k
                            ? chain.Append<ITransformer>(ml.Transforms.Categorical.OneHotEncoding(output, text.ColumnName,
                                keyData: MostFrequent(ml, counts, k)))
                            : chain.Append<ITransformer>(ml.Transforms.Categorical.OneHotEncoding(output, text.ColumnName));
                    parts.Add(output);
                }
                return (chain.Append<ITransformer>(ml.Transforms.Concatenate(TableColumn, [.. parts])), TableColumn);
        }
    }

    /// <summary>
    /// The columns <see cref="Preparation"/> makes from a table's inputs: the numbers together ("Ssl_Numbers") and one per
    /// text column in order ("Ssl_Text0"...), each with '_' added while an input column has its name. An input so named
    /// was otherwise replaced by the made column before its own step read it: a text column "Ssl_Numbers" was one-hot
    /// encoded from the numbers' vector, silently, and its own values never reached the model.
    /// </summary>
    internal static (string Numbers, string[] Texts) FeaturizedColumns(TrainingData data)
    {
        var inputs = data.Columns.Select(c => c.ColumnName).ToHashSet(StringComparer.Ordinal);
        string Free(string name)
        {
            while (inputs.Contains(name)) name += "_";
            return name;
        }
        int texts = data.Columns.Count(c => c.Kind == CodeGen.InputColumnKind.Text);
        return (Free("Ssl_Numbers"), [.. Enumerable.Range(0, texts).Select(i => Free($"Ssl_Text{i}"))]);
    }

    /// <summary>The bits each hashed text column gets: 8 (256 slots) while the hashed columns hold at most
    /// <see cref="MaxHashedSlots"/> slots together, fewer (down to 4, 16 slots) for more columns. 150 hashed columns of
    /// 256 slots made 38,401 features: the first trial (L-BFGS on them) took 318 s of a 40 s budget and 5 GB.</summary>
    internal static int HashBits(int hashedColumns) =>
        hashedColumns <= MaxHashedSlots / 256 ? 8 : Math.Max(4, (int)Math.Floor(Math.Log2((double)MaxHashedSlots / hashedColumns)));

    /// <summary>The most slots the hashed text columns of a table fill together before each gets fewer.</summary>
    internal const int MaxHashedSlots = 4096;

    /// <summary>The most distinct values a text column has to be read as categories (one indicator each) rather than as
    /// words.</summary>
    internal const int MaxCategories = 100;

    /// <summary>The most indicators the category columns of a table make together before the larger ones keep only their
    /// most frequent values.</summary>
    internal const int MaxCategorySlots = 4096;

    /// <summary>Null while the category columns' indicators (one per distinct value, <paramref name="categories"/> per
    /// column) fit in <see cref="MaxCategorySlots"/>; past it the most values a column keeps an indicator for (its most
    /// frequent), the rest reading as no category: the largest number that keeps the columns within the limit, smaller
    /// columns keeping all theirs (so 200 two-value columns leave 40 columns of 100 values 92 each, not an even share of
    /// 17), and at least 16. 300 columns of 100 categories made 30,000 features: the first trial, which cannot be cut
    /// short, took 184 s of a 30 s budget and the run 1.9 GB.</summary>
    internal static int? CategoriesKept(IReadOnlyCollection<int> categories)
    {
        if (categories.Sum() <= MaxCategorySlots) return null;
        int kept = categories.Max();
        while (kept > 16 && categories.Sum(c => Math.Min(c, kept)) > MaxCategorySlots) kept--;
        return kept;
    }

    private sealed class CategoryValue
    {
        public string Value { get; set; } = "";
    }

    /// <summary>The <paramref name="count"/> most frequent values (ties in ordinal order, so the model does not depend on
    /// the rows' order), as the one-column view OneHotEncoding takes its categories from. A missing cell (read as "") is
    /// no category (OneHotEncoding gives an empty string no indicator), so it takes none of the places.</summary>
    private static IDataView MostFrequent(MLContext ml, Dictionary<string, int> counts, int count) =>
        ml.Data.LoadFromEnumerable(counts.Where(p => p.Key.Length > 0)
            .OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(count)
            .Select(p => new CategoryValue { Value = p.Key }).ToList());

    /// <summary>The indicators OneHotEncoding makes for a column of these values: one per value but the missing one ("").</summary>
    private static int Categories(Dictionary<string, int> counts) => counts.Count - (counts.ContainsKey("") ? 1 : 0);

    /// <summary>
    /// For each text column the model one-hot encodes, the rows of <paramref name="data"/> whose value training never saw:
    /// such a row gets no category at all, so the model scores it as if the column said nothing, which a user reading
    /// the predictions should know (a new product code, a misspelt city). One line per column; none when every value is
    /// known or the model has no such column. Only the model's featurizing steps run, not its encoder.
    /// </summary>
    public static IEnumerable<string> UnseenCategories(ITransformer model, TrainingData data)
    {
        string[] text = [.. data.Columns.Where(c => c.Kind == CodeGen.InputColumnKind.Text).Select(c => c.ColumnName)];
        if (text.Length == 0 || data.Count == 0) yield break;
        string[] encoded = FeaturizedColumns(data).Texts;
        IDataView view = data.View;
        foreach (ITransformer part in Flatten(model))
        {
            // Up to the table's concatenation (a vector; an input column may have its name): a one-hot column is a key
            // column until its last step turns it into indicators.
            if (view.Schema.GetColumnOrNull(TableColumn) is { Type: VectorDataViewType }) break;
            view = part.Transform(view);
        }
        for (int i = 0; i < text.Length; i++)
        {
            // One-hot columns carry their categories as slot names; hashed word bags (many distinct values) do not.
            if (view.Schema.GetColumnOrNull(encoded[i]) is not { } column || !column.HasSlotNames())
                continue;
            string[] values = [.. data.View.GetColumn<ReadOnlyMemory<char>>(text[i]).Select(v => v.ToString())];
            var unseen = view.GetColumn<VBuffer<float>>(column).Select((v, row) => (v, row))
                .Where(p => !p.v.GetValues().ToArray().Any(x => x != 0)).Select(p => values[p.row])
                // A missing cell is not a new value (training's own missing cells may not have been a category either).
                .Where(v => !CsvTable.IsMissing(v.Trim())).ToList();
            if (unseen.Count == 0) continue;
            string[] distinct = [.. unseen.Distinct(StringComparer.Ordinal)];
            yield return string.Create(CultureInfo.InvariantCulture,
                $"Column '{text[i]}': {unseen.Count:N0} row(s) hold {(distinct.Length == 1 ? "a value" : $"{distinct.Length:N0} values")} the model has no category for ") +
                $"({string.Join(", ", distinct.Take(5).Select(v => $"'{v}'"))}{(distinct.Length > 5 ? ", ..." : "")}): training never saw {(distinct.Length == 1 ? "it" : "them")}, " +
                $"or, in a table of {MaxCategorySlots:N0}+ categories, saw {(distinct.Length == 1 ? "it" : "them")} too rarely to keep. The model reads such a cell as no category at all, " +
                "so their predictions rest on the other columns.";
        }
    }

    /// <summary>Tables: each numeric input column's smallest and largest finite value in <paramref name="data"/>; null for
    /// other data or a table without numbers.</summary>
    public static Dictionary<string, double[]>? NumericRanges(TrainingData data)
    {
        if (data.Kind != DatasetKind.Table) return null;
        var ranges = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var column in data.Columns.Where(c => c.Kind == CodeGen.InputColumnKind.Number))
        {
            double min = double.PositiveInfinity, max = double.NegativeInfinity;
            foreach (float value in data.View.GetColumn<float>(column.ColumnName))
                if (float.IsFinite(value)) (min, max) = (Math.Min(min, value), Math.Max(max, value));
            if (min <= max) ranges[column.ColumnName] = [min, max];
        }
        return ranges.Count > 0 ? ranges : null;
    }

    /// <summary>
    /// For each numeric column, the rows of <paramref name="data"/> whose value lies beyond the training range recorded
    /// in <paramref name="ranges"/> by more than the range's own width: a model fitted on 0 to 10 has no basis for 1,000,
    /// and such values mostly mean another unit or shifted columns, which the predictions alone never show. One line per
    /// column. A constant training column is skipped (its width gives no scale).
    /// </summary>
    public static IEnumerable<string> FarOutsideTrainingRange(TrainingData data, IReadOnlyDictionary<string, double[]>? ranges)
    {
        if (ranges is null || data.Kind != DatasetKind.Table || data.Count == 0) yield break;
        foreach (var column in data.Columns.Where(c => c.Kind == CodeGen.InputColumnKind.Number))
        {
            if (!ranges.TryGetValue(column.ColumnName, out double[]? range) || range is not [double min, double max] || !(max > min)) continue;
            double width = max - min;
            var far = data.View.GetColumn<float>(column.ColumnName).Select((value, row) => (Value: (double)value, Row: row))
                .Where(p => double.IsFinite(p.Value) && (p.Value < min - width || p.Value > max + width)).ToList();
            if (far.Count == 0) continue;
            var farthest = far.MaxBy(p => Math.Max(min - p.Value, p.Value - max));
            yield return string.Create(CultureInfo.InvariantCulture,
                $"Column '{column.ColumnName}': {far.Count:N0} row(s) hold values far outside the training range {min:G6} to {max:G6} ") +
                string.Create(CultureInfo.InvariantCulture, $"(such as {farthest.Value:G6}, {data.RowNames[farthest.Row]}); the model never saw values like these, ") +
                "so their predictions are guesses: check the column's unit and that the file's columns are in the training file's order.";
        }
    }

    private static Dictionary<string, int> ValueCounts(TrainingData data, string column) =>
        data.View.GetColumn<ReadOnlyMemory<char>>(column).Select(v => v.ToString())
            .GroupBy(v => v, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    /// <summary>The transformers of a (nested) chain, in order.</summary>
    public static List<ITransformer> Flatten(ITransformer model)
    {
        var list = new List<ITransformer>();
        if (model is IEnumerable<ITransformer> chain)
            foreach (ITransformer part in chain) list.AddRange(Flatten(part));
        else
            list.Add(model);
        return list;
    }

    /// <summary>The experiment's model without its leading label-to-key map (predicting then needs no label column), and
    /// the class names in Score order, read from that map.</summary>
    public static (ITransformer Model, string[] ClassNames) WithoutLabelMap(ITransformer experimentModel, IDataView prepared, string labelColumn)
    {
        List<ITransformer> parts = experimentModel is IEnumerable<ITransformer> chain ? [.. chain] : [experimentModel];
        if (parts.Count < 2 || parts[0] is not ValueToKeyMappingTransformer labelMap)
            throw new InvalidOperationException("The experiment's model does not start with the label-to-key map it is documented to start with.");
        var keyed = labelMap.Transform(prepared).Schema[labelColumn];
        VBuffer<ReadOnlyMemory<char>> names = default;
        keyed.GetKeyValues(ref names);
        return (new TransformerChain<ITransformer>([.. parts.Skip(1)]), names.DenseValues().Select(v => v.ToString()).ToArray());
    }
}
