namespace MlNetSsl.AutoML;

/// <summary>
/// What one segment (rung) of a self-supervised trial measured and what its pretraining cost. Written to the
/// experiment's cache folder, so a resumed experiment reports the measures of earlier sessions too.
/// </summary>
public sealed record SslTrialMeasures
{
    /// <summary>The trial's id.</summary>
    public int TrialId { get; init; }

    /// <summary>The fidelity (pretraining epochs) of the segment; null without a scheduler.</summary>
    public int? Fidelity { get; init; }

    /// <summary>Pretrained embeddings, raw features, both concatenated, or training from scratch.</summary>
    public SslFeatureSource FeatureSource { get; init; }

    /// <summary>The objective's value (what the trial reported).</summary>
    public double Metric { get; init; }

    /// <summary>Stratified k-fold cross-validated accuracy of the downstream model (averaged over repetitions); null under a
    /// label-free objective.</summary>
    public double? CrossValidatedAccuracy { get; init; }

    /// <summary>The metric <see cref="Metric"/> is (<see cref="SslExperiment.SetOptimizingMetric"/>); null under a label-free objective.</summary>
    public SslMetric? OptimizingMetric { get; init; }

    /// <summary>Sample standard deviation of the metric over the folds (of every repetition); null under a label-free objective.</summary>
    public double? MetricStandardDeviation { get; init; }

    /// <summary>Standard error of the metric: Nadeau and Bengio's corrected one, <see cref="MetricStandardDeviation"/> x
    /// sqrt(1 / fold values + 1 / (k - 1)) for k folds, since folds share training rows and repetitions share every row
    /// (bootstrapped from the held-out rows below 3 fold values, or when every fold scored the same); null under a
    /// label-free objective.</summary>
    public double? MetricStandardError { get; init; }

    /// <summary>The metric of every fold, repetition after repetition; null under a label-free objective.</summary>
    public IReadOnlyList<double>? MetricFoldValues { get; init; }

    /// <summary>RankMe effective rank of the embeddings; null when not measured.</summary>
    public double? RankMe { get; init; }

    /// <summary>RankMe divided by its maximum, min(rows, embedding size); null when not measured.</summary>
    public double? RankMeFraction { get; init; }

    /// <summary>View-retrieval accuracy (images only; <see cref="LabelFreeEvaluation.ViewRetrievalAccuracy"/>), the images'
    /// label-free score; null when not measured.</summary>
    public double? ViewRetrievalAccuracy { get; init; }

    /// <summary>Rotation-prediction accuracy (images only; measured when <see cref="SslExperiment.SetRecordLabelFreeMeasures"/>
    /// asks for it); null when not measured.</summary>
    public double? RotationPredictionAccuracy { get; init; }

    /// <summary>The label-free score the <see cref="SslObjective.LabelFree"/> objective would report; null when not measured.</summary>
    public double? LabelFreeScore { get; init; }

    /// <summary>Embedding size of the pretrained encoder; null for raw features.</summary>
    public int? EmbeddingSize { get; init; }

    /// <summary>Epochs pretrained in this segment.</summary>
    public int PretrainingEpochsTrained { get; init; }

    /// <summary>Epochs restored from a shared snapshot (an earlier rung, or another trial with the same pretraining options).</summary>
    public int PretrainingEpochsReused { get; init; }

    /// <summary>Wall seconds of this segment's pretraining call.</summary>
    public double PretrainingSeconds { get; init; }

    /// <summary>Recorded training seconds of the reused epochs: pretraining this segment did not repeat.</summary>
    public double PretrainingSecondsSaved { get; init; }

    /// <summary>Wall seconds spent scoring (embedding, cross-validation, label-free measures).</summary>
    public double EvaluationSeconds { get; init; }
}

/// <summary>How much pretraining the experiment reused instead of repeating (promotions continuing from their previous
/// rung, trials sharing pretraining options), over the segments in <see cref="SslExperimentResult.TrialMeasures"/>.</summary>
public sealed class PretrainingReuseSummary
{
    internal PretrainingReuseSummary(IEnumerable<SslTrialMeasures> measures)
    {
        var pretrained = measures.Where(m => m.FeatureSource is SslFeatureSource.SelfSupervised or SslFeatureSource.RawAndSelfSupervised).ToList();
        Segments = pretrained.Count;
        EpochsTrained = pretrained.Sum(m => m.PretrainingEpochsTrained);
        EpochsReused = pretrained.Sum(m => m.PretrainingEpochsReused);
        TimeSpent = TimeSpan.FromSeconds(pretrained.Sum(m => m.PretrainingSeconds));
        TimeSaved = TimeSpan.FromSeconds(pretrained.Sum(m => m.PretrainingSecondsSaved));
    }

    /// <summary>Pretraining segments (trial rungs) run.</summary>
    public int Segments { get; }

    /// <summary>Epochs actually trained.</summary>
    public int EpochsTrained { get; }

    /// <summary>Epochs restored instead of trained.</summary>
    public int EpochsReused { get; }

    /// <summary>Wall time of all pretraining calls.</summary>
    public TimeSpan TimeSpent { get; }

    /// <summary>Training time of the reused epochs, as recorded when they were first trained.</summary>
    public TimeSpan TimeSaved { get; }

    /// <summary>The share of pretraining time saved: saved / (spent + saved); 0 when nothing was pretrained.</summary>
    public double SavedFraction => TimeSpent + TimeSaved > TimeSpan.Zero ? TimeSaved / (TimeSpent + TimeSaved) : 0;

    /// <inheritdoc/>
    public override string ToString() =>
        $"{EpochsTrained} epochs trained, {EpochsReused} reused over {Segments} segments; {TimeSpent.TotalSeconds:0.0} s spent, " +
        $"{TimeSaved.TotalSeconds:0.0} s saved ({SavedFraction:P0})";
}
