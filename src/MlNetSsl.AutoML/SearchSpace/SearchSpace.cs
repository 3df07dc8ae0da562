using System.Collections;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MlNetSsl.AutoML;

/// <summary>
/// A named set of searchable options (numeric and integer ranges, choices, nested spaces), shaped like ML.NET's
/// <c>Microsoft.ML.SearchSpace.SearchSpace</c>. A space maps configurations to points of the unit cube [0, 1]^d and
/// back (<see cref="SampleFromFeatureSpace(ReadOnlySpan{double})"/>, <see cref="MapToFeatureSpace"/>), which is where
/// tuners work; it can be built from an options class (<see cref="SearchSpace{T}"/>), edited in code
/// (<see cref="WithNumeric"/>, <see cref="WithChoice"/>, ..., <see cref="Without"/>) and saved as JSON.
/// Options are ordered by name (ordinal), so the feature layout does not depend on declaration order.
/// </summary>
[JsonConverter(typeof(SearchSpaceJsonConverter))]
public class SearchSpace : SearchSpaceOption, IEnumerable<KeyValuePair<string, SearchSpaceOption>>
{
    internal const string JsonType = "space";
    private readonly SortedDictionary<string, SearchSpaceOption> _options = new(StringComparer.Ordinal);

    /// <summary>Creates an empty space; add options with <see cref="Add"/>, the indexer or the <c>With*</c> methods.</summary>
#pragma warning disable RS0022 // SearchSpace<T> derives from it; SearchSpaceOption has no protected members to expose.
    public SearchSpace()
#pragma warning restore RS0022
    {
    }

    /// <summary>The number of top-level options.</summary>
    public int Count => _options.Count;

    /// <summary>The top-level option names, in ordinal order.</summary>
    public IEnumerable<string> Names => _options.Keys;

    /// <summary>Gets or replaces the option named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">Getting a name that is not in the space.</exception>
    public SearchSpaceOption this[string name]
    {
        get => _options.TryGetValue(name, out SearchSpaceOption? option) ? option
            : throw new KeyNotFoundException($"The search space has no option '{name}'; it has: {string.Join(", ", _options.Keys)}.");
        set
        {
            ValidateName(name);
            ArgumentNullException.ThrowIfNull(value);
            RejectCycle(value);
            _options[name] = value;
        }
    }

    /// <summary>Adds an option (also what collection initializers call).</summary>
    /// <exception cref="ArgumentException">The name is already used or invalid.</exception>
    public void Add(string name, SearchSpaceOption option)
    {
        ValidateName(name);
        ArgumentNullException.ThrowIfNull(option);
        if (_options.ContainsKey(name)) throw new ArgumentException($"The search space already has an option '{name}'.", nameof(name));
        RejectCycle(option);
        _options.Add(name, option);
    }

    /// <summary>Whether the space has a top-level option named <paramref name="name"/>.</summary>
    public bool HasOption(string name) => _options.ContainsKey(name);

    /// <summary>Removes an option; returns false if there was none.</summary>
    public bool Remove(string name) => _options.Remove(name);

    /// <summary>Adds or replaces a numeric range and returns this space.</summary>
    public SearchSpace WithNumeric(string name, double min, double max, bool logBase = false, double? defaultValue = null)
    {
        this[name] = new NumericRangeOption(min, max, logBase, defaultValue);
        return this;
    }

    /// <summary>Adds or replaces an integer range and returns this space.</summary>
    public SearchSpace WithInteger(string name, int min, int max, bool logBase = false, int? defaultValue = null)
    {
        this[name] = new IntegerRangeOption(min, max, logBase, defaultValue);
        return this;
    }

    /// <summary>Adds or replaces a choice (default: the first value) and returns this space.</summary>
    public SearchSpace WithChoice(string name, params object[] choices)
    {
        this[name] = new ChoiceOption(choices);
        return this;
    }

    /// <summary>Adds or replaces a nested space and returns this space.</summary>
    public SearchSpace WithNested(string name, SearchSpace nested)
    {
        this[name] = nested;
        return this;
    }

    /// <summary>Removes an option if present and returns this space.</summary>
    public SearchSpace Without(string name)
    {
        _options.Remove(name);
        return this;
    }

