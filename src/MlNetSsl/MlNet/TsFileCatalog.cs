using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MlNetSsl;

/// <summary>Catalog extensions that load UEA/UCR <c>.ts</c> series files (<see cref="TsFile"/>) as an <see cref="IDataView"/>.</summary>
public static class TsFileCatalog
{
    /// <summary>
    /// Reads the <c>.ts</c> file <paramref name="path"/> (<see cref="TsFile.Read"/>) and loads it as a view of one row per
    /// series. See <see cref="LoadFromTsFile(DataOperationsCatalog, TsFile, string, string)"/> for the columns; to know
    /// the channel count for <see cref="SelfSupervisedOptions.SeriesChannels"/>, read the file with
    /// <see cref="TsFile.Read"/> and load the <see cref="TsFile"/> instead.
    /// </summary>
    /// <param name="catalog">The data operations catalog (<c>mlContext.Data</c>).</param>
    /// <param name="path">The <c>.ts</c> file.</param>
    /// <param name="labelColumnName">The text column of classes. Default "Label".</param>
    /// <param name="featuresColumnName">The vector of Single column of series. Default "Features".</param>
    /// <returns>The series in file order.</returns>
    /// <exception cref="InvalidDataException">The file is not a readable <c>.ts</c> classification file; the message
    /// names the file and, for a fault in a line, the line (see <see cref="TsFile.Read"/>).</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static IDataView LoadFromTsFile(this DataOperationsCatalog catalog, string path,
        string labelColumnName = "Label", string featuresColumnName = "Features")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        CheckColumnNames(labelColumnName, featuresColumnName);
        return LoadFromTsFile(catalog, TsFile.Read(path), labelColumnName, featuresColumnName);
    }

    /// <summary>
    /// Loads the series of a <see cref="TsFile"/> as a view of one row per series, in file order, with two columns:
    /// <list type="bullet">
    /// <item><paramref name="labelColumnName"/>: text, the class; empty for a series without one, which ML.NET's
    /// <c>MapValueToKey</c> maps to the missing key and trainers skip, while the self-supervised stage pretrains on every
    /// row.</item>
    /// <item><paramref name="featuresColumnName"/>: a vector of Single holding the series channel after channel, of known
    /// size (<see cref="TsFile.Channels"/> x the length) when every series has the same length, so it feeds
    /// <c>SelfSupervised</c> with <see cref="SelfSupervisedOptions.SeriesChannels"/> = <see cref="TsFile.Channels"/>
    /// directly; of variable size otherwise (<c>@equalLength false</c> files), to bring to one length with
    /// <see cref="ResampleSeriesCatalog.ResampleSeries(TransformsCatalog, string, string, int, int)"/> (or its options'
    /// <see cref="SeriesResampling.Mean"/> for series far longer than the target) before the stage.</item>
    /// </list>
    /// The file's <see cref="TsFile.Notes"/> are also written to the context's log as warnings.
    /// </summary>
    /// <param name="catalog">The data operations catalog (<c>mlContext.Data</c>).</param>
    /// <param name="file">The file, from <see cref="TsFile.Read"/>. The view reads its arrays; do not change them.</param>
    /// <param name="labelColumnName">The text column of classes. Default "Label".</param>
    /// <param name="featuresColumnName">The vector of Single column of series. Default "Features".</param>
    /// <returns>The series in file order.</returns>
    /// <example><code>
    /// TsFile plaid = TsFile.Read("PLAID_TRAIN.ts");   // one channel, 100 to 1,344 steps
    /// IDataView data = mlContext.Data.LoadFromTsFile(plaid);
    /// var pipeline = mlContext.Transforms.ResampleSeries("Series", "Features", channels: plaid.Channels, length: 256)
    ///     .Append(mlContext.Transforms.SelfSupervised("Embedding", "Series", SslMethod.SimClr,
    ///         o => o.SeriesChannels = plaid.Channels));
    /// </code></example>
    public static IDataView LoadFromTsFile(this DataOperationsCatalog catalog, TsFile file,
        string labelColumnName = "Label", string featuresColumnName = "Features")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(file);
        CheckColumnNames(labelColumnName, featuresColumnName);
        if (file.Notes.Count > 0)
        {
            using var channel = CatalogUtils.GetEnvironment(catalog).Start(nameof(LoadFromTsFile));
            foreach (string note in file.Notes) channel.Warning(note);
        }

        var schema = SchemaDefinition.Create(typeof(SeriesRow));
        schema[nameof(SeriesRow.Label)].ColumnName = labelColumnName;
        var features = schema[nameof(SeriesRow.Features)];
        features.ColumnName = featuresColumnName;
        int length = file.Lengths[0];
        // Known size when it can be: the self-supervised stage and most ML.NET trainers need it.
        features.ColumnType = file.Lengths.All(l => l == length)
            ? new VectorDataViewType(NumberDataViewType.Single, file.Channels * length)
            : new VectorDataViewType(NumberDataViewType.Single);
        var rows = new SeriesRow[file.Series.Count];
        for (int i = 0; i < rows.Length; i++) rows[i] = new SeriesRow { Label = file.Labels[i], Features = file.Series[i] };
        return catalog.LoadFromEnumerable(rows, schema);
    }

    private static void CheckColumnNames(string labelColumnName, string featuresColumnName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumnName);
        ArgumentException.ThrowIfNullOrWhiteSpace(featuresColumnName);
        if (labelColumnName == featuresColumnName)
            throw new ArgumentException($"The label and the features columns are both named '{labelColumnName}'; give them different names.",
                nameof(featuresColumnName));
    }

    private sealed class SeriesRow
    {
        public string Label { get; set; } = "";

        public float[] Features { get; set; } = [];
    }
}
