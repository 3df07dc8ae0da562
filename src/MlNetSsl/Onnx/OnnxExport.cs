using MlNetSsl.MlNet.Data;
using TorchSharp;

namespace MlNetSsl.Onnx;

/// <summary>
/// The exported computations shared by the standalone models and ML.NET's converter: raw stage input to embedding,
/// and raw stage input to class probabilities. Callers hold the transformer's module lease.
/// </summary>
internal static class OnnxExport
{
    /// <summary>The embedding [N, E] of the raw stage input <paramref name="input"/>.</summary>
    public static string Embedding(IOnnxGraph graph, SslEncoder encoder, InputNormalizer normalizer, string input)
    {
        using var scope = torch.NewDisposeScope();
        var writer = new OnnxModuleWriter(graph);
        return writer.Encoder(encoder, writer.Normalize(normalizer, encoder.InputShape, input));
    }

    /// <summary>Class probabilities [N, K] (softmax of the logits) of the raw stage input <paramref name="input"/>.</summary>
    public static string Probabilities(IOnnxGraph graph, SslClassifier classifier, InputNormalizer normalizer, string input)
    {
        using var scope = torch.NewDisposeScope();
        var writer = new OnnxModuleWriter(graph);
        string embedding = writer.Encoder(classifier.Encoder, writer.Normalize(normalizer, classifier.InputShape, input));
        string logits = writer.Layer(classifier.Head, embedding, "head");
        return graph.AddNode("Softmax", [logits], "probabilities", OnnxAttribute.Of("axis", 1));
    }

    /// <summary>
    /// A standalone model: one input named <paramref name="inputName"/> in the stage's raw layout (images [N, C, H, W]
    /// floats in [0, 1]; tabular [N, F]; series [N, C*T], channel after channel), one float output [N, size].
    /// </summary>
    public static byte[] Standalone(SslInputShape shape, string inputName, string outputName, int outputSize, string doc,
        Func<IOnnxGraph, string, string> body)
    {
        var builder = new OnnxModelBuilder();
        long?[] inputDims = shape.Kind switch
        {
            SslInputKind.Image => [null, shape.Channels, shape.Height, shape.Width],
            _ => [null, shape.Size],
        };
        string input = builder.AddInput(inputName, OnnxElementType.Float, inputDims);
        // A stage may write its embedding over its input column ("Features" -> "Features"); ONNX names must differ.
        string output = OutputName(inputName, outputName);
        builder.ReserveOutput(output); // before the body, whose temporaries ("centred", "probabilities") must not take it
        builder.AddOutput(body(builder, input), output, OnnxElementType.Float, [null, outputSize]);
        return builder.ToBytes("MlNetSsl", doc);
    }

    /// <summary>The ONNX output name: the output column's, or with <c>.output</c> appended when the input has that name.</summary>
    public static string OutputName(string inputName, string outputName) =>
        outputName == inputName ? outputName + ".output" : outputName;
}
