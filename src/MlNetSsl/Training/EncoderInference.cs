using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>Batched inference with an encoder of the engine: eval mode, no gradients, one forward per batch.</summary>
public static class EncoderInference
{
    /// <summary>Embeddings [N, EmbeddingSize] of every row of <paramref name="data"/>, float32 on the CPU; the caller
    /// disposes the tensor. Runs on the encoder's device, <paramref name="batchSize"/> rows per forward pass, inside a
    /// dispose scope per batch.</summary>
    /// <param name="encoder">The encoder; its train/eval mode is restored afterwards.</param>
    /// <param name="data">Rows to embed, of the encoder's input shape.</param>
    /// <param name="batchSize">Rows per forward pass. Default 512.</param>
    /// <remarks>It switches the encoder to eval mode for the call, so do not train or embed with the same encoder on
    /// another thread meanwhile.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The rows do not fit the encoder (the built-in encoders check rank and channels,
    /// or the feature count of tabular rows; convolutional ones accept other image sizes and series lengths).</exception>
    public static Tensor EmbedAll(this SslEncoder encoder, SslTensorDataset data, int batchSize = 512) =>
        EmbedAll(encoder, data, batchSize, CancellationToken.None);

    /// <summary><see cref="EmbedAll(SslEncoder, SslTensorDataset, int)"/> that reads <paramref name="cancellationToken"/>
    /// before each batch.</summary>
    internal static Tensor EmbedAll(this SslEncoder encoder, SslTensorDataset data, int batchSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (data.Count == 0) return torch.zeros(0, encoder.EmbeddingSize);
        Device device = encoder.parameters().FirstOrDefault()?.device ?? torch.CPU;
        bool wasTraining = encoder.training;
        encoder.eval();
        var parts = new List<Tensor>();
        try
        {
            using (torch.no_grad())
            {
                for (long start = 0; start < data.Count; start += batchSize)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var scope = torch.NewDisposeScope();
                    var batch = data.Slice(start, Math.Min(start + batchSize, data.Count), device);
                    parts.Add(encoder.forward(batch).cpu().MoveToOuterDisposeScope());
                }
            }
            return torch.cat(parts, 0);
        }
        finally
        {
            foreach (var part in parts) part.Dispose();
            encoder.train(wasTraining);
        }
    }
}
