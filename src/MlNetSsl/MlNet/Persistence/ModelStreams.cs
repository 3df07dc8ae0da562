using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace MlNetSsl.MlNet.Persistence;

/// <summary>
/// Named binary streams inside an ML.NET model zip, each written with its length and a SHA-256 of its payload, so
/// a truncated or tampered model fails with a .NET exception naming the stream instead of feeding damaged bytes to
/// TorchSharp's native loader. Used by every MlNetSsl transformer; the weights inside are <see cref="ModuleState"/> bytes.
/// </summary>
internal static class ModelStreams
{
    private const int BlobMarker = 0x4C53534D; // "MSSL"

    /// <summary>Writes <paramref name="payload"/> as the stream <paramref name="name"/> of the model being saved.</summary>
    public static void SaveBlob(ModelSaveContext ctx, string name, byte[] payload)
    {
        ctx.SaveBinaryStream(name, writer =>
        {
            writer.Write(BlobMarker);
            writer.Write(payload.LongLength);
            writer.Write(SHA256.HashData(payload));
            writer.Write(payload);
        });
    }

    /// <summary>Reads and verifies the stream <paramref name="name"/>; <paramref name="owner"/> names the model part.</summary>
    /// <exception cref="InvalidDataException">The stream is missing, truncated or fails its checksum.</exception>
    public static byte[] LoadBlob(ModelLoadContext ctx, string name, string owner)
    {
        byte[]? payload = null;
        bool found;
        try
        {
            found = ctx.TryLoadBinaryStream(name, reader =>
            {
                if (reader.ReadInt32() != BlobMarker)
                    throw Corrupt(name, owner, "it does not start with the MlNetSsl stream marker");
                long length = reader.ReadInt64();
                if (length < 0 || length > reader.BaseStream.Length)
                    throw Corrupt(name, owner, $"it declares an impossible length ({length} bytes)");
                byte[] expectedHash = reader.ReadBytes(32);
                payload = reader.ReadBytes(checked((int)length));
                if (payload.Length != length)
                    throw Corrupt(name, owner, $"it is truncated ({payload.Length} of {length} bytes)");
                if (!SHA256.HashData(payload).AsSpan().SequenceEqual(expectedHash))
                    throw Corrupt(name, owner, "its checksum does not match (the file was modified or damaged)");
            });
        }
        catch (EndOfStreamException e)
        {
            throw Corrupt(name, owner, "it ends early", e);
        }
        if (!found || payload is null)
            throw new InvalidDataException(
                $"The model zip has no '{name}' stream for {owner}. The file is incomplete or was not written by " +
                "MlNetSsl; save the model again with mlContext.Model.Save.");
        return payload;
    }

    /// <summary>Writes an object as indented JSON in the stream <paramref name="name"/>.</summary>
    public static void SaveJson<T>(ModelSaveContext ctx, string name, T value, JsonSerializerOptions? options = null) =>
        SaveBlob(ctx, name, JsonSerializer.SerializeToUtf8Bytes(value, options ?? JsonDefaults));

    /// <summary>Reads an object written by <see cref="SaveJson{T}"/>.</summary>
    public static T LoadJson<T>(ModelLoadContext ctx, string name, string owner, JsonSerializerOptions? options = null)
    {
        byte[] bytes = LoadBlob(ctx, name, owner);
        try
        {
            return JsonSerializer.Deserialize<T>(bytes, options ?? JsonDefaults)
                ?? throw Corrupt(name, owner, "it holds JSON null");
        }
        catch (JsonException e)
        {
            throw Corrupt(name, owner, $"its JSON is invalid ({e.Message})", e);
        }
    }

    /// <summary>Writes what every MlNetSsl transformer saves first: its version info, its format version and its JSON record.</summary>
    public static void SaveRecord<T>(ModelSaveContext ctx, VersionInfo version, int format, string stream, T record)
    {
        ctx.CheckAtModel();
        ctx.SetVersionInfo(version);
        ctx.Writer.Write(format);
        SaveJson(ctx, stream, record);
    }

    /// <summary>Reads what <see cref="SaveRecord"/> wrote, checking both format versions against <paramref name="currentFormat"/>.</summary>
    /// <exception cref="InvalidDataException">The model part is newer than this code, damaged, or its record is unreadable.</exception>
    public static T LoadRecord<T>(ModelLoadContext ctx, VersionInfo version, int currentFormat, string stream, string owner, Func<T, int> formatOf)
    {
        ctx.CheckAtModel(version);
        RequireFormat(ctx.Reader.ReadInt32(), currentFormat, owner);
        T record = LoadJson<T>(ctx, stream, owner);
        RequireFormat(formatOf(record), currentFormat, owner);
        return record;
    }

    /// <summary>Writes <paramref name="module"/>'s weights as the stream <paramref name="stream"/>.</summary>
    public static void SaveWeights(ModelSaveContext ctx, string stream, torch.nn.Module module) =>
        SaveBlob(ctx, stream, ModuleState.ToBytes(module));

    /// <summary>Loads the weights stream into <paramref name="module"/> (built with the saved structure) and moves it to
    /// the device <see cref="SslEnvironment.SelectDevice"/> picks.</summary>
    /// <exception cref="InvalidDataException">The stream is damaged or does not fit the module.</exception>
    public static void LoadWeights(ModelLoadContext ctx, string stream, string owner, torch.nn.Module module, bool allowCuda)
    {
        ModuleState.Load(module, LoadBlob(ctx, stream, owner), $"The model stream '{stream}' of {owner}");
        torch.Device device = SslEnvironment.SelectDevice(allowCuda);
        if (device.type != DeviceType.CPU) module.to(device);
    }

    /// <summary>Checks a model part's format version against the newest this code reads.</summary>
    /// <exception cref="InvalidDataException">The format is newer (update the package) or invalid (a damaged file).</exception>
    public static void RequireFormat(int format, int current, string owner)
    {
        if (format > current)
            throw new InvalidDataException($"This model zip was written by a newer MlNetSsl ({owner}, model format {format}); this version " +
                $"reads formats up to {current}. Update the MlNetSsl package to load it.");
        if (format < 1)
            throw new InvalidDataException($"This model zip declares an invalid model format ({format}) for {owner}; the file is damaged.");
    }

    /// <summary>The JSON settings of every stream (<see cref="ModuleState.JsonDefaults"/>).</summary>
    public static JsonSerializerOptions JsonDefaults => ModuleState.JsonDefaults;

    private static InvalidDataException Corrupt(string name, string owner, string reason, Exception? inner = null) =>
        new($"The model stream '{name}' of {owner} is unreadable: {reason}. Save the model again or restore the file from a good copy.", inner);
}
