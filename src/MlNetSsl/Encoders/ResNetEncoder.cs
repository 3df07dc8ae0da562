using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// A ResNet (He et al., 2016) with the CIFAR stem (3x3 conv, stride 1, no max-pool) that small images need: BasicBlocks
/// in four stages of 64, 128, 256, 512 channels (times the width multiplier), depth 10 ([1,1,1,1] blocks) or 18
/// ([2,2,2,2]), global average pooling, and a Linear layer when the requested embedding size differs from the last
/// stage's width. Takes images in [0, 1]. About 25 times slower than <see cref="ConvNetEncoder"/> on a CPU.
/// </summary>
internal sealed class ResNetEncoder : SslEncoder
{
    private readonly Sequential body;
    private readonly nn.Module<Tensor, Tensor> head;

    /// <summary>Creates the encoder.</summary>
    /// <param name="inputShape">An image shape (channels, height, width).</param>
    /// <param name="options">Width, depth (10 or 18) and embedding size; see <see cref="EncoderOptions"/>.</param>
    public ResNetEncoder(SslInputShape inputShape, EncoderOptions? options = null) : base(nameof(ResNetEncoder), inputShape)
    {
        options = (options ?? new EncoderOptions()).Clone();
        options.Kind = EncoderKind.ResNet;
        Options = options;
        options.Validate(inputShape);
        Depth = options.ResolveDepth(EncoderKind.ResNet);
        int blocksPerStage = Depth == 10 ? 1 : 2;

        int stem = options.Scale(64);
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("stem_conv", nn.Conv2d(inputShape.Channels, stem, 3, padding: 1, bias: false)),
            ("stem_bn", nn.BatchNorm2d(stem)),
            ("stem_relu", nn.ReLU(inplace: true)),
        };
        int inChannels = stem;
        for (int stage = 0; stage < 4; stage++)
        {
            int outChannels = options.Scale(64 << stage);
            for (int b = 0; b < blocksPerStage; b++)
            {
                int stride = stage > 0 && b == 0 ? 2 : 1;
                layers.Add(($"stage{stage}_block{b}", new BasicBlock($"stage{stage}_block{b}", inChannels, outChannels, stride)));
                inChannels = outChannels;
            }
        }
        layers.Add(("gap", nn.AdaptiveAvgPool2d(1)));
        layers.Add(("flatten", nn.Flatten()));
        body = nn.Sequential(layers);
        FeatureSize = inChannels;
        EmbeddingSize = options.EmbeddingSize > 0 ? options.EmbeddingSize : FeatureSize;
        head = EmbeddingSize == FeatureSize ? nn.Identity() : nn.Linear(FeatureSize, EmbeddingSize);
        RegisterComponents();
        EncoderLayers.Initialize(this);
    }

    /// <inheritdoc />
    public override int EmbeddingSize { get; }

    /// <inheritdoc />
    public override EncoderKind Kind => EncoderKind.ResNet;

    /// <summary>Width of the last stage (the pooled feature size before any projection).</summary>
    public int FeatureSize { get; }

    /// <summary>10 or 18.</summary>
    public int Depth { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        EncoderLayers.CheckInput(input, InputShape, nameof(ResNetEncoder));
        using var scope = torch.NewDisposeScope();
        Tensor x = body.call(EncoderLayers.ChannelsLastOnCpu(input.mul(Held(2L)).sub(One)));
        return head.call(x).MoveToOuterDisposeScope();
    }

    internal override string WriteOnnx(Onnx.OnnxModuleWriter writer, string input)
    {
        string x = writer.ScaleShift(input, 2f, -1f, "centred");
        // The body is a Sequential of plain layers and BasicBlocks; blocks write their residual structure themselves.
        foreach ((string name, nn.Module layer) in body.named_children())
            x = layer is BasicBlock block ? block.WriteOnnx(writer, x, "body." + name) : writer.Layer(layer, x, "body." + name);
        return writer.Layer(head, x, "head");
    }

    private sealed class BasicBlock : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1, conv2;
        private readonly BatchNorm2d bn1, bn2;
        private readonly Sequential? shortcut;

        public BasicBlock(string name, int inChannels, int outChannels, int stride) : base(name)
        {
            conv1 = nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(outChannels);
            conv2 = nn.Conv2d(outChannels, outChannels, 3, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(outChannels);
            if (stride != 1 || inChannels != outChannels)
                shortcut = nn.Sequential(
                    ("conv", nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false)),
                    ("bn", nn.BatchNorm2d(outChannels)));
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = torch.NewDisposeScope();
            Tensor y = nn.functional.relu(bn1.call(conv1.call(input)));
            y = bn2.call(conv2.call(y));
            Tensor skip = shortcut is null ? input : shortcut.call(input);
            return nn.functional.relu(y.add(skip, One)).MoveToOuterDisposeScope();
        }

        public string WriteOnnx(Onnx.OnnxModuleWriter writer, string input, string path)
        {
            string y = writer.Relu(writer.Layer(bn1, writer.Layer(conv1, input, path + ".conv1"), path + ".bn1"), path + ".relu1");
            y = writer.Layer(bn2, writer.Layer(conv2, y, path + ".conv2"), path + ".bn2");
            string skip = shortcut is null ? input : writer.Layer(shortcut, input, path + ".shortcut");
            return writer.Relu(writer.Add(y, skip, path + ".add"), path + ".relu2");
        }
    }
}
