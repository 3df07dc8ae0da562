using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.MlNet.Data;

/// <summary>
/// Reads class labels for the kNN monitor from a key, number, boolean or text column, as class indexes with -1 for a
/// row without a label (missing key, NaN, empty text). Numbers and text are indexed in order of first appearance.
/// </summary>
internal static class LabelColumnReader
{
    /// <summary>A function returning the current row's class index, or -1 when the row has no label.</summary>
    public static Func<int> Bind(DataViewRow row, string columnName)
    {
        var column = row.Schema[columnName];
        DataViewType type = column.Type;
        var classes = new Dictionary<string, int>();
        int Index(string value) => classes.TryGetValue(value, out int index) ? index : classes[value] = classes.Count;

        switch (type)
        {
            // A key is stored as Byte, UInt16, UInt32 or UInt64 (KeyType over a byte field, a TextLoader column of
            // DataKind.Byte with a KeyCount...): GetGetter<uint> on the others threw "Invalid TValue in GetGetter".
            case KeyDataViewType { RawType: var raw } when raw == typeof(byte):
                return KeyIndex<byte>(row, column, k => k);
            case KeyDataViewType { RawType: var raw } when raw == typeof(ushort):
                return KeyIndex<ushort>(row, column, k => k);
            case KeyDataViewType { RawType: var raw } when raw == typeof(ulong):
                return KeyIndex<ulong>(row, column, k => k);
            case KeyDataViewType:
                return KeyIndex<uint>(row, column, k => k);
            case BooleanDataViewType:
            {
                var getter = row.GetGetter<bool>(column);
                bool value = false;
                return () => { getter(ref value); return value ? 1 : 0; };
            }
            case TextDataViewType:
            {
                var getter = row.GetGetter<ReadOnlyMemory<char>>(column);
                ReadOnlyMemory<char> text = default;
                return () => { getter(ref text); return text.IsEmpty ? -1 : Index(text.ToString()); };
            }
            case NumberDataViewType n when n.RawType == typeof(float):
            {
                var getter = row.GetGetter<float>(column);
                float value = 0;
                return () => { getter(ref value); return float.IsNaN(value) ? -1 : Index(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)); };
            }
            case NumberDataViewType n when n.RawType == typeof(double):
            {
                var getter = row.GetGetter<double>(column);
                double value = 0;
                return () => { getter(ref value); return double.IsNaN(value) ? -1 : Index(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)); };
            }
            case NumberDataViewType n when n.RawType == typeof(int):
            {
                var getter = row.GetGetter<int>(column);
                int value = 0;
                return () => { getter(ref value); return Index(value.ToString(System.Globalization.CultureInfo.InvariantCulture)); };
            }
            case NumberDataViewType n when n.RawType == typeof(long):
            {
                var getter = row.GetGetter<long>(column);
                long value = 0;
                return () => { getter(ref value); return Index(value.ToString(System.Globalization.CultureInfo.InvariantCulture)); };
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(columnName),
                    $"Label column '{columnName}' has type {type}; the monitor reads keys, Single, Double, Int32, Int64, Boolean or Text labels.");
        }
    }

    // The class index of a key (key - 1), -1 for the missing key 0. A key type's count fits an int for any class count a
    // model can hold, so a key above int.MaxValue + 1 is no class of it.
    private static Func<int> KeyIndex<T>(DataViewRow row, DataViewSchema.Column column, Func<T, ulong> widen)
    {
        var getter = row.GetGetter<T>(column);
        T key = default!;
        return () =>
        {
            getter(ref key);
            ulong value = widen(key);
            return value == 0 ? -1 : value <= (ulong)int.MaxValue + 1 ? (int)(value - 1)
                : throw new InvalidDataException($"Label column '{column.Name}' holds the key {value}, beyond any class count (at most {int.MaxValue}).");
        };
    }

    /// <summary>Checks that <paramref name="columnName"/> exists in <paramref name="schema"/> with a readable type.</summary>
    public static void Check(DataViewSchema schema, string columnName)
    {
        var column = schema.GetColumnOrNull(columnName)
            ?? throw new ArgumentOutOfRangeException(nameof(columnName), $"Monitor label column '{columnName}' not found in the data.");
        bool ok = column.Type is KeyDataViewType or BooleanDataViewType or TextDataViewType
            || column.Type is NumberDataViewType n && (n.RawType == typeof(float) || n.RawType == typeof(double) || n.RawType == typeof(int) || n.RawType == typeof(long));
        if (!ok)
            throw new ArgumentOutOfRangeException(nameof(columnName),
                $"Monitor label column '{columnName}' has type {column.Type}; use a key, Single, Double, Int32, Int64, Boolean or Text column.");
    }
}
