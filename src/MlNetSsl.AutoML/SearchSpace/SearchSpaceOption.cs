using System.Text.Json;

namespace MlNetSsl.AutoML;

/// <summary>How a tuner should treat one coordinate of a search space's unit feature space.</summary>
public enum FeatureKind
{
    /// <summary>A real-valued option; every point of [0, 1] is a different value.</summary>
    Continuous,

    /// <summary>An integer option; [0, 1] is cut into <see cref="FeatureDimension.Cardinality"/> ordered bins.</summary>
    Integer,

    /// <summary>A choice; [0, 1] is cut into <see cref="FeatureDimension.Cardinality"/> unordered bins.</summary>
    Categorical,
}

/// <summary>One coordinate of a search space's unit feature space.</summary>
/// <param name="Path">The option's name, dotted for options inside nested spaces (<c>trainer.l2</c>).</param>
/// <param name="Kind">Whether the coordinate is continuous, integer or categorical.</param>
/// <param name="Cardinality">The number of distinct values for integer and categorical coordinates; 0 for continuous ones.</param>
public sealed record FeatureDimension(string Path, FeatureKind Kind, int Cardinality);

/// <summary>
/// One searchable option of a <see cref="SearchSpace"/>: a numeric range, an integer range, a choice or a nested space.
/// Every option maps its values to and from coordinates in [0, 1], so tuners can work in the unit cube whatever the
/// option's type or scale.
/// </summary>
public abstract class SearchSpaceOption
{
    // The set of option kinds is closed: the JSON format and the tuners know each of them.
    private protected SearchSpaceOption()
    {
    }

    /// <summary>The number of unit-space coordinates this option uses (1, or the total of a nested space).</summary>
    public abstract int FeatureCount { get; }

    /// <summary>The value at unit coordinates <paramref name="features"/> (length <see cref="FeatureCount"/>).</summary>
    internal abstract object FromFeatures(ReadOnlySpan<double> features);

    /// <summary>Writes the unit coordinates of <paramref name="value"/> into <paramref name="destination"/>.</summary>
    internal abstract void ToFeatures(object value, Span<double> destination, string path);

    /// <summary>The option's default value in canonical form.</summary>
    internal abstract object DefaultValue { get; }

    /// <summary>Null when <paramref name="value"/> belongs to the option, otherwise why not.</summary>
    internal abstract string? Check(object value, string path);

    /// <summary>Appends this option's feature coordinates under <paramref name="path"/>.</summary>
    internal abstract void CollectDimensions(string path, List<FeatureDimension> dimensions);

    /// <summary>Appends the unit coordinates a grid visits for each of this option's coordinates.</summary>
    internal abstract void CollectGridAxes(string path, Func<string, int> stepsFor, List<double[]> axes);

    /// <summary>Writes the option as a JSON object with a <c>type</c> discriminator.</summary>
    internal abstract void WriteJson(Utf8JsonWriter writer);

    /// <summary>Reads an option written by <see cref="WriteJson"/>.</summary>
    internal static SearchSpaceOption ReadJson(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("type", out JsonElement type))
            throw new JsonException($"Option '{path}' must be an object with a \"type\".");
        return type.GetString() switch
        {
            NumericRangeOption.JsonType => NumericRangeOption.Read(element, path),
            IntegerRangeOption.JsonType => IntegerRangeOption.Read(element, path),
            ChoiceOption.JsonType => ChoiceOption.Read(element, path),
            SearchSpace.JsonType => SearchSpace.ReadSpace(element, path),
            string other => throw new JsonException($"Option '{path}' has unknown type \"{other}\"."),
            null => throw new JsonException($"Option '{path}' has a null type."),
        };
    }

    /// <summary>Checks a unit coordinate from a tuner.</summary>
    private protected static double Unit(double feature) => double.IsFinite(feature)
        ? Math.Clamp(feature, 0.0, 1.0)
        : throw new ArgumentException($"Feature coordinates must be finite numbers in [0, 1]; got {feature}.");

    private protected static double RequiredNumber(JsonElement element, string name, string path) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number
            ? value.GetDouble()
            : throw new JsonException($"Option '{path}' needs a numeric \"{name}\".");

    private protected static bool OptionalBoolean(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.True;
}
