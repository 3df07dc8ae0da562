using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// A fully convolutional network for multichannel series (after the FCN baseline of Wang et al., 2017):
/// Conv1d-BatchNorm-ReLU blocks with kernels 7, 5, 3 (then 3) and 64, 128, 128 channels (times the width
/// multiplier), "same" padding so any length works, global average pooling over time, and a Linear layer when the
/// requested embedding size differs from the last block's width.
/// </summary>
internal sealed class Conv1dEncoder : SslEncoder
{
    private readonly Sequential body;
    private readonly nn.Module<Tensor, Tensor> head;

    // Zero channels added to the input of the first convolution (see PaddedInputChannels); 0 when none are needed.
    private readonly long _inputPadding;

    /// <summary>Creates the encoder.</summary>
    /// <param name="inputShape">A series shape (channels, length).</param>
    /// <param name="options">Width, depth (conv blocks) and embedding size; see <see cref="EncoderOptions"/>.</param>
    public Conv1dEncoder(SslInputShape inputShape, EncoderOptions? options = null) : base(nameof(Conv1dEncoder), inputShape)
    {
        options = (options ?? new EncoderOptions()).Clone();
        options.Kind = EncoderKind.Conv1d;
        Options = options;
        options.Validate(inputShape);
        Depth = options.ResolveDepth(EncoderKind.Conv1d);
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        long inChannels = inputShape.Channels;
        int[] kernels = [7, 5, 3];
        int[] widths = [64, 128, 128];
        for (int i = 0; i < Depth; i++)
        {
            int kernel = kernels[Math.Min(i, kernels.Length - 1)];
            int outChannels = options.Scale(widths[Math.Min(i, widths.Length - 1)]);
            layers.Add(($"conv{i}", nn.Conv1d(inChannels, outChannels, kernel, padding: kernel / 2, bias: false)));
            layers.Add(($"bn{i}", nn.BatchNorm1d(outChannels)));
            layers.Add(($"relu{i}", nn.ReLU(inplace: true)));
            inChannels = outChannels;
        }
        layers.Add(("gap", nn.AdaptiveAvgPool1d(1)));
        layers.Add(("flatten", nn.Flatten()));
        body = nn.Sequential(layers);
        _inputPadding = PaddedInputChannels(inputShape.Channels) - inputShape.Channels;
        FeatureSize = (int)inChannels;
        EmbeddingSize = options.EmbeddingSize > 0 ? options.EmbeddingSize : FeatureSize;
        head = EmbeddingSize == FeatureSize ? nn.Identity() : nn.Linear(FeatureSize, EmbeddingSize);
        RegisterComponents();
        EncoderLayers.Initialize(this);
    }

    /// <inheritdoc />
    public override int EmbeddingSize { get; }

    /// <inheritdoc />
    public override EncoderKind Kind => EncoderKind.Conv1d;

    /// <summary>Width of the last conv block (the pooled feature size before any projection).</summary>
    public int FeatureSize { get; }

    /// <summary>Number of conv blocks.</summary>
    public int Depth { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        EncoderLayers.CheckInput(input, InputShape, nameof(Conv1dEncoder));
        using var scope = torch.NewDisposeScope();
        if (PaddedFirstConvolution is not { } first) return head.call(body.call(input)).MoveToOuterDisposeScope();
        // The first convolution on zero-padded input channels with zero-padded weights ("same" padding over time, as the
        // layer's own): the same result, and the gradient reaches the unpadded weight through the pad.
        long[] padChannels = [0, 0, 0, _inputPadding];
        Tensor weight = first.weight!;
        Tensor x = nn.functional.conv1d(nn.functional.pad(input, padChannels), nn.functional.pad(weight, padChannels), padding: weight.shape[^1] / 2);
        foreach (nn.Module layer in body.children().Skip(1)) x = ((nn.Module<Tensor, Tensor>)layer).call(x);
        return head.call(x).MoveToOuterDisposeScope();
    }

    /// <summary>The first convolution when it runs on padded input (functionally, so its own hooks do not fire: the
    /// encoder's do, and <see cref="FlopCounter"/> counts it there); null otherwise.</summary>
    internal Conv1d? PaddedFirstConvolution => _inputPadding == 0 ? null : (Conv1d)body.children().First();

    /// <summary>
    /// The channel count the first convolution runs on. libtorch's oneDNN convolution stores an input of more than 8
    /// channels in blocks of 8 (16 with AVX-512 kernels), and with a count that fills no whole block it reads the block's
    /// padding uninitialized: freed memory that holds a NaN makes whole output channels NaN (measured on 12 channels,
    /// 74 of 200 training forwards after freeing NaN tensors; 0 of 200 on 16). Zero channels up to a multiple of 16
    /// leave the result unchanged and every block full.
    /// </summary>
    internal static long PaddedInputChannels(long channels) =>
        channels <= 8 || channels % 16 == 0 ? channels : (channels + 15) / 16 * 16;

    internal override string WriteOnnx(Onnx.OnnxModuleWriter writer, string input) =>
        writer.Layer(head, writer.Layer(body, input, "body"), "head");
}