    /// <inheritdoc/>
    public override int FeatureCount => _options.Values.Sum(o => o.FeatureCount);

    /// <summary>The unit-space coordinates, in order: one per numeric, integer or choice option (nested spaces
    /// contribute theirs with dotted paths).</summary>
    public IReadOnlyList<FeatureDimension> FeatureDimensions
    {
        get
        {
            var dimensions = new List<FeatureDimension>();
            CollectDimensions(string.Empty, dimensions);
            return dimensions;
        }
    }

    /// <summary>The default configuration (every option at its default).</summary>
    public Parameters Default => (Parameters)DefaultValue;

    internal override object DefaultValue => new Parameters(_options.Select(o => new KeyValuePair<string, object>(o.Key, o.Value.DefaultValue)));

    /// <summary>The configuration at unit-cube point <paramref name="features"/> (length <see cref="SearchSpaceOption.FeatureCount"/>).
    /// Coordinates outside [0, 1] are clamped, so the result is always inside the space.</summary>
    public Parameters SampleFromFeatureSpace(ReadOnlySpan<double> features)
    {
        if (features.Length != FeatureCount)
            throw new ArgumentException($"The search space has {FeatureCount} feature coordinates; got {features.Length}.", nameof(features));
        return (Parameters)FromFeatures(features);
    }

    /// <summary>The configuration at unit-cube point <paramref name="features"/>.</summary>
    public Parameters SampleFromFeatureSpace(double[] features) => SampleFromFeatureSpace(features.AsSpan());

    /// <summary>The unit-cube point of a configuration of this space (integers and choices map to the centres of their bins).</summary>
    /// <exception cref="ArgumentException">A value is missing or outside its option.</exception>
    public double[] MapToFeatureSpace(Parameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var features = new double[FeatureCount];
        ToFeatures(parameters, features, string.Empty);
        return features;
    }

    /// <summary>Completes a partial configuration with the defaults of the options it does not set.</summary>
    public Parameters WithDefaults(Parameters partial)
    {
        ArgumentNullException.ThrowIfNull(partial);
        return (Parameters)Complete(partial);
    }

    private object Complete(Parameters partial)
    {
        var values = new List<KeyValuePair<string, object>>();
        foreach (var (name, option) in _options)
        {
            object value = !partial.TryGetValue(name, out object? given) ? option.DefaultValue
                : option is SearchSpace nested && given is Parameters nestedGiven ? nested.Complete(nestedGiven)
                : given;
            values.Add(new KeyValuePair<string, object>(name, value));
        }
        foreach (string extra in partial.Keys.Where(k => !_options.ContainsKey(k)))
            throw new ArgumentException($"Parameter '{extra}' is not an option of the search space.", nameof(partial));
        return new Parameters(values);
    }

    /// <summary>Whether <paramref name="parameters"/> sets every option to a value inside it, and nothing else.</summary>
    public bool Contains(Parameters parameters) => Check(parameters, string.Empty) is null;

    /// <summary>Throws an <see cref="ArgumentException"/> saying why <paramref name="parameters"/> is not in the space.</summary>
    public void Validate(Parameters parameters)
    {
        if (Check(parameters, string.Empty) is string problem) throw new ArgumentException(problem, nameof(parameters));
    }

    internal override object FromFeatures(ReadOnlySpan<double> features)
    {
        var values = new List<KeyValuePair<string, object>>(_options.Count);
        int offset = 0;
        foreach (var (name, option) in _options)
        {
            values.Add(new KeyValuePair<string, object>(name, option.FromFeatures(features.Slice(offset, option.FeatureCount))));
            offset += option.FeatureCount;
        }
        return new Parameters(values);
    }

    internal override void ToFeatures(object value, Span<double> destination, string path)
    {
        if (Check(value, path) is string problem) throw new ArgumentException(problem);
        var parameters = (Parameters)value;
        int offset = 0;
        foreach (var (name, option) in _options)
        {
            option.ToFeatures(parameters[name], destination.Slice(offset, option.FeatureCount), Join(path, name));
            offset += option.FeatureCount;
        }
    }

