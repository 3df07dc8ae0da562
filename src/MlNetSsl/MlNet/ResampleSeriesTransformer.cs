using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MlNetSsl;
using MlNetSsl.MlNet;
using MlNetSsl.MlNet.Persistence;

[assembly: LoadableClass(typeof(ResampleSeriesTransformer), null, typeof(SignatureLoadModel),
    "Series resampling", ResampleSeriesTransformer.LoaderSignature)]

namespace MlNetSsl;

/// <summary>
/// Adds a known-size vector column holding each row's series resampled to a fixed length per channel (see
/// <see cref="ResampleSeriesOptions"/>). Row by row and lazy; serves <c>PredictionEngine</c>; saved and loaded with
/// <c>mlContext.Model.Save/Load</c>.
/// </summary>
public sealed class ResampleSeriesTransformer : ITransformer, ICanSaveModel
{
    internal const string LoaderSignature = "MlNetSslResampleSeries";
    private const string SettingsStream = "ResampleSeries.json";
    private const int FormatVersion = 1;
    private const string Owner = "the series resampling transform";

    private readonly ResampleSeriesOptions _options;
    private readonly VectorDataViewType _outputType;

    internal ResampleSeriesTransformer(IHostEnvironment env, ResampleSeriesOptions options)
    {
        ArgumentNullException.ThrowIfNull(env);
        _options = options;
        _outputType = new VectorDataViewType(NumberDataViewType.Single, checked(options.Channels * options.Length));
    }

    /// <summary>The column read.</summary>
    public string InputColumnName => _options.InputColumnName;

    /// <summary>The column added.</summary>
    public string OutputColumnName => _options.OutputColumnName;

    /// <summary>Channels per row.</summary>
    public int Channels => _options.Channels;

    /// <summary>Steps per channel after resampling.</summary>
    public int Length => _options.Length;

    /// <summary>How channels are brought to <see cref="Length"/>.</summary>
    public SeriesResampling Resampling => _options.Resampling;

