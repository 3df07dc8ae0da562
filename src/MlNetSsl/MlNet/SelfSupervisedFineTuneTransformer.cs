using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MlNetSsl;
using MlNetSsl.MlNet.Data;
using MlNetSsl.MlNet;
using MlNetSsl.MlNet.Persistence;
using MlNetSsl.Onnx;
using TorchSharp;
using static TorchSharp.torch;

[assembly: LoadableClass(typeof(SelfSupervisedFineTuneTransformer), null, typeof(SignatureLoadModel),
    "Self-supervised fine-tuned classifier", SelfSupervisedFineTuneTransformer.LoaderSignature)]

namespace MlNetSsl;

/// <summary>
/// A fine-tuned encoder plus classification head as an ML.NET transformer: adds <c>Score</c> (class probabilities,
/// a vector of Single) and <c>PredictedLabel</c> (the training label's key type, with its key values) computed in
/// batches. Works with <c>MulticlassClassification.Evaluate</c>, <c>PredictionEngine</c> and <c>Model.Save/Load</c>.
/// </summary>
public sealed class SelfSupervisedFineTuneTransformer : ITransformer, ICanSaveModel, IDisposable
{
    internal const string LoaderSignature = "MlNetSslFineTuned";
    private const string ModelStream = "FineTuned.json";
    private const string WeightsStream = "Classifier.bin";
    private const string Owner = "the fine-tuned classifier";

    private readonly IHost _host;
    private readonly SelfSupervisedFineTuneModel _model;
    private readonly SslClassifier _classifier;
    private readonly InputNormalizer _normalizer;
    private readonly Device _device;
    private readonly InferenceGuard _guard;

    internal SelfSupervisedFineTuneTransformer(IHostEnvironment env, SelfSupervisedFineTuneModel model, SslClassifier classifier)
    {
        _host = env.Register(nameof(SelfSupervisedFineTuneTransformer));
        _model = model;
        _classifier = classifier;
        _normalizer = new InputNormalizer(model.InputShape.Kind, model.NormalizationMean, model.NormalizationDeviation);
        classifier.eval(); // inference only from here: concurrent cursors and engines read the module, nothing mutates it
        _device = classifier.Device;
        _guard = new InferenceGuard(DisposedError);
    }

    /// <summary>Name of the input column (the pretrained stage's).</summary>
    public string InputColumnName => _model.InputColumnName;

    /// <summary>Number of classes (the size of <c>Score</c>).</summary>
    public int ClassCount => _model.HeadLayout.ClassCount;

    /// <summary>Class names in key order, when the label's key values were text or numbers; otherwise empty.</summary>
    public IReadOnlyList<string> ClassNames => _model.ClassNames.Values;

    /// <summary>Every epoch of every fine-tuning stage (fine-tune, self-training, distillation).</summary>
    public IReadOnlyList<FineTuneEpochRecord> History => _model.History;

    /// <summary>The stage that produced the classifier.</summary>
    public FineTuneStage FinalStage => _model.FinalStage;

    /// <summary>The epoch of <see cref="FinalStage"/> whose weights the classifier holds.</summary>
    public int BestEpoch => _model.BestEpoch;

    /// <summary>Wall-clock time of fine-tuning.</summary>
    public TimeSpan Duration => TimeSpan.FromSeconds(_model.Seconds);

    /// <summary>The classifier module (encoder and head), owned by this transformer.</summary>
    public SslClassifier Classifier => _classifier;

