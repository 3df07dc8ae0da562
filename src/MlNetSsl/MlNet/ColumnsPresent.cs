using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.MlNet;

/// <summary>The "Columns present: a, b, c." sentence of a missing-column error, so every stage names what it found the same way.</summary>
internal static class ColumnsPresent
{
    /// <summary>The visible columns of a view's schema (hidden ones are older versions of a replaced column).</summary>
    public static string In(DataViewSchema schema) => Sentence(schema.Where(c => !c.IsHidden).Select(c => c.Name));

    /// <summary>The columns of an estimator's input schema shape.</summary>
    public static string In(SchemaShape shape) => Sentence(shape.Select(c => c.Name));

    private static string Sentence(IEnumerable<string> names) => $"Columns present: {string.Join(", ", names)}.";
}
