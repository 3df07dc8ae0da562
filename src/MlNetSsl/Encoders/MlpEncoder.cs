using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// A multilayer perceptron for standardized tabular rows: <c>Depth</c> Linear-BatchNorm-ReLU layers of
/// <see cref="EncoderOptions.HiddenSize"/> units, then a Linear layer when the embedding size differs from it.
/// </summary>
internal sealed class MlpEncoder : SslEncoder
{
    private readonly Sequential body;
    private readonly nn.Module<Tensor, Tensor> head;

    /// <summary>Creates the encoder.</summary>
    /// <param name="inputShape">A tabular shape (feature count).</param>
    /// <param name="options">Hidden size, depth and embedding size; see <see cref="EncoderOptions"/>.</param>
    public MlpEncoder(SslInputShape inputShape, EncoderOptions? options = null) : base(nameof(MlpEncoder), inputShape)
    {
        options = (options ?? new EncoderOptions()).Clone();
        options.Kind = EncoderKind.Mlp;
        Options = options;
        options.Validate(inputShape);
        Depth = options.ResolveDepth(EncoderKind.Mlp);
        int hidden = options.HiddenSize;
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        long inFeatures = inputShape.Features;
        for (int i = 0; i < Depth; i++)
        {
            layers.Add(($"linear{i}", nn.Linear(inFeatures, hidden, hasBias: false)));
            layers.Add(($"bn{i}", nn.BatchNorm1d(hidden)));
            layers.Add(($"relu{i}", nn.ReLU(inplace: true)));
            inFeatures = hidden;
        }
        body = nn.Sequential(layers);
        EmbeddingSize = options.EmbeddingSize > 0 ? options.EmbeddingSize : hidden;
        head = EmbeddingSize == hidden ? nn.Identity() : nn.Linear(hidden, EmbeddingSize);
        RegisterComponents();
        EncoderLayers.Initialize(this);
    }

    /// <inheritdoc />
    public override int EmbeddingSize { get; }

    /// <inheritdoc />
    public override EncoderKind Kind => EncoderKind.Mlp;

    /// <summary>Number of hidden layers.</summary>
    public int Depth { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        EncoderLayers.CheckInput(input, InputShape, nameof(MlpEncoder));
        using var scope = torch.NewDisposeScope();
        return head.call(body.call(input)).MoveToOuterDisposeScope();
    }

    internal override string WriteOnnx(Onnx.OnnxModuleWriter writer, string input) =>
        writer.Layer(head, writer.Layer(body, input, "body"), "head");
}
