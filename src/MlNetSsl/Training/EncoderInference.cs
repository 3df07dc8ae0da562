using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>Batched inference with an encoder: eval mode, no gradients, one forward per batch.</summary>
internal static class EncoderInference
{
    /// <summary>Embeddings [N, EmbeddingSize] of every row of <paramref name="data"/>, on the CPU.</summary>
    /// <param name="encoder">The encoder; its train/eval mode is restored afterwards.</param>
    /// <param name="data">Rows to embed.</param>
    /// <param name="batchSize">Rows per forward pass.</param>
    public static Tensor EmbedAll(this SslEncoder encoder, SslTensorDataset data, int batchSize = 512)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        Device device = encoder.parameters().FirstOrDefault()?.device ?? torch.CPU;
        bool wasTraining = encoder.training;
        encoder.eval();
        try
        {
            var parts = new List<Tensor>();
            using (torch.no_grad())
            {
                for (long start = 0; start < data.Count; start += batchSize)
                {
                    using var scope = torch.NewDisposeScope();
                    var batch = data.Slice(start, Math.Min(start + batchSize, data.Count), device);
                    parts.Add(encoder.forward(batch).cpu().MoveToOuterDisposeScope());
                }
            }
            Tensor all = torch.cat(parts, 0);
            foreach (var part in parts) part.Dispose();
            return all;
        }
        finally
        {
            encoder.train(wasTraining);
        }
    }
}
