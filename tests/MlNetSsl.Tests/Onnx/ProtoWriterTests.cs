using MlNetSsl.Onnx;
using Xunit;

namespace MlNetSsl.Tests.Onnx;

/// <summary>The protobuf wire format the ONNX writer relies on, byte for byte against the protobuf encoding rules.</summary>
public sealed class OnnxProtoWriterTests
{
    [SkippableFact]
    public void VarintsFloatsStringsAndNestedMessagesUseTheProtobufEncoding()
    {
        // Field 1 varint 300: tag 0x08, then 300 as 0xAC 0x02 (the protobuf documentation's example).
        Assert.Equal(new byte[] { 0x08, 0xAC, 0x02 }, new ProtoWriter().Int(1, 300).ToArray());
        // A negative int64 is a 10-byte two's-complement varint.
        Assert.Equal(new byte[] { 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, new ProtoWriter().Int(3, -1).ToArray());
        // Field 2 fixed32 float 1.0f: tag 0x15, little-endian 0x3F800000.
        Assert.Equal(new byte[] { 0x15, 0x00, 0x00, 0x80, 0x3F }, new ProtoWriter().Float(2, 1f).ToArray());
        // Field 4 string "Relu": tag 0x22, length 4, UTF-8.
        Assert.Equal(new byte[] { 0x22, 4, (byte)'R', (byte)'e', (byte)'l', (byte)'u' }, new ProtoWriter().String(4, "Relu").ToArray());
        // Field 7 holding a message with field 1 = 150: tag 0x3A, length 3, then 0x08 0x96 0x01.
        Assert.Equal(new byte[] { 0x3A, 3, 0x08, 0x96, 0x01 }, new ProtoWriter().Message(7, new ProtoWriter().Int(1, 150)).ToArray());
    }

    [SkippableFact]
    public void TheModelHeaderDeclaresIrVersion7AndOpset12()
    {
        var builder = new OnnxModelBuilder();
        string input = builder.AddInput("x", OnnxElementType.Float, [null, 2]);
        builder.AddOutput(builder.AddNode("Relu", [input], "y"), "out", OnnxElementType.Float, [null, 2]);
        byte[] model = builder.ToBytes("g", "");
        Assert.Equal(new byte[] { 0x08, 7 }, model[..2]); // ModelProto.ir_version = 7 comes first
        // The opset import (field 8) is the last message: { domain "" , version 12 }.
        Assert.Equal(new byte[] { 0x42, 4, 0x0A, 0, 0x10, 12 }, model[^6..]);
        var duplicate = Assert.Throws<InvalidOperationException>(() => builder.AddOutput(input, "out", OnnxElementType.Float, [null, 2]));
        Assert.Contains("'out'", duplicate.Message);
    }
}
