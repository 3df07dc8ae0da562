using TorchSharp;

namespace MlNetSsl;

/// <summary>
/// Builds modules from a seed. libtorch initializes weights from one process-wide generator, so two threads
/// building models at once would interleave their draws; holding one lock while seeding and building keeps every
/// model's initial weights a function of its seed alone.
/// </summary>
internal static class SeededModules
{
    private static readonly object Gate = new();

    /// <summary>Seeds libtorch's global generator with <paramref name="seed"/> and runs <paramref name="build"/> under the lock.</summary>
    public static T Create<T>(int seed, Func<T> build)
    {
        SslEnvironment.EnsureInitialized();
        lock (Gate)
        {
            torch.manual_seed(seed);
            return build();
        }
    }
}
