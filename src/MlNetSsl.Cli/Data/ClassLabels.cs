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
