using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MlNetSsl;

/// <summary>
/// A pretraining checkpoint: module state (encoder, heads, targets, queues), optimizer state, the epoch and step
/// reached, and the history so far. Written through <see cref="AtomicFile"/>, so a crash never leaves a half-written
/// checkpoint; a SHA-256 guards against damaged files.
/// </summary>
internal sealed class PretrainingCheckpoint
{
    public const string FileName = "pretraining.ckpt";
    private const string Magic = "MSSLCKPT";
    private const int FormatVersion = 1;

    public required string Fingerprint { get; init; }
    public required int CompletedEpochs { get; init; }
    public required long Step { get; init; }
    public required List<SslEpochRecord> History { get; init; }
    public required byte[] ModuleState { get; init; }
    public required byte[] OptimizerState { get; init; }

    public static string PathIn(string directory) => Path.Combine(directory, FileName);

    public void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        using var payload = new MemoryStream();
        using (var writer = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Fingerprint);
            writer.Write(CompletedEpochs);
            writer.Write(Step);
            writer.Write(JsonSerializer.Serialize(History, MlNetSsl.ModuleState.JsonDefaults));
            WriteBytes(writer, ModuleState);
            WriteBytes(writer, OptimizerState);
        }
        byte[] body = payload.ToArray();

        AtomicFile.Write(PathIn(directory), file =>
        {
            using var writer = new BinaryWriter(file, Encoding.UTF8, leaveOpen: true);
            writer.Write(Encoding.ASCII.GetBytes(Magic));
            writer.Write(FormatVersion);
            writer.Write(SHA256.HashData(body));
            WriteBytes(writer, body);
        });
    }

    /// <summary>Reads the checkpoint in <paramref name="directory"/>, or returns null if there is none.</summary>
    /// <exception cref="InvalidDataException">The file exists but is damaged or from a newer format.</exception>
    public static PretrainingCheckpoint? TryRead(string directory)
    {
        string path = PathIn(directory);
        // The next run clears what a killed one left, even when it has nothing left to train (and so writes nothing).
        AtomicFile.RemoveStaleTemporaries(path, AtomicFile.StaleAfter);
        if (!File.Exists(path)) return null;
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            if (Encoding.ASCII.GetString(reader.ReadBytes(Magic.Length)) != Magic)
                throw new InvalidDataException($"{path} is not an MlNetSsl pretraining checkpoint.");
            int version = reader.ReadInt32();
            if (version > FormatVersion)
                throw new InvalidDataException($"{path} was written by a newer MlNetSsl (checkpoint format {version}; this version reads up to {FormatVersion}).");
            byte[] hash = reader.ReadBytes(32);
            byte[] body = ReadBytes(reader);
            if (!SHA256.HashData(body).AsSpan().SequenceEqual(hash))
                throw new InvalidDataException($"{path} is damaged (checksum mismatch). Delete it to restart pretraining from scratch.");
            using var bodyReader = new BinaryReader(new MemoryStream(body));
            return new PretrainingCheckpoint
            {
                Fingerprint = bodyReader.ReadString(),
                CompletedEpochs = bodyReader.ReadInt32(),
                Step = bodyReader.ReadInt64(),
                History = JsonSerializer.Deserialize<List<SslEpochRecord>>(bodyReader.ReadString(), MlNetSsl.ModuleState.JsonDefaults) ?? [],
                ModuleState = ReadBytes(bodyReader),
                OptimizerState = ReadBytes(bodyReader),
            };
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path} is truncated. Delete it to restart pretraining from scratch.", e);
        }
    }

    private static void WriteBytes(BinaryWriter writer, byte[] bytes)
    {
        writer.Write(bytes.Length);
        writer.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader reader)
    {
        int length = reader.ReadInt32();
        if (length < 0 || length > reader.BaseStream.Length - reader.BaseStream.Position)
            throw new EndOfStreamException();
        return reader.ReadBytes(length);
    }
}