    internal override string? Check(object value, string path)
    {
        if (value is not Parameters parameters)
            return $"Parameter '{path}' is {ParameterValues.Format(value)}, not nested parameters.";
        foreach (var (name, option) in _options)
        {
            if (!parameters.TryGetValue(name, out object? given)) return $"Parameter '{Join(path, name)}' is missing.";
            if (option.Check(given, Join(path, name)) is string problem) return problem;
        }
        foreach (string extra in parameters.Keys.Where(k => !_options.ContainsKey(k)))
            return $"Parameter '{Join(path, extra)}' is not an option of the search space.";
        return null;
    }

    internal override void CollectDimensions(string path, List<FeatureDimension> dimensions)
    {
        foreach (var (name, option) in _options) option.CollectDimensions(Join(path, name), dimensions);
    }

    internal override void CollectGridAxes(string path, Func<string, int> stepsFor, List<double[]> axes)
    {
        foreach (var (name, option) in _options) option.CollectGridAxes(Join(path, name), stepsFor, axes);
    }

    /// <summary>The space as JSON: an object from option name to option (<c>{"type":"numeric","min":..}</c>, ...).</summary>
    public string ToJson(bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
            WriteOptions(writer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads a space written by <see cref="ToJson"/>.</summary>
    /// <exception cref="JsonException">The text is not a valid search space; the message names the option.</exception>
    public static SearchSpace FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var document = JsonDocument.Parse(json);
        return ReadOptions(document.RootElement, string.Empty);
    }

    internal void WriteOptions(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        foreach (var (name, option) in _options)
        {
            writer.WritePropertyName(name);
            option.WriteJson(writer);
        }
        writer.WriteEndObject();
    }

    internal static SearchSpace ReadOptions(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new JsonException($"A search space must be a JSON object{(path.Length > 0 ? $" (at '{path}')" : "")}.");
        var space = new SearchSpace();
        foreach (JsonProperty property in element.EnumerateObject())
        {
            string optionPath = Join(path, property.Name);
            try { ValidateName(property.Name); }
            catch (ArgumentException e) { throw new JsonException(e.Message, e); }
            if (space.HasOption(property.Name)) throw new JsonException($"Option '{optionPath}' appears twice.");
            space._options.Add(property.Name, ReadJson(property.Value, optionPath));
        }
        return space;
    }

    internal override void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", JsonType);
        writer.WritePropertyName("options");
        WriteOptions(writer);
        writer.WriteEndObject();
    }

    internal static SearchSpace ReadSpace(JsonElement element, string path) =>
        element.TryGetProperty("options", out JsonElement options) ? ReadOptions(options, path)
            : throw new JsonException($"Nested space '{path}' needs \"options\".");

    /// <summary>A deep copy (through JSON), independent of later edits to this space.</summary>
    public SearchSpace Clone() => FromJson(ToJson());

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, SearchSpaceOption>> GetEnumerator() => _options.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The compact JSON form.</summary>
    public override string ToString() => ToJson();

    internal static void ValidateName(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("Option and parameter names must not be empty.");
        if (name.Contains('.', StringComparison.Ordinal))
            throw new ArgumentException($"Name '{name}' contains '.', which separates nested names in paths.");
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

    private void RejectCycle(SearchSpaceOption option)
    {
        if (option is not SearchSpace nested) return;
        if (ReferenceEquals(nested, this) || nested.ContainsSpace(this))
            throw new ArgumentException("A search space cannot contain itself.");
    }

    private bool ContainsSpace(SearchSpace target) =>
        _options.Values.OfType<SearchSpace>().Any(s => ReferenceEquals(s, target) || s.ContainsSpace(target));
}

/// <summary>Lets <see cref="JsonSerializer"/> read and write a <see cref="SearchSpace"/> in its own JSON format.</summary>
internal sealed class SearchSpaceJsonConverter : JsonConverter<SearchSpace>
{
    public override SearchSpace Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return SearchSpace.ReadOptions(document.RootElement, string.Empty);
    }

    public override void Write(Utf8JsonWriter writer, SearchSpace value, JsonSerializerOptions options) => value.WriteOptions(writer);
}
