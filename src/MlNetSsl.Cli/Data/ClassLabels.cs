using System.Globalization;

namespace MlNetSsl.Cli.Data;

/// <summary>Labels read from files against a model's class names: shared by training (test scoring), the model commands
/// and the readers that recognize a label column by its values.</summary>
internal static class ClassLabels
{
    /// <summary>The class index of a label: the class of that exact text, or, when every class is a number, the class of
    /// equal value, so a test file that writes "1.0" (as pandas writes a float column) matches the class "1". Null: a
    /// class the model never saw.</summary>
    internal static Func<string, int?> Matcher(string[] classNames)
    {
        var exact = classNames.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);
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
            : values.Count > 0 && double.TryParse(label, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                && values.TryGetValue(value, out int byValue) ? byValue
            : null;
    }
}
