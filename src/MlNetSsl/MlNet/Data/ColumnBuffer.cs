using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.MlNet.Data;

/// <summary>
/// Copies of one column's values for the rows of a batch that a cursor read ahead, served later by row slot. ML.NET
/// getters may reuse the buffers they write into, so vectors are copied into a buffer per slot and text is copied out
/// of whatever array it points into; other values (numbers, keys, row ids, images and other objects) are kept as
/// returned.
/// </summary>
internal abstract class ColumnBuffer
{
    private static readonly MethodInfo CreateScalar = typeof(ColumnBuffer).GetMethod(nameof(Scalar), BindingFlags.NonPublic | BindingFlags.Static)!;
    private static readonly MethodInfo CreateVector = typeof(ColumnBuffer).GetMethod(nameof(Vector), BindingFlags.NonPublic | BindingFlags.Static)!;

    /// <summary>A buffer of <paramref name="capacity"/> slots for <paramref name="column"/> of <paramref name="cursor"/>.</summary>
    public static ColumnBuffer Create(DataViewRowCursor cursor, DataViewSchema.Column column, int capacity)
    {
        Type raw = column.Type.RawType;
        MethodInfo factory = raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>)
            ? CreateVector.MakeGenericMethod(raw.GetGenericArguments()[0])
            : CreateScalar.MakeGenericMethod(raw);
        return (ColumnBuffer)factory.Invoke(null, [cursor, column, capacity])!;
    }

    /// <summary>Reads the cursor's current row into <paramref name="slot"/>.</summary>
    public abstract void Capture(int slot);

    /// <summary>A getter of the value in the slot <paramref name="slot"/> returns.</summary>
    public abstract ValueGetter<TValue> Getter<TValue>(Func<int> slot);

    private static ColumnBuffer Scalar<T>(DataViewRowCursor cursor, DataViewSchema.Column column, int capacity) =>
        new ScalarBuffer<T>(cursor.GetGetter<T>(column), capacity, column.Name);

    private static ColumnBuffer Vector<T>(DataViewRowCursor cursor, DataViewSchema.Column column, int capacity) =>
        new VectorBuffer<T>(cursor.GetGetter<VBuffer<T>>(column), capacity, column.Name);

    private static ValueGetter<TValue> Typed<TValue, T>(ValueGetter<T> getter, string column) => getter as ValueGetter<TValue>
        ?? throw new InvalidOperationException($"Column '{column}' holds {typeof(T).Name}, not {typeof(TValue).Name}.");

    private sealed class ScalarBuffer<T>(ValueGetter<T> get, int capacity, string column) : ColumnBuffer
    {
        private readonly T[] _values = new T[capacity];

        public override void Capture(int slot)
        {
            T value = default!;
            get(ref value);
            // Text may point into a character array the source reuses for its next row.
            if (value is ReadOnlyMemory<char> text) value = (T)(object)text.ToString().AsMemory();
            _values[slot] = value;
        }

        public override ValueGetter<TValue> Getter<TValue>(Func<int> slot) =>
            Typed<TValue, T>((ref T value) => value = _values[slot()], column);
    }

    private sealed class VectorBuffer<T>(ValueGetter<VBuffer<T>> get, int capacity, string column) : ColumnBuffer
    {
        private readonly VBuffer<T>[] _values = new VBuffer<T>[capacity];
        private VBuffer<T> _scratch;

        public override void Capture(int slot)
        {
            get(ref _scratch);
            _scratch.CopyTo(ref _values[slot]);
        }

        public override ValueGetter<TValue> Getter<TValue>(Func<int> slot) =>
            Typed<TValue, VBuffer<T>>((ref VBuffer<T> value) => _values[slot()].CopyTo(ref value), column);
    }
}
