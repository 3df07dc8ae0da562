using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;
using MlNetSsl.MlNet.Data;
using MlNetSsl.MlNet;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// Estimator of <see cref="SelfSupervisedTransformer"/>: <see cref="Fit"/> pretrains an encoder on every row of the
/// input column with a self-supervised method. Create it with <c>mlContext.Transforms.SelfSupervised(...)</c>.
/// </summary>
public sealed class SelfSupervisedEstimator : IEstimator<SelfSupervisedTransformer>
{
    // The kNN monitor embeds its rows after every epoch; a couple of thousand rows keep that a small share of an epoch.
    internal const int MaxMonitorRows = 2000;

    private readonly IHost _host;
    private readonly SelfSupervisedOptions _options;

    internal SelfSupervisedEstimator(IHostEnvironment env, SelfSupervisedOptions options)
    {
        ArgumentNullException.ThrowIfNull(env);
        _host = env.Register(nameof(SelfSupervisedEstimator));
        options.Validate();
        _options = options;
    }

    /// <summary>A copy of the settings this estimator fits with.</summary>
    public SelfSupervisedOptions Options => _options.Clone();

    /// <summary>The input schema plus the embedding column (a known-size vector of Single, with slot names e0, e1...).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or has a type the encoder cannot read.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        if (!inputSchema.TryFindColumn(_options.InputColumnName, out var input))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Input column '{_options.InputColumnName}' not found in the data. " +
                ColumnsPresent.In(inputSchema));
        InputColumnReader.CheckSchemaShape(_options.InputColumnName, input);
        RequireMethodFits(input.ItemType is ImageDataViewType ? SslInputKind.Image
            : _options.SeriesChannels > 0 ? SslInputKind.Series : SslInputKind.Tabular);
        var columns = inputSchema.ToDictionary(c => c.Name);
        var slotNames = new SchemaShape([new SchemaShape.Column(AnnotationUtils.Kinds.SlotNames, SchemaShape.Column.VectorKind.Vector,
            TextDataViewType.Instance, isKey: false)]);
        columns[_options.OutputColumnName] = new SchemaShape.Column(_options.OutputColumnName, SchemaShape.Column.VectorKind.Vector,
            NumberDataViewType.Single, isKey: false, slotNames);
        return new SchemaShape(columns.Values);
    }

    /// <summary>
    /// Pretrains on <see cref="SelfSupervisedOptions.PretrainingData"/> when set, otherwise on every row of
    /// <paramref name="input"/>, and returns the transformer that embeds rows with the trained encoder.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type.</exception>
    /// <exception cref="InvalidDataException">A row holds a bad value (NaN, a missing image); the message names it.</exception>
    /// <exception cref="ArgumentException">There are fewer than 2 rows to pretrain on.</exception>
    /// <exception cref="OperationCanceledException">The options' cancellation token fired.</exception>
    public SelfSupervisedTransformer Fit(IDataView input)
    {
        try
        {
            return FitCore(input);
        }
        catch (OperationCanceledException e) when (HostCancellation.ByUser(e, _options.CancellationToken))
        {
            throw new OperationCanceledException(e.Message, e, _options.CancellationToken);
        }
    }

    private SelfSupervisedTransformer FitCore(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var clock = Stopwatch.StartNew();
        var o = _options;
        var reader = ReaderFor(input.Schema, "the data given to Fit");
        IDataView pretrainingData = o.PretrainingData ?? input;
        if (o.PretrainingData is not null)
        {
            var other = ReaderFor(o.PretrainingData.Schema, "PretrainingData");
            if (other.Shape != reader.Shape)
                throw new ArgumentException($"Column '{o.InputColumnName}' holds {other.Shape} rows in PretrainingData but {reader.Shape} rows in the " +
                    "data given to Fit; both must have the same shape.", nameof(input));
        }
        if (o.MonitorLabelColumnName is not null) LabelColumnReader.Check(input.Schema, o.MonitorLabelColumnName);
        RequireMethodFits(reader.Shape.Kind);

        using var channel = _host.Start("SelfSupervised");
        using var cancellation = new HostCancellation(_host, o.CancellationToken);
        SslMethodRegistration methodEntry = o.ResolveMethod();
        channel.Info($"Reading column '{o.InputColumnName}' ({reader.Shape}) for {methodEntry.Name} pretraining.");
        string? labelsWithRows = o.PretrainingData is null ? o.MonitorLabelColumnName : null;
        // Photos take tens of milliseconds each to decode: every core decodes its share, where the read's cursor used one.
        if (reader.Shape.Kind == SslInputKind.Image)
            pretrainingData = DecodedImageView.ForOneRead(pretrainingData, o.InputColumnName, reader.Shape.Width, reader.Shape.Height, cancellation.Token);
        var (raw, labels) = DataViewRows.ReadAll(pretrainingData, reader, labelsWithRows, cancellation.Token);
        using var rawRows = raw;
        if (raw.shape[0] < 2)
            throw new ArgumentException($"Pretraining needs at least 2 rows in column '{o.InputColumnName}'; " +
                $"{(o.PretrainingData is null ? "the data given to Fit" : "PretrainingData")} has {raw.shape[0]}.", nameof(input));
        channel.Info($"Read {raw.shape[0]} rows in {clock.Elapsed.TotalSeconds:0.0} s.");

        var normalizer = InputNormalizer.Fit(reader.Shape, raw);
        using var dataset = NewDataset(reader.Shape, normalizer, raw);
        using var monitor = o.MonitorLabelColumnName is null ? null
            : MonitorRows(reader, normalizer, raw, labels, input, o.MonitorLabelColumnName, channel, cancellation.Token);

        var encoderOptions = o.ResolveEncoderOptions();
        SslMethodOptions? methodOptions = Snapshot(o.MethodOptions);
        var (encoder, method) = SelfSupervisedTransformer.BuildModel(reader.Shape, encoderOptions, methodEntry, methodOptions, o.Seed);
        try
        {
            AugmentationPolicy policy = o.Augmentations ?? methodEntry.DefaultAugmentations(reader.Shape);
            var progress = new ChannelProgress(channel, o.Progress);
            // Epochs = 0 keeps the seeded random encoder: the start of supervised training from scratch.
            int batchSize = o.ResolveBatchSize(dataset.Count);
            PretrainingOptions pretraining = o.ToPretrainingOptions(progress, cancellation.Token);
            pretraining.BatchSize = batchSize;
            SslPretrainingResult? result = o.Epochs == 0 ? null : SslPretrainer.Run(method, dataset, policy, pretraining, monitor);
            if (result is null)
            {
                channel.Info("Epochs is 0: the encoder keeps its random initial weights.");
            }
            else
            {
                foreach (string warning in result.Warnings) channel.Warning(warning);
                channel.Info($"Pretrained {result.History.Count} epochs in {result.Duration.TotalSeconds:0.0} s" +
                    (result.ResumedEpochs > 0 ? $" ({result.ResumedEpochs} resumed from the checkpoint)." : "."));
            }
            var model = new SelfSupervisedModel
            {
                InputColumnName = o.InputColumnName,
                OutputColumnName = o.OutputColumnName,
                Method = methodEntry.Name,
                InputShape = reader.Shape,
                EncoderOptions = encoderOptions,
                MethodOptions = methodOptions,
                BatchSize = batchSize,
                AllowCuda = o.AllowCuda,
                NormalizationMean = normalizer.Mean,
                NormalizationDeviation = normalizer.Deviation,
                History = result?.History.ToArray() ?? [],
                PretrainingSeconds = clock.Elapsed.TotalSeconds,
                PretrainingRows = dataset.Count,
            };
            return new SelfSupervisedTransformer(_host, model, encoder, method, RecordOf(policy));
        }
        catch
        {
            method.Dispose();
            encoder.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A copy of the caller's method options, so the fitted stage and its saved record keep the values it was trained with:
    /// one options object reused for the next model (a loop over projection sizes) rewrote the record of the stage fitted
    /// before, which then did not load (its weights had the old sizes). An options type that JSON cannot copy is kept as given
    /// (it cannot be saved either).
    /// </summary>
    private static SslMethodOptions? Snapshot(SslMethodOptions? options)
    {
        if (options is null) return null;
        try
        {
            Type type = options.GetType();
            return (SslMethodOptions?)System.Text.Json.JsonSerializer.Deserialize(
                System.Text.Json.JsonSerializer.Serialize(options, type, ModuleState.JsonDefaults), type, ModuleState.JsonDefaults) ?? options;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or NotSupportedException or InvalidOperationException)
        {
            return options;
        }
    }

    /// <summary>
    /// A copy of the policy pretraining used, for the stage's record: an augmentation of the caller's policy tuned for the next
    /// model rewrote the record (and the saved Augmentations.json) of the stage fitted before. Training used the caller's
    /// objects; a policy whose JSON cannot be read back (an augmentation type not registered) is recorded as given.
    /// </summary>
    private static AugmentationPolicy RecordOf(AugmentationPolicy policy)
    {
        try
        {
            return AugmentationPolicy.FromJson(policy.ToJson());
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or System.Text.Json.JsonException)
        {
            return policy;
        }
    }

    // Checked before any row is read: reading a large image folder only to be told the method cannot use it wastes minutes.
    private void RequireMethodFits(SslInputKind kind)
    {
        SslMethodRegistration method = _options.ResolveMethod();
        if (!method.Supports(kind))
            throw new ArgumentException($"SSL method {method.Name} cannot pretrain on column '{_options.InputColumnName}', which holds " +
                $"{kind} rows; it works on {string.Join(" and ", Enum.GetValues<SslInputKind>().Where(method.Supports).Select(k => k.ToString().ToLowerInvariant()))} " +
                $"rows only. For {kind} data choose one of: {string.Join(", ", SslMethodRegistry.NamesFor(kind))}.",
                _options.MethodName is null ? nameof(SelfSupervisedOptions.Method) : nameof(SelfSupervisedOptions.MethodName));
    }

    private InputColumnReader ReaderFor(DataViewSchema schema, string where)
    {
        var column = schema.GetColumnOrNull(_options.InputColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Input column '{_options.InputColumnName}' not found in {where}. " +
                ColumnsPresent.In(schema) + DroppedImagesHint(schema));
        return InputColumnReader.ForType(_options.InputColumnName, column.Type, _options.ImageWidth, _options.ImageHeight, _options.SeriesChannels);
    }

    // ML.NET's Data.Cache and Data.ShuffleRows drop image columns without a word, leaving the paths and labels: a view with
    // text but no image and no vector to read is most likely such a view (a fitted model says it for images; Fit did not).
    private string DroppedImagesHint(DataViewSchema schema)
    {
        var visible = schema.Where(c => !c.IsHidden).ToList();
        bool nothingToRead = !visible.Any(c => c.Type is ImageDataViewType or VectorDataViewType);
        return nothingToRead && visible.Any(c => c.Type is TextDataViewType)
            ? $" If '{_options.InputColumnName}' held images from LoadImages, an ml.Data.Cache or ml.Data.ShuffleRows step after it dropped " +
              "them (neither keeps an image column): give the stage the view before it (LoadImages' or PreloadImages') and cache or " +
              "shuffle after the stage."
            : "";
    }

    private static SslTensorDataset NewDataset(SslInputShape shape, InputNormalizer normalizer, Tensor raw, int[]? labels = null)
    {
        using var scope = torch.NewDisposeScope();
        // Images stay bytes (a quarter of the memory); the dataset scales each batch to [0, 1].
        Tensor rows = shape.Kind == SslInputKind.Image ? raw.alias() : normalizer.Apply(raw);
        return new SslTensorDataset(rows.MoveToOuterDisposeScope(), shape, labels);
    }

    private SslTensorDataset? MonitorRows(InputColumnReader reader, InputNormalizer normalizer, Tensor pretrainingRaw, int[]? pretrainingLabels,
        IDataView input, string labelColumn, IChannel channel, CancellationToken cancellationToken)
    {
        Tensor raw = pretrainingRaw;
        int[] labels;
        Tensor? ownRaw = null;
        if (pretrainingLabels is not null)
        {
            labels = pretrainingLabels;
        }
        else
        {
            (ownRaw, var read) = DataViewRows.ReadAll(input, reader, labelColumn, cancellationToken);
            raw = ownRaw;
            labels = read!;
        }
        try
        {
            long[] labeled = Enumerable.Range(0, labels.Length).Where(i => labels[i] >= 0).Select(i => (long)i).ToArray();
            if (labeled.Length > MaxMonitorRows)
            {
                // Evenly spaced, not the first rows: data sorted by class would otherwise leave classes out.
                double stride = labeled.Length / (double)MaxMonitorRows;
                labeled = Enumerable.Range(0, MaxMonitorRows).Select(k => labeled[(int)(k * stride)]).ToArray();
            }
            if (labeled.Length < 2)
            {
                channel.Warning($"Monitor label column '{labelColumn}' has {labeled.Length} labeled rows; the kNN monitor needs 2 or more and is off.");
                return null;
            }
            using var scope = torch.NewDisposeScope();
            var rows = raw.index_select(0, torch.tensor(labeled));
            return NewDataset(reader.Shape, normalizer, rows, labeled.Select(i => labels[i]).ToArray());
        }
        finally
        {
            ownRaw?.Dispose();
        }
    }

    /// <summary>Forwards progress to the caller and logs each epoch to the MLContext log.</summary>
    private sealed class ChannelProgress(IChannel channel, IProgress<SslProgress>? inner) : IProgress<SslProgress>
    {
        public void Report(SslProgress value)
        {
            if (value.EpochSummary is { } epoch) channel.Info($"{epoch} ({value.Epoch}/{value.TotalEpochs})");
            inner?.Report(value);
        }
    }
}
