using Xunit;

namespace MlNetSsl.Tests.Persistence;

/// <summary>Every file the library writes goes through <see cref="AtomicFile"/>: never a partial target, never a leftover temporary.</summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-atomic-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [SkippableFact]
    public void AWriterThatThrowsMidWriteLeavesNeitherTargetNorTemporary()
    {
        string target = Path.Combine(_folder, "state.bin");
        Assert.Throws<IOException>(() => AtomicFile.Write(target, stream =>
        {
            stream.Write(new byte[4096]);
            throw new IOException("disk full");
        }));
        Assert.Empty(Directory.GetFiles(_folder));

        // Over an existing file: the old content stays whole.
        AtomicFile.WriteAllText(target, "previous");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(target, stream =>
        {
            stream.Write("half of the n"u8);
            throw new InvalidOperationException("serializer failed");
        }));
        Assert.Equal("previous", File.ReadAllText(target));
        Assert.Equal([target], Directory.GetFiles(_folder));
    }

    [SkippableFact]
    public async Task ConcurrentWritersOfOneTargetNeverLeaveATornFile()
    {
        string target = Path.Combine(_folder, "journal.json");
        const int length = 256 * 1024, writers = 4, rounds = 25;
        AtomicFile.WriteAllBytes(target, Filled(0, length));
        using var done = new CancellationTokenSource();
        using var readerStarted = new ManualResetEventSlim();
        int reads = 0;
        // A reader sees only whole files: one writer's bytes from start to end. Writers start once it has read, so on a
        // loaded machine the check cannot end before the reader ran at all.
        Task reader = Task.Factory.StartNew(() =>
        {
            do
            {
                byte[] seen = File.ReadAllBytes(target);
                Assert.Equal(length, seen.Length);
                Assert.True(seen.All(b => b == seen[0]), "a torn file was read");
                reads++;
                readerStarted.Set();
            }
            while (!done.IsCancellationRequested);
        }, TaskCreationOptions.LongRunning);
        Assert.True(readerStarted.Wait(TimeSpan.FromMinutes(1)), "the reader did not start");
        Task[] tasks = Enumerable.Range(1, writers).Select(w => Task.Factory.StartNew(() =>
        {
            for (int round = 0; round < rounds; round++)
                AtomicFile.Write(target, stream =>
                {
                    // Written in pieces, so interleaved writers into one temporary file would mix their bytes.
                    byte[] content = Filled((byte)w, length);
                    for (int offset = 0; offset < length; offset += 4096) stream.Write(content, offset, 4096);
                });
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(tasks);
        await done.CancelAsync();
        await reader;

        byte[] final = File.ReadAllBytes(target);
        Assert.InRange(final[0], (byte)1, (byte)writers);
        Assert.True(final.All(b => b == final[0]), "the final file is torn");
        Assert.True(reads > 0, "the reader never read");
        Assert.Equal([target], Directory.GetFiles(_folder));
    }

    [SkippableFact]
    public void StaleTemporariesOfADeadWriterAreRemovedAndALiveWritersAreKept()
    {
        string target = Path.Combine(_folder, "pretraining.ckpt");
        string Old(string name)
        {
            string path = Path.Combine(_folder, name);
            File.WriteAllText(path, "partial");
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow - AtomicFile.StaleAfter - TimeSpan.FromMinutes(5));
            return path;
        }
        string dead = Old($"pretraining.ckpt.{Guid.NewGuid():N}.tmp");
        string deadEarlierVersion = Old("pretraining.ckpt.4242.tmp");
        string unrelated = Old("notes.txt.tmp"); // not a temporary of this target
        string live = Path.Combine(_folder, $"pretraining.ckpt.{Guid.NewGuid():N}.tmp"); // another process is writing it now
        File.WriteAllText(live, "in progress");

        AtomicFile.WriteAllText(target, "whole");

        Assert.False(File.Exists(dead));
        Assert.False(File.Exists(deadEarlierVersion));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(unrelated));
        Assert.Equal("whole", File.ReadAllText(target));
    }

    [SkippableFact]
    public void ACopyIsWholeOrAbsent()
    {
        string source = Path.Combine(_folder, "snapshot.ckpt"), copy = Path.Combine(_folder, "work", "snapshot.ckpt");
        File.WriteAllBytes(source, Filled(7, 100_000));
        AtomicFile.Copy(source, copy);
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(copy));

        Assert.Throws<FileNotFoundException>(() => AtomicFile.Copy(Path.Combine(_folder, "missing"), Path.Combine(_folder, "work", "other")));
        Assert.Equal([copy], Directory.GetFiles(Path.Combine(_folder, "work")));
    }

    private static byte[] Filled(byte value, int length)
    {
        var bytes = new byte[length];
        Array.Fill(bytes, value);
        return bytes;
    }
}