    /// <summary>Always true: PredictionEngine can use it.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus <c>Score</c> and <c>PredictedLabel</c>.</summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new ScoreOutput(this, CheckInput(inputSchema)).OutputSchema(inputSchema);
    }

    /// <summary>A lazy view with <c>Score</c> and <c>PredictedLabel</c>; one forward pass per batch of rows.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ThrowIfDisposed();
        return new BatchedDataView(new ScoreOutput(this, CheckInput(input.Schema)), input);
    }

    /// <summary>A row-by-row mapper for <c>PredictionEngine</c>.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ThrowIfDisposed();
        return new BatchedRowMapper(new ScoreOutput(this, CheckInput(inputSchema)), inputSchema);
    }

    /// <summary>
    /// Releases the classifier's native memory (a PredictionEngine that owns its model does this too), after any
    /// forward pass running on another thread has finished; later use throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (_guard.TryClose()) _classifier.Dispose();
    }

    /// <summary>
    /// Writes the classifier (input standardization, encoder, head, softmax) as a standalone ONNX model (IR 7, opset 12)
    /// that ONNX Runtime or ML.NET's <c>ApplyOnnxModel</c> runs without TorchSharp. The model has one float input named
    /// <see cref="InputColumnName"/>: images as [N, 3, H, W] RGB values in [0, 1] (H and W as the pretrained stage's);
    /// tabular rows as [N, F] raw values; series as [N, C*T] raw values, channel after channel. Its one output,
    /// <c>Score</c>, holds the class probabilities [N, <see cref="ClassCount"/>] in key order: the arg max (first on
    /// ties) is class <c>k</c> of <see cref="ClassNames"/>, <c>PredictedLabel</c> key <c>k + 1</c>. Nothing is written
    /// unless the whole model was built. For a pipeline on tabular or series input, <c>mlContext.Model.ConvertToOnnx</c>
    /// exports Score and PredictedLabel with the steps around the classifier.
    /// </summary>
    /// <param name="stream">Where the model is written; it stays open.</param>
    /// <exception cref="NotSupportedException">The encoder, or one of its layers, has no ONNX form; the message names the layer.</exception>
    /// <exception cref="ObjectDisposedException">This transformer was disposed.</exception>
    public void SaveClassifierAsOnnx(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite) throw new ArgumentException("The stream is not writable.", nameof(stream));
        byte[] model;
        using (_guard.Enter())
        {
            model = OnnxExport.Standalone(_model.InputShape, InputColumnName, "Score", ClassCount,
                $"MlNetSsl fine-tuned classifier ({_classifier.Encoder.Kind}); input {InputColumnName}, output Score [N, {ClassCount}] probabilities.",
                (graph, input) => OnnxExport.Probabilities(graph, _classifier, _normalizer, input));
        }
        stream.Write(model);
    }

    /// <summary>Adds Score and PredictedLabel to ML.NET's ONNX converter (see <see cref="BatchedDataView"/>).</summary>
    private void SaveAsOnnx(OnnxContext context, string inputColumn, ScoreOutput output)
    {
        if (_model.InputShape.Kind == SslInputKind.Image)
            throw SelfSupervisedTransformer.ImagePipelineNotConvertible(nameof(SaveClassifierAsOnnx));
        string input = SelfSupervisedTransformer.OnnxInputVariable(context, inputColumn);
        using (_guard.Enter())
        {
            var graph = new MlNetOnnxGraph(context);
            string probabilities = OnnxExport.Probabilities(graph, _classifier, _normalizer, input);
            string score = context.AddIntermediateVariable(output.Columns[0].Type, output.Columns[0].Name);
            context.CreateNode("Identity", probabilities, score, context.GetNodeName("Identity"), "");
            // PredictedLabel is the one-based key of the arg max, as the IDataView getter computes it (first on ties).
            string index = graph.AddNode("ArgMax", [probabilities], "argmax", OnnxAttribute.Of("axis", 1), OnnxAttribute.Of("keepdims", 1));
            string key = graph.AddNode("Add", [index, graph.AddInitializer(new long[] { 1 }, [1], "one")], "key");
            string label = context.AddIntermediateVariable(output.Columns[1].Type, output.Columns[1].Name);
            context.CreateNode("Cast", key, label, context.GetNodeName("Cast"), "").AddAttribute("to", typeof(uint));
        }
    }

    private InputColumnReader CheckInput(DataViewSchema schema) =>
        InputColumnReader.ForModel(schema, InputColumnName, _model.InputShape, "the classifier");

    private Tensor Probabilities(Tensor raw)
    {
        using var lease = _guard.Enter();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var logits = _classifier.forward(_normalizer.Apply(raw.to(_device)));
        return nn.functional.softmax(logits, 1).to_type(ScalarType.Float32).cpu().contiguous().MoveToOuterDisposeScope();
    }

    private void ThrowIfDisposed() => _guard.ThrowIfDisposed();

    private static ObjectDisposedException DisposedError() =>
        new(nameof(SelfSupervisedFineTuneTransformer), "This fine-tuned classifier was disposed. A " +
            "PredictionEngine disposes its model when it is disposed, unless created with PredictionEngineOptions { OwnsTransformer = false }.");

    /// <summary>Score (probabilities) and PredictedLabel (arg max, as a one-based key).</summary>
    private sealed class ScoreOutput(SelfSupervisedFineTuneTransformer owner, InputColumnReader reader) : BatchedOutput
    {
        public override InputColumnReader Reader => reader;

        public override int BatchSize => owner._model.BatchSize;

        public override int ValuesPerRow => owner.ClassCount;

        public override IReadOnlyList<(string Name, DataViewType Type, DataViewSchema.Annotations? Annotations)> Columns { get; } =
        [
            // Slot names as ML.NET's trainers give them, so a consumer can name each score by its class.
            ("Score", new VectorDataViewType(NumberDataViewType.Single, owner.ClassCount), owner._model.ClassNames.ToSlotNames()),
            ("PredictedLabel", new KeyDataViewType(typeof(uint), owner.ClassCount), owner._model.ClassNames.ToAnnotations()),
        ];

        public override Tensor Compute(Tensor raw) => owner.Probabilities(raw);

        public override void SaveAsOnnx(OnnxContext context) => owner.SaveAsOnnx(context, reader.ColumnName, this);

        public override Delegate MakeGetter(int column, Func<ReadOnlyMemory<float>> values)
        {
            if (column == 0) return VectorGetter(values);
            ValueGetter<uint> predicted = (ref uint key) =>
            {
                var scores = values().Span;
                int best = 0;
                for (int k = 1; k < scores.Length; k++) if (scores[k] > scores[best]) best = k;
                key = (uint)best + 1;
            };
            return predicted;
        }
    }

    // ---- persistence -------------------------------------------------------------------------------------------

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "MSSLFTUN",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(SelfSupervisedFineTuneTransformer).Assembly.FullName);

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        using var lease = _guard.Enter();
        ModelStreams.SaveRecord(ctx, GetVersionInfo(), SelfSupervisedFineTuneModel.CurrentFormatVersion, ModelStream, _model);
        ModelStreams.SaveWeights(ctx, WeightsStream, _classifier);
    }

    // Called by ML.NET through the LoadableClass registration above.
    private static SelfSupervisedFineTuneTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var model = ModelStreams.LoadRecord<SelfSupervisedFineTuneModel>(ctx, GetVersionInfo(), SelfSupervisedFineTuneModel.CurrentFormatVersion,
            ModelStream, Owner, m => m.FormatVersion);
        var classifier = SeededModules.Create(0, () => new SslClassifier(EncoderFactory.Create(model.InputShape, model.EncoderOptions), model.HeadLayout));
        try
        {
            ModelStreams.LoadWeights(ctx, WeightsStream, Owner, classifier, model.AllowCuda);
            return new SelfSupervisedFineTuneTransformer(env, model, classifier);
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }
}

