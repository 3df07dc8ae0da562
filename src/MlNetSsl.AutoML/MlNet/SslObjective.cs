using System.Globalization;

namespace MlNetSsl.AutoML;

/// <summary>What kind of objective an <see cref="SslObjective"/> is.</summary>
public enum SslObjectiveKind
{
    /// <summary>Stratified k-fold cross-validated accuracy of the downstream model on the labeled rows.</summary>
    CrossValidatedAccuracy,

    /// <summary>A measure of the embeddings that needs no labels (view retrieval for images, RankMe otherwise).</summary>
    LabelFree,

    /// <summary>Label-free for images below a number of labels per class (or where most classes have one label), cross-validated accuracy otherwise.</summary>
    Auto,
}

/// <summary>
/// What an experiment maximizes: <see cref="CrossValidatedAccuracy"/> over the labeled rows, a <see cref="LabelFree"/>
/// measure of the embeddings for when labels are very few, or <see cref="Auto"/>, which picks one of the two from the
/// input kind and the number of labels per class. <see cref="MulticlassTrainerExperiment"/> supports cross-validated accuracy only.
/// </summary>
public sealed class SslObjective
{
    /// <summary>The labels per class (labeled rows / classes) below which <see cref="Auto"/> chooses the label-free objective for images.</summary>
    public const double DefaultMinimumLabelsPerClass = 5;

    private SslObjective(SslObjectiveKind kind, string name, int folds, double minimumLabelsPerClass)
    {
        Kind = kind;
        Name = name;
        Folds = folds;
        MinimumLabelsPerClass = minimumLabelsPerClass;
    }

    /// <summary>
    /// Stratified k-fold cross-validated accuracy (correct predictions over all labeled rows, pooled across folds).
    /// When the rarest class has fewer labeled rows than <paramref name="folds"/>, fewer folds are used (as many as
    /// that class has rows, but at least 2), so every fold can hold every class that has enough rows.
    /// </summary>
    /// <param name="folds">The number of folds, at least 2. Default: 5.</param>
    public static SslObjective CrossValidatedAccuracy(int folds = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 2);
        return new SslObjective(SslObjectiveKind.CrossValidatedAccuracy, $"CrossValidatedAccuracy(folds={folds})", folds, 0);
    }

    /// <summary>
    /// A label-free measure of the pretrained embeddings, in [0, 1]: for images view retrieval
    /// (<see cref="LabelFreeEvaluation.ViewRetrievalAccuracy"/>, which ranked CIFAR-10 and MNIST encoders by their
    /// few-label accuracy best of the measures studied), for tabular rows and series RankMe
    /// (<see cref="LabelFreeEvaluation.RankMe"/>) divided by its maximum, min(rows, embedding size). The raw-feature baseline and the downstream options cannot be scored
    /// without labels, so the search leaves them out; the final trainer uses the downstream defaults.
    /// </summary>
    public static SslObjective LabelFree { get; } = new(SslObjectiveKind.LabelFree, "LabelFree", 5, 0);

    /// <summary>
    /// <see cref="LabelFree"/> for images with fewer than <see cref="DefaultMinimumLabelsPerClass"/> labeled rows per
    /// class on average, and for any input where most classes have a single label (cross-validation has nothing to score);
    /// otherwise <see cref="CrossValidatedAccuracy"/> with 5 folds (fewer when the rarest class of 2 labels or more has
    /// fewer labels). Measured on the
    /// shared data with 2 and 5 labels per class, view retrieval and RankMe ranked CIFAR-10 and MNIST encoders better than
    /// cross-validation did, and no label-free measure ranked HIGGS encoders better than it, so tabular rows and series
    /// are cross-validated down to 2 labels per class (docs/automl-benchmarks.md, "Label-free ranking"). The result says
    /// which objective was used and why.
    /// </summary>
    public static SslObjective Auto { get; } = AutoWith();

    /// <summary><see cref="Auto"/> with another threshold or fold count.</summary>
    /// <param name="minimumLabelsPerClass">Below this many labeled rows per class (on average), use the label-free objective for images.</param>
    /// <param name="folds">Folds of the cross-validated objective.</param>
    public static SslObjective AutoWith(double minimumLabelsPerClass = DefaultMinimumLabelsPerClass, int folds = 5)
    {
        if (!(minimumLabelsPerClass >= 0) || !double.IsFinite(minimumLabelsPerClass))
            throw new ArgumentOutOfRangeException(nameof(minimumLabelsPerClass), minimumLabelsPerClass, "The threshold must be a non-negative number.");
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 2);
        return new SslObjective(SslObjectiveKind.Auto,
            $"Auto(minLabelsPerClass={minimumLabelsPerClass.ToString(CultureInfo.InvariantCulture)},folds={folds})", folds, minimumLabelsPerClass);
    }

    /// <summary>What kind of objective this is.</summary>
    public SslObjectiveKind Kind { get; }

    /// <summary>A description of the objective (recorded in checkpoints).</summary>
    public string Name { get; }

    /// <summary>The requested number of folds (cross-validated accuracy, and Auto when it picks it).</summary>
    public int Folds { get; }

    /// <summary>For <see cref="SslObjectiveKind.Auto"/>: the labels per class below which the label-free objective is used for images.</summary>
    public double MinimumLabelsPerClass { get; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
