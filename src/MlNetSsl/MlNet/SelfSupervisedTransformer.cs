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

[assembly: LoadableClass(typeof(SelfSupervisedTransformer), null, typeof(SignatureLoadModel),
    "Self-supervised featurizer", SelfSupervisedTransformer.LoaderSignature)]

namespace MlNetSsl;

/// <summary>
/// A pretrained self-supervised encoder as an ML.NET transformer: adds a known-size float vector column with the
/// embedding of each row's input (image, tabular row or series). <see cref="Transform"/> is lazy and runs one
/// forward pass per batch of rows; <see cref="GetRowToRowMapper"/> serves <c>PredictionEngine</c> one row at a
/// time. Saved and loaded with <c>mlContext.Model.Save/Load</c>. Dispose it to free the encoder's native memory.
/// </summary>
public sealed class SelfSupervisedTransformer : ITransformer, ICanSaveModel, IDisposable
{
    internal const string LoaderSignature = "MlNetSslSelfSupervised";
    private const string ModelStream = "SelfSupervised.json";
    private const string WeightsStream = "Weights.bin";
    private const string AugmentationsStream = "Augmentations.json";
    private const string Owner = "the self-supervised featurizer";

    private readonly IHost _host;
    private readonly SelfSupervisedModel _model;
    private readonly ISslMethod _method;
    private readonly InputNormalizer _normalizer;
    private readonly Device _device;
    private readonly InferenceGuard _guard;

    internal SelfSupervisedTransformer(IHostEnvironment env, SelfSupervisedModel model, SslEncoder encoder, ISslMethod method, AugmentationPolicy policy)
    {
        _host = env.Register(nameof(SelfSupervisedTransformer));
        _model = model;
        Encoder = encoder;
        _method = method;
        Augmentations = policy;
        _normalizer = new InputNormalizer(model.InputShape.Kind, model.NormalizationMean, model.NormalizationDeviation);
        // Inference only from here on: batch norm uses its running statistics and nothing mutates the module, which
        // is what makes concurrent cursors and prediction engines safe without a lock.
        method.Module.eval();
        _device = encoder.parameters().FirstOrDefault()?.device ?? torch.CPU;
        _guard = new InferenceGuard(DisposedError);
    }

    /// <summary>Name of the input column the encoder reads.</summary>
    public string InputColumnName => _model.InputColumnName;

    /// <summary>Name of the embedding column this transformer adds.</summary>
    public string OutputColumnName => _model.OutputColumnName;

    /// <summary>The name of the SSL method the encoder was pretrained with (a <see cref="SslMethod"/> name for the built-in ones).</summary>
    public string Method => _model.Method;

    /// <summary>The method's options the encoder was pretrained with (an instance of the method's own options type, a
    /// copy); null when the defaults were used.</summary>
    public SslMethodOptions? MethodOptions => _model.MethodOptions is { } options
        ? (SslMethodOptions?)System.Text.Json.JsonSerializer.Deserialize(
            System.Text.Json.JsonSerializer.Serialize(options, options.GetType(), ModuleState.JsonDefaults), options.GetType(), ModuleState.JsonDefaults)
        : null;

    /// <summary>The shape of one input row as the encoder sees it (images after resizing).</summary>
    public SslInputShape InputShape => _model.InputShape;

    /// <summary>Length of the embedding vector.</summary>
    public int EmbeddingSize => Encoder.EmbeddingSize;

    /// <summary>The encoder's architecture settings (a copy), with <see cref="EncoderOptions.Kind"/> resolved to the
    /// architecture that was built (never <see cref="EncoderKind.Auto"/> unless a registered encoder was named).</summary>
    public EncoderOptions EncoderOptions
    {
        get
        {
            EncoderOptions options = _model.EncoderOptions.Clone();
            if (options.Name is null) options.Kind = options.ResolveKind(InputShape.Kind);
            return options;
        }
    }

    /// <summary>The augmentation policy pretraining used (kept for the record; transforming does not augment).</summary>
    public AugmentationPolicy Augmentations { get; }

    /// <summary>Per-epoch loss, monitor accuracy, embedding spread and rank, collapse warnings and time.</summary>
    public IReadOnlyList<SslEpochRecord> History => _model.History;

    /// <summary>Collapse warnings raised during pretraining, by epoch; empty when the embeddings stayed healthy.</summary>
    public IReadOnlyList<string> Warnings => _model.History.Where(h => h.CollapseWarning is not null)
        .Select(h => $"epoch {h.Epoch}: {h.CollapseWarning}").ToArray();

