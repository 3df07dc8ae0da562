using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>Label-free measures of an embedding matrix, used to detect collapse while pretraining.</summary>
public static class EmbeddingQuality
{
    /// <summary>
    /// Mean per-dimension standard deviation of the L2-normalized rows, times sqrt(d). About 1 when embeddings are
    /// spread over the sphere, 0 when every row maps to the same point (complete collapse).
    /// </summary>
    /// <param name="embeddings">[N, d] embeddings, N &gt;= 2.</param>
    public static double Spread(Tensor embeddings)
    {
        using var scope = torch.NewDisposeScope();
        var normalized = nn.functional.normalize(embeddings.to_type(ScalarType.Float64), dim: 1);
        double std = normalized.std(0).mean().item<double>();
        return std * Math.Sqrt(embeddings.shape[1]);
    }

    /// <summary>
    /// RankMe effective rank (Garrido et al., 2023): exp(-sum p_k log p_k) with p_k = s_k / sum(s) over the singular
    /// values s of the embedding matrix. Ranges from 1 (rank one) to min(N, d).
    /// </summary>
    /// <param name="embeddings">[N, d] embeddings.</param>
    public static double EffectiveRank(Tensor embeddings)
    {
        using var scope = torch.NewDisposeScope();
        var singular = torch.linalg.svdvals(embeddings.to_type(ScalarType.Float64));
        double total = singular.sum().item<double>();
        if (!(total > 0)) return 0;
        var p = singular / total + 1e-12;
        return Math.Exp(-(p * p.log()).sum().item<double>());
    }

    /// <summary>A warning when <paramref name="spread"/> or <paramref name="effectiveRank"/> shows collapse; null otherwise.</summary>
    public static string? CollapseWarning(double spread, double effectiveRank, int embeddingSize)
    {
        if (double.IsNaN(spread) || double.IsNaN(effectiveRank))
            return "embeddings contain NaN; lower the learning rate or enable gradient clipping";
        if (spread < 0.05)
            return $"embeddings collapsed to nearly one point (spread {spread:0.###}); try another method, a lower learning rate, or stronger augmentations";
        if (effectiveRank < Math.Min(2.0, embeddingSize))
            return $"embeddings collapsed to about one direction (effective rank {effectiveRank:0.##} of {embeddingSize})";
        return null;
    }
}
