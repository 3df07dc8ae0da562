using System.Globalization;
using System.Text.Json;

namespace MlNetSsl.AutoML;

/// <summary>
/// A real-valued option in [<see cref="Min"/>, <see cref="Max"/>]. The unit coordinate maps linearly to the range,
/// or linearly to its logarithm when <see cref="LogBase"/> is set (right for learning rates and regularization
/// strengths, whose useful values span orders of magnitude).
/// </summary>
public sealed class NumericRangeOption : SearchSpaceOption
{
    internal const string JsonType = "numeric";

    /// <summary>Creates a numeric range.</summary>
    /// <param name="min">The smallest value; must be positive when <paramref name="logBase"/> is set.</param>
    /// <param name="max">The largest value; greater than <paramref name="min"/>.</param>
    /// <param name="logBase">Search uniformly in log space.</param>
    /// <param name="defaultValue">The default; null means the (geometric, for log ranges) midpoint.</param>
    public NumericRangeOption(double min, double max, bool logBase = false, double? defaultValue = null)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max) || !(min < max))
            throw new ArgumentOutOfRangeException(nameof(max), $"A numeric range needs finite min < max; got [{min}, {max}].");
        if (logBase && min <= 0)
            throw new ArgumentOutOfRangeException(nameof(min), $"A log-scale range needs min > 0; got {min}.");
        Min = min;
        Max = max;
        LogBase = logBase;
        double fallback = logBase ? Math.Sqrt(min * max) : (min + max) / 2;
        Default = defaultValue ?? Math.Clamp(fallback, min, max);
        if (!double.IsFinite(Default) || Default < min || Default > max)
            throw new ArgumentOutOfRangeException(nameof(defaultValue), $"Default {Default} is outside [{min}, {max}].");
    }

    /// <summary>The smallest value.</summary>
    public double Min { get; }

    /// <summary>The largest value.</summary>
    public double Max { get; }

    /// <summary>Whether the unit coordinate maps to the logarithm of the value.</summary>
    public bool LogBase { get; }

    /// <summary>The default value.</summary>
    public double Default { get; }

    /// <inheritdoc/>
    public override int FeatureCount => 1;

    internal override object DefaultValue => Default;

    /// <summary>The value at unit coordinate <paramref name="unit"/>, always inside the range.</summary>
    public double FromUnit(double unit)
    {
        double u = Unit(unit);
        double value = LogBase
            ? Math.Exp(Math.Log(Min) + u * (Math.Log(Max) - Math.Log(Min)))
            : Min + u * (Max - Min);
        return Math.Clamp(value, Min, Max);
    }

    /// <summary>The unit coordinate of <paramref name="value"/>.</summary>
    public double ToUnit(double value)
    {
        double u = LogBase
            ? (Math.Log(value) - Math.Log(Min)) / (Math.Log(Max) - Math.Log(Min))
            : (value - Min) / (Max - Min);
        return Math.Clamp(u, 0.0, 1.0);
    }

    internal override object FromFeatures(ReadOnlySpan<double> features) => FromUnit(features[0]);

    internal override void ToFeatures(object value, Span<double> destination, string path)
    {
        if (Check(value, path) is string problem) throw new ArgumentException(problem);
        destination[0] = ToUnit((double)value);
    }

    internal override string? Check(object value, string path) =>
        value is double d && d >= Min && d <= Max ? null
            : $"Parameter '{path}' is {ParameterValues.Format(value)}, outside [{Format(Min)}, {Format(Max)}].";

    internal override void CollectDimensions(string path, List<FeatureDimension> dimensions) =>
        dimensions.Add(new FeatureDimension(path, FeatureKind.Continuous, 0));

    internal override void CollectGridAxes(string path, Func<string, int> stepsFor, List<double[]> axes)
    {
        int steps = stepsFor(path);
        // One step means "only the default"; otherwise evenly spaced in unit space, both ends included.
        axes.Add(steps == 1 ? [ToUnit(Default)] : Enumerable.Range(0, steps).Select(i => i / (double)(steps - 1)).ToArray());
    }

    internal override void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", JsonType);
        writer.WriteNumber("min", Min);
        writer.WriteNumber("max", Max);
        writer.WriteBoolean("logBase", LogBase);
        writer.WriteNumber("default", Default);
        writer.WriteEndObject();
    }

    internal static NumericRangeOption Read(JsonElement element, string path) =>
        Wrap(path, () => new NumericRangeOption(RequiredNumber(element, "min", path), RequiredNumber(element, "max", path),
            OptionalBoolean(element, "logBase"),
            element.TryGetProperty("default", out JsonElement d) ? d.GetDouble() : null));

    internal static T Wrap<T>(string path, Func<T> create)
    {
        try { return create(); }
        catch (ArgumentException e) { throw new JsonException($"Option '{path}': {e.Message}", e); }
    }

    internal static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <inheritdoc/>
    public override string ToString() => $"[{Format(Min)}, {Format(Max)}]{(LogBase ? " log" : "")}";
}

/// <summary>
/// An integer option in [<see cref="Min"/>, <see cref="Max"/>]. The unit interval is cut into one bin per integer
/// (equal widths, or equal widths in log space when <see cref="LogBase"/> is set), so every value is equally likely
/// under uniform sampling of its scale and a value maps back to the centre of its bin.
/// </summary>
public sealed class IntegerRangeOption : SearchSpaceOption
{
    internal const string JsonType = "integer";

