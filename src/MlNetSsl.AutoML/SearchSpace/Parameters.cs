using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MlNetSsl.AutoML;

/// <summary>
/// One configuration drawn from a <see cref="SearchSpace"/>: an immutable map from option names to values.
/// Numbers are stored as <see cref="double"/> (integer options hold whole numbers), choices as <see cref="string"/>,
/// <see cref="double"/> or <see cref="bool"/>, nested spaces as nested <see cref="Parameters"/>. Keys are kept in
/// ordinal order, so the JSON form, equality and <see cref="ComputeSubsetHash"/> do not depend on insertion order.
/// </summary>
[JsonConverter(typeof(ParametersJsonConverter))]
public sealed class Parameters : IReadOnlyDictionary<string, object>, IEquatable<Parameters>
{
    private readonly SortedDictionary<string, object> _values;

    /// <summary>Parameters with no values.</summary>
    public static Parameters Empty { get; } = new();

    /// <summary>Creates empty parameters.</summary>
    public Parameters() => _values = new SortedDictionary<string, object>(StringComparer.Ordinal);

    /// <summary>Creates parameters from name/value pairs. Numbers of any type become <see cref="double"/>, enums
    /// become their names.</summary>
    /// <param name="values">The values; names must be unique and non-empty and may not contain '.'.</param>
    public Parameters(IEnumerable<KeyValuePair<string, object>> values) : this()
    {
        ArgumentNullException.ThrowIfNull(values);
        foreach (var (name, value) in values)
        {
            SearchSpace.ValidateName(name);
            if (!_values.TryAdd(name, ParameterValues.Normalize(value, $"Parameter '{name}'")))
                throw new ArgumentException($"Parameter '{name}' is given twice.", nameof(values));
        }
    }

    /// <summary>The value of <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No parameter has that name.</exception>
    public object this[string name] => _values.TryGetValue(name, out object? value)
        ? value
        : throw new KeyNotFoundException($"No parameter named '{name}'; present: {string.Join(", ", _values.Keys)}.");

    /// <summary>The parameter names, in ordinal order.</summary>
    public IEnumerable<string> Keys => _values.Keys;

    /// <summary>The values, in the order of <see cref="Keys"/>.</summary>
    public IEnumerable<object> Values => _values.Values;

    /// <summary>The number of top-level parameters.</summary>
    public int Count => _values.Count;

    /// <summary>Whether a parameter named <paramref name="key"/> exists.</summary>
    public bool ContainsKey(string key) => _values.ContainsKey(key);

