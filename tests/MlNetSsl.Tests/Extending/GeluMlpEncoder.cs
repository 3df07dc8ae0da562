// An encoder written outside the library: an MLP with GELU activations and layer normalization for tabular rows.
// docs/extending.md shows this file; ExternalEncoderTests run it in the stage, through save/load and fine-tuning.
using MlNetSsl;  // the library (this file also compiles outside the MlNetSsl namespace)
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Extending;

/// <summary>Linear, LayerNorm, GELU blocks (<see cref="EncoderOptions.Depth"/> of them, default 2) of
/// <see cref="EncoderOptions.HiddenSize"/> units; the embedding is the last block's output.</summary>
public sealed class GeluMlpEncoder : SslEncoder
{
    private readonly Sequential _layers;

    /// <summary>The registry entry: the name <see cref="EncoderOptions.Name"/> refers to, and the input kinds it reads.</summary>
    public static SslEncoderRegistration Registration { get; } =
        new("GeluMlp", (shape, options) => new GeluMlpEncoder(shape, options), SslInputKind.Tabular);

    /// <summary>Builds the encoder; the options are recorded (base constructor) so the encoder can be rebuilt.</summary>
    public GeluMlpEncoder(SslInputShape shape, EncoderOptions options) : base(nameof(GeluMlpEncoder), shape, options)
    {
        int depth = options.Depth == 0 ? 2 : options.Depth;
        _layers = nn.Sequential();
        long width = shape.Features;
        for (int i = 0; i < depth; i++)
        {
            _layers.append($"linear{i}", nn.Linear(width, options.HiddenSize));
            _layers.append($"norm{i}", nn.LayerNorm(options.HiddenSize));
            _layers.append($"gelu{i}", nn.GELU());
            width = options.HiddenSize;
        }
        EmbeddingSize = options.HiddenSize;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int EmbeddingSize { get; }

    /// <inheritdoc />
    public override EncoderKind Kind => EncoderKind.Mlp;

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => _layers.call(input);
}
