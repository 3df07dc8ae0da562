using System.Buffers.Binary;
using System.Text;

namespace MlNetSsl.Onnx;

/// <summary>
/// The protobuf wire format, as much of it as ONNX models need: varints, fixed32 floats, length-delimited strings,
/// bytes and nested messages. Nested messages are written into their own writer and copied in with their length,
/// which is simple and fast enough for models of a few hundred MB. Repeated scalars are written unpacked, the
/// proto2 default that onnx.proto uses (parsers accept both forms).
/// </summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _buffer = new();

    /// <summary>Bytes written so far.</summary>
    public long Length => _buffer.Length;

    /// <summary>A varint field (int32, int64, enum).</summary>
    public ProtoWriter Int(int field, long value)
    {
        Tag(field, 0);
        Varint(unchecked((ulong)value));
        return this;
    }

    /// <summary>A fixed32 float field.</summary>
    public ProtoWriter Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        _buffer.Write(bytes);
        return this;
    }

    /// <summary>A UTF-8 string field.</summary>
    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A bytes field.</summary>
    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        Varint((ulong)value.Length);
        _buffer.Write(value);
        return this;
    }

    /// <summary>A nested message field.</summary>
    public ProtoWriter Message(int field, ProtoWriter message)
    {
        Tag(field, 2);
        Varint((ulong)message._buffer.Length);
        message._buffer.Position = 0;
        message._buffer.CopyTo(_buffer);
        return this;
    }

    /// <summary>Copies the message to <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream)
    {
        _buffer.Position = 0;
        _buffer.CopyTo(stream);
    }

    /// <summary>The message's bytes.</summary>
    public byte[] ToArray() => _buffer.ToArray();

    private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

    private void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _buffer.WriteByte((byte)value);
    }
}
