namespace MlNetSsl.AutoML;

/// <summary>
/// What an experiment maximizes. Available now: <see cref="CrossValidatedAccuracy"/> over the labeled rows. The
/// label-free objectives (embedding quality without labels) and <c>Auto</c> (choose by the number of labels) arrive
/// with the SSL search space, which needs the self-supervised stage.
/// </summary>
public sealed class SslObjective
{
    private SslObjective(string name, int folds)
    {
        Name = name;
        Folds = folds;
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
        return new SslObjective($"CrossValidatedAccuracy(folds={folds})", folds);
    }

    /// <summary>A description of the objective (recorded in checkpoints).</summary>
    public string Name { get; }

    /// <summary>The requested number of folds.</summary>
    public int Folds { get; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