    /// <summary>Creates an integer range.</summary>
    /// <param name="min">The smallest value; at least 1 when <paramref name="logBase"/> is set.</param>
    /// <param name="max">The largest value; greater than <paramref name="min"/>.</param>
    /// <param name="logBase">Search uniformly in log space (epochs, batch sizes, widths).</param>
    /// <param name="defaultValue">The default; null means the (geometric, for log ranges) midpoint, rounded.</param>
    public IntegerRangeOption(int min, int max, bool logBase = false, int? defaultValue = null)
    {
        if (min >= max) throw new ArgumentOutOfRangeException(nameof(max), $"An integer range needs min < max; got [{min}, {max}].");
        if (logBase && min < 1) throw new ArgumentOutOfRangeException(nameof(min), $"A log-scale integer range needs min >= 1; got {min}.");
        Min = min;
        Max = max;
        LogBase = logBase;
        Default = defaultValue ?? (int)Math.Round(logBase ? Math.Sqrt((double)min * max) : (min + (double)max) / 2);
        if (Default < min || Default > max)
            throw new ArgumentOutOfRangeException(nameof(defaultValue), $"Default {Default} is outside [{min}, {max}].");
    }

    /// <summary>The smallest value.</summary>
    public int Min { get; }

    /// <summary>The largest value.</summary>
    public int Max { get; }

    /// <summary>Whether the bins are equally wide in log space.</summary>
    public bool LogBase { get; }

    /// <summary>The default value.</summary>
    public int Default { get; }

    /// <summary>The number of values in the range; <see cref="int.MaxValue"/> for a range of more values (such as
    /// [0, int.MaxValue]), whose count overflowed to a negative number that made a grid over it throw.</summary>
    public int Count => (int)Math.Min(int.MaxValue, (long)Max - Min + 1);

    /// <inheritdoc/>
    public override int FeatureCount => 1;

    internal override object DefaultValue => (double)Default;

    // Bins are centred on the integers: value v owns [v - 0.5, v + 0.5) (in log space for log ranges).
    private double Low => Min - 0.5;

    private double High => Max + 0.5;

    /// <summary>The value at unit coordinate <paramref name="unit"/>, always inside the range.</summary>
    public int FromUnit(double unit)
    {
        double u = Unit(unit);
        double x = LogBase ? Math.Exp(Math.Log(Low) + u * (Math.Log(High) - Math.Log(Low))) : Low + u * (High - Low);
        return (int)Math.Clamp(Math.Floor(x + 0.5), Min, Max);
    }

    /// <summary>The unit coordinate of the centre of <paramref name="value"/>'s bin.</summary>
    public double ToUnit(int value)
    {
        double u = LogBase
            ? (Math.Log(value) - Math.Log(Low)) / (Math.Log(High) - Math.Log(Low))
            : (value - Low) / (High - Low);
        return Math.Clamp(u, 0.0, 1.0);
    }

    internal override object FromFeatures(ReadOnlySpan<double> features) => (double)FromUnit(features[0]);

    internal override void ToFeatures(object value, Span<double> destination, string path)
    {
        if (Check(value, path) is string problem) throw new ArgumentException(problem);
        destination[0] = ToUnit((int)(double)value);
    }

    internal override string? Check(object value, string path) =>
        value is double d && d == Math.Floor(d) && d >= Min && d <= Max ? null
            : $"Parameter '{path}' is {ParameterValues.Format(value)}, not an integer in [{Min}, {Max}].";

    internal override void CollectDimensions(string path, List<FeatureDimension> dimensions) =>
        dimensions.Add(new FeatureDimension(path, FeatureKind.Integer, Count));

    internal override void CollectGridAxes(string path, Func<string, int> stepsFor, List<double[]> axes)
    {
        int steps = stepsFor(path);
        IEnumerable<int> values = steps == 1 ? [Default]
            : Count <= steps ? Enumerable.Range(Min, Count)
            : Enumerable.Range(0, steps).Select(i => FromUnit(i / (double)(steps - 1))).Distinct();
        axes.Add(values.Select(ToUnit).ToArray());
    }

    internal override void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", JsonType);
        writer.WriteNumber("min", Min);
        writer.WriteNumber("max", Max);
        writer.WriteBoolean("logBase", LogBase);
        writer.WriteNumber("default", Default);
        writer.WriteEndObject();
    }

    internal static IntegerRangeOption Read(JsonElement element, string path) =>
        NumericRangeOption.Wrap(path, () => new IntegerRangeOption(WholeNumber(element, "min", path), WholeNumber(element, "max", path),
            OptionalBoolean(element, "logBase"),
            element.TryGetProperty("default", out _) ? WholeNumber(element, "default", path) : null));

    private static int WholeNumber(JsonElement element, string name, string path) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number)
            ? number
            : throw new JsonException($"Option '{path}' needs a 32-bit integer \"{name}\".");

    /// <inheritdoc/>
    public override string ToString() => $"[{Min}..{Max}]{(LogBase ? " log" : "")}";
}
