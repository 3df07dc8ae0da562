using Xunit;

namespace MlNetSsl.Tests.Infrastructure;

/// <summary>
/// Tests that measure the whole process (resident memory) run alone: xunit runs this collection after the
/// parallel ones, with nothing else in the process allocating.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    /// <summary>The collection name.</summary>
    public const string Name = "Serial (process-wide measurements)";
}
