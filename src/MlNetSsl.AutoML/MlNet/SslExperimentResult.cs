using System.Globalization;
using Microsoft.ML;

namespace MlNetSsl.AutoML;

/// <summary>The outcome of an experiment that produces an ML.NET model: the best trial with its fitted pipeline, and the leaderboard.</summary>
public sealed class SslExperimentResult
{
    internal SslExperimentResult(SslTrialResult bestTrial, IReadOnlyList<TrialRecord> trials, SearchStopReason stopReason, TimeSpan elapsed)
    {
        BestTrial = bestTrial;
        Trials = trials;
        StopReason = stopReason;
        Elapsed = elapsed;
    }

    /// <summary>The best trial, with its model refitted on all labeled rows.</summary>
    public SslTrialResult BestTrial { get; }

    /// <summary>The leaderboard (see <see cref="SearchResult.Trials"/> for the order).</summary>
    public IReadOnlyList<TrialRecord> Trials { get; }

    /// <summary>Why the search stopped.</summary>
    public SearchStopReason StopReason { get; }

    /// <summary>Experiment time, including earlier sessions of a resumed experiment (not the final refit).</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The objective the trials were scored with; for <see cref="SslObjective.Auto"/>, the one it chose.</summary>
    public SslObjective? Objective { get; internal init; }

    /// <summary>Self-supervised experiment: the metric the trials' cross-validation computed (see
    /// <see cref="SslExperiment.SetOptimizingMetric"/>); null under a label-free objective and for
    /// <see cref="MulticlassTrainerExperiment"/> (accuracy).</summary>
    public SslMetric? OptimizingMetric { get; internal init; }

    /// <summary>Self-supervised experiment: how the final configuration was chosen from the leaderboard (the
    /// one-standard-error rule, see <see cref="SslExperiment.SetOneStandardErrorRule"/>, or its top); null otherwise.
    /// <see cref="BestTrial"/> is the chosen trial, which may not be the first row of <see cref="Trials"/>.</summary>
    public string? SelectionExplanation { get; internal init; }

    /// <summary>Whether a higher metric ranked better (false for log-loss).</summary>
    public bool IsMetricMaximized { get; internal init; } = true;

    /// <summary>Why that objective was used (for <see cref="SslObjective.Auto"/>: the label counts and the threshold); null
    /// for <see cref="MulticlassTrainerExperiment"/>.</summary>
    public string? ObjectiveExplanation { get; internal init; }

    /// <summary>Self-supervised experiment: which kind of pipeline won, pretrained embeddings or the raw-feature baseline;
    /// null for <see cref="MulticlassTrainerExperiment"/>.</summary>
    public SslFeatureSource? BestFeatureSource { get; internal init; }

    /// <summary>The winning configuration in words: featurizer, epochs and trainer for the self-supervised experiment; the
    /// trainer, its settings and iterations for <see cref="MulticlassTrainerExperiment"/>.</summary>
    public string? BestPipelineDescription { get; internal init; }

    /// <summary>Self-supervised experiment: the downstream settings the best model was fitted with: the best trial's, but
    /// under a label-free objective the untuned probe the refit uses, and for an image FixMatch network with no longer scored
    /// version, the longer fine-tuning its final fit trained (<see cref="SelectionExplanation"/> says so); null otherwise.</summary>
    public SslDownstreamParameters? BestDownstream { get; internal init; }

    /// <summary>Self-supervised experiment: the pipelines whose class probabilities the model averages, when ensemble
    /// selection made it an ensemble (<see cref="SslExperiment.SetEnsembleSelection"/>); empty when the model is
    /// <see cref="BestTrial"/>'s pipeline alone. <see cref="BestTrial"/> is then the choice the selection started from, and
    /// its metric that pipeline's.</summary>
    public IReadOnlyList<SslEnsembleMember> Ensemble { get; internal init; } = [];

    /// <summary>Self-supervised experiment: the measures and pretraining cost of every scored segment (trial and rung),
    /// including earlier sessions of a resumed experiment; empty otherwise.</summary>
    public IReadOnlyList<SslTrialMeasures> TrialMeasures { get; internal init; } = [];

