using System.Globalization;
using System.Text.Json;

namespace MlNetSsl.AutoML;

/// <summary>
/// The value kinds a parameter can hold: <see cref="double"/> (every number, so JSON round trips are exact and
/// binding converts to the target property type), <see cref="string"/> (also enum names), <see cref="bool"/>, and
/// nested <see cref="Parameters"/>.
/// </summary>
internal static class ParameterValues
{
    /// <summary>Converts a user-supplied value to its canonical parameter form, or throws naming <paramref name="what"/>.</summary>
    public static object Normalize(object? value, string what) => value switch
    {
        null => throw new ArgumentException($"{what} is null; parameters hold numbers, strings, booleans or nested parameters."),
        double d when double.IsFinite(d) => d,
        double d => throw new ArgumentException($"{what} is {d}; parameter numbers must be finite."),
        // Through the shortest text form, so 0.1f becomes 0.1 rather than 0.100000001490116.
        float f when float.IsFinite(f) => double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
        float f => throw new ArgumentException($"{what} is {f}; parameter numbers must be finite."),
        int or long or short or sbyte or byte or uint or ulong or ushort => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        decimal m => (double)m,
        bool or string => value,
        Enum e => e.ToString(),
        Parameters => value,
        _ => throw new ArgumentException($"{what} has type {value.GetType().Name}; parameters hold numbers, strings, booleans or nested parameters."),
    };

    /// <summary>Structural equality of two canonical values.</summary>
    public static bool AreEqual(object a, object b) => a switch
    {
        double x => b is double y && x.Equals(y),
        Parameters p => b is Parameters q && p.Equals(q),
        _ => a.Equals(b),
    };

    /// <summary>Writes a canonical value as JSON.</summary>
    public static void Write(Utf8JsonWriter writer, object value)
    {
        switch (value)
        {
            case double d: writer.WriteNumberValue(d); break;
            case string s: writer.WriteStringValue(s); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case Parameters p: p.WriteTo(writer); break;
            default: throw new InvalidOperationException($"Unexpected parameter value type {value.GetType().Name}.");
        }
    }

    /// <summary>Reads a canonical value from a JSON element.</summary>
    public static object Read(JsonElement element, string what) => element.ValueKind switch
    {
        JsonValueKind.Number => element.GetDouble(),
        JsonValueKind.String => element.GetString()!,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Object => Parameters.ReadFrom(element),
        _ => throw new JsonException($"{what}: a parameter value must be a number, string, boolean or object, not {element.ValueKind}."),
    };

    /// <summary>A short invariant text form for messages.</summary>
    public static string Format(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string s => $"\"{s}\"",
        bool b => b ? "true" : "false",
        _ => value.ToString() ?? string.Empty,
    };
}
