using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// A backbone that maps a batch of inputs (<see cref="SslInputShape.BatchShape"/>) to embeddings [N, EmbeddingSize].
/// The embeddings are what the ML.NET stage outputs; SSL methods add their own projection heads on top.
/// </summary>
/// <remarks>
/// Implementations run their layers through <c>call</c>, never <c>forward</c>: TorchSharp fires forward hooks only
/// through <c>call</c>, and <see cref="FlopCounter"/> relies on those hooks to see every layer. The one exception, the
/// 1-D ConvNet's first convolution on padded input, is counted from the encoder's own hook.
/// </remarks>
public abstract class SslEncoder : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the encoder; subclasses call <c>RegisterComponents()</c> once their layers exist.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="inputShape">Shape of one input row.</param>
    protected SslEncoder(string name, SslInputShape inputShape) : base(name) => InputShape = inputShape;

    /// <summary>Creates an encoder that records the options it was built from, so <see cref="CreateUntrained"/> and model
    /// files can rebuild it (a registered encoder passes the options it was given, <see cref="EncoderOptions.Name"/> included).</summary>
    /// <param name="name">Module name.</param>
    /// <param name="inputShape">Shape of one input row.</param>
    /// <param name="options">The options; a copy is kept.</param>
    protected SslEncoder(string name, SslInputShape inputShape, EncoderOptions options) : base(name)
    {
        InputShape = inputShape;
        _options = (options ?? throw new ArgumentNullException(nameof(options))).Clone();
    }

    /// <summary>Shape of one input row.</summary>
    public SslInputShape InputShape { get; }

    /// <summary>Length of the embedding vector this encoder produces.</summary>
    public abstract int EmbeddingSize { get; }

    /// <summary>The architecture.</summary>
    public abstract EncoderKind Kind { get; }

    private EncoderOptions? _options;

    /// <summary>
    /// The options a built-in encoder was created from (a copy, with <see cref="EncoderOptions.Kind"/> resolved), so
    /// <c>EncoderFactory.Create(InputShape, Options)</c> rebuilds the same structure; null for custom encoders.
    /// </summary>
    public EncoderOptions? Options
    {
        get => _options?.Clone();
        protected init => _options = value?.Clone();
    }

    /// <summary>
    /// A new encoder with this encoder's structure and freshly initialized weights (copying an encoder means creating
    /// one with this method and loading the weights into it). Built-in encoders rebuild themselves from
    /// <see cref="Options"/>; a custom encoder overrides this method to support fine-tuning and distillation.
    /// </summary>
    /// <exception cref="NotSupportedException">A custom encoder that does not override this method.</exception>
    public virtual SslEncoder CreateUntrained() => _options is { } options
        ? EncoderFactory.Create(InputShape, options)
        : throw new NotSupportedException(
            $"{GetType().Name} is a custom encoder without Options; override SslEncoder.CreateUntrained so it can be copied for fine-tuning.");

    /// <summary>
    /// Writes this encoder's eval-mode forward pass as ONNX nodes on <paramref name="input"/> (the encoder's input
    /// tensor) and returns the embedding's name. Built-in encoders override it next to their <c>forward</c>; a custom
    /// encoder's forward is code the exporter cannot read, so it is refused by name.
    /// </summary>
    internal virtual string WriteOnnx(Onnx.OnnxModuleWriter writer, string input) =>
        throw Onnx.OnnxModuleWriter.Unsupported("", this, "a custom encoder, whose forward pass the exporter cannot read");
}
