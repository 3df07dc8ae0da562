using System.Globalization;
using System.Reflection;

namespace MlNetSsl.AutoML;

/// <summary>
/// A search space built from the attributes of an options class, as in ML.NET's <c>SearchSpace&lt;T&gt;</c>:
/// <see cref="RangeAttribute"/>, <see cref="ChoiceAttribute"/>, <see cref="BooleanChoiceAttribute"/> and
/// <see cref="NestedOptionsAttribute"/> properties become options, their initial values the defaults. The space can be
/// edited afterwards like any <see cref="SearchSpace"/>; <see cref="Parameters.AsType{T}"/> turns a sampled
/// configuration back into a <typeparamref name="T"/>.
/// </summary>
/// <typeparam name="T">The options class; its parameterless constructor supplies the defaults.</typeparam>
public sealed class SearchSpace<T> : SearchSpace where T : class, new()
{
    /// <summary>Builds the space from <typeparamref name="T"/>'s attributes and initial values.</summary>
    /// <exception cref="InvalidOperationException">An attribute does not fit its property, or an initial value is outside its range.</exception>
    public SearchSpace() => OptionsReflection.Populate(this, typeof(T), new T());
}

/// <summary>Reflection shared by <see cref="SearchSpace{T}"/>, <see cref="Parameters.AsType{T}"/> and <see cref="Parameters.FromObject{T}"/>.</summary>
internal static class OptionsReflection
{
    private static IEnumerable<PropertyInfo> SearchableProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0 && Kind(p) is not null)
            .OrderBy(p => p.Name, StringComparer.Ordinal);

    private static Attribute? Kind(PropertyInfo property)
    {
        Attribute[] attributes = new Attribute?[]
        {
            property.GetCustomAttribute<RangeAttribute>(), property.GetCustomAttribute<ChoiceAttribute>(),
            property.GetCustomAttribute<BooleanChoiceAttribute>(), property.GetCustomAttribute<NestedOptionsAttribute>(),
        }.OfType<Attribute>().ToArray();
        if (attributes.Length > 1)
            throw new InvalidOperationException($"{property.DeclaringType?.Name}.{property.Name} has more than one search attribute.");
        return attributes.FirstOrDefault();
    }

    public static void Populate(SearchSpace space, Type type, object defaults)
    {
        foreach (PropertyInfo property in SearchableProperties(type))
        {
            string where = $"{type.Name}.{property.Name}";
            Type valueType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            object? initial = property.GetValue(defaults);
            try
            {
                space.Add(property.Name, Kind(property) switch
                {
                    RangeAttribute range when IsInteger(valueType) => IntegerRange(range, initial, where),
                    RangeAttribute range when IsFloating(valueType) => new NumericRangeOption(range.Min, range.Max, range.LogBase,
                        initial is null ? null : (double)ParameterValues.Normalize(initial, where)),
                    RangeAttribute => throw new InvalidOperationException($"{where} has [Range] but type {valueType.Name}; use a numeric property."),
                    ChoiceAttribute choice => Choice(choice, valueType, initial, where),
                    BooleanChoiceAttribute when valueType == typeof(bool) => new ChoiceOption([false, true], initial ?? false),
                    BooleanChoiceAttribute => throw new InvalidOperationException($"{where} has [BooleanChoice] but type {valueType.Name}."),
                    NestedOptionsAttribute => Nested(valueType, initial, where),
                    _ => throw new InvalidOperationException($"{where}: unexpected attribute."),
                });
            }
            catch (ArgumentException e)
            {
                throw new InvalidOperationException($"{where}: {e.Message} Give the property an initial value inside its range or choices.", e);
            }
        }
    }

    private static IntegerRangeOption IntegerRange(RangeAttribute range, object? initial, string where)
    {
        if (range.Min != Math.Floor(range.Min) || range.Max != Math.Floor(range.Max) || range.Min < int.MinValue || range.Max > int.MaxValue)
            throw new InvalidOperationException($"{where} is an integer property; its [Range] bounds must be 32-bit whole numbers.");
        int? defaultValue = initial is null ? null : System.Convert.ToInt32(initial, CultureInfo.InvariantCulture);
        return new IntegerRangeOption((int)range.Min, (int)range.Max, range.LogBase, defaultValue);
    }

    private static ChoiceOption Choice(ChoiceAttribute choice, Type valueType, object? initial, string where)
    {
        IEnumerable<object> candidates = choice.Candidates.Count > 0 ? choice.Candidates
            : valueType.IsEnum ? Enum.GetNames(valueType)
            : throw new InvalidOperationException($"{where} has [Choice] without candidates; only enum properties may omit them.");
        return new ChoiceOption(candidates, initial);
    }

    private static SearchSpace Nested(Type valueType, object? initial, string where)
    {
        if (!valueType.IsClass || valueType.GetConstructor(Type.EmptyTypes) is null)
            throw new InvalidOperationException($"{where} has [NestedOptions]; its type must be a class with a parameterless constructor.");
        var nested = new SearchSpace();
        Populate(nested, valueType, initial ?? Activator.CreateInstance(valueType)!);
        return nested;
    }

    /// <summary>Creates a <paramref name="type"/> and sets every property named in <paramref name="parameters"/>.</summary>
    public static object Bind(Type type, Parameters parameters)
    {
        object target = Activator.CreateInstance(type)
            ?? throw new InvalidOperationException($"Cannot create {type.Name}.");
        foreach (var (name, value) in parameters)
        {
            PropertyInfo property = type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance)
                ?? throw new InvalidOperationException($"{type.Name} has no public property '{name}' for parameter '{name}'.");
            if (!property.CanWrite) throw new InvalidOperationException($"{type.Name}.{name} is read-only.");
            property.SetValue(target, ConvertValue(value, property.PropertyType, $"{type.Name}.{name}"));
        }
        return target;
    }

    private static object? ConvertValue(object value, Type propertyType, string where)
    {
        Type type = Nullable.GetUnderlyingType(propertyType) ?? propertyType;
        try
        {
            return value switch
            {
                Parameters nested when type.IsClass && type != typeof(string) => Bind(type, nested),
                string text when type.IsEnum => Enum.Parse(type, text, ignoreCase: false),
                string text when type == typeof(string) => text,
                bool flag when type == typeof(bool) => flag,
                double number when IsInteger(type) && number == Math.Floor(number) => System.Convert.ChangeType(number, type, CultureInfo.InvariantCulture),
                double number when IsFloating(type) => System.Convert.ChangeType(number, type, CultureInfo.InvariantCulture),
                double number when type == typeof(string) => number.ToString("R", CultureInfo.InvariantCulture),
                _ => throw new InvalidCastException(),
            };
        }
        catch (Exception e) when (e is InvalidCastException or ArgumentException or OverflowException)
        {
            throw new InvalidOperationException($"Cannot set {where} ({type.Name}) to {ParameterValues.Format(value)}.", e);
        }
    }

    /// <summary>Reads the searchable properties of <paramref name="options"/>.</summary>
    public static Parameters Read(object options)
    {
        var values = new List<KeyValuePair<string, object>>();
        foreach (PropertyInfo property in SearchableProperties(options.GetType()))
        {
            object? value = property.GetValue(options);
            if (value is null) continue;
            values.Add(new(property.Name, Kind(property) is NestedOptionsAttribute ? Read(value)
                : ParameterValues.Normalize(value, $"{options.GetType().Name}.{property.Name}")));
        }
        return new Parameters(values);
    }

    private static bool IsInteger(Type type) =>
        type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte)
        || type == typeof(uint) || type == typeof(ushort) || type == typeof(sbyte) || type == typeof(ulong);

    private static bool IsFloating(Type type) => type == typeof(double) || type == typeof(float) || type == typeof(decimal);
}
