using MlNetSsl.MlNet.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl.Onnx;

/// <summary>
/// Writes TorchSharp layers in eval mode as ONNX nodes. The generic walker covers the layers the built-in encoders
/// and classifier heads are made of; each encoder writes its own forward structure (centring, residual adds) through
/// <see cref="SslEncoder.WriteOnnx"/>, so the export sits next to the forward pass it mirrors.
/// </summary>
internal sealed class OnnxModuleWriter(IOnnxGraph graph)
{
    private const string SupportedLayers = "Sequential, Conv1d, Conv2d, BatchNorm1d, BatchNorm2d (with running statistics, as in eval mode), ReLU, " +
        "MaxPool2d, AdaptiveAvgPool1d/2d to size 1, Flatten, Linear and Identity";

    /// <summary>The encoder's output for encoder input <paramref name="x"/> (already normalized and shaped).</summary>
    /// <exception cref="NotSupportedException">The encoder, or one of its layers, has no ONNX form.</exception>
    public string Encoder(SslEncoder encoder, string x) => encoder.WriteOnnx(this, x);

    /// <summary>
    /// The stage's input preparation: a series arrives as the ML.NET vector [N, C*T] (channel after channel) and is
    /// reshaped to [N, C, T]; tabular rows and series are standardized with the statistics learned at Fit. Images
    /// arrive as [N, C, H, W] floats in [0, 1] and need nothing here (the encoders centre them).
    /// </summary>
    public string Normalize(InputNormalizer normalizer, SslInputShape shape, string input)
    {
        if (shape.Kind == SslInputKind.Image) return input;
        string x = input;
        long[] statDims = [shape.Features];
        if (shape.Kind == SslInputKind.Series)
        {
            string target = graph.AddInitializer(new long[] { -1, shape.Channels, shape.Length }, [3], "series_shape");
            x = graph.AddNode("Reshape", [x, target], "series");
            statDims = [shape.Channels, 1];
        }
        string mean = graph.AddInitializer(normalizer.Mean, statDims, "input_mean");
        string deviation = graph.AddInitializer(normalizer.Deviation, statDims, "input_deviation");
        x = graph.AddNode("Sub", [x, mean], "centred");
        return graph.AddNode("Div", [x, deviation], "standardized");
    }

    /// <summary><c>x * scale + shift</c> with scalar constants, in that order of float operations. Constants are
    /// [1] rather than rank 0: ML.NET's converter context cannot hold rank-0 tensors.</summary>
    public string ScaleShift(string x, float scale, float shift, string hint)
    {
        x = graph.AddNode("Mul", [x, graph.AddInitializer([scale], [1], hint + "_scale")], hint + "_scaled");
        return graph.AddNode("Add", [x, graph.AddInitializer([shift], [1], hint + "_shift")], hint);
    }

    public string Add(string a, string b, string hint) => graph.AddNode("Add", [a, b], hint);

    public string Relu(string x, string hint) => graph.AddNode("Relu", [x], hint);

    /// <summary>One layer (or a Sequential of layers) applied to <paramref name="x"/>; <paramref name="path"/> names it in errors.</summary>
    /// <exception cref="NotSupportedException">The layer has no ONNX form here; the message names its path and type.</exception>
    public string Layer(nn.Module module, string x, string path)
    {
        using var scope = torch.NewDisposeScope();
        switch (module)
        {
            case Sequential sequential:
                foreach ((string name, nn.Module child) in sequential.named_children())
                    x = Layer(child, x, Join(path, name));
                return x;
            case Identity:
                return x;
            case ReLU:
                return Relu(x, path);
            case Conv1d or Conv2d:
                return Convolution((Convolution)module, x, path);
            case BatchNorm1d or BatchNorm2d:
                return BatchNorm((BatchNorm)module, x, path);
            case Linear linear:
                return Gemm(linear, x, path);
            case MaxPool2d pool:
                return MaxPool(pool, x, path);
            case AdaptiveAvgPool2d pool when pool.output_size.All(s => s == 1):
                return graph.AddNode("GlobalAveragePool", [x], path);
            case AdaptiveAvgPool1d pool when pool.output_size == 1:
                return graph.AddNode("GlobalAveragePool", [x], path);
            case Flatten flatten when flatten.start_dim == 1 && flatten.end_dim == -1:
                return graph.AddNode("Flatten", [x], path, OnnxAttribute.Of("axis", 1));
            default:
                throw Unsupported(path, module);
        }
    }