    /// <summary>Gets the value of <paramref name="key"/> if present.</summary>
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out object value) => _values.TryGetValue(key, out value);

    /// <summary>Returns a copy with <paramref name="name"/> set to <paramref name="value"/> (added or replaced).</summary>
    public Parameters With(string name, object value)
    {
        SearchSpace.ValidateName(name);
        var copy = new Parameters(_values);
        copy._values[name] = ParameterValues.Normalize(value, $"Parameter '{name}'");
        return copy;
    }

    /// <summary>The number stored under <paramref name="name"/>.</summary>
    public double GetDouble(string name) => this[name] is double d ? d
        : throw new InvalidCastException($"Parameter '{name}' is {ParameterValues.Format(this[name])}, not a number.");

    /// <summary>The whole number stored under <paramref name="name"/>.</summary>
    /// <exception cref="InvalidCastException">The value is not a whole number in the range of <see cref="int"/>.</exception>
    public int GetInt32(string name)
    {
        double value = GetDouble(name);
        if (value != Math.Floor(value) || value < int.MinValue || value > int.MaxValue)
            throw new InvalidCastException($"Parameter '{name}' is {value.ToString(CultureInfo.InvariantCulture)}, not a 32-bit whole number.");
        return (int)value;
    }

    /// <summary>The text stored under <paramref name="name"/>.</summary>
    public string GetString(string name) => this[name] as string
        ?? throw new InvalidCastException($"Parameter '{name}' is {ParameterValues.Format(this[name])}, not text.");

    /// <summary>The nested parameters stored under <paramref name="name"/> (from a nested search space).</summary>
    public Parameters GetNested(string name) => this[name] as Parameters
        ?? throw new InvalidCastException($"Parameter '{name}' is {ParameterValues.Format(this[name])}, not nested parameters.");

    /// <summary>Finds a value by a dotted path such as <c>pretraining.method</c>.</summary>
    public bool TryGetPath(string path, [MaybeNullWhen(false)] out object value)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        value = null;
        Parameters current = this;
        string[] parts = path.Split('.');
        for (int i = 0; i < parts.Length; i++)
        {
            if (!current._values.TryGetValue(parts[i], out object? next)) return false;
            if (i == parts.Length - 1) { value = next; return true; }
            if (next is not Parameters nested) return false;
            current = nested;
        }
        return false;
    }

    /// <summary>
    /// Binds these parameters to a new <typeparamref name="T"/>: each parameter sets the property of the same name
    /// (numbers are converted to the property's numeric type, text to enums, nested parameters to nested option
    /// objects); properties without a parameter keep their initial values.
    /// </summary>
    public T AsType<T>() where T : class, new() => (T)OptionsReflection.Bind(typeof(T), this);

    /// <summary>Reads the searchable properties (those with <see cref="RangeAttribute"/>,
    /// <see cref="ChoiceAttribute"/>, <see cref="BooleanChoiceAttribute"/> or <see cref="NestedOptionsAttribute"/>)
    /// of <paramref name="options"/> into parameters, for example to give a tuner a starting point.</summary>
    public static Parameters FromObject<T>(T options) where T : class
    {
        ArgumentNullException.ThrowIfNull(options);
        return OptionsReflection.Read(options);
    }

    /// <summary>
    /// A stable key for a subset of the parameters: the SHA-256 (hex) of the canonical JSON of the named values.
    /// Trials whose values agree on the subset (for example the SSL pretraining options) get the same key whatever
    /// their other values, so they can share a cached artifact. Names may be dotted paths into nested parameters;
    /// their order does not matter.
    /// </summary>
    /// <exception cref="KeyNotFoundException">A name is not present.</exception>
    public string ComputeSubsetHash(params string[] names)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.Length == 0) throw new ArgumentException("Name at least one parameter to hash.", nameof(names));
        var subset = new SortedDictionary<string, object>(StringComparer.Ordinal);
        foreach (string name in names.Distinct(StringComparer.Ordinal))
            subset[name] = TryGetPath(name, out object? value) ? value
                : throw new KeyNotFoundException($"No parameter at '{name}'; present: {string.Join(", ", _values.Keys)}.");
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in subset)
            {
                writer.WritePropertyName(name);
                ParameterValues.Write(writer, value);
            }
            writer.WriteEndObject();
        }
        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    /// <summary>The parameters as a JSON object.</summary>
    public string ToJson(bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
            WriteTo(writer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Parses parameters written by <see cref="ToJson"/>.</summary>
    /// <exception cref="JsonException">The text is not a JSON object of parameter values.</exception>
    public static Parameters FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var document = JsonDocument.Parse(json);
        return ReadFrom(document.RootElement);
    }

    internal void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        foreach (var (name, value) in _values)
        {
            writer.WritePropertyName(name);
            ParameterValues.Write(writer, value);
        }
        writer.WriteEndObject();
    }

    internal static Parameters ReadFrom(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new JsonException($"Parameters must be a JSON object, not {element.ValueKind}.");
        var result = new Parameters();
        foreach (JsonProperty property in element.EnumerateObject())
        {
            SearchSpace.ValidateName(property.Name);
            if (!result._values.TryAdd(property.Name, ParameterValues.Read(property.Value, $"Parameter '{property.Name}'")))
                throw new JsonException($"Parameter '{property.Name}' appears twice.");
        }
        return result;
    }

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, object>> GetEnumerator() => _values.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Structural equality: same names and equal values (numbers compared exactly).</summary>
    public bool Equals(Parameters? other)
    {
        if (other is null) return false;
        if (ReferenceEquals(this, other)) return true;
        if (other._values.Count != _values.Count) return false;
        foreach (var (name, value) in _values)
            if (!other._values.TryGetValue(name, out object? otherValue) || !ParameterValues.AreEqual(value, otherValue))
                return false;
        return true;
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as Parameters);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var (name, value) in _values)
        {
            hash.Add(name, StringComparer.Ordinal);
            hash.Add(value);
        }
        return hash.ToHashCode();
    }

    /// <summary>The compact JSON form.</summary>
    public override string ToString() => ToJson();
}

/// <summary>Lets <see cref="JsonSerializer"/> read and write <see cref="Parameters"/> as plain JSON objects.</summary>
internal sealed class ParametersJsonConverter : JsonConverter<Parameters>
{
    public override Parameters Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return Parameters.ReadFrom(document.RootElement);
    }

    public override void Write(Utf8JsonWriter writer, Parameters value, JsonSerializerOptions options) => value.WriteTo(writer);
}
