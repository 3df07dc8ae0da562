using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using MlNetSsl.MlNet.Data;
using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// Measures of a fitted <see cref="SelfSupervisedTransformer"/> that need no labels, computed on the rows of an
/// <see cref="IDataView"/>: what AutoML uses to compare pretraining configurations when there are too few labels to
/// cross-validate. Rows are read through the transformer's own input column and embedded in batches.
/// </summary>
public static class LabelFreeEvaluation
{
    /// <summary>Rows <see cref="RankMe"/> embeds by default.</summary>
    public const int DefaultRankMeRows = 2000;

    /// <summary>Images <see cref="RotationPredictionAccuracy"/> rotates by default (each gives four rows).</summary>
    public const int DefaultRotationImages = 500;

    /// <summary>Rows <see cref="ViewRetrievalAccuracy"/> embeds by default (each in two views).</summary>
    public const int DefaultViewRetrievalRows = 1024;

    /// <summary>
    /// RankMe (Garrido et al., 2023): the effective rank of the embeddings of up to <paramref name="maxRows"/> rows,
    /// exp of the entropy of the normalized singular values (see <see cref="EmbeddingQuality.EffectiveRank"/>). It
    /// ranges from 1 (collapsed to one direction) to min(rows, <see cref="SelfSupervisedTransformer.EmbeddingSize"/>);
    /// higher tends to mean better downstream accuracy for encoders of the same embedding size.
    /// </summary>
    /// <param name="transformer">The fitted stage (not disposed).</param>
    /// <param name="data">Rows holding the transformer's input column; labels are not read.</param>
    /// <param name="maxRows">Rows to embed at most, evenly spaced over the data (so data sorted by class is still
    /// covered). Default <see cref="DefaultRankMeRows"/>.</param>
    /// <param name="cancellationToken">Checked between rows read and between embedding batches.</param>
    /// <exception cref="ArgumentException">Fewer than 2 rows, or an unusable input column.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static double RankMe(SelfSupervisedTransformer transformer, IDataView data, int maxRows = DefaultRankMeRows,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 2);
        using var scope = torch.NewDisposeScope();
        Tensor raw = ReadRows(transformer, data, maxRows, 2, "RankMe", "rows", cancellationToken);
        Tensor embeddings = Embed(transformer, raw, cancellationToken);
        return EmbeddingQuality.EffectiveRank(embeddings);
    }

    /// <summary>
    /// Rotation-prediction accuracy, the label-free proxy of SelfAugment (Reed et al., 2021), who found that it ranks
    /// augmentation policies like supervised evaluation does: up to <paramref name="maxImages"/> images are rotated by
    /// 0, 90, 180 and 270 degrees, embedded with the trained encoder, and a linear classifier (ML.NET's
    /// <c>LbfgsMaximumEntropy</c> on standardized embeddings) learns the rotation on half of the images and is scored on
    /// the other half (all four rotations of an image stay on the same side). Chance is 0.25.
    /// </summary>
    /// <remarks>
    /// Images are rotated after the stage's resize to <see cref="SslInputShape.Height"/> x <see cref="SslInputShape.Width"/>;
    /// when those differ, the 90 and 270 degree rotations are resized back to that shape (bilinear).
    /// </remarks>
    /// <param name="transformer">A fitted stage whose input is an <c>MLImage</c> column.</param>
    /// <param name="data">Rows holding the image column; labels are not read.</param>
    /// <param name="maxImages">Images to use at most (at least 4), evenly spaced over the data. Default <see cref="DefaultRotationImages"/>.</param>
    /// <param name="seed">Seed of the train/test split of the images and of the classifier. Default 0.</param>
    /// <param name="cancellationToken">Checked between rows read and between embedding batches, and passed to the
    /// classifier's training (which stops at its next iteration).</param>
    /// <exception cref="ArgumentException">The stage's input is not images, or there are fewer than 4 images.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static double RotationPredictionAccuracy(SelfSupervisedTransformer transformer, IDataView data,
        int maxImages = DefaultRotationImages, int seed = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxImages, 4);
        if (transformer.InputShape.Kind != SslInputKind.Image)
            throw new ArgumentException($"Rotation prediction needs image input; this stage reads {transformer.InputShape.Kind} rows " +
                $"from column '{transformer.InputColumnName}'. For tabular rows and series use ViewRetrievalAccuracy or RankMe.", nameof(transformer));

        float[][] features;
        int imageCount;
        using (var scope = torch.NewDisposeScope())
        {
            Tensor raw = ReadRows(transformer, data, maxImages, 4, "Rotation prediction", "images", cancellationToken);
            imageCount = (int)raw.shape[0];
            Tensor images = raw.to_type(ScalarType.Float32).div_(Held(255.0));
            long height = images.shape[2], width = images.shape[3];
            // Row r of rotation k is image r turned k quarter turns; rows are grouped by rotation.
            var embeddings = new Tensor[4];
            for (int quarterTurns = 0; quarterTurns < 4; quarterTurns++)
            {
                Tensor rotated = quarterTurns == 0 ? images : images.rot90(quarterTurns, (2, 3));
                if (rotated.shape[2] != height || rotated.shape[3] != width)
                    rotated = nn.functional.interpolate(rotated, [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
                embeddings[quarterTurns] = Embed(transformer, rotated.contiguous(), cancellationToken);
            }
            Tensor all = torch.cat(embeddings, 0);
            int size = (int)all.shape[1];
            float[] flat = all.contiguous().data<float>().ToArray();
            features = Enumerable.Range(0, (int)all.shape[0]).Select(r => flat.AsSpan(r * size, size).ToArray()).ToArray();
        }

        // Split by image, so the classifier never sees another rotation of a test image.
        int[] order = Enumerable.Range(0, imageCount).ToArray();
        new Random(seed).Shuffle(order);
        var testImages = order.Take(imageCount / 2).ToHashSet();
        var train = new List<RotationRow>();
        var test = new List<RotationRow>();
        for (int quarterTurns = 0; quarterTurns < 4; quarterTurns++)
            for (int image = 0; image < imageCount; image++)
            {
                // LoadFromEnumerable stores a key column's value v as key v + 1, so the 0-based rotation index is the value.
                var row = new RotationRow { Features = features[quarterTurns * imageCount + image], Rotation = (uint)quarterTurns };
                (testImages.Contains(image) ? test : train).Add(row);
            }

        cancellationToken.ThrowIfCancellationRequested();
        var ml = new MLContext(seed);
        // The context is this call's own, so cancelling it stops only this classifier (ML.NET checks between iterations).
        using CancellationTokenRegistration stop = ml.CancelExecutionWhen(cancellationToken);
        var schema = SchemaDefinition.Create(typeof(RotationRow));
        schema[nameof(RotationRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, features[0].Length);
        schema[nameof(RotationRow.Rotation)].ColumnType = new KeyDataViewType(typeof(uint), 4);
        IDataView trainView = ml.Data.LoadFromEnumerable(train, schema);
        IDataView testView = ml.Data.LoadFromEnumerable(test, schema);
        var classifier = ml.Transforms.NormalizeMeanVariance(nameof(RotationRow.Features))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
            {
                LabelColumnName = nameof(RotationRow.Rotation),
                FeatureColumnName = nameof(RotationRow.Features),
                NumberOfThreads = 1, // reproducible sums
            }))
            .Fit(trainView);
        cancellationToken.ThrowIfCancellationRequested(); // ML.NET may end a cancelled fit early without throwing
        IDataView scored = classifier.Transform(testView);
        uint[] predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
        uint[] actual = scored.GetColumn<uint>(nameof(RotationRow.Rotation)).ToArray();
        return predicted.Zip(actual).Count(p => p.First == p.Second) / (double)actual.Length;
    }

    /// <summary>
    /// View retrieval: whether the embedding still recognises a row after augmentation. Up to <paramref name="maxRows"/>
    /// rows, evenly spaced over the data, each get two views of the library's default two-view recipe
    /// (<see cref="DefaultAugmentations.TwoView"/>: the same recipe for every stage, so stages pretrained with different
    /// augmentations are compared on the same views); the result is the share of rows whose nearest neighbour (cosine)
    /// among all the second views is their own second view. Chance is 1 / rows, so compare stages on the same rows and
    /// <paramref name="maxRows"/>. On the shared CIFAR-10 and MNIST images it ranked pretrained encoders by the accuracy
    /// of a probe on a few labels per class better than cross-validating those labels did, and about as well as
    /// <see cref="RankMe"/> (docs/automl-benchmarks.md, "Label-free ranking").
    /// </summary>
    /// <param name="transformer">The fitted stage (not disposed).</param>
    /// <param name="data">Rows holding the transformer's input column; labels are not read.</param>
    /// <param name="maxRows">Rows to use at most (at least 2), evenly spaced over the data. Default <see cref="DefaultViewRetrievalRows"/>.</param>
    /// <param name="seed">Seed of the augmentations. Default 0.</param>
    /// <param name="cancellationToken">Checked between rows read and between embedding batches.</param>
    /// <exception cref="ArgumentException">Fewer than 2 rows, or an unusable input column.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static double ViewRetrievalAccuracy(SelfSupervisedTransformer transformer, IDataView data, int maxRows = DefaultViewRetrievalRows,
        int seed = 0, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 2);
        using var scope = torch.NewDisposeScope();
        Tensor raw = ReadRows(transformer, data, maxRows, 2, "View retrieval", "rows", cancellationToken);
        long count = raw.shape[0];
        AugmentationPolicy views = DefaultAugmentations.TwoView(transformer.InputShape);
        using var generator = new torch.Generator((ulong)seed);
        // Tabular corruption samples replacement values from the rows themselves, as in pretraining.
        var context = new AugmentationContext(generator, transformer.InputShape,
            transformer.InputShape.Kind == SslInputKind.Tabular ? transformer.ToEncoderInput(raw) : null);
        Tensor first = nn.functional.normalize(EmbedViews(transformer, raw, views, context, cancellationToken), dim: 1);
        Tensor second = nn.functional.normalize(EmbedViews(transformer, raw, views, context, cancellationToken), dim: 1);
        long hits = first.matmul(second.t()).argmax(1).eq(torch.arange(Zero, Held(count), One)).sum().item<long>();
        return hits / (double)count;
    }

    /// <summary>Embeddings of one augmented view of every raw row, converted, augmented and embedded a stage batch at a
    /// time (a thousand large images as floats at once would take gigabytes).</summary>
    private static Tensor EmbedViews(SelfSupervisedTransformer transformer, Tensor raw, AugmentationPolicy views,
        AugmentationContext context, CancellationToken cancellationToken)
    {
        long count = raw.shape[0];
        int batch = Math.Max(1, transformer.BatchSize);
        var parts = new List<Tensor>();
        for (long start = 0; start < count; start += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var step = torch.NewDisposeScope();
            Tensor view = views.Apply(transformer.ToEncoderInput(raw.narrow(0, start, Math.Min(batch, count - start))), context);
            parts.Add(transformer.EmbedInput(view).MoveToOuterDisposeScope());
        }
        return parts.Count == 1 ? parts[0] : torch.cat(parts, 0);
    }

    /// <summary>Embeddings [N, d] (CPU) of raw rows, one forward pass per <see cref="SelfSupervisedTransformer.BatchSize"/> rows.</summary>
    private static Tensor Embed(SelfSupervisedTransformer transformer, Tensor raw, CancellationToken cancellationToken)
    {
        long count = raw.shape[0];
        int batch = Math.Max(1, transformer.BatchSize);
        var parts = new List<Tensor>();
        for (long start = 0; start < count; start += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            parts.Add(transformer.EmbedRaw(raw.narrow(0, start, Math.Min(batch, count - start))));
        }
        return parts.Count == 1 ? parts[0] : torch.cat(parts, 0);
    }

    /// <summary>What every measure starts with: checks the stage and data, then reads up to <paramref name="maxRows"/>
    /// evenly spaced rows (into the caller's dispose scope), failing with the column and the count when the data has fewer
    /// than <paramref name="minimumRows"/>.</summary>
    private static Tensor ReadRows(SelfSupervisedTransformer transformer, IDataView data, int maxRows, int minimumRows, string measure, string unit,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(data);
        cancellationToken.ThrowIfCancellationRequested();
        SslEnvironment.EnsureInitialized();
        Tensor raw = ReadEvenlySpaced(transformer, data, maxRows, cancellationToken);
        if (raw.shape[0] < minimumRows)
            throw new ArgumentException($"{measure} needs at least {minimumRows} {unit} in column '{transformer.InputColumnName}'; the data has {raw.shape[0]}.", nameof(data));
        return raw;
    }

    /// <summary>Up to <paramref name="maxRows"/> rows of the input column, evenly spaced over the data, as a raw tensor
    /// (uint8 images resized to the stage's shape, or float vectors). Skipped rows are never decoded.</summary>
    private static Tensor ReadEvenlySpaced(SelfSupervisedTransformer transformer, IDataView data, int maxRows, CancellationToken cancellationToken)
    {
        InputColumnReader reader = transformer.CheckInput(data.Schema);
        long total = DataViewRows.Count(data, cancellationToken);
        int take = (int)Math.Min(total, maxRows);
        var positions = new HashSet<long>(Enumerable.Range(0, take).Select(k => (long)Math.Floor(k * (double)total / take)));
        var buffer = new RowBatchBuffer(reader, Math.Max(1, take));
        using (var cursor = data.GetRowCursor(new[] { data.Schema[reader.ColumnName] }))
        using (var filler = reader.Bind(cursor, data))
        {
            long position = 0;
            while (buffer.Count < take && cursor.MoveNext())
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (positions.Contains(position)) buffer.Add(filler);
                position++;
            }
        }
        return buffer.Count == 0
            ? torch.empty(reader.Shape.BatchShape(0), reader.IsImage ? ScalarType.Byte : ScalarType.Float32)
            : buffer.TakeTensor();
    }

    private sealed class RotationRow
    {
        public float[] Features { get; set; } = [];

        public uint Rotation { get; set; }
    }
}
