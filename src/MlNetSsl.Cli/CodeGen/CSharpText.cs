using System.Globalization;
using System.Text;

namespace MlNetSsl.Cli.CodeGen;

/// <summary>Turns names and values from a dataset into C# and MSBuild text that compiles whatever they contain.</summary>
internal static class CSharpText
{
    // Lower-case keywords only: identifiers made here start upper-case or with '_', so contextual keywords
    // (var, value, record...) are harmless and only these could still collide.
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const",
        "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern",
        "false", "finally", "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface",
        "internal", "is", "lock", "long", "namespace", "new", "null", "object", "operator", "out", "override",
        "params", "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof",
        "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try", "typeof", "uint",
        "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while",
    };

    /// <summary>
    /// A PascalCase identifier made of the letters and digits of <paramref name="raw"/> ("sepal length" and
    /// "sepal_length" both give "SepalLength"; "3rd" gives "_3rd"); <paramref name="fallback"/> when none remain.
    /// </summary>
    public static string ToIdentifier(string raw, string fallback)
    {
        var builder = new StringBuilder();
        bool upperNext = true;
        foreach (char c in raw)
        {
            if (char.IsLetterOrDigit(c))
            {
                builder.Append(upperNext ? char.ToUpperInvariant(c) : c);
                upperNext = false;
            }
            else
            {
                upperNext = true;
            }
        }
        if (builder.Length == 0) return fallback;
        if (char.IsDigit(builder[0])) builder.Insert(0, '_');
        string identifier = builder.ToString();
        return Keywords.Contains(identifier) ? "@" + identifier : identifier;
    }

    /// <summary>Whether <paramref name="name"/> is usable as it is: letters, digits and '_', not starting with a digit, no keyword.</summary>
    public static bool IsPlainIdentifier(string name) =>
        name.Length > 0
        && !char.IsDigit(name[0])
        && name.All(c => c == '_' || char.IsLetterOrDigit(c))
        && !Keywords.Contains(name);

    /// <summary>
    /// Property names for <paramref name="wanted"/>, in order: each kept when it is a plain identifier, else made one;
    /// then made unique (a number appended) and kept apart from <paramref name="reserved"/> (the enclosing type's name,
    /// which C# forbids for a member).
    /// </summary>
    public static IReadOnlyList<string> UniquePropertyNames(IEnumerable<string> wanted, IReadOnlyCollection<string> reserved)
    {
        var used = new HashSet<string>(reserved, StringComparer.Ordinal);
        var names = new List<string>();
        foreach (string name in wanted)
        {
            string candidate = IsPlainIdentifier(name) ? name : ToIdentifier(name, "Column");
            string unique = candidate;
            for (int n = 2; !used.Add(unique); n++) unique = candidate + n.ToString(CultureInfo.InvariantCulture);
            names.Add(unique);
        }
        return names;
    }

    /// <summary>A C# char literal for <paramref name="value"/> (<c>'\t'</c>, <c>'\''</c>, <c>';'</c>).</summary>
    public static string CharLiteral(char value) => value switch
    {
        '\'' => "'\\''",
        '"' => "'\"'",
        _ => "'" + StringLiteral(value.ToString())[1..^1] + "'",
    };

    /// <summary>A C# string literal for <paramref name="value"/>, every control or non-ASCII character escaped.</summary>
    public static string StringLiteral(string value)
    {
        var builder = new StringBuilder(value.Length + 2).Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c < 0x20 || c > 0x7E) builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else builder.Append(c);
                    break;
            }
        }
        return builder.Append('"').ToString();
    }

    /// <summary>
    /// A C# float expression for a number written as text in invariant culture; empty, "?" or "NaN" (a missing value)
    /// gives <c>float.NaN</c>, as ML.NET reads a missing number.
    /// </summary>
    /// <exception cref="FormatException">The text is neither a number nor a missing value.</exception>
    public static string FloatLiteral(string text)
    {
        string trimmed = text.Trim();
        if (trimmed.Length == 0 || trimmed == "?") return "float.NaN";
        if (!float.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out float value))
            throw new FormatException($"'{text}' is not a number in invariant culture.");
        return FloatLiteral(value);
    }

    /// <summary>A C# float expression for <paramref name="value"/> that reads back to the same bits (NaN and infinities included).</summary>
    public static string FloatLiteral(float value)
    {
        if (float.IsNaN(value)) return "float.NaN";
        if (float.IsPositiveInfinity(value)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(value)) return "float.NegativeInfinity";
        // "R" is the shortest text that round-trips; "E" exponents are valid in C# literals too.
        return value.ToString("R", CultureInfo.InvariantCulture) + "f";
    }

    /// <summary>Escapes text for an MSBuild item's Include or metadata inside an XML attribute.</summary>
    public static string MsBuildAttribute(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (char c in value)
        {
            builder.Append(c switch
            {
                // MSBuild's special characters, %-escaped so they are taken literally.
                '%' => "%25",
                ';' => "%3B",
                '$' => "%24",
                '@' => "%40",
                '\'' => "%27",
                '*' => "%2A",
                '?' => "%3F",
                // XML's.
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                _ => c.ToString(),
            });
        }
        return builder.ToString();
    }
}