    /// <summary>Self-supervised experiment: the measures behind a leaderboard row's metric (its fold values, standard error and
    /// label-free measures): the segment scored at the trial's fidelity, or, for a raw-feature trial, which is measured
    /// once and keeps that score at later rungs, its one measurement. Null when none was recorded (a failed trial, or a
    /// <see cref="MulticlassTrainerExperiment"/>).</summary>
    /// <param name="trial">A row of <see cref="Trials"/>.</param>
    public SslTrialMeasures? MeasuresOf(TrialRecord trial)
    {
        ArgumentNullException.ThrowIfNull(trial);
        return SslExperiment.MeasuresOf(TrialMeasures, trial);
    }

    /// <summary>Self-supervised experiment: how much pretraining was reused instead of repeated; null otherwise.</summary>
    public PretrainingReuseSummary? PretrainingReuse { get; internal init; }

    /// <summary>Adjustments the experiment made to the search space (for example options a label-free objective cannot
    /// score), in words.</summary>
    public IReadOnlyList<string> Notes { get; internal init; } = [];

    /// <summary>One line, in the invariant culture: the winning pipeline (<see cref="BestPipelineDescription"/>, or the best
    /// trial's id), its metric, the trial count and why the search stopped.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{BestPipelineDescription ?? $"trial #{BestTrial.TrialId}"}: {OptimizingMetric?.ToString() ?? Objective?.ToString() ?? "metric"} {BestTrial.Metric:G6}") +
        (BestTrial.MetricStandardError is double se ? string.Create(CultureInfo.InvariantCulture, $" +/- {se:G3}") : "") +
        string.Create(CultureInfo.InvariantCulture, $"; {Trials.Count} trial{(Trials.Count == 1 ? "" : "s")}, stopped by {StopReason}");
}

/// <summary>A pipeline of an ensemble model (<see cref="SslExperimentResult.Ensemble"/>).</summary>
public sealed class SslEnsembleMember
{
    internal SslEnsembleMember(int trialId, double weight, string description)
    {
        TrialId = trialId;
        Weight = weight;
        Description = description;
    }

    /// <summary>The trial whose configuration was refitted as this member.</summary>
    public int TrialId { get; }

    /// <summary>Its weight in the mean of the class probabilities (the members' weights sum to 1).</summary>
    public double Weight { get; }

    /// <summary>The pipeline in words (features and trainer).</summary>
    public string Description { get; }
}

/// <summary>The best trial of an experiment and the model built from its configuration.</summary>
public sealed class SslTrialResult
{
    internal SslTrialResult(TrialRecord record, ITransformer model)
    {
        TrialId = record.TrialId;
        Metric = record.Metric ?? throw new ArgumentException("The best trial has no metric.", nameof(record));
        Fidelity = record.Fidelity;
        Parameters = record.Parameters;
        Duration = record.Duration;
        Model = model;
    }

    /// <summary>The trial's id.</summary>
    public int TrialId { get; }

    /// <summary>The objective's value (for example cross-validated accuracy).</summary>
    public double Metric { get; }

    /// <summary>Standard error of <see cref="Metric"/> over the cross-validation folds (self-supervised experiment,
    /// cross-validated objective); null otherwise.</summary>
    public double? MetricStandardError { get; internal init; }

    /// <summary>Standard deviation of the metric over the cross-validation folds; null when <see cref="MetricStandardError"/> is.</summary>
    public double? MetricStandardDeviation { get; internal init; }

    /// <summary>The fidelity (epochs or iterations) the metric was measured at; null without a scheduler.</summary>
    public int? Fidelity { get; }

    /// <summary>The configuration.</summary>
    public Parameters Parameters { get; }

    /// <summary>The time the trial ran during the search.</summary>
    public TimeSpan Duration { get; }

    /// <summary>The whole fitted pipeline, ready for <c>Transform</c>, <c>PredictionEngine</c> and <c>Model.Save</c>.</summary>
    public ITransformer Model { get; }

    /// <summary>One line, in the invariant culture: the id, the metric (with its standard error when there is one), the
    /// fidelity and the configuration, as <see cref="TrialRecord.ToString"/> writes them.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"#{TrialId} metric={Metric:G6}") +
        (MetricStandardError is double se ? string.Create(CultureInfo.InvariantCulture, $" +/- {se:G3}") : "") +
        string.Create(CultureInfo.InvariantCulture, $" fidelity={(Fidelity is int f ? f.ToString(CultureInfo.InvariantCulture) : "-")} {Parameters}");
}
