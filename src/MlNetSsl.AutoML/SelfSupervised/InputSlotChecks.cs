using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.AutoML;

/// <summary>
/// Looks at each slot of a table's feature vector before the search, for what the mlnet-ssl tool says about a CSV's
/// columns and the API did not: a slot no classifier can learn from (one value or none in every labeled row), one that
/// gives the class of every labeled row by itself (a leak, or a very easy task), one that counts the rows (a row number
/// or key), and labeled rows whose input repeats another's. A user concatenates the columns into one vector, so the notes
/// name each slot by its index and, where the vector has slot names (<c>Concatenate</c> and <c>OneHotEncoding</c> give
/// them), by its name.
/// </summary>
internal static class InputSlotChecks
{
    /// <summary>The words of the note on slots with one value or none in every row, which the mlnet-ssl tool leaves out
    /// (its own check of a CSV's columns says the same).</summary>
    internal const string ConstantEverywhere = "hold one value or none in every row";

    // Slots named in one note; the rest are counted.
    private const int NamedSlots = 6;

    // Below this many labeled rows in a class a real feature separates the classes by chance too often to call it a leak:
    // a random slot sorts 5 + 5 rows into two runs once in 126, 10 + 10 once in 92,378.
    internal const int MinLabelsPerClassForLeakCheck = 10;

    // The labeled rows' values are held for the leak check up to this many (4 bytes each).
    private const long MaxLeakCheckValues = 10_000_000;

