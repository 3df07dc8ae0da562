using System.Text.Json;
using TorchSharp;

namespace MlNetSsl;

/// <summary>
/// A module's parameters and buffers as bytes in TorchSharp's format, and the JSON settings of everything MlNetSsl
/// stores. Checkpoints, fine-tuning snapshots and the ML.NET model streams all use these, so there is one byte format.
/// </summary>
internal static class ModuleState
{
    /// <summary>JSON settings for everything MlNetSsl stores: readable, stable, enums by name.</summary>
    public static readonly JsonSerializerOptions JsonDefaults = new()
    {
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    /// <summary>The parameters and buffers of <paramref name="module"/> (CPU copies; the module keeps its device).</summary>
    public static byte[] ToBytes(torch.nn.Module module)
    {
        using var memory = new MemoryStream();
        using (var writer = new BinaryWriter(memory, System.Text.Encoding.UTF8, leaveOpen: true))
            module.save(writer);
        return memory.ToArray();
    }

    /// <summary>Loads parameters and buffers into <paramref name="module"/>, which must have the saved structure.</summary>
    /// <param name="module">The module to fill.</param>
    /// <param name="bytes">Bytes from <see cref="ToBytes"/>.</param>
    /// <param name="source">What the bytes are (a model stream, a checkpoint), for the message.</param>
    /// <exception cref="InvalidDataException">The bytes do not fit the module's structure.</exception>
    public static void Load(torch.nn.Module module, byte[] bytes, string source)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(bytes, writable: false));
            module.load(reader, strict: true);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or EndOfStreamException or IOException)
        {
            throw new InvalidDataException(
                $"{source} is unreadable: its weights do not fit the model's structure ({e.Message}). Save the model again or restore the file from a good copy.", e);
        }
    }
}
