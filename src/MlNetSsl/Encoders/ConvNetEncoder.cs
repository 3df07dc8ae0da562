using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// A compact CNN, the CPU default for images: conv3x3-BatchNorm-ReLU blocks of 32, 64, 128, 256 channels (times the
/// width multiplier), a 2x2 max-pool between blocks, global average pooling, and a Linear layer when the requested
/// embedding size differs from the last block's width. Takes images in [0, 1] and centres them itself.
/// </summary>
internal sealed class ConvNetEncoder : SslEncoder
{
    private readonly Sequential features;
    private readonly nn.Module<Tensor, Tensor> head;

    /// <summary>Creates the encoder.</summary>
    /// <param name="inputShape">An image shape (channels, height, width).</param>
    /// <param name="options">Width, depth and embedding size; see <see cref="EncoderOptions"/>.</param>
    public ConvNetEncoder(SslInputShape inputShape, EncoderOptions? options = null) : base(nameof(ConvNetEncoder), inputShape)
    {
        options = (options ?? new EncoderOptions()).Clone();
        options.Kind = EncoderKind.ConvNet;
        Options = options;
        options.Validate(inputShape);
        int depth = options.ResolveDepth(EncoderKind.ConvNet);

        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        long inChannels = inputShape.Channels;
        int height = inputShape.Height, width = inputShape.Width;
        for (int i = 0; i < depth; i++)
        {
            int outChannels = options.Scale(32 << Math.Min(i, 3));
            layers.Add(($"conv{i}", nn.Conv2d(inChannels, outChannels, 3, padding: 1, bias: false)));
            layers.Add(($"bn{i}", nn.BatchNorm2d(outChannels)));
            layers.Add(($"relu{i}", nn.ReLU(inplace: true)));
            // Pooling stops once a side would vanish, so tiny inputs still work; the last block feeds global pooling.
            if (i < depth - 1 && height >= 2 && width >= 2)
            {
                layers.Add(($"pool{i}", nn.MaxPool2d(2)));
                height /= 2;
                width /= 2;
            }
            inChannels = outChannels;
        }
        layers.Add(("gap", nn.AdaptiveAvgPool2d(1)));
        layers.Add(("flatten", nn.Flatten()));
        features = nn.Sequential(layers);
        FeatureSize = (int)inChannels;
        EmbeddingSize = options.EmbeddingSize > 0 ? options.EmbeddingSize : FeatureSize;
        head = EmbeddingSize == FeatureSize ? nn.Identity() : nn.Linear(FeatureSize, EmbeddingSize);
        Depth = depth;
        RegisterComponents();
        EncoderLayers.Initialize(this);
    }

    /// <inheritdoc />
    public override int EmbeddingSize { get; }

    /// <inheritdoc />
    public override EncoderKind Kind => EncoderKind.ConvNet;

    /// <summary>Width of the last conv block (the pooled feature size before any projection).</summary>
    public int FeatureSize { get; }

    /// <summary>Number of conv blocks.</summary>
    public int Depth { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        EncoderLayers.CheckInput(input, InputShape, nameof(ConvNetEncoder));
        using var scope = torch.NewDisposeScope();
        // Centring [0, 1] pixels to [-1, 1] keeps the first layer's activations symmetric without caller-side normalization.
        Tensor x = features.call(EncoderLayers.ChannelsLastOnCpu(input.mul(Held(2L)).sub(One)));
        return head.call(x).MoveToOuterDisposeScope();
    }

    internal override string WriteOnnx(Onnx.OnnxModuleWriter writer, string input)
    {
        string x = writer.ScaleShift(input, 2f, -1f, "centred");
        return writer.Layer(head, writer.Layer(features, x, "features"), "head");
    }
}