    /// <summary>Notes on the slots of <paramref name="inputColumn"/>, read before missing values are imputed.</summary>
    /// <param name="data">The rows as the user gave them (NaN still marks a missing value).</param>
    /// <param name="inputColumn">The feature vector column.</param>
    /// <param name="allKeys">Each row's label key in <paramref name="data"/> order, 0 where the row is unlabeled.</param>
    /// <param name="className">A class key's value as the user wrote it (default: "key k").</param>
    public static IReadOnlyList<string> Notes(IDataView data, string inputColumn, uint[] allKeys, Func<uint, string>? className = null)
    {
        className ??= key => string.Create(CultureInfo.InvariantCulture, $"key {key}");
        DataViewSchema.Column column = data.Schema[inputColumn];
        if (column.Type is not VectorDataViewType { ItemType.RawType: var type, Size: var size } || type != typeof(float) || size == 0) return [];
        int labeledCount = allKeys.Count(k => k > 0);
        if (labeledCount == 0) return [];

        var allRows = new SlotValues(size);
        var order = new RowOrder(size);
        var labeledRows = new SlotValues(size);
        float[] dense = new float[size];
        var classSizes = allKeys.Where(k => k > 0).GroupBy(k => k).Select(g => g.Count()).ToArray();
        bool checkLeaks = classSizes.Length >= 2 && classSizes.Min() >= MinLabelsPerClassForLeakCheck && (long)labeledCount * size <= MaxLeakCheckValues;
        var labeledValues = new List<(float[] Values, uint Key)>(checkLeaks ? labeledCount : 0);
        var firstWithInput = new Dictionary<ulong, (long Row, uint Key)>();
        int repeats = 0, otherClass = 0;
        (long Row, long As)? firstRepeat = null;
        (long Row, uint Key, long As, uint AsKey)? firstConflict = null;
        using (DataViewRowCursor cursor = data.GetRowCursor([column]))
        {
            ValueGetter<VBuffer<float>> getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> values = default;
            while (cursor.MoveNext())
            {
                getter(ref values);
                values.CopyTo(dense);
                allRows.Add(dense);
                order.Add(dense);
                if (cursor.Position >= allKeys.Length || allKeys[cursor.Position] == 0) continue;
                labeledRows.Add(dense);
                uint key = allKeys[cursor.Position];
                ulong fingerprint = Fingerprint(dense);
                if (!firstWithInput.TryAdd(fingerprint, (cursor.Position, key)))
                {
                    var first = firstWithInput[fingerprint];
                    repeats++;
                    firstRepeat ??= (cursor.Position, first.Row);
                    if (first.Key != key && otherClass++ == 0) firstConflict = (cursor.Position, key, first.Row, first.Key);
                }
                if (checkLeaks) labeledValues.Add(((float[])dense.Clone(), allKeys[cursor.Position]));
            }
        }

        string[] names = SlotNames(column, size);
        var notes = new List<string>();
        // Slots with one value or none in every row (what the mlnet-ssl tool says of a CSV's columns itself), and slots that
        // vary only where the label is missing: two causes, two remedies.
        var everywhere = new List<string>();
        var whenLabeled = new List<string>();
        for (int slot = 0; slot < size; slot++)
        {
            if (labeledRows.Varies[slot]) continue;
            bool constant = !allRows.Varies[slot];
            string what;
            if (labeledRows.Present[slot] == 0)
                what = allRows.Present[slot] == 0 ? "missing in every row" : "missing in every labeled row";
            else
            {
                string value = labeledRows.First[slot].ToString("R", CultureInfo.InvariantCulture);
                what = constant ? (allRows.Present[slot] == allRows.Count ? $"{value} in every row" : $"{value} in every row that has a value")
                    : labeledRows.Present[slot] == labeledRows.Count ? $"{value} in every labeled row" : $"{value} in every labeled row that has a value";
            }
            (constant ? everywhere : whenLabeled).Add($"{Describe(slot, names)} ({what})");
        }
        if (everywhere.Count > 0)
            notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"Column '{inputColumn}' has {everywhere.Count} slot(s) that {ConstantEverywhere}, so no pipeline can learn from them: ") +
                List(everywhere) + ". A slot missing or constant in every row is often a column the loader did not read (a wrong index or " +
                "separator) or one the export left blank; leave them out of the input column.");
        if (whenLabeled.Count > 0)
            notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"Column '{inputColumn}' has {whenLabeled.Count} slot(s) that vary in the unlabeled rows but hold one value or none in every labeled row ({labeledCount:N0} rows), so no classifier can learn from them: ") +
                List(whenLabeled) + ". That is often a category no labeled row has, or a column filled in only where the label is missing; " +
                "label rows that have them, or leave them out of the input column.");
        var identifiers = Enumerable.Range(0, size).Where(order.CountsRows).Select(slot => string.Create(CultureInfo.InvariantCulture,
            $"{Describe(slot, names)} ({string.Join(", ", order.Firsts[slot].Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}, ...)")).ToList();
        if (identifiers.Count > 0)
            notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"Column '{inputColumn}' has {identifiers.Count} slot(s) of whole numbers that rise or fall with the row through all {allRows.Count:N0} rows, like a row number or a database key: ") +
                List(identifiers) + ". Such a number says where a row sits in the data, not what it is; rows scored later carry other numbers, and in " +
                "data sorted by class it gives the class away. Unless it measures something, leave it out of the input column (the mlnet-ssl tool " +
                "leaves such columns out).");
        // A few repeats are what coded or rounded features give; a share of the labeled rows, or a copy with another class,
        // is an export appended twice or a label to fix.
        if ((repeats > 0 && repeats >= 0.01 * labeledCount) || otherClass > 0)
        {
            string conflicts = firstConflict is { } c
                ? string.Create(CultureInfo.InvariantCulture, $", {otherClass} of them with another class (the first: row {c.Row}, class {className(c.Key)} where row {c.As} has {className(c.AsKey)})")
                : "";
            notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"{repeats:N0} of the {labeledCount:N0} labeled rows repeat the input of another labeled row (the first: row {firstRepeat!.Value.Row}, a copy of row {firstRepeat.Value.As}){conflicts}. ") +
                "The cross-validation can put a row and its copy in different folds and score the copy as new, which overstates the metric" +
                (otherClass > 0 ? ", and a copy with another class teaches the model both (one of the labels is wrong, or the features cannot tell them apart)" : "") +
                ". Remove the copies where one example was recorded twice.");
        }
        if (checkLeaks)
        {
            // A row number in data sorted by class is said once, as a row number.
            var leaks = Enumerable.Range(0, size).Where(slot => labeledRows.Varies[slot] && !order.CountsRows(slot) && TellsTheClass(labeledValues, slot, classSizes.Length))
                .Select(slot => Describe(slot, names)).ToList();
            if (leaks.Count > 0)
                notes.Add(string.Create(CultureInfo.InvariantCulture,
                    $"Column '{inputColumn}' has {leaks.Count} slot(s) that tell the class of every labeled row by itself ({labeledCount:N0} rows, {classSizes.Length} classes): ") +
                    List(leaks) + ". Sorted by such a slot, the labeled rows fall into one run per class, or each of its values belongs to one class. " +
                    "If a slot is a copy of the label or a value known only after the outcome (a leak), the cross-validated metric overstates what the " +
                    "model does on new rows, which do not have it: leave it out of the input column. If it is a measurement known when predicting, the " +
                    "classes are that easy to tell apart.");
        }
        return notes;
    }

    /// <summary>Whether a slot's value alone gives the class of every labeled row: sorted by it, no value is shared by two
    /// classes and the rows fall into one run per class (a threshold between each), or there are no more values than
    /// classes (a copy of the label in another coding). A row missing the value rules the slot out.</summary>
    private static bool TellsTheClass(List<(float[] Values, uint Key)> rows, int slot, int classCount)
    {
        var sorted = rows.Select(r => (Value: r.Values[slot], r.Key)).ToArray();
        if (sorted.Any(r => float.IsNaN(r.Value))) return false;
        Array.Sort(sorted, (a, b) => a.Value.CompareTo(b.Value));
        int runs = 1, values = 1;
        for (int i = 1; i < sorted.Length; i++)
        {
            if (sorted[i].Value == sorted[i - 1].Value)
            {
                if (sorted[i].Key != sorted[i - 1].Key) return false; // one value, two classes
                continue;
            }
            values++;
            if (sorted[i].Key != sorted[i - 1].Key) runs++;
        }
        return runs == classCount || values == classCount;
    }

    // FNV-1a over the values' bits (every NaN alike): equal inputs, equal fingerprints; a collision of 64 bits is left to chance.
    private static ulong Fingerprint(float[] values)
    {
        ulong hash = 14695981039346656037;
        foreach (float value in values)
        {
            int bits = float.IsNaN(value) ? BitConverter.SingleToInt32Bits(float.NaN) : BitConverter.SingleToInt32Bits(value);
            for (int b = 0; b < 4; b++, bits >>= 8)
                hash = (hash ^ (byte)bits) * 1099511628211;
        }
        return hash;
    }

    // "slot 4 'name'", or "slot 4" without slot names.
    private static string Describe(int slot, string[] names) =>
        string.Create(CultureInfo.InvariantCulture, $"slot {slot}") + (names[slot].Length > 0 ? $" '{names[slot]}'" : "");

    private static string List(List<string> items) =>
        string.Join(", ", items.Take(NamedSlots)) + (items.Count > NamedSlots ? string.Create(CultureInfo.InvariantCulture, $" and {items.Count - NamedSlots} more") : "");

    /// <summary>Each slot's name ("" where the vector has none or it is empty).</summary>
    internal static string[] SlotNames(DataViewSchema.Column column, int size)
    {
        var names = new string[size];
        Array.Fill(names, "");
        if (!column.HasSlotNames()) return names;
        VBuffer<ReadOnlyMemory<char>> slotNames = default;
        column.GetSlotNames(ref slotNames);
        int i = 0;
        foreach (ReadOnlyMemory<char> name in slotNames.DenseValues())
        {
            if (i >= size) break;
            names[i++] = name.ToString();
        }
        return names;
    }

    // Per slot: whether every row so far holds a whole number above (or every one below) the row before, and the first three.
    private sealed class RowOrder(int size)
    {
        // Fewer rows than this rise by chance too often (the mlnet-ssl tool's rule for CSV columns).
        private const int MinRows = 20;
        private readonly bool[] _broken = new bool[size];
        private readonly int[] _direction = new int[size];
        private readonly float[] _previous = new float[size];
        private long _count;
        public readonly List<float>[] Firsts = [.. Enumerable.Range(0, size).Select(_ => new List<float>(3))];

        public void Add(float[] row)
        {
            _count++;
            for (int slot = 0; slot < row.Length; slot++)
            {
                if (_broken[slot]) continue;
                float value = row[slot];
                if (!float.IsFinite(value) || value != MathF.Round(value)) { _broken[slot] = true; continue; }
                if (Firsts[slot].Count < 3) Firsts[slot].Add(value);
                if (_count > 1)
                {
                    int direction = Math.Sign(value.CompareTo(_previous[slot]));
                    if (direction == 0 || (_direction[slot] != 0 && direction != _direction[slot])) { _broken[slot] = true; continue; }
                    _direction[slot] = direction;
                }
                _previous[slot] = value;
            }
        }

        public bool CountsRows(int slot) => _count >= MinRows && !_broken[slot];
    }

    // Per slot: how many rows hold a value (not NaN), the first value, and whether any later value differs from it.
    private sealed class SlotValues(int size)
    {
        public readonly int[] Present = new int[size];
        public readonly float[] First = new float[size];
        public readonly bool[] Varies = new bool[size];
        public long Count;

        public void Add(float[] row)
        {
            Count++;
            for (int slot = 0; slot < row.Length; slot++)
            {
                float value = row[slot];
                if (float.IsNaN(value)) continue;
                if (Present[slot]++ == 0) First[slot] = value;
                else if (!Varies[slot] && value != First[slot]) Varies[slot] = true;
            }
        }
    }
}
