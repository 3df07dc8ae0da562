using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// A backbone that maps a batch of inputs (<see cref="SslInputShape.BatchShape"/>) to embeddings [N, EmbeddingSize].
/// The embeddings are what the ML.NET stage outputs; SSL methods add their own projection heads on top.
/// </summary>
/// <remarks>
/// Implementations run their layers through <c>call</c>, never <c>forward</c>: TorchSharp fires forward hooks only
/// through <c>call</c>, and <see cref="FlopCounter"/> relies on those hooks to see every layer.
/// </remarks>
public abstract class SslEncoder : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the encoder; subclasses call <c>RegisterComponents()</c> once their layers exist.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="inputShape">Shape of one input row.</param>
    protected SslEncoder(string name, SslInputShape inputShape) : base(name) => InputShape = inputShape;

    /// <summary>Shape of one input row.</summary>
    public SslInputShape InputShape { get; }

    /// <summary>Length of the embedding vector this encoder produces.</summary>
    public abstract int EmbeddingSize { get; }

    /// <summary>The architecture.</summary>
    public abstract EncoderKind Kind { get; }
}
