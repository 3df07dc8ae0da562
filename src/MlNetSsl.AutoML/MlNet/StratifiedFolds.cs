namespace MlNetSsl.AutoML;

/// <summary>Stratified k-fold assignment: every class is spread over the folds in a seeded random order.</summary>
internal static class StratifiedFolds
{
    /// <summary>
    /// Assigns each row to a fold. The fold count is <paramref name="requestedFolds"/>, reduced to the size of the
    /// rarest class of 2 labels or more when that is smaller (but never below 2): a class with a single label is scored
    /// only in the fold that holds it out, and letting it cut the folds to 2 would halve every other class's training
    /// rows. Rows of each class, shuffled, are dealt round-robin with one counter running across classes, so folds
    /// differ in size by at most one row and each class is split as evenly as its size allows.
    /// </summary>
    /// <param name="labels">The class of each labeled row.</param>
    /// <param name="requestedFolds">The requested number of folds (at least 2).</param>
    /// <param name="seed">The shuffle seed.</param>
    public static (int[] FoldOfRow, int FoldCount) Assign(IReadOnlyList<uint> labels, int requestedFolds, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(requestedFolds, 2);
        var classes = Enumerable.Range(0, labels.Count).GroupBy(i => labels[i]).OrderBy(g => g.Key).ToList();
        if (classes.Count < 2)
            throw new InvalidOperationException($"Cross-validation needs labeled rows of at least two classes; found {classes.Count}.");
        int foldCount = Math.Clamp(classes.Select(g => g.Count()).Where(n => n >= 2).DefaultIfEmpty(2).Min(), 2, requestedFolds);
        if (labels.Count < foldCount)
            throw new InvalidOperationException($"Cross-validation with {foldCount} folds needs at least {foldCount} labeled rows; found {labels.Count}.");

        var random = new Random(seed);
        var foldOfRow = new int[labels.Count];
        int dealt = 0;
        foreach (var group in classes)
        {
            int[] rows = group.ToArray();
            random.Shuffle(rows);
            foreach (int row in rows) foldOfRow[row] = dealt++ % foldCount;
        }
        return (foldOfRow, foldCount);
    }
}