/// <summary>What the model zip stores about a fine-tuned classifier besides its weights.</summary>
internal sealed class SelfSupervisedFineTuneModel
{
    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public required string InputColumnName { get; init; }
    public required string LabelColumnName { get; init; }
    public required SslInputShape InputShape { get; init; }
    public required EncoderOptions EncoderOptions { get; init; }
    public required ClassifierHeadLayout HeadLayout { get; init; }
    public required float[] NormalizationMean { get; init; }
    public required float[] NormalizationDeviation { get; init; }
    public required ClassNames ClassNames { get; init; }
    public required int BatchSize { get; init; }
    public bool AllowCuda { get; init; } = true;
    public FineTuneStage FinalStage { get; init; }
    public int BestEpoch { get; init; }
    public required FineTuneEpochRecord[] History { get; init; }
    public double Seconds { get; init; }
}

/// <summary>The label's key values (class names), kept so PredictedLabel maps back to them with MapKeyToValue.</summary>
internal sealed class ClassNames
{
    /// <summary>The key values' item type: Text, Boolean or a number type's name (Single, Int32...), or empty when the
    /// label had none.</summary>
    public string ValueType { get; init; } = "";

    /// <summary>Key values in key order, as invariant strings.</summary>
    public string[] Values { get; init; } = [];

    /// <summary>Reads the KeyValues annotation of a key column whose values are text, booleans or numbers (what
    /// <c>MapValueToKey</c> makes of a label of those types), so PredictedLabel can carry them for <c>MapKeyToValue</c>.</summary>
    public static ClassNames From(DataViewSchema.Column label, int count)
    {
        var annotation = label.Annotations.Schema.GetColumnOrNull(AnnotationUtils.Kinds.KeyValues);
        if (annotation is not { Type: VectorDataViewType vector } || vector.Size != count) return new ClassNames();
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        DataViewType item = vector.ItemType;
        string[]? values = item switch
        {
            TextDataViewType => Read<ReadOnlyMemory<char>>(label, v => v.ToString()),
            BooleanDataViewType => Read<bool>(label, v => v.ToString(culture)),
            _ when item == NumberDataViewType.Single => Read<float>(label, v => v.ToString("R", culture)),
            _ when item == NumberDataViewType.Double => Read<double>(label, v => v.ToString("R", culture)),
            _ when item == NumberDataViewType.SByte => Read<sbyte>(label, v => v.ToString(culture)),
            _ when item == NumberDataViewType.Byte => Read<byte>(label, v => v.ToString(culture)),
            _ when item == NumberDataViewType.Int16 => Read<short>(label, v => v.ToString(culture)),
            _ when item == NumberDataViewType.UInt16 => Read<ushort>(label, v => v.ToString(culture)),
            _ when item == NumberDataViewType.Int32 => Read<int>(label, v => v.ToString(culture)),
            _ when item == NumberDataViewType.UInt32 => Read<uint>(label, v => v.ToString(culture)),
            _ when item == NumberDataViewType.Int64 => Read<long>(label, v => v.ToString(culture)),
            _ when item == NumberDataViewType.UInt64 => Read<ulong>(label, v => v.ToString(culture)),
            _ => null,
        };
        return values is null ? new ClassNames() : new ClassNames { ValueType = item is TextDataViewType ? "Text" : item.RawType.Name, Values = values };
    }

