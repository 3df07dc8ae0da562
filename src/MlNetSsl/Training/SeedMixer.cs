namespace MlNetSsl;

/// <summary>
/// SplitMix64 (Steele et al., 2014): the one seed mixer of the engine. Seeds derived from (seed, stream, index) alone,
/// well spread and the same on every platform and run, are what make pretraining and fine-tuning resume bitwise.
/// </summary>
internal static class SeedMixer
{
    /// <summary>The SplitMix64 output for state <paramref name="z"/>.</summary>
    public static ulong Finalize(ulong z)
    {
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>A non-negative seed from (<paramref name="seed"/>, <paramref name="stream"/>, <paramref name="index"/>).</summary>
    public static long Derive(int seed, long stream, long index) =>
        (long)(Finalize(unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)stream * 0xD1B54A32D192ED03UL + (ulong)index + 0x632BE59BD9B4E019UL))
            & 0x7FFFFFFFFFFFFFFFUL);
}
