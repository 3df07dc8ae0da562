using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using MlNetSsl.MlNet.Data;
using static TorchSharp.torch;

namespace MlNetSsl.MlNet;

/// <summary>
/// What a TorchSharp-backed transformer adds to each row: a fixed number of floats computed from the input column
/// by one batched forward pass, exposed as one or more output columns. <see cref="BatchedDataView"/> and
/// <see cref="BatchedRowMapper"/> do the IDataView plumbing for every such transformer.
/// </summary>
internal abstract class BatchedOutput
{
    /// <summary>Reads the input column.</summary>
    public abstract InputColumnReader Reader { get; }

    /// <summary>Rows per forward pass.</summary>
    public abstract int BatchSize { get; }

    /// <summary>Floats the forward pass produces per row.</summary>
    public abstract int ValuesPerRow { get; }

    /// <summary>The columns added, in order.</summary>
    public abstract IReadOnlyList<(string Name, DataViewType Type, DataViewSchema.Annotations? Annotations)> Columns { get; }

    /// <summary>[N, <see cref="ValuesPerRow"/>] float32 on the CPU for a raw batch (uint8 images or float32 vectors).</summary>
    public abstract Tensor Compute(Tensor raw);

    /// <summary>
    /// Writes the computation into ML.NET's ONNX converter: reads the input column's variable and maps each added
    /// column to a new variable. Throws <see cref="NotSupportedException"/> with the reason when it cannot.
    /// </summary>
    public abstract void SaveAsOnnx(OnnxContext context);

    /// <summary>A getter for added column <paramref name="column"/> that reads the current row's values through <paramref name="values"/>.</summary>
    public abstract Delegate MakeGetter(int column, Func<ReadOnlyMemory<float>> values);

    /// <summary>The input schema with <see cref="Columns"/> appended (hiding same-named input columns).</summary>
    public DataViewSchema OutputSchema(DataViewSchema inputSchema)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var (name, type, annotations) in Columns) builder.AddColumn(name, type, annotations);
        return builder.ToSchema();
    }

    /// <summary>A getter of a known-size float vector copied from the row's values.</summary>
    protected static ValueGetter<VBuffer<float>> VectorGetter(Func<ReadOnlyMemory<float>> values) => (ref VBuffer<float> value) =>
    {
        var source = values().Span;
        var editor = VBufferEditor.Create(ref value, source.Length);
        source.CopyTo(editor.Values);
        value = editor.Commit();
    };

    /// <summary>Checks that <paramref name="requested"/> is the type a getter of added column <paramref name="column"/> returns.</summary>
    public void CheckGetterType(int column, Type requested)
    {
        Type actual = Columns[column].Type.RawType;
        if (requested != actual)
            throw new InvalidOperationException($"Column '{Columns[column].Name}' holds {actual.Name}, not {requested.Name}.");
    }
}
