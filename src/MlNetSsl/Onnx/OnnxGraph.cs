using System.Runtime.InteropServices;
using Microsoft.ML.Model.OnnxConverter;

namespace MlNetSsl.Onnx;

/// <summary>An ONNX node attribute: one integer, a list of integers, or one float.</summary>
internal readonly record struct OnnxAttribute(string Name, long? Int = null, long[]? Ints = null, float? Float = null)
{
    public static OnnxAttribute Of(string name, long value) => new(name, Int: value);

    public static OnnxAttribute Of(string name, long[] values) => new(name, Ints: values);
}

/// <summary>
/// Where the exporter writes ONNX: a standalone model (<see cref="OnnxModelBuilder"/>) or ML.NET's converter context
/// (<see cref="MlNetOnnxGraph"/>). Names passed in are hints; the graph returns the unique names it used.
/// </summary>
internal interface IOnnxGraph
{
    /// <summary>A float constant tensor; returns its name.</summary>
    string AddInitializer(float[] values, long[] dims, string nameHint);

    /// <summary>An int64 constant tensor; returns its name.</summary>
    string AddInitializer(long[] values, long[] dims, string nameHint);

    /// <summary>A node of the default ONNX domain with one output; returns the output's name.</summary>
    string AddNode(string opType, string[] inputs, string outputHint, params OnnxAttribute[] attributes);
}

/// <summary>ONNX element types (TensorProto.DataType) the exporter uses.</summary>
internal enum OnnxElementType
{
    Float = 1,
    Int64 = 7,
    UInt32 = 12,
}

/// <summary>
/// A standalone ONNX model (IR version 7, opset 12) built in memory and written in one piece, so a failure while
/// building leaves the caller's stream untouched.
/// </summary>
internal sealed class OnnxModelBuilder : IOnnxGraph
{
    /// <summary>The opset every exported node is valid in.</summary>
    public const int OpsetVersion = 12;

    private const long IrVersion = 7;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reserved = new(StringComparer.Ordinal);
    private readonly List<ProtoWriter> _nodes = [], _initializers = [], _inputs = [], _outputs = [];
    private int _nodeCount;

    /// <summary>A graph input; a null dimension is the batch size (symbolic "N").</summary>
    public string AddInput(string name, OnnxElementType type, long?[] dims)
    {
        name = Unique(name);
        _inputs.Add(ValueInfo(name, type, dims));
        return name;
    }

    /// <summary>Keeps <paramref name="name"/> free for <see cref="AddOutput"/>: temporaries made before it get other names.</summary>
    public void ReserveOutput(string name)
    {
        if (!_names.Add(name))
            throw new InvalidOperationException($"The ONNX output name '{name}' is already used in the graph; choose different column names.");
        _reserved.Add(name);
    }

    /// <summary>Marks <paramref name="variable"/> as a graph output named <paramref name="name"/> (through an Identity node).</summary>
    public void AddOutput(string variable, string name, OnnxElementType type, long?[] dims)
    {
        if (!_reserved.Remove(name) && !_names.Add(name))
            throw new InvalidOperationException($"The ONNX output name '{name}' is already used in the graph; choose different column names.");
        AddNodeTo("Identity", [variable], name);
        _outputs.Add(ValueInfo(name, type, dims));
    }

    public string AddInitializer(float[] values, long[] dims, string nameHint)
    {
        string name = Unique(nameHint);
        var raw = MemoryMarshal.AsBytes(values.AsSpan());
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX export writes little-endian tensors only.");
        var tensor = new ProtoWriter();
        foreach (long d in dims) tensor.Int(1, d);
        tensor.Int(2, (long)OnnxElementType.Float).String(8, name).Bytes(9, raw);
        _initializers.Add(tensor);
        return name;
    }

    public string AddInitializer(long[] values, long[] dims, string nameHint)
    {
        string name = Unique(nameHint);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX export writes little-endian tensors only.");
        var tensor = new ProtoWriter();
        foreach (long d in dims) tensor.Int(1, d);
        tensor.Int(2, (long)OnnxElementType.Int64).String(8, name).Bytes(9, MemoryMarshal.AsBytes(values.AsSpan()));
        _initializers.Add(tensor);
        return name;
    }

