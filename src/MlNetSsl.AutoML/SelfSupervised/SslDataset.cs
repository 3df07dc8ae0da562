using System.Globalization;
using System.Security.Cryptography;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.AutoML;

/// <summary>
/// The experiment's data, read once: the input shape, the label keys of the labeled rows (in the order of
/// <see cref="LabeledView"/>), per-class counts, and, when the raw-feature baseline is searched, the raw feature vectors
/// of the labeled rows. Every row, labeled or not, is pretraining data.
/// </summary>
internal sealed class SslDataset
{
    /// <summary>The column the downstream trainer reads: the embedding (or raw feature) vector.</summary>
    public const string FeatureColumn = "SslFeatures";

    /// <summary>The intermediate column of resized images in the raw-feature image pipeline.</summary>
    public const string ResizedImageColumn = "SslResizedImage";

    private readonly MLContext _ml;
    private float[][]? _rawFeatures;

    private SslDataset(MLContext ml, IDataView data, string inputColumn, string labelColumn, SslInputShape shape, ITransformer labelToKey,
        int classCount, uint[] allKeys, uint[] labeledKeys, long rowCount)
    {
        AllKeys = allKeys;
        _ml = ml;
        Data = data;
        SourceData = data;
        InputColumn = inputColumn;
        LabelColumn = labelColumn;
        Shape = shape;
        LabelToKey = labelToKey;
        ClassCount = classCount;
        LabeledKeys = labeledKeys;
        RowCount = rowCount;
    }

    /// <summary>Every row (the pretraining data): for images, after <see cref="CheckImagesLoad"/>, each image decoded once
    /// at the stage's size, which only the stage reads alike (see <see cref="SourceData"/>).</summary>
    public IDataView Data { get; private set; }

    /// <summary>Every row as given, images decoded from their files at each read: what <c>ResizeImages</c> (the raw-pixel
    /// featurizer) must read, as it crops and resizes the full image.</summary>
    public IDataView SourceData { get; }

    public string InputColumn { get; }

    public string LabelColumn { get; }

    public SslInputShape Shape { get; }

    /// <summary><c>MapValueToKey</c> on the label column, fitted on all rows (missing labels become key 0).</summary>
    public ITransformer LabelToKey { get; }

    public int ClassCount { get; }

    /// <summary>The label key of every row in <see cref="Data"/> order: 1..<see cref="ClassCount"/>, or 0 where the label is missing.</summary>
    public uint[] AllKeys { get; }

    /// <summary>Every row with the label as a key (missing labels are key 0).</summary>
    public IDataView KeyedData => LabelToKey.Transform(Data);

    /// <summary>Class keys 1..<see cref="ClassCount"/> of the labeled rows, in <see cref="LabeledView"/> order.</summary>
    public uint[] LabeledKeys { get; }

    public long RowCount { get; }

    public int LabeledCount => LabeledKeys.Length;

    /// <summary>The labeled rows only, with the label as a key: what downstream trainers and their folds see.</summary>
    public IDataView LabeledView => _ml.Data.FilterRowsByMissingValues(KeyedData, LabelColumn);

    /// <summary><see cref="LabeledView"/> of <see cref="SourceData"/>, for the raw-feature featurizer.</summary>
    public IDataView SourceLabeledView => _ml.Data.FilterRowsByMissingValues(LabelToKey.Transform(SourceData), LabelColumn);

    /// <summary>The rows a pipeline of <paramref name="features"/> reads: <see cref="SourceData"/> when it has the raw-feature
    /// featurizer, else <see cref="Data"/> (the stage alone reads the images).</summary>
    public IDataView DataFor(SslFeatureSource features) => ReadsRawFeatures(features) ? SourceData : Data;

    /// <summary><see cref="LabeledView"/> or <see cref="SourceLabeledView"/>, as <see cref="DataFor"/> chooses.</summary>
    public IDataView LabeledViewFor(SslFeatureSource features) => ReadsRawFeatures(features) ? SourceLabeledView : LabeledView;

    private static bool ReadsRawFeatures(SslFeatureSource features) => features is SslFeatureSource.RawFeatures or SslFeatureSource.RawAndSelfSupervised;

    /// <summary>Labeled rows per class, on average.</summary>
    public double LabelsPerClass => ClassCount == 0 ? 0 : LabeledCount / (double)ClassCount;

