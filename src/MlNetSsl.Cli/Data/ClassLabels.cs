using System.Globalization;

namespace MlNetSsl.Cli.Data;

/// <summary>Labels read from files against a model's class names: shared by training (test scoring), the model commands
/// and the readers that recognize a label column by its values.</summary>
internal static class ClassLabels
{
    /// <summary>The class index of a label: the class of that exact text, or, when every class is a number, the class of
    /// equal value, so a test file that writes "1.0" (as pandas writes a float column) matches the class "1". Null: a
    /// class the model never saw. A label that differs from a class only in its Unicode form (a folder name written
    /// decomposed, as macOS writes 'ü', against the composed one of training) is that class.</summary>
    internal static Func<string, int?> Matcher(string[] classNames)
    {
        var exact = classNames.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);
        // Composed forms of the classes: only where two classes do not share one (they then stay apart, by exact text).
        var composed = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var group in exact.GroupBy(p => Compose(p.Key), StringComparer.Ordinal))
            if (group.Count() == 1) composed[group.Key] = group.First().Value;
        var values = new Dictionary<double, int>();
        foreach (var (name, i) in exact)
        {
            if (!double.TryParse(name, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !values.TryAdd(value, i))
            {
                values.Clear();
                break;
            }
        }
        return label => exact.TryGetValue(label, out int i) ? i
            : composed.TryGetValue(Compose(label), out int form) ? form
            : values.Count > 0 && double.TryParse(label, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                && values.TryGetValue(value, out int byValue) ? byValue
            : null;
    }

    /// <summary>
    /// For each of <paramref name="unseenLabels"/> (labels no class matches) that equals a class but for letter case
    /// ("cat" beside the class "Cat"), one sentence naming the class and what to do; the first ten such labels, then how
    /// many more. Such a label stays a class of its own (two classes may differ in case), and was listed among the classes
    /// never seen without a word on why.
    /// </summary>
    internal static IReadOnlyList<string> CaseOnlyDifferences(IEnumerable<string> unseenLabels, string[] classNames)
    {
        // A lookup, not a scan of the classes per label: a test file read with the wrong label column has a label per row.
        var byCase = classNames.ToLookup(c => c, StringComparer.OrdinalIgnoreCase);
        var matches = unseenLabels.Distinct(StringComparer.Ordinal)
            .Select(label => (label, Classes: byCase[label].ToList()))
            .Where(m => m.Classes.Count > 0).ToList();
        var sentences = matches.Take(10).Select(m => m.Classes.Count == 1
            ? $"'{m.label}' is the class '{m.Classes[0]}' but for letter case, and case tells classes apart: if it is that class, write it '{m.Classes[0]}' in the test file (or one spelling in both files) and score again."
            : $"'{m.label}' is the classes {string.Join(" and ", m.Classes.Select(c => $"'{c}'"))} but for letter case, and case tells classes apart: write it as the one it is and score again.").ToList();
        if (matches.Count > 10) sentences.Add(string.Create(CultureInfo.InvariantCulture, $"{matches.Count - 10:N0} more test label(s) are a class but for letter case."));
        return sentences;
    }

    /// <summary>The text in Unicode's composed form (NFC); text that is not valid Unicode (a lone surrogate) cannot be
    /// normalized and is returned as it is.</summary>
    internal static string Compose(string text)
    {
        try
        {
            return text.IsNormalized(System.Text.NormalizationForm.FormC) ? text : text.Normalize(System.Text.NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            return text;
        }
    }
}
