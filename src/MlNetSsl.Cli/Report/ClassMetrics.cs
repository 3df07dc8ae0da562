namespace MlNetSsl.Cli.Report;

/// <summary>Precision, recall and F1 of one class, from a confusion matrix; null where the denominator is zero.</summary>
internal sealed record ClassMetrics(string ClassName, int Support, int Predicted, double? Precision, double? Recall, double? F1)
{
    /// <summary>Per-class metrics of <paramref name="matrix"/> (matrix[actual][predicted]): precision is the diagonal
    /// over the column sum (rows predicted as the class), recall the diagonal over the row sum (rows of the class).</summary>
    public static IReadOnlyList<ClassMetrics> FromConfusion(IReadOnlyList<string> classNames, int[][] matrix)
    {
        if (!IsSquare(matrix, classNames.Count))
            throw new ArgumentException($"The confusion matrix must be {classNames.Count}x{classNames.Count}, one row and column per class.", nameof(matrix));
        var result = new ClassMetrics[classNames.Count];
        for (int c = 0; c < classNames.Count; c++)
        {
            int support = matrix[c].Sum();
            int predicted = matrix.Sum(row => row[c]);
            int correct = matrix[c][c];
            double? precision = predicted > 0 ? (double)correct / predicted : null;
            double? recall = support > 0 ? (double)correct / support : null;
            double? f1 = precision is double p && recall is double r ? (p + r > 0 ? 2 * p * r / (p + r) : 0) : null;
            result[c] = new ClassMetrics(classNames[c], support, predicted, precision, recall, f1);
        }
        return result;
    }

    /// <summary>True when <paramref name="matrix"/> has <paramref name="size"/> rows of <paramref name="size"/> counts.</summary>
    public static bool IsSquare(int[][] matrix, int size) => matrix.Length == size && matrix.All(row => row is not null && row.Length == size);
}