    /// <summary>Labeled rows of the rarest class.</summary>
    public int RarestClassCount => ClassCount == 0 ? 0 : LabeledKeys.GroupBy(k => k).Select(g => g.Count()).DefaultIfEmpty(0).Min();

    /// <summary>Reads labels and checks the columns.</summary>
    /// <exception cref="ArgumentException">A column is missing or unusable.</exception>
    public static SslDataset Read(MLContext ml, IDataView data, string inputColumn, string labelColumn, SslInputShape shape)
    {
        if (data.Schema.GetColumnOrNull(labelColumn) is null)
            throw new ArgumentException($"The dataset has no label column '{labelColumn}'; it has: {string.Join(", ", data.Schema.Where(c => !c.IsHidden).Select(c => c.Name))}.");
        if (labelColumn == inputColumn) throw new ArgumentException($"The label column and the input column are both '{labelColumn}'.");
        // The pipelines write these columns over a user column of the same name: an input named SslFeatures was replaced by the
        // embedding before the raw+SSL refit read it (the model concatenated the embedding with itself, not the raw input the
        // trials had scored), and a label named Score was read back as the fine-tuned network's scores (every fine-tuning trial failed).
        if (ReservedColumnNames(forLabel: false).Contains(inputColumn))
            throw new ArgumentException($"The input column is named '{inputColumn}', a column the experiment's pipelines write " +
                $"({string.Join(", ", ReservedColumnNames(forLabel: false))}); copy it under another name first (ml.Transforms.CopyColumns).");
        if (ReservedColumnNames(forLabel: true).Contains(labelColumn))
            throw new ArgumentException($"The label column is named '{labelColumn}', a column the experiment's pipelines and models write " +
                $"({string.Join(", ", ReservedColumnNames(forLabel: true))}); copy it under another name first (ml.Transforms.CopyColumns).");
        // MapValueToKey also maps a vector column (to a vector of keys), which then failed below as an InvalidCastException.
        if (data.Schema[labelColumn].Type is not PrimitiveDataViewType)
            throw new ArgumentException($"Label column '{labelColumn}' is {data.Schema[labelColumn].Type}; the experiment takes one class per row: " +
                "a text, number, boolean or key column (a missing value marks a row unlabeled).");
        ITransformer labelToKey = ml.Transforms.Conversion.MapValueToKey(labelColumn, labelColumn).Fit(data);
        IDataView keyed = labelToKey.Transform(data);
        int classCount = (int)((KeyDataViewType)keyed.Schema[labelColumn].Type).Count;
        uint[] allKeys = keyed.GetColumn<uint>(labelColumn).ToArray();
        uint[] labeled = allKeys.Where(k => k != 0).ToArray();
        return new SslDataset(ml, data, inputColumn, labelColumn, shape, labelToKey, classCount, allKeys, labeled, allKeys.LongLength);
    }

    /// <summary>Column names the experiment's pipelines write before they read the input column (<paramref name="forLabel"/>
    /// false: the embedding) or the label column (true: the embedding, the raw features beside it, the scores and the
    /// predicted class), so a user column of that name is lost. A label named PredictedLabel ran, but the returned model
    /// wrote its predictions over it, so evaluating the scored rows against that label compared the predictions with themselves.</summary>
    internal static string[] ReservedColumnNames(bool forLabel) => forLabel ? [FeatureColumn, RawFeatureColumn, "Score", "PredictedLabel"] : [FeatureColumn];

    /// <summary>Rows of a float-vector input column (tabular rows, series; images are decoded later) that hold a missing
    /// value (NaN), and the first of them; 0 for other column types.</summary>
    public static (long Rows, long FirstRow) CountMissing(IDataView data, string inputColumn)
    {
        long rows = 0, first = -1;
        ForEachNonFinite(data, inputColumn, (row, _, value) =>
        {
            if (!float.IsNaN(value)) return true;
            if (first < 0) first = row;
            rows++;
            return false; // the next row
        });
        return (rows, first);
    }

