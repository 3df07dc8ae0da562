namespace MlNetSsl;

/// <summary>A progress report from pretraining: one per step, plus one per epoch with <see cref="EpochSummary"/> set.</summary>
public sealed class SslProgress
{
    /// <summary>One-based epoch being trained (or just finished, for an epoch summary).</summary>
    public int Epoch { get; init; }

    /// <summary>Epochs in the run.</summary>
    public int TotalEpochs { get; init; }

    /// <summary>Steps completed so far in the whole run.</summary>
    public long Step { get; init; }

    /// <summary>Steps in the whole run.</summary>
    public long TotalSteps { get; init; }

    /// <summary>Loss of the latest step.</summary>
    public double Loss { get; init; }

    /// <summary>Learning rate used by the latest step.</summary>
    public double LearningRate { get; init; }

    /// <summary>Training throughput over the current epoch, in rows per second.</summary>
    public double SamplesPerSecond { get; init; }

    /// <summary>Estimated time to the end of the run.</summary>
    public TimeSpan EstimatedTimeRemaining { get; init; }

    /// <summary>Set on the report that ends an epoch: that epoch's record.</summary>
    public SslEpochRecord? EpochSummary { get; init; }

    /// <inheritdoc />
    public override string ToString() => EpochSummary is { } e
        ? e.ToString()
        : $"epoch {Epoch}/{TotalEpochs} step {Step}/{TotalSteps} loss {Loss:0.####} lr {LearningRate:0.#####} {SamplesPerSecond:0} rows/s ETA {EstimatedTimeRemaining:hh\\:mm\\:ss}";
}

/// <summary>What happened in one epoch of pretraining.</summary>
public sealed record SslEpochRecord
{
    /// <summary>One-based epoch number.</summary>
    public int Epoch { get; init; }

    /// <summary>Mean training loss over the epoch's steps.</summary>
    public double MeanLoss { get; init; }

    /// <summary>Learning rate at the end of the epoch.</summary>
    public double LearningRate { get; init; }

    /// <summary>kNN accuracy of the embeddings on the labeled monitor rows (every other row of each class votes for the
    /// rest); null without monitor data, or when no class has two labeled rows.</summary>
    public double? MonitorAccuracy { get; init; }

    /// <summary>
    /// Mean per-dimension standard deviation of L2-normalized embeddings, times the square root of the embedding
    /// size: about 1 for well-spread embeddings, near 0 when they collapse to a point.
    /// </summary>
    public double EmbeddingSpread { get; init; }

    /// <summary>RankMe effective rank of the embeddings (Garrido et al., 2023): exp of the entropy of the normalized singular values.</summary>
    public double EffectiveRank { get; init; }

    /// <summary>A warning when the embeddings collapsed (spread or effective rank near zero) or training diverged (the loss
    /// grew by orders of magnitude over the first step's, or the embeddings grew out of range); null otherwise.</summary>
    public string? CollapseWarning { get; init; }

    /// <summary>Wall-clock seconds the epoch took, monitoring included.</summary>
    public double Seconds { get; init; }

    /// <summary>Training throughput in rows per second.</summary>
    public double SamplesPerSecond { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"epoch {Epoch}: loss {MeanLoss:0.####}, spread {EmbeddingSpread:0.###}, rank {EffectiveRank:0.#}" +
        (MonitorAccuracy is { } a ? $", kNN {a:P1}" : "") + $", {Seconds:0.#} s" + (CollapseWarning is null ? "" : $" WARNING: {CollapseWarning}");
}
