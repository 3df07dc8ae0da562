namespace MlNetSsl.AutoML;

/// <summary>
/// Marks a numeric property as a searchable range for <see cref="SearchSpace{T}"/>. On an integer property
/// (<see cref="int"/>, <see cref="long"/>, ...) it becomes an <see cref="IntegerRangeOption"/>, on a floating-point
/// property a <see cref="NumericRangeOption"/>. The property's initial value is the default.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class RangeAttribute : Attribute
{
    /// <summary>A real-valued range.</summary>
    /// <param name="min">The smallest value.</param>
    /// <param name="max">The largest value.</param>
    /// <param name="logBase">Search uniformly in log space.</param>
    public RangeAttribute(double min, double max, bool logBase = false)
    {
        Min = min;
        Max = max;
        LogBase = logBase;
    }

    /// <summary>An integer range.</summary>
    /// <param name="min">The smallest value.</param>
    /// <param name="max">The largest value.</param>
    /// <param name="logBase">Search uniformly in log space.</param>
    public RangeAttribute(int min, int max, bool logBase = false) : this((double)min, max, logBase)
    {
    }

    /// <summary>The smallest value.</summary>
    public double Min { get; }

    /// <summary>The largest value.</summary>
    public double Max { get; }

    /// <summary>Whether the range is searched in log space.</summary>
    public bool LogBase { get; }
}

/// <summary>
/// Marks a property as a choice among <see cref="Candidates"/> for <see cref="SearchSpace{T}"/>. On an enum property
/// with no candidates, every enum value is a candidate. The property's initial value is the default.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class ChoiceAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="candidates">The values to choose from (text, numbers, booleans, enum values).</param>
    public ChoiceAttribute(params object[] candidates) => Candidates = candidates;

    /// <summary>The values to choose from.</summary>
    public IReadOnlyList<object> Candidates { get; }
}

/// <summary>Marks a <see cref="bool"/> property as a choice between false and true for <see cref="SearchSpace{T}"/>.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class BooleanChoiceAttribute : Attribute
{
}

/// <summary>
/// Marks a property whose type is itself an options class: its searchable properties become a nested
/// <see cref="SearchSpace"/> under the property's name (paths like <c>Trainer.L2Regularization</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class NestedOptionsAttribute : Attribute
{
}