    /// <summary>Whether a float-vector input column (tabular rows, series) holds the same vector in every row, so no
    /// pipeline can tell the classes apart; false for images (not decoded here) and for no rows.</summary>
    public static bool IsConstantInput(IDataView data, string inputColumn)
    {
        DataViewSchema.Column column = data.Schema[inputColumn];
        if (column.Type is not VectorDataViewType { ItemType.RawType: var type } || type != typeof(float)) return false;
        using DataViewRowCursor cursor = data.GetRowCursor([column]);
        ValueGetter<VBuffer<float>> getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> values = default;
        float[]? first = null;
        while (cursor.MoveNext())
        {
            getter(ref values);
            if (first is null)
            {
                first = values.DenseValues().ToArray();
                continue;
            }
            int i = 0;
            foreach (float value in values.DenseValues())
            {
                // Bit equality: NaN (imputed before this) equals itself, and a column of NaN is as constant as any.
                if (i >= first.Length || BitConverter.SingleToInt32Bits(value) != BitConverter.SingleToInt32Bits(first[i])) return false;
                i++;
            }
            if (i != first.Length) return false;
        }
        return first is not null;
    }

    /// <summary>
    /// Checks that every row's input vector holds finite numbers, the check the stage makes at <c>Fit</c>. Made once
    /// before the search (after missing values were imputed), so an infinity fails the run with the stage's message
    /// instead of failing every trial until the time budget runs out.
    /// </summary>
    /// <exception cref="InvalidDataException">A NaN or infinity; the message names the row, the column and what to do.</exception>
    public void CheckFiniteInputs() => ForEachNonFinite(Data, InputColumn, (row, index, value) =>
        throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
            $"Row {row} of column '{InputColumn}' holds {value} at index {index}{SlotName(index)}. ") +
            "SSL encoders need finite numbers: replace or clip infinite values, or filter those rows out, before the experiment."));

    // " (slot 'growth')" where the vector names its slots (Concatenate of named columns does), so a user need not count.
    private string SlotName(int index)
    {
        DataViewSchema.Column column = Data.Schema[InputColumn];
        if (column.Type is not VectorDataViewType { Size: > 0 and var size } || index >= size) return "";
        string name = InputSlotChecks.SlotNames(column, size)[index];
        return name.Length > 0 ? $" (slot '{name}')" : "";
    }

    /// <summary>
    /// Loads every row's image once, as the stage does at <c>Fit</c>, before the search: a missing or unreadable file
    /// then fails the run with one message naming its row, instead of failing every trial that reads it (raw-pixel
    /// trials read only the labeled rows, so a search could otherwise end with a model that cannot score the data).
    /// The images are kept at the stage's size (<see cref="Data"/>): every trial's pretraining, embedding and fine-tuning,
    /// the second look and the refit read them from memory instead of decoding each file again (a 2-megapixel JPEG
    /// takes tens of milliseconds, so a few hundred photos took seconds per trial).
    /// </summary>
    /// <exception cref="InvalidDataException">An image that cannot be loaded; the message names the row, the column and what to do.</exception>
    public void CheckImagesLoad(CancellationToken cancellationToken = default)
    {
        if (Shape.Kind != SslInputKind.Image) return;
        // Beyond this the held images would cost more memory than decoding again costs time.
        if (RowCount * 4L * Shape.Width * Shape.Height <= MaxPreloadedBytes)
        {
            Data = _ml.Data.PreloadImages(SourceData, InputColumn, Shape.Width, Shape.Height, cancellationToken);
            return;
        }
        DataViewSchema.Column column = Data.Schema[InputColumn];
        using DataViewRowCursor cursor = Data.GetRowCursor([column]);
        ValueGetter<MLImage> getter = cursor.GetGetter<MLImage>(column);
        while (cursor.MoveNext())
        {
            MLImage? image = null;
            try
            {
                getter(ref image!);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"Row {cursor.Position} of column '{InputColumn}': the image could not be loaded ({e.Message}). ") +
                    "Check that the file exists and is a readable JPEG, PNG, BMP, GIF or WEBP image, or remove the row.", e);
            }
            // Not disposed here: LoadImages disposes the image it handed out when it loads the next, and an image made in
            // memory (LoadFromEnumerable) is the caller's, read again by every trial.
            if (image is null || image.Width == 0 || image.Height == 0)
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"Row {cursor.Position} of column '{InputColumn}' has no image: the file is missing, empty or not an image. ") +
                    "Fix or remove the row.");
        }
    }

    /// <summary>The most memory the images held at the stage's size may take (4 bytes a pixel): 1 GiB, 260,000 images of 32 x 32.</summary>
    internal const long MaxPreloadedBytes = 1L << 30;

    // Calls back for each NaN or infinity of a float-vector column; the callback returns false to skip the rest of its row.
    private static void ForEachNonFinite(IDataView data, string inputColumn, Func<long, int, float, bool> found)
    {
        DataViewSchema.Column column = data.Schema[inputColumn];
        if (column.Type is not VectorDataViewType { ItemType.RawType: var type } || type != typeof(float)) return;
        using DataViewRowCursor cursor = data.GetRowCursor([column]);
        ValueGetter<VBuffer<float>> getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> values = default;
        while (cursor.MoveNext())
        {
            getter(ref values);
            ReadOnlySpan<float> span = values.GetValues();
            for (int i = 0; i < span.Length; i++)
            {
                if (float.IsFinite(span[i])) continue;
                if (!found(cursor.Position, values.IsDense ? i : values.GetIndices()[i], span[i])) break;
            }
        }
    }

    /// <summary>The column of raw features next to the embeddings, before both are concatenated (raw + SSL features).</summary>
    public const string RawFeatureColumn = "SslRawFeatures";

    /// <summary>The raw-feature estimator: images resized to the stage's size with pixels as a vector (0..255, planar
    /// RGB), or a copy of the vector column, into <paramref name="outputColumn"/> (default <see cref="FeatureColumn"/>).</summary>
    public IEstimator<ITransformer> RawFeaturizer(MLContext ml, string outputColumn = FeatureColumn) => Shape.Kind == SslInputKind.Image
        ? ml.Transforms.ResizeImages(ResizedImageColumn, Shape.Width, Shape.Height, InputColumn)
            .Append(ml.Transforms.ExtractPixels(outputColumn, ResizedImageColumn))
        : ml.Transforms.CopyColumns(outputColumn, InputColumn);

    /// <summary>Raw feature vectors of the labeled rows (read once), in <see cref="LabeledView"/> order.</summary>
    public float[][] RawFeatures()
    {
        if (_rawFeatures is not null) return _rawFeatures;
        IDataView labeled = SourceLabeledView;
        IDataView features = RawFeaturizer(_ml).Fit(labeled).Transform(labeled);
        float[][] rows = features.GetColumn<VBuffer<float>>(FeatureColumn).Select(v => v.DenseValues().ToArray()).ToArray();
        for (int row = 0; row < rows.Length; row++)
        {
            int bad = Array.FindIndex(rows[row], v => !float.IsFinite(v));
            if (bad >= 0)
                throw new InvalidDataException($"Labeled row {row} of column '{InputColumn}' holds {rows[row][bad]} at index {bad}; " +
                    (float.IsNaN(rows[row][bad]) ? "replace missing values first (Transforms.ReplaceMissingValues)."
                        : "replace or clip infinite values, or filter those rows out, before the experiment (ML.NET's missing-value transforms keep them)."));
        }
        return _rawFeatures = rows;
    }

    /// <summary>A short SHA-256 of what the experiment learns from: row count, label keys, and the input values of up to
    /// 64 evenly spaced rows, so a checkpoint is not resumed on other data.</summary>
    public string ContentHash()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(BitConverter.GetBytes(RowCount));
        hash.AppendData(BitConverter.GetBytes(ClassCount));
        foreach (uint key in LabeledKeys) hash.AppendData(BitConverter.GetBytes(key));
        long stride = Math.Max(1, RowCount / 64);
        // The files' own pixels, as before the images were held at the stage's size, so a checkpoint of an earlier version resumes.
        DataViewSchema.Column column = SourceData.Schema[InputColumn];
        using DataViewRowCursor cursor = SourceData.GetRowCursor([column]);
        if (Shape.Kind == SslInputKind.Image)
        {
            ValueGetter<MLImage> getter = cursor.GetGetter<MLImage>(column);
            MLImage? image = null;
            while (cursor.MoveNext())
            {
                if (cursor.Position % stride != 0) continue;
                getter(ref image!);
                if (image is null) continue;
                hash.AppendData(BitConverter.GetBytes(image.Width));
                hash.AppendData(BitConverter.GetBytes(image.Height));
                hash.AppendData(image.Pixels);
            }
        }
        else
        {
            ValueGetter<VBuffer<float>> getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> vector = default;
            while (cursor.MoveNext())
            {
                if (cursor.Position % stride != 0) continue;
                getter(ref vector);
                hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.DenseValues().ToArray().AsSpan()));
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }
}