    private static string[] Read<T>(DataViewSchema.Column label, Func<T, string> format)
    {
        VBuffer<T> values = default;
        label.Annotations.GetValue(AnnotationUtils.Kinds.KeyValues, ref values);
        return values.DenseValues().Select(format).ToArray();
    }

    /// <summary>The SlotNames annotation for Score (the class names as text, in key order), or null when the label had no
    /// key values.</summary>
    public DataViewSchema.Annotations? ToSlotNames()
    {
        if (Values.Length == 0) return null;
        var builder = new DataViewSchema.Annotations.Builder();
        AddText(builder, AnnotationUtils.Kinds.SlotNames, Values);
        return builder.ToAnnotations();
    }

    private static void AddText(DataViewSchema.Annotations.Builder builder, string kind, string[] values)
    {
        var text = values.Select(v => v.AsMemory()).ToArray();
        builder.Add(kind, new VectorDataViewType(TextDataViewType.Instance, text.Length),
            (ref VBuffer<ReadOnlyMemory<char>> value) => CopyInto(text, ref value));
    }

    // Into the caller's buffer, never this model's array: ML.NET reads several columns' names into one buffer
    // (Concatenate does), and the next column's getter writes into it, which wrote over the class names.
    private static void CopyInto<T>(T[] values, ref VBuffer<T> destination)
    {
        var editor = VBufferEditor.Create(ref destination, values.Length);
        values.CopyTo(editor.Values);
        destination = editor.Commit();
    }

    /// <summary>The KeyValues annotation for PredictedLabel, in the label's own value type, or null when the label had
    /// none.</summary>
    public DataViewSchema.Annotations? ToAnnotations()
    {
        if (Values.Length == 0) return null;
        var builder = new DataViewSchema.Annotations.Builder();
        var c = System.Globalization.CultureInfo.InvariantCulture;
        string kind = AnnotationUtils.Kinds.KeyValues;
        switch (ValueType)
        {
            case "Text": AddText(builder, kind, Values); break;
            case nameof(Boolean): Add(builder, kind, BooleanDataViewType.Instance, v => bool.Parse(v)); break;
            case nameof(Single): Add(builder, kind, NumberDataViewType.Single, v => float.Parse(v, c)); break;
            case nameof(Double): Add(builder, kind, NumberDataViewType.Double, v => double.Parse(v, c)); break;
            case nameof(SByte): Add(builder, kind, NumberDataViewType.SByte, v => sbyte.Parse(v, c)); break;
            case nameof(Byte): Add(builder, kind, NumberDataViewType.Byte, v => byte.Parse(v, c)); break;
            case nameof(Int16): Add(builder, kind, NumberDataViewType.Int16, v => short.Parse(v, c)); break;
            case nameof(UInt16): Add(builder, kind, NumberDataViewType.UInt16, v => ushort.Parse(v, c)); break;
            case nameof(Int32): Add(builder, kind, NumberDataViewType.Int32, v => int.Parse(v, c)); break;
            case nameof(UInt32): Add(builder, kind, NumberDataViewType.UInt32, v => uint.Parse(v, c)); break;
            case nameof(Int64): Add(builder, kind, NumberDataViewType.Int64, v => long.Parse(v, c)); break;
            case nameof(UInt64): Add(builder, kind, NumberDataViewType.UInt64, v => ulong.Parse(v, c)); break;
            default: return null;
        }
        return builder.ToAnnotations();
    }

    private void Add<T>(DataViewSchema.Annotations.Builder builder, string kind, PrimitiveDataViewType itemType, Func<string, T> parse)
    {
        T[] values = Values.Select(parse).ToArray();
        builder.Add(kind, new VectorDataViewType(itemType, values.Length), (ref VBuffer<T> value) => CopyInto(values, ref value));
    }
}
