using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// Label-free measures of embeddings: spread and RankMe effective rank (used to detect collapse while pretraining), and
/// the alignment and uniformity of Wang and Isola (2020) on pairs of augmented views.
/// </summary>
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
    /// <returns>The effective rank; NaN when an embedding holds NaN or infinity.</returns>
    public static double EffectiveRank(Tensor embeddings)
    {
        using var scope = torch.NewDisposeScope();
        // NaN, as Spread gives, rather than libtorch's SVD error: callers report non-finite embeddings (CollapseWarning).
        if (!embeddings.isfinite().all().item<bool>()) return double.NaN;
        var singular = torch.linalg.svdvals(embeddings.to_type(ScalarType.Float64));
        double total = singular.sum().item<double>();
        if (!(total > 0)) return 0;
        var p = singular.div(Held(total)).add_(Held(1e-12), One);
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

    /// <summary>
    /// Alignment (Wang and Isola, 2020): the mean over rows of ||x_i - y_i||^alpha after L2-normalizing every row, where
    /// row i of <paramref name="x"/> and of <paramref name="y"/> are two views of the same input. 0 when the two views
    /// always map to the same point; at most 2^alpha. Lower is better.
    /// </summary>
    /// <param name="x">Embeddings of the first views, [N, d].</param>
    /// <param name="y">Embeddings of the second views, [N, d]; row i pairs with row i of <paramref name="x"/>.</param>
    /// <param name="alpha">Exponent of the distance. Default 2 (the paper's choice).</param>
    /// <exception cref="ArgumentException">The two matrices differ in shape, are not [N, d], or have no rows.</exception>
    public static double Alignment(Tensor x, Tensor y, double alpha = 2)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.dim() != 2 || !x.shape.SequenceEqual(y.shape) || x.shape[0] == 0)
            throw new ArgumentException($"Alignment needs two [N, d] matrices of the same shape with N >= 1; got [{string.Join(", ", x.shape)}] and [{string.Join(", ", y.shape)}].");
        if (!(alpha > 0)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be positive.");
        using var scope = torch.NewDisposeScope();
        Tensor a = nn.functional.normalize(x.to_type(ScalarType.Float64), dim: 1);
        Tensor b = nn.functional.normalize(y.to_type(ScalarType.Float64).to(x.device), dim: 1);
        return (a - b).norm(1).pow(Held(alpha)).mean().item<double>();
    }

    /// <summary>
    /// Uniformity (Wang and Isola, 2020): log of the mean over distinct pairs i &lt; j of exp(-t ||x_i - x_j||^2), rows
    /// L2-normalized. Ranges from about -4 (t = 2; points spread evenly over a high-dimensional sphere) to 0 (every
    /// row the same point). Lower is better.
    /// </summary>
    /// <param name="x">Embeddings [N, d], N &gt;= 2.</param>
    /// <param name="t">Scale of the Gaussian potential. Default 2 (the paper's choice).</param>
    /// <exception cref="ArgumentException">Fewer than two rows, or not a matrix.</exception>
    public static double Uniformity(Tensor x, double t = 2)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 2 || x.shape[0] < 2)
            throw new ArgumentException($"Uniformity needs an [N, d] matrix with N >= 2; got [{string.Join(", ", x.shape)}].", nameof(x));
        if (!(t > 0)) throw new ArgumentOutOfRangeException(nameof(t), t, "t must be positive.");
        using var scope = torch.NewDisposeScope();
        Tensor a = nn.functional.normalize(x.to_type(ScalarType.Float64), dim: 1);
        long n = a.shape[0];
        // For unit vectors ||a_i - a_j||^2 = 2 - 2 a_i . a_j; the strict upper triangle holds each pair once.
        Tensor squared = a.matmul(a.t()).mul(Held(2L)).neg_().add_(Held(2L), One).clamp_min(Zero);
        Tensor upper = torch.ones(n, n, dtype: ScalarType.Bool, device: a.device).triu(1);
        Tensor potentials = squared.masked_select(upper).mul(Held(-t)).exp();
        return Math.Log(potentials.mean().item<double>());
    }

    /// <summary>
    /// Alignment and uniformity of <paramref name="encoder"/> on two augmented views of up to <paramref name="maxRows"/>
    /// evenly spaced rows of <paramref name="data"/> (uniformity is the mean over the two views, as in the paper). A
    /// label-free quality score: a good encoder has low alignment (views agree) and low uniformity (rows spread out).
    /// The encoder runs in eval mode without gradients; its mode is restored.
    /// </summary>
    /// <param name="encoder">The encoder to measure.</param>
    /// <param name="data">Rows (labels are ignored).</param>
    /// <param name="policy">Augmentations that make the views (for example the pretraining policy).</param>
    /// <param name="seed">Seed of the augmentations.</param>
    /// <param name="maxRows">Rows used at most (pairwise uniformity costs N^2). Default 1024.</param>
    /// <param name="batchSize">Rows per forward pass. Default 256.</param>
    /// <exception cref="ArgumentException">The data has fewer than 2 rows or does not fit the encoder.</exception>
    public static (double Alignment, double Uniformity) AlignmentAndUniformity(SslEncoder encoder, SslTensorDataset data,
        AugmentationPolicy policy, int seed = 1, int maxRows = 1024, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (data.Shape != encoder.InputShape)
            throw new ArgumentException($"The data's rows are {data.Shape} but the encoder expects {encoder.InputShape}.", nameof(data));
        if (data.Count < 2) throw new ArgumentException($"Alignment and uniformity need at least 2 rows; the data has {data.Count}.", nameof(data));
        SslEnvironment.EnsureInitialized();
        using var scope = torch.NewDisposeScope();
        Device device = encoder.parameters().FirstOrDefault()?.device ?? torch.CPU;
        long rows = Math.Min(data.Count, maxRows);
        Tensor index = torch.linspace(0, data.Count - 1, rows).to_type(ScalarType.Int64);
        using var generator = new Generator((ulong)seed, device);
        var context = new AugmentationContext(generator, data.Shape, data.Shape.Kind == SslInputKind.Tabular ? data.Batch(index, device) : null);
        bool wasTraining = encoder.training;
        encoder.eval();
        var first = new List<Tensor>();
        var second = new List<Tensor>();
        try
        {
            using var noGrad = torch.no_grad();
            for (long start = 0; start < rows; start += batchSize)
            {
                Tensor batch = data.Batch(index.narrow(0, start, Math.Min(batchSize, rows - start)), device);
                first.Add(encoder.forward(policy.Apply(batch, context)).cpu());
                second.Add(encoder.forward(policy.Apply(batch, context)).cpu());
            }
        }
        finally
        {
            encoder.train(wasTraining);
        }
        Tensor x = torch.cat(first, 0), y = torch.cat(second, 0);
        return (Alignment(x, y), (Uniformity(x) + Uniformity(y)) / 2);
    }
}
