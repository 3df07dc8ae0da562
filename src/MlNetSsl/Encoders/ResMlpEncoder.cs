using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// A residual MLP for standardized tabular rows (the tabular ResNet of Gorishniy et al., 2021): a Linear stem to
/// <see cref="EncoderOptions.HiddenSize"/>, <c>Depth</c> pre-norm blocks <c>x + Linear(ReLU(Linear(BatchNorm(x))))</c>,
/// a final BatchNorm-ReLU, then a Linear layer when the embedding size differs from the hidden size.
/// </summary>
internal sealed class ResMlpEncoder : SslEncoder
{
    private readonly Linear stem;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;
    private readonly BatchNorm1d finalNorm;
    private readonly nn.Module<Tensor, Tensor> head;

    /// <summary>Creates the encoder.</summary>
    /// <param name="inputShape">A tabular shape (feature count).</param>
    /// <param name="options">Hidden size, depth (residual blocks) and embedding size; see <see cref="EncoderOptions"/>.</param>
    public ResMlpEncoder(SslInputShape inputShape, EncoderOptions? options = null) : base(nameof(ResMlpEncoder), inputShape)
    {
        options = (options ?? new EncoderOptions()).Clone();
        options.Kind = EncoderKind.ResMlp;
        Options = options;
        options.Validate(inputShape);
        Depth = options.ResolveDepth(EncoderKind.ResMlp);
        int hidden = options.HiddenSize;
        stem = nn.Linear(inputShape.Features, hidden);
        blocks = new ModuleList<nn.Module<Tensor, Tensor>>();
        for (int i = 0; i < Depth; i++)
            blocks.Add(nn.Sequential(
                ("norm", nn.BatchNorm1d(hidden)),
                ("linear1", nn.Linear(hidden, hidden)),
                ("relu", nn.ReLU()),
                ("linear2", nn.Linear(hidden, hidden))));
        finalNorm = nn.BatchNorm1d(hidden);
        EmbeddingSize = options.EmbeddingSize > 0 ? options.EmbeddingSize : hidden;
        head = EmbeddingSize == hidden ? nn.Identity() : nn.Linear(hidden, EmbeddingSize);
        RegisterComponents();
        EncoderLayers.Initialize(this);
    }

    /// <inheritdoc />
    public override int EmbeddingSize { get; }

    /// <inheritdoc />
    public override EncoderKind Kind => EncoderKind.ResMlp;

    /// <summary>Number of residual blocks.</summary>
    public int Depth { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        EncoderLayers.CheckInput(input, InputShape, nameof(ResMlpEncoder));
        using var scope = torch.NewDisposeScope();
        Tensor x = stem.call(input);
        foreach (nn.Module<Tensor, Tensor> block in blocks)
            x = x.add(block.call(x), One);
        x = nn.functional.relu(finalNorm.call(x));
        return head.call(x).MoveToOuterDisposeScope();
    }

    internal override string WriteOnnx(Onnx.OnnxModuleWriter writer, string input)
    {
        string x = writer.Layer(stem, input, "stem");
        int i = 0;
        foreach (nn.Module<Tensor, Tensor> block in blocks)
        {
            string path = $"blocks.{i++}";
            x = writer.Add(x, writer.Layer(block, x, path), path + ".add");
        }
        x = writer.Relu(writer.Layer(finalNorm, x, "finalNorm"), "final_relu");
        return writer.Layer(head, x, "head");
    }
}