    /// <summary>Wall-clock time of Fit: reading the rows and pretraining.</summary>
    public TimeSpan PretrainingDuration => TimeSpan.FromSeconds(_model.PretrainingSeconds);

    /// <summary>Rows the encoder was pretrained on.</summary>
    public long PretrainingRows => _model.PretrainingRows;

    /// <summary>Rows per forward pass when transforming.</summary>
    public int BatchSize => _model.BatchSize;

    /// <summary>The pretrained encoder, owned by this transformer (do not dispose it; do not train it in place).</summary>
    public SslEncoder Encoder { get; }

    /// <summary>The pretraining method with its heads (projector, predictor); fine-tuning reads the projector from it.</summary>
    internal ISslMethod MethodModule => _method;

    internal InputNormalizer Normalizer => _normalizer;

    internal SelfSupervisedModel Model => _model;

    /// <summary>Always true: the transformer maps each row on its own, so PredictionEngine can use it.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus the embedding column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or does not match the trained encoder.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new EmbeddingOutput(this, CheckInput(inputSchema)).OutputSchema(inputSchema);
    }

    /// <summary>
    /// A lazy view with the embedding column added. Cursors read <see cref="BatchSize"/> rows ahead and run one
    /// forward pass per batch; other columns pass through unchanged.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ThrowIfDisposed();
        return new BatchedDataView(new EmbeddingOutput(this, CheckInput(input.Schema)), input);
    }

    /// <summary>A row-by-row mapper, used by <c>PredictionEngine</c>; each row gets its own forward pass.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ThrowIfDisposed();
        return new BatchedRowMapper(new EmbeddingOutput(this, CheckInput(inputSchema)), inputSchema);
    }

    /// <summary>
    /// Releases the encoder's and heads' native memory, after any forward pass running on another thread (a cursor,
    /// a PredictionEngine) has finished; later use throws <see cref="ObjectDisposedException"/>. Note that a
    /// <c>PredictionEngine</c> disposes its model when it is disposed, unless it was created with
    /// <c>PredictionEngineOptions.OwnsTransformer = false</c>.
    /// </summary>
    public void Dispose()
    {
        if (!_guard.TryClose()) return;
        _method.Dispose();
        Encoder.Dispose();
    }

    /// <summary>
    /// Writes the encoder, with the stage's input standardization, as a standalone ONNX model (IR 7, opset 12) that
    /// ONNX Runtime or ML.NET's <c>ApplyOnnxModel</c> runs without TorchSharp. The model has one float input named
    /// <see cref="InputColumnName"/>: images as [N, 3, H, W] RGB values in [0, 1] with H and W from
    /// <see cref="InputShape"/> (what <c>ExtractPixels(scaleImage: 1/255f)</c> gives after resizing); tabular rows as
    /// [N, F] raw values; series as [N, C*T] raw values, channel after channel, like the ML.NET column. Its one output,
    /// named <see cref="OutputColumnName"/> (with <c>.output</c> appended when that is also the input's name), is the
    /// embedding [N, <see cref="EmbeddingSize"/>]. Nothing is written
    /// unless the whole model was built. For a pipeline on tabular or series input, <c>mlContext.Model.ConvertToOnnx</c>
    /// exports this stage together with the steps around it.
    /// </summary>
    /// <param name="stream">Where the model is written; it stays open.</param>
    /// <exception cref="NotSupportedException">The encoder, or one of its layers, has no ONNX form (a custom encoder); the message names the layer.</exception>
    /// <exception cref="ObjectDisposedException">This transformer was disposed.</exception>
    public void SaveEncoderAsOnnx(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite) throw new ArgumentException("The stream is not writable.", nameof(stream));
        byte[] model;
        using (_guard.Enter())
        {
            model = OnnxExport.Standalone(InputShape, InputColumnName, OutputColumnName, EmbeddingSize,
                $"MlNetSsl {Method} encoder ({Encoder.Kind}); input {InputColumnName}, output {OnnxExport.OutputName(InputColumnName, OutputColumnName)} [N, {EmbeddingSize}].",
                (graph, input) => OnnxExport.Embedding(graph, Encoder, _normalizer, input));
        }
        stream.Write(model);
    }

    /// <summary>The error for ML.NET's ONNX converter on an image stage (shared with the fine-tuned classifier).</summary>
    internal static NotSupportedException ImagePipelineNotConvertible(string method) => new(
        "ML.NET's ConvertToOnnx cannot export a pipeline whose self-supervised stage reads images: LoadImages and ResizeImages " +
        "have no ONNX form, so the image column cannot be an input of the ONNX graph. Export the model alone with " +
        $"{method} (its input is [N, 3, H, W] RGB floats in [0, 1]) and serve it with ApplyOnnxModel after ResizeImages and " +
        "ExtractPixels(scaleImage: 1/255f), or with ONNX Runtime directly. The converter also walks back through the data it is " +
        "given: to convert only the steps after the stage, give it data whose embedding column does not come from the stage " +
        "(for example the embeddings copied into ml.Data.LoadFromEnumerable).");

    /// <summary>Adds the embedding column to ML.NET's ONNX converter (see <see cref="BatchedDataView"/>).</summary>
    internal void SaveAsOnnx(OnnxContext context, string inputColumn)
    {
        if (InputShape.Kind == SslInputKind.Image) throw ImagePipelineNotConvertible(nameof(SaveEncoderAsOnnx));
        string input = OnnxInputVariable(context, inputColumn);
        using (_guard.Enter())
        {
            string embedding = OnnxExport.Embedding(new MlNetOnnxGraph(context), Encoder, _normalizer, input);
            string output = context.AddIntermediateVariable(new VectorDataViewType(NumberDataViewType.Single, EmbeddingSize), OutputColumnName);
            context.CreateNode("Identity", embedding, output, context.GetNodeName("Identity"), "");
        }
    }

    /// <summary>The ONNX variable of <paramref name="column"/>, or an error saying the step producing it could not be exported.</summary>
    internal static string OnnxInputVariable(OnnxContext context, string column) => context.ContainsColumn(column)
        ? context.GetVariableName(column)
        : throw new InvalidOperationException($"Column '{column}' has no ONNX form: the step that produces it could not be exported " +
            "(ML.NET's converter logs which one). Export a pipeline whose steps before the self-supervised stage all support ONNX.");

    /// <summary>Holds the modules alive until the lease is disposed (fine-tuning copies the encoder under one).</summary>
    /// <exception cref="ObjectDisposedException">This transformer was disposed.</exception>
    internal InferenceGuard.Lease Use() => _guard.Enter();

    /// <summary>Embeddings [N, EmbeddingSize] (CPU, float32) of a raw batch: uint8 images or float32 vectors.</summary>
    internal Tensor EmbedRaw(Tensor raw) => Embed(raw, normalize: true);

    /// <summary>Embeddings [N, EmbeddingSize] (CPU, float32) of encoder inputs (<see cref="ToEncoderInput"/>, perhaps augmented).</summary>
    internal Tensor EmbedInput(Tensor input) => Embed(input, normalize: false);

    /// <summary>What the encoder reads (on the CPU): images as floats in [0, 1], vectors standardized with the stage's statistics.</summary>
    internal Tensor ToEncoderInput(Tensor raw) => _normalizer.Apply(raw);

    private Tensor Embed(Tensor batch, bool normalize)
    {
        using var lease = _guard.Enter();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor input = batch.to(_device);
        if (normalize) input = _normalizer.Apply(input);
        return Encoder.forward(input).to_type(ScalarType.Float32).cpu().contiguous().MoveToOuterDisposeScope();
    }

    internal InputColumnReader CheckInput(DataViewSchema schema) => InputColumnReader.ForModel(schema, InputColumnName, InputShape, "this model");

    internal void ThrowIfDisposed() => _guard.ThrowIfDisposed();

    private static ObjectDisposedException DisposedError() =>
        new(nameof(SelfSupervisedTransformer), "This self-supervised featurizer was disposed and its " +
            "encoder freed. A PredictionEngine disposes the model it was created from when the engine is disposed; to share one " +
            "model between engines, create them with new PredictionEngineOptions { OwnsTransformer = false }.");

    /// <summary>The embedding column: one known-size float vector per row.</summary>
    private sealed class EmbeddingOutput(SelfSupervisedTransformer owner, InputColumnReader reader) : BatchedOutput
    {
        public override InputColumnReader Reader => reader;

        public override int BatchSize => owner.BatchSize;

        public override int ValuesPerRow => owner.EmbeddingSize;

        public override IReadOnlyList<(string Name, DataViewType Type, DataViewSchema.Annotations? Annotations)> Columns { get; } =
            [(owner.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, owner.EmbeddingSize), EmbeddingSlotNames(owner.EmbeddingSize))];

        public override Tensor Compute(Tensor raw) => owner.EmbedRaw(raw);

        public override void SaveAsOnnx(OnnxContext context) => owner.SaveAsOnnx(context, reader.ColumnName);

        public override Delegate MakeGetter(int column, Func<ReadOnlyMemory<float>> values) => VectorGetter(values);
    }

    /// <summary>Slot names e0, e1... for the embedding, so that feature importances and the concatenated features of
    /// a downstream trainer name the embedding's slots (the CLI's embed command writes the same names).</summary>
    internal static DataViewSchema.Annotations EmbeddingSlotNames(int size)
    {
        var names = new ReadOnlyMemory<char>[size];
        for (int i = 0; i < size; i++) names[i] = EmbeddingSlotName(i).AsMemory();
        var builder = new DataViewSchema.Annotations.Builder();
        builder.Add(AnnotationUtils.Kinds.SlotNames, new VectorDataViewType(TextDataViewType.Instance, size),
            (ref VBuffer<ReadOnlyMemory<char>> value) =>
            {
                // Into the caller's buffer: ML.NET reuses it for other columns' names (Concatenate does), which must not
                // write over these.
                var editor = VBufferEditor.Create(ref value, size);
                names.CopyTo(editor.Values);
                value = editor.Commit();
            });
        return builder.ToAnnotations();
    }

    internal static string EmbeddingSlotName(int slot) => "e" + slot.ToString(System.Globalization.CultureInfo.InvariantCulture);

    // ---- persistence -------------------------------------------------------------------------------------------

    internal static (SslEncoder Encoder, ISslMethod Method) BuildModel(SslInputShape shape, EncoderOptions encoderOptions,
        SslMethodRegistration method, SslMethodOptions? methodOptions, int seed)
    {
        return SeededModules.Create(seed, () =>
        {
            var encoder = EncoderFactory.Create(shape, encoderOptions);
            try
            {
                return (encoder, method.Create(encoder, methodOptions));
            }
            catch
            {
                encoder.Dispose();
                throw;
            }
        });
    }

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "MSSLFEAT",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(SelfSupervisedTransformer).Assembly.FullName);

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        using var lease = _guard.Enter();
        ModelStreams.SaveRecord(ctx, GetVersionInfo(), SelfSupervisedModel.CurrentFormatVersion, ModelStream, _model);
        ModelStreams.SaveBlob(ctx, AugmentationsStream, System.Text.Encoding.UTF8.GetBytes(Augmentations.ToJson()));
        ModelStreams.SaveWeights(ctx, WeightsStream, _method.Module);
    }

    // Called by ML.NET through the LoadableClass registration above.
    private static SelfSupervisedTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var model = ModelStreams.LoadRecord<SelfSupervisedModel>(ctx, GetVersionInfo(), SelfSupervisedModel.CurrentFormatVersion,
            ModelStream, Owner, m => m.FormatVersion);
        var policyBytes = ModelStreams.LoadBlob(ctx, AugmentationsStream, Owner);
        AugmentationPolicy policy;
        try
        {
            policy = AugmentationPolicy.FromJson(System.Text.Encoding.UTF8.GetString(policyBytes));
        }
        // FromJson reports what it cannot read as a FormatException (an unknown augmentation type among them).
        catch (Exception e) when (e is FormatException or InvalidOperationException or System.Text.Json.JsonException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"The model stream '{AugmentationsStream}' of {Owner} is unreadable: {e.Message}", e);
        }
        if (!SslMethodRegistry.TryGet(model.Method, out SslMethodRegistration? registration))
            throw new InvalidOperationException(
                $"This model was pretrained with the SSL method '{model.Method}', which is not registered in this process. Call " +
                $"SslMethodRegistry.Register with that method's registration before loading the model. Registered: " +
                $"{string.Join(", ", SslMethodRegistry.All.Select(r => r.Name))}.");
        model.ResolveOptions();
        var (encoder, method) = BuildModel(model.InputShape, model.EncoderOptions, registration, model.MethodOptions, seed: 0);
        try
        {
            ModelStreams.LoadWeights(ctx, WeightsStream, Owner, method.Module, model.AllowCuda);
            return new SelfSupervisedTransformer(env, model, encoder, method, policy);
        }
        catch
        {
            method.Dispose();
            encoder.Dispose();
            throw;
        }
    }
}