    /// <summary>The error for a layer without an ONNX form: which layer, what it is, and what is supported.</summary>
    public static NotSupportedException Unsupported(string path, object module, string? detail = null) =>
        new($"ONNX export does not support layer '{(path.Length == 0 ? "(root)" : path)}' ({module.GetType().Name}{(detail is null ? "" : ", " + detail)}). " +
            $"Supported layers: {SupportedLayers}; built-in encoders (ConvNet, ResNet, Mlp, ResMlp, Conv1d) export completely. " +
            "Serve a model with other layers through TorchSharp (the ML.NET stage) instead.");

    private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

    private string Convolution(Convolution conv, string x, string path)
    {
        if (conv.transposed) throw Unsupported(path, conv, "transposed");
        if (conv.padding_mode != PaddingModes.Zeros) throw Unsupported(path, conv, $"padding mode {conv.padding_mode}");
        if (conv.padding_type is not null) throw Unsupported(path, conv, $"padding {conv.padding_type}");
        var weight = conv.weight ?? throw Unsupported(path, conv, "no weight");
        int spatial = (int)weight.dim() - 2;
        long[] pads = Expand(conv.padding, spatial, 0);
        string w = graph.AddInitializer(Floats(weight), weight.shape, path + ".weight");
        string[] inputs = conv.bias is { } bias ? [x, w, graph.AddInitializer(Floats(bias), bias.shape, path + ".bias")] : [x, w];
        return graph.AddNode("Conv", inputs, path,
            OnnxAttribute.Of("kernel_shape", weight.shape[2..]),
            OnnxAttribute.Of("strides", Expand(conv.stride, spatial, 1)),
            OnnxAttribute.Of("dilations", Expand(conv.dilation, spatial, 1)),
            OnnxAttribute.Of("pads", [.. pads, .. pads]),
            OnnxAttribute.Of("group", conv.groups));
    }

    // BatchNormalization (opset 9 form) takes [N, C] and [N, C, ...] alike, so BatchNorm1d after a Linear layer and
    // after a Conv1d export the same way; the running statistics are what eval mode uses.
    private string BatchNorm(BatchNorm norm, string x, string path)
    {
        if (!norm.track_running_stats || norm.running_mean is null || norm.running_var is null)
            throw Unsupported(path, norm, "no running statistics (batch statistics at inference)");
        long c = norm.num_features;
        float[] gamma = norm.weight is null ? Enumerable.Repeat(1f, (int)c).ToArray() : Floats(norm.weight);
        float[] beta = norm.bias is null ? new float[c] : Floats(norm.bias);
        string[] inputs =
        [
            x,
            graph.AddInitializer(gamma, [c], path + ".weight"),
            graph.AddInitializer(beta, [c], path + ".bias"),
            graph.AddInitializer(Floats(norm.running_mean), [c], path + ".running_mean"),
            graph.AddInitializer(Floats(norm.running_var), [c], path + ".running_var"),
        ];
        return graph.AddNode("BatchNormalization", inputs, path, new OnnxAttribute("epsilon", Float: (float)norm.eps));
    }

    private string Gemm(Linear linear, string x, string path)
    {
        var weight = linear.weight ?? throw Unsupported(path, linear, "no weight");
        string w = graph.AddInitializer(Floats(weight), weight.shape, path + ".weight");
        // Gemm before opset 11 needs C, so a layer without bias gets zeros.
        float[] bias = linear.bias is { } b ? Floats(b) : new float[weight.shape[0]];
        string c = graph.AddInitializer(bias, [weight.shape[0]], path + ".bias");
        return graph.AddNode("Gemm", [x, w, c], path, OnnxAttribute.Of("transB", 1));
    }

    private string MaxPool(MaxPool2d pool, string x, string path)
    {
        long[] kernel = Expand(pool.kernel_size, 2, 1);
        long[] dilation = Expand(pool.dilation, 2, 1);
        if (dilation.Any(d => d != 1)) throw Unsupported(path, pool, "dilation");
        long[] pads = Expand(pool.padding, 2, 0);
        return graph.AddNode("MaxPool", [x], path,
            OnnxAttribute.Of("kernel_shape", kernel),
            OnnxAttribute.Of("strides", pool.stride is { Length: > 0 } ? Expand(pool.stride, 2, 1) : kernel),
            OnnxAttribute.Of("pads", [.. pads, .. pads]),
            OnnxAttribute.Of("ceil_mode", pool.ceil_mode ? 1 : 0));
    }

    private static long[] Expand(long[]? values, int count, long fallback) =>
        values is null || values.Length == 0 ? Enumerable.Repeat(fallback, count).ToArray()
        : values.Length == 1 ? Enumerable.Repeat(values[0], count).ToArray()
        : values;

    private static float[] Floats(Tensor t)
    {
        using var scope = torch.NewDisposeScope();
        return t.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
    }
}