    /// <summary>Always true: each row is mapped on its own.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus the output column.</summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckInputType(inputSchema, InputColumnName);
        return AddOutput(inputSchema);
    }

    /// <summary>A lazy view with the resampled column added.</summary>
    /// <exception cref="InvalidDataException">When read: a row is empty, its length is not a multiple of the channel
    /// count, or one of its channels holds only missing values (NaN); the message names the row.</exception>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInputType(input.Schema, InputColumnName);
        return new ResampledView(this, input);
    }

    /// <summary>A row-by-row mapper for <c>PredictionEngine</c>.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckInputType(inputSchema, InputColumnName);
        return new Mapper(this, inputSchema);
    }

    /// <summary>
    /// Resamples one row's <paramref name="source"/> (channel-major) into <paramref name="destination"/>
    /// (<paramref name="channels"/> x <paramref name="length"/>). <paramref name="row"/> and <paramref name="column"/> name the row in errors.
    /// </summary>
    internal static void Resample(ReadOnlySpan<float> source, Span<float> destination, int channels, int length, SeriesResampling resampling,
        long? row, string column)
    {
        if (source.Length == 0)
            throw new InvalidDataException($"{Where(row, column)} holds an empty series; every row needs at least one step per channel.");
        if (source.Length % channels != 0)
            throw new InvalidDataException($"{Where(row, column)} holds {source.Length} values, not a whole number of steps for " +
                $"{channels} channels; every channel of a row must have the same length (values are channel after channel).");
        int infinite = IndexOfInfinity(source);
        if (infinite >= 0)
            throw new InvalidDataException($"{Where(row, column)} holds {source[infinite]} at index {infinite} (channel " +
                $"{infinite / (source.Length / channels)}); no value can be interpolated from an infinity. Replace it with a finite " +
                "number, or with NaN to have it filled from the value before it.");
        int steps = source.Length / channels;
        float[]? filled = null;
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> from = source.Slice(c * steps, steps);
            if (HasMissing(from))
            {
                // A missing step (NaN) would make the whole output NaN (a trainer after this then predicts nothing);
                // it takes the value before it, or the first known one at the start (the mlnet-ssl tool's loaders fill the same way).
                filled ??= new float[steps];
                FillMissing(from, filled, c, row, column);
                from = filled;
            }
            Span<float> to = destination.Slice(c * length, length);
            if (resampling == SeriesResampling.PadOrTruncate)
            {
                int kept = Math.Min(steps, length);
                from[..kept].CopyTo(to);
                to[kept..].Fill(from[steps - 1]);
                continue;
            }
            if (resampling == SeriesResampling.Mean && steps >= length)
            {
                AverageInto(from, to);
                continue;
            }
            if (steps == 1 || length == 1)
            {
                // One input step has no slope (a constant); one output step keeps the start of the series.
                to.Fill(from[0]);
                continue;
            }
            double scale = (steps - 1) / (double)(length - 1);
            for (int j = 0; j < length; j++)
            {
                double position = j * scale;
                int left = Math.Min((int)position, steps - 1);
                int right = Math.Min(left + 1, steps - 1);
                double fraction = position - left;
                to[j] = (float)(from[left] + (from[right] - from[left]) * fraction);
            }
        }
    }

    /// <summary>Each of <paramref name="to"/>'s steps is the mean of <paramref name="from"/> over the stretch it covers,
    /// [j, j + 1) x from.Length / to.Length, with the steps cut by its ends weighed by the part inside.</summary>
    private static void AverageInto(ReadOnlySpan<float> from, Span<float> to)
    {
        double width = from.Length / (double)to.Length;
        for (int j = 0; j < to.Length; j++)
        {
            double start = j * width, end = j == to.Length - 1 ? from.Length : (j + 1) * width;
            double sum = 0;
            for (int i = (int)start; i < end && i < from.Length; i++)
                sum += from[i] * (Math.Min(end, i + 1) - Math.Max(start, i));
            to[j] = (float)(sum / (end - start));
        }
    }

    private static int IndexOfInfinity(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (float.IsInfinity(values[i])) return i;
        return -1;
    }

    private static bool HasMissing(ReadOnlySpan<float> values)
    {
        foreach (float value in values)
            if (float.IsNaN(value)) return true;
        return false;
    }

    private static string Where(long? row, string column) => MlNetSsl.MlNet.Data.InputColumnReader.RowDescription(row, column);

    /// <summary>Copies <paramref name="from"/> into <paramref name="to"/> with each NaN replaced by the value before it
    /// (by the first known value when it leads the channel).</summary>
    /// <exception cref="InvalidDataException">Every value of the channel is missing.</exception>
    private static void FillMissing(ReadOnlySpan<float> from, Span<float> to, int channel, long? row, string column)
    {
        int firstKnown = 0;
        while (firstKnown < from.Length && float.IsNaN(from[firstKnown])) firstKnown++;
        if (firstKnown == from.Length)
            throw new InvalidDataException($"{Where(row, column)}: every value of channel {channel} is missing (NaN); " +
                "a series needs at least one known value per channel.");
        for (int i = 0; i < from.Length; i++)
            to[i] = !float.IsNaN(from[i]) ? from[i] : i == 0 ? from[firstKnown] : to[i - 1];
    }

    internal static void CheckInputType(DataViewSchema schema, string columnName)
    {
        var column = schema.GetColumnOrNull(columnName)
            ?? throw new ArgumentOutOfRangeException("inputSchema", $"Input column '{columnName}' not found in the data. " +
                ColumnsPresent.In(schema));
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType item } || item.RawType != typeof(float))
            throw new ArgumentOutOfRangeException("inputSchema",
                $"Schema mismatch for input column '{columnName}': expected a vector of Single (a series, channel after channel), got {column.Type}.");
    }

    private DataViewSchema AddOutput(DataViewSchema inputSchema)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(OutputColumnName, _outputType);
        return builder.ToSchema();
    }

    /// <summary>A getter of the output column that reads the input through <paramref name="input"/>.</summary>
    private ValueGetter<VBuffer<float>> MakeGetter(DataViewRow input, DataViewSchema.Column inputColumn)
    {
        ValueGetter<VBuffer<float>> read = input.GetGetter<VBuffer<float>>(inputColumn);
        VBuffer<float> series = default;
        float[] dense = [];
        return (ref VBuffer<float> value) =>
        {
            read(ref series);
            if (dense.Length < series.Length) dense = new float[series.Length];
            series.CopyTo(dense);
            var editor = VBufferEditor.Create(ref value, _outputType.Size);
            // A PredictionEngine's row is not a cursor: its position counts the engine's calls, which names nothing the caller passed.
            Resample(dense.AsSpan(0, series.Length), editor.Values, Channels, Length, Resampling, input is DataViewRowCursor ? input.Position : null, InputColumnName);
            value = editor.Commit();
        };
    }

    // ---- persistence -------------------------------------------------------------------------------------------

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "MSSLRESA",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(ResampleSeriesTransformer).Assembly.FullName);

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.Writer.Write(FormatVersion);
        ModelStreams.SaveJson(ctx, SettingsStream, _options);
    }

    // Called by ML.NET through the LoadableClass registration above.
    private static ResampleSeriesTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        ModelStreams.RequireFormat(ctx.Reader.ReadInt32(), FormatVersion, Owner);
        var options = ModelStreams.LoadJson<ResampleSeriesOptions>(ctx, SettingsStream, Owner);
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The model stream '{SettingsStream}' of {Owner} holds invalid settings: {e.Message}", e);
        }
        return new ResampleSeriesTransformer(env, options);
    }

    // ---- IDataView plumbing ------------------------------------------------------------------------------------

    private sealed class ResampledView(ResampleSeriesTransformer owner, IDataView input) : IDataView
    {
        public bool CanShuffle => input.CanShuffle;

        public DataViewSchema Schema { get; } = owner.AddOutput(input.Schema);

        public long? GetRowCount() => input.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            var (inputColumns, compute) = InputColumns(columnsNeeded);
            return new Cursor(owner, Schema, input.GetRowCursor(inputColumns, rand), compute);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        {
            var (inputColumns, compute) = InputColumns(columnsNeeded);
            return input.GetRowCursorSet(inputColumns, n, rand).Select(c => (DataViewRowCursor)new Cursor(owner, Schema, c, compute)).ToArray();
        }

        private (List<DataViewSchema.Column> Columns, bool Compute) InputColumns(IEnumerable<DataViewSchema.Column> needed)
        {
            int added = input.Schema.Count;
            var list = needed.ToList();
            bool compute = list.Any(c => c.Index == added);
            var columns = list.Where(c => c.Index < added).Select(c => input.Schema[c.Index]).ToList();
            if (compute) columns.Add(input.Schema[owner.InputColumnName]);
            return (columns, compute);
        }
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly DataViewRowCursor _input;
        private readonly Delegate? _getter;

        public Cursor(ResampleSeriesTransformer owner, DataViewSchema schema, DataViewRowCursor input, bool compute)
        {
            Schema = schema;
            _input = input;
            if (compute) _getter = owner.MakeGetter(input, input.Schema[owner.InputColumnName]);
        }

        public override DataViewSchema Schema { get; }

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override bool MoveNext() => _input.MoveNext();

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == _input.Schema.Count ? _getter is not null : _input.IsColumnActive(_input.Schema[column.Index]);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
            Added.Get<TValue>(column, _input.Schema, _getter) ?? _input.GetGetter<TValue>(_input.Schema[column.Index]);

        protected override void Dispose(bool disposing)
        {
            if (disposing) _input.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class Mapper(ResampleSeriesTransformer owner, DataViewSchema inputSchema) : IRowToRowMapper
    {
        public DataViewSchema InputSchema => inputSchema;

        public DataViewSchema OutputSchema { get; } = owner.AddOutput(inputSchema);

        public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
        {
            var needed = new SortedSet<int>();
            foreach (var column in dependingColumns)
                needed.Add(column.Index == inputSchema.Count ? inputSchema[owner.InputColumnName].Index : column.Index);
            return needed.Select(i => inputSchema[i]).ToArray();
        }

        public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
            new Row(OutputSchema, input, activeColumns.Any(c => c.Index == inputSchema.Count)
                ? owner.MakeGetter(input, inputSchema[owner.InputColumnName]) : null);
    }

    private sealed class Row(DataViewSchema schema, DataViewRow input, Delegate? getter) : DataViewRow
    {
        public override DataViewSchema Schema => schema;

        public override long Position => input.Position;

        public override long Batch => input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == input.Schema.Count ? getter is not null : input.IsColumnActive(input.Schema[column.Index]);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
            Added.Get<TValue>(column, input.Schema, getter) ?? input.GetGetter<TValue>(input.Schema[column.Index]);
    }

    private static class Added
    {
        /// <summary>The added column's getter, or null when <paramref name="column"/> is an input column.</summary>
        public static ValueGetter<TValue>? Get<TValue>(DataViewSchema.Column column, DataViewSchema inputSchema, Delegate? getter)
        {
            if (column.Index < inputSchema.Count) return null;
            if (getter is null) throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' holds VBuffer<Single>, not {typeof(TValue).Name}.");
        }
    }
}
