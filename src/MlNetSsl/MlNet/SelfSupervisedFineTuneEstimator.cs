using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MlNetSsl.MlNet.Data;
using MlNetSsl.MlNet;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>Catalog extension for fine-tuning a pretrained self-supervised encoder as a multiclass classifier.</summary>
public static class SelfSupervisedFineTuneCatalog
{
    /// <summary>
    /// Fine-tunes the encoder of <paramref name="pretrained"/> with a classification head on the labeled rows, reading
    /// the stage's input column, and produces ML.NET's standard <c>Score</c> and <c>PredictedLabel</c> columns, so
    /// <c>MulticlassClassification.Evaluate</c> works. Rows whose label is missing, and the rows of <paramref name="unlabeledData"/>,
    /// are the unlabeled rows for semi-supervised training, self-training and distillation.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="pretrained">The fitted SSL stage; its encoder is copied, never changed.</param>
    /// <param name="labelColumnName">A key-typed label column (use <c>Conversion.MapValueToKey</c>); missing keys are unlabeled rows.</param>
    /// <param name="configure">Changes the fine-tuning settings.</param>
    /// <param name="unlabeledData">More unlabeled rows, with the pretrained stage's input column; null for none.</param>
    /// <exception cref="ArgumentException"><paramref name="configure"/> set an invalid option, or set
    /// <see cref="FineTuneOptions.UnlabeledRows"/> (pass <paramref name="unlabeledData"/> instead), or
    /// <paramref name="labelColumnName"/> is empty or names a column the trainer writes (<c>Score</c>, <c>PredictedLabel</c>).</exception>
    public static SelfSupervisedFineTuneEstimator SelfSupervisedFineTune(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        SelfSupervisedTransformer pretrained, string labelColumnName = "Label", Action<FineTuneOptions>? configure = null,
        IDataView? unlabeledData = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(pretrained);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumnName);
        // The scored rows would hold the prediction under the label's name: MulticlassClassification.Evaluate then compared
        // the predictions with themselves (accuracy 1).
        if (labelColumnName is "Score" or "PredictedLabel")
            throw new ArgumentException($"The label column is named '{labelColumnName}', a column this trainer writes (Score, PredictedLabel), " +
                "so the scored rows would lose the label to the prediction; copy it under another name first (ml.Transforms.CopyColumns, " +
                "or MapValueToKey(\"LabelKey\", \"" + labelColumnName + "\")).", nameof(labelColumnName));
        var options = new FineTuneOptions();
        configure?.Invoke(options);
        options.Validate();
        // The engine's tensor rows would skip the stage's input standardization (tabular and series), and the
        // estimator would then ignore unlabeledData: in ML.NET the unlabeled rows come as an IDataView.
        if (options.UnlabeledRows is not null)
            throw new ArgumentException("FineTuneOptions.UnlabeledRows is the engine's (FineTuner.Train) way to pass unlabeled rows; in this ML.NET " +
                "trainer pass them as an IDataView in unlabeledData (or leave their labels missing in the data), so they are read and standardized " +
                "as the stage reads its input.", nameof(configure));
        return new SelfSupervisedFineTuneEstimator(CatalogUtils.GetEnvironment(catalog), pretrained, labelColumnName, options, unlabeledData);
    }
}

/// <summary>
/// Estimator of <see cref="SelfSupervisedFineTuneTransformer"/>: fine-tunes a pretrained encoder (and a new
/// classification head) on the labeled rows. Create it with <c>MulticlassClassification.Trainers.SelfSupervisedFineTune</c>.
/// </summary>
public sealed class SelfSupervisedFineTuneEstimator : IEstimator<SelfSupervisedFineTuneTransformer>
{
    private readonly IHost _host;
    private readonly SelfSupervisedTransformer _pretrained;
    private readonly string _labelColumn;
    private readonly FineTuneOptions _options;
    private readonly IDataView? _unlabeledData;

    internal SelfSupervisedFineTuneEstimator(IHostEnvironment env, SelfSupervisedTransformer pretrained, string labelColumn, FineTuneOptions options,
        IDataView? unlabeledData)
    {
        _unlabeledData = unlabeledData;
        _host = env.Register(nameof(SelfSupervisedFineTuneEstimator));
        _pretrained = pretrained;
        _labelColumn = labelColumn;
        _options = options;
    }