    public string AddNode(string opType, string[] inputs, string outputHint, params OnnxAttribute[] attributes) =>
        AddNodeTo(opType, inputs, Unique(outputHint), attributes);

    /// <summary>The serialized ModelProto.</summary>
    public byte[] ToBytes(string graphName, string docString)
    {
        var graph = new ProtoWriter();
        foreach (var node in _nodes) graph.Message(1, node);
        graph.String(2, graphName);
        foreach (var initializer in _initializers) graph.Message(5, initializer);
        graph.String(10, docString);
        foreach (var input in _inputs) graph.Message(11, input);
        foreach (var output in _outputs) graph.Message(12, output);

        var model = new ProtoWriter()
            .Int(1, IrVersion)
            .String(2, "MlNetSsl")
            .String(3, typeof(OnnxModelBuilder).Assembly.GetName().Version?.ToString() ?? "0")
            .Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Int(2, OpsetVersion));
        return model.ToArray();
    }

    private string AddNodeTo(string opType, string[] inputs, string output, params OnnxAttribute[] attributes)
    {
        var node = new ProtoWriter();
        foreach (string input in inputs) node.String(1, input);
        node.String(2, output).String(3, $"{opType}_{_nodeCount++}").String(4, opType);
        foreach (var attribute in attributes) node.Message(5, Attribute(attribute));
        _nodes.Add(node);
        return output;
    }

    private static ProtoWriter Attribute(OnnxAttribute attribute)
    {
        // AttributeProto: name 1, f 2, i 3, ints 8, type 20 (FLOAT 1, INT 2, INTS 7).
        var proto = new ProtoWriter().String(1, attribute.Name);
        if (attribute.Int is long i) proto.Int(3, i).Int(20, 2);
        else if (attribute.Ints is long[] ints)
        {
            foreach (long v in ints) proto.Int(8, v);
            proto.Int(20, 7);
        }
        else if (attribute.Float is float f) proto.Float(2, f).Int(20, 1);
        else throw new ArgumentException($"Attribute '{attribute.Name}' has no value.", nameof(attribute));
        return proto;
    }

    private static ProtoWriter ValueInfo(string name, OnnxElementType type, long?[] dims)
    {
        // ValueInfoProto { name 1, type 2: TypeProto { tensor_type 1: { elem_type 1, shape 2: { dim 1: { dim_value 1 | dim_param 2 } } } } }
        var shape = new ProtoWriter();
        foreach (long? d in dims)
            shape.Message(1, d is long value ? new ProtoWriter().Int(1, value) : new ProtoWriter().String(2, "N"));
        var tensor = new ProtoWriter().Int(1, (long)type).Message(2, shape);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensor));
    }

    private string Unique(string hint)
    {
        string name = hint;
        for (int i = 1; !_names.Add(name); i++) name = $"{hint}_{i}";
        return name;
    }
}

/// <summary>ML.NET's converter context as an <see cref="IOnnxGraph"/>: the same exporter feeds <c>ConvertToOnnx</c>.</summary>
internal sealed class MlNetOnnxGraph(OnnxContext context) : IOnnxGraph
{
    // ML.NET's context maps every variable name it registers to a column of that name, so a temporary called "series" or
    // "key" would take over a user's column of the same name for the steps after ours. No column name has this prefix.
    private const string Prefix = "MlNetSsl/";

    public string AddInitializer(float[] values, long[] dims, string nameHint) => context.AddInitializer(values, dims, Prefix + nameHint, true);

    public string AddInitializer(long[] values, long[] dims, string nameHint) => context.AddInitializer(values, dims, Prefix + nameHint, true);

    public string AddNode(string opType, string[] inputs, string outputHint, params OnnxAttribute[] attributes)
    {
        // skip: a fresh variable that no IDataView column maps to.
        string output = context.AddIntermediateVariable(null, Prefix + outputHint, true);
        var node = context.CreateNode(opType, inputs, [output], context.GetNodeName(opType), "");
        foreach (var attribute in attributes)
        {
            if (attribute.Int is long i) node.AddAttribute(attribute.Name, i);
            else if (attribute.Ints is long[] ints) node.AddAttribute(attribute.Name, ints);
            else if (attribute.Float is float f) node.AddAttribute(attribute.Name, (double)f);
        }
        return output;
    }
}
