using System.Text.Json;

namespace MlNetSsl.AutoML;

/// <summary>
/// A choice among a fixed list of values (text, numbers, booleans; enum values are stored by name). The unit interval
/// is cut into one equal bin per choice; tuners that understand categories (TPE) model the choices separately.
/// </summary>
public sealed class ChoiceOption : SearchSpaceOption
{
    internal const string JsonType = "choice";
    private readonly object[] _choices;

    /// <summary>Creates a choice whose default is the first value.</summary>
    /// <param name="choices">At least one distinct value.</param>
    public ChoiceOption(params object[] choices) : this((IEnumerable<object>)choices)
    {
    }

    /// <summary>Creates a choice.</summary>
    /// <param name="choices">At least one distinct value.</param>
    /// <param name="defaultChoice">The default; null means the first value.</param>
    public ChoiceOption(IEnumerable<object> choices, object? defaultChoice = null)
    {
        ArgumentNullException.ThrowIfNull(choices);
        _choices = choices.Select((c, i) => ParameterValues.Normalize(c, $"Choice {i}")).ToArray();
        if (_choices.Length == 0) throw new ArgumentException("A choice needs at least one value.", nameof(choices));
        if (_choices.Any(c => c is Parameters)) throw new ArgumentException("Choices must be numbers, text or booleans.", nameof(choices));
        for (int i = 0; i < _choices.Length; i++)
            for (int j = 0; j < i; j++)
                if (ParameterValues.AreEqual(_choices[i], _choices[j]))
                    throw new ArgumentException($"Choice {ParameterValues.Format(_choices[i])} is listed twice.", nameof(choices));
        DefaultChoice = defaultChoice is null ? _choices[0] : ParameterValues.Normalize(defaultChoice, "Default choice");
        if (IndexOf(DefaultChoice) < 0)
            throw new ArgumentException($"Default {ParameterValues.Format(DefaultChoice)} is not one of the choices.", nameof(defaultChoice));
    }

    /// <summary>The values, in canonical form (numbers as <see cref="double"/>, enums as names).</summary>
    public IReadOnlyList<object> Choices => _choices;

    /// <summary>The default value.</summary>
    public object DefaultChoice { get; }

    /// <inheritdoc/>
    public override int FeatureCount => 1;

    internal override object DefaultValue => DefaultChoice;

    /// <summary>The position of <paramref name="value"/> in <see cref="Choices"/>, or -1.</summary>
    public int IndexOf(object value) => Array.FindIndex(_choices, c => ParameterValues.AreEqual(c, value));

    /// <summary>This choice without <paramref name="value"/>, keeping the default while it remains; a choice of
    /// <paramref name="fallback"/> alone when nothing would remain (a choice needs one value).</summary>
    internal ChoiceOption Without(object value, object fallback)
    {
        object removed = ParameterValues.Normalize(value, "The choice to leave out");
        object[] kept = _choices.Where(c => !ParameterValues.AreEqual(c, removed)).ToArray();
        if (kept.Length == 0) return new ChoiceOption(fallback);
        return new ChoiceOption(kept, kept.Any(c => ParameterValues.AreEqual(c, DefaultChoice)) ? DefaultChoice : null);
    }

    /// <summary>The choice whose bin holds unit coordinate <paramref name="unit"/>.</summary>
    public object FromUnit(double unit) => _choices[Math.Min((int)Math.Floor(Unit(unit) * _choices.Length), _choices.Length - 1)];

    /// <summary>The centre of the bin of choice number <paramref name="index"/>.</summary>
    public double ToUnit(int index) => (index + 0.5) / _choices.Length;

    internal override object FromFeatures(ReadOnlySpan<double> features) => FromUnit(features[0]);

    internal override void ToFeatures(object value, Span<double> destination, string path)
    {
        if (Check(value, path) is string problem) throw new ArgumentException(problem);
        destination[0] = ToUnit(IndexOf(value));
    }

    internal override string? Check(object value, string path) => IndexOf(value) >= 0 ? null
        : $"Parameter '{path}' is {ParameterValues.Format(value)}, not one of {string.Join(", ", _choices.Select(ParameterValues.Format))}.";

    internal override void CollectDimensions(string path, List<FeatureDimension> dimensions) =>
        dimensions.Add(new FeatureDimension(path, FeatureKind.Categorical, _choices.Length));

    internal override void CollectGridAxes(string path, Func<string, int> stepsFor, List<double[]> axes) =>
        axes.Add(Enumerable.Range(0, _choices.Length).Select(ToUnit).ToArray());

    internal override void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", JsonType);
        writer.WriteStartArray("choices");
        foreach (object choice in _choices) ParameterValues.Write(writer, choice);
        writer.WriteEndArray();
        writer.WritePropertyName("default");
        ParameterValues.Write(writer, DefaultChoice);
        writer.WriteEndObject();
    }

    internal static ChoiceOption Read(JsonElement element, string path)
    {
        if (!element.TryGetProperty("choices", out JsonElement choices) || choices.ValueKind != JsonValueKind.Array)
            throw new JsonException($"Option '{path}' needs a \"choices\" array.");
        object[] values = choices.EnumerateArray().Select(c => ParameterValues.Read(c, $"Option '{path}'")).ToArray();
        object? defaultChoice = element.TryGetProperty("default", out JsonElement d) ? ParameterValues.Read(d, $"Option '{path}'") : null;
        return NumericRangeOption.Wrap(path, () => new ChoiceOption(values, defaultChoice));
    }

    /// <inheritdoc/>
    public override string ToString() => $"{{{string.Join(", ", _choices.Select(ParameterValues.Format))}}}";
}