    /// <summary>The input schema plus <c>Score</c> (a vector of Single) and <c>PredictedLabel</c> (the label's key type).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input or label column is missing or has the wrong type.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        if (!inputSchema.TryFindColumn(_pretrained.InputColumnName, out var input))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Input column '{_pretrained.InputColumnName}' not found in the data: " +
                "fine-tuning reads the column its pretrained stage was fitted on (images, tabular rows or series, not the stage's " +
                "embedding). " + ColumnsPresent.In(inputSchema));
        InputColumnReader.CheckSchemaShape(_pretrained.InputColumnName, input);
        if (!inputSchema.TryFindColumn(_labelColumn, out var label))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{_labelColumn}' not found in the data. " +
                ColumnsPresent.In(inputSchema));
        if (!label.IsKey)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{_labelColumn}' must be a key type; map it with " +
                "Transforms.Conversion.MapValueToKey first (missing values and empty text become missing keys, which mark unlabeled rows).");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns["Score"] = new SchemaShape.Column("Score", SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, isKey: false);
        columns["PredictedLabel"] = new SchemaShape.Column("PredictedLabel", SchemaShape.Column.VectorKind.Scalar, label.ItemType, isKey: true, label.Annotations);
        return new SchemaShape(columns.Values);
    }

    /// <summary>Fine-tunes on the labeled rows of <paramref name="input"/> and returns the classifier transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type.</exception>
    /// <exception cref="ArgumentException">No labeled rows, or a class with a single labeled row.</exception>
    /// <exception cref="InvalidDataException">A row holds a bad value; the message names it.</exception>
    public SelfSupervisedFineTuneTransformer Fit(IDataView input)
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

    private SelfSupervisedFineTuneTransformer FitCore(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        // Held for the whole fit: disposing the pretrained stage meanwhile waits instead of freeing the encoder being copied.
        using var pretrainedInUse = _pretrained.Use();
        var reader = _pretrained.CheckInput(input.Schema);
        var labelColumn = input.Schema.GetColumnOrNull(_labelColumn)
            ?? throw new ArgumentOutOfRangeException(nameof(input), $"Label column '{_labelColumn}' not found in the data. " +
                ColumnsPresent.In(input.Schema));
        if (labelColumn.Type is not KeyDataViewType keyType)
            throw new ArgumentOutOfRangeException(nameof(input), $"Label column '{_labelColumn}' has type {labelColumn.Type}; it must be a key " +
                "type. Map it with Transforms.Conversion.MapValueToKey first.");
        int classCount = checked((int)keyType.Count);
        // The key type fixes the classes, their order and Score's width; another count would be silently replaced.
        if (_options.ClassCount is int asked && asked != classCount)
            throw new ArgumentOutOfRangeException(nameof(input), $"FineTuneOptions.ClassCount is {asked}, but label column '{_labelColumn}' is a key " +
                $"of {classCount} values, which decides the classes in ML.NET; leave ClassCount unset (or give the key's count).");
        var classNames = ClassNames.From(labelColumn, classCount);

        using var channel = _host.Start("SelfSupervisedFineTune");
        using var cancellation = new HostCancellation(_host, _options.CancellationToken);
        var options = _options.Clone();
        options.CancellationToken = cancellation.Token;
        var (raw, labels) = DataViewRows.ReadAll(input, reader, _labelColumn, options.CancellationToken);
        SslTensorDataset labeledRows;
        // The raw rows go once the dataset holds its copy, also when making it throws.
        using (raw) labeledRows = NewDataset(reader.Shape, raw, labels);
        using var labeled = labeledRows;
        CheckLabels(labels!, classCount, classNames);
        options.ClassCount = classCount;
        SslTensorDataset? unlabeled = null;
        try
        {
            if (_unlabeledData is { } extra)
            {
                InputColumnReader extraReader;
                try
                {
                    extraReader = _pretrained.CheckInput(extra.Schema);
                }
                catch (ArgumentOutOfRangeException e)
                {
                    // The same check as the training data's: say which of the two views lacks the column or has the wrong shape.
                    string reason = e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
                    throw new ArgumentOutOfRangeException("unlabeledData", $"The unlabeledData view does not fit the pretrained stage: {reason}");
                }
                var (extraRaw, _) = DataViewRows.ReadAll(extra, extraReader, null, options.CancellationToken);
                using (extraRaw) unlabeled = NewDataset(reader.Shape, extraRaw, null);
                options.UnlabeledRows = unlabeled;
            }
            CheckUnlabeledRows(labels!, unlabeled?.Count ?? 0);
            channel.Info($"Fine-tuning on {labels!.Count(l => l >= 0)} labeled rows of {labels!.Length} ({classCount} classes)" +
                (unlabeled is null ? "." : $", with {unlabeled.Count} extra unlabeled rows."));
            var head = options.HeadFromProjectionLayer > 0 ? FineTuner.FindProjectionHead(_pretrained.MethodModule) : null;
            var result = FineTuner.Train(_pretrained.Encoder, labeled, options, head);
            result.Teacher?.Dispose();
            foreach (var epoch in result.History.Where(h => h.Epoch % 10 == 0)) channel.Info(epoch.ToString());
            if (result.Classifier.Encoder.Options is not { } encoderOptions)
            {
                result.Classifier.Dispose();
                throw new InvalidOperationException("The fine-tuned encoder has no options to save.");
            }
            var model = new SelfSupervisedFineTuneModel
            {
                InputColumnName = _pretrained.InputColumnName,
                LabelColumnName = _labelColumn,
                InputShape = reader.Shape,
                EncoderOptions = encoderOptions,
                HeadLayout = result.Classifier.HeadLayout,
                NormalizationMean = _pretrained.Normalizer.Mean,
                NormalizationDeviation = _pretrained.Normalizer.Deviation,
                ClassNames = classNames,
                BatchSize = options.InferenceBatchSize,
                AllowCuda = options.AllowCuda,
                FinalStage = result.FinalStage,
                BestEpoch = result.BestEpoch,
                History = result.History.ToArray(),
                Seconds = result.Duration.TotalSeconds,
            };
            return new SelfSupervisedFineTuneTransformer(_host, model, result.Classifier);
        }
        finally
        {
            unlabeled?.Dispose();
        }
    }

    // Said in the user's terms (rows and labels) before the engine reports it as an option it never set.
    private void CheckLabels(int[] labels, int classCount, ClassNames classNames)
    {
        int labeled = labels.Count(l => l >= 0);
        const string Marking = "Rows without a label are those whose key is missing: an empty text or NaN mapped by " +
            "Conversion.MapValueToKey, or a value outside its key range.";
        if (labeled == 0)
            throw new ArgumentException($"No row of the {labels.Length} given to fine-tuning has a label in column '{_labelColumn}'; " +
                $"fine-tuning needs labeled rows of at least 2 classes. {Marking}", "input");
        if (classCount < 2)
            throw new ArgumentException($"Label column '{_labelColumn}' knows a single class ({labeled} labeled rows); fine-tuning " +
                $"needs at least 2 classes. {Marking}", "input");
        // Checked here, not only by the fine-tuner, to name the class by its value rather than its key index.
        var single = labels.Select((label, row) => (label, row)).Where(p => p.label >= 0).GroupBy(p => p.label)
            .Where(g => g.Count() == 1).OrderBy(g => g.Key).FirstOrDefault();
        if (single is not null)
        {
            int key = single.Key;
            string name = key < classNames.Values.Length ? $"'{classNames.Values[key]}' (key {key + 1})" : $"with key {key + 1}";
            throw new ArgumentException($"Class {name} of label column '{_labelColumn}' has a single labeled row (row {single.First().row}); " +
                "fine-tuning needs at least 2 per class. Label another row of that class, or drop the class.", "input");
        }
    }

    // The engine asks for rows labeled -1 or FineTuneOptions.UnlabeledRows, neither of which this trainer takes: say it in the
    // terms of the data given to Fit.
    private void CheckUnlabeledRows(int[] labels, long extraRows)
    {
        string? option = _options.SemiSupervised is not null ? "SemiSupervised (FixMatch)"
            : _options.PseudoLabelThreshold is not null ? "PseudoLabelThreshold (self-training)" : null;
        if (option is null || extraRows > 0 || labels.Any(l => l < 0)) return;
        throw new ArgumentException($"FineTuneOptions.{option} learns from unlabeled rows, but every one of the {labels.Length} rows " +
            $"given to fine-tuning has a label in column '{_labelColumn}'" +
            (_unlabeledData is null ? " and no unlabeledData was given" : " and unlabeledData has no rows") +
            ". Leave the labels of the unlabeled rows missing (NaN or empty text before Conversion.MapValueToKey), pass them as " +
            $"unlabeledData, or leave FineTuneOptions.{option.Split(' ')[0]} unset.", "input");
    }

    private SslTensorDataset NewDataset(SslInputShape shape, Tensor raw, int[]? labels)
    {
        using var scope = torch.NewDisposeScope();
        Tensor rows = shape.Kind == SslInputKind.Image ? raw.alias() : _pretrained.Normalizer.Apply(raw);
        return new SslTensorDataset(rows.MoveToOuterDisposeScope(), shape, labels);
    }
}
