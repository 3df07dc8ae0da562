using MlNetSsl.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Augmentations;

/// <summary>Real batches and seeded contexts for augmentation tests.</summary>
internal static class AugmentationTestData
{
    /// <summary>Every public concrete augmentation, as the policy JSON resolver sees them.</summary>
    public static Type[] AllTypes { get; } = typeof(Augmentation).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(Augmentation)) && !t.IsAbstract && t.IsPublic)
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToArray();

    public static Augmentation Create(string typeName, double strength = 1.0)
    {
        var augmentation = (Augmentation)Activator.CreateInstance(AllTypes.Single(t => t.Name == typeName))!;
        augmentation.Strength = strength;
        return augmentation;
    }

    /// <summary>A real batch for the kind: 60 CIFAR-10 images, 128 HIGGS rows, or the 40 BasicMotions series.</summary>
    public static Tensor Batch(SslInputKind kind) => kind switch
    {
        SslInputKind.Image => RealData.CifarImages(6).Images,
        SslInputKind.Tabular => RealData.Higgs(128, "test").Features,
        _ => RealData.BasicMotions().Series,
    };

    public static SslInputShape ShapeOf(Tensor batch, SslInputKind kind) => kind switch
    {
        SslInputKind.Image => SslInputShape.Image((int)batch.shape[1], (int)batch.shape[2], (int)batch.shape[3]),
        SslInputKind.Tabular => SslInputShape.Tabular((int)batch.shape[1]),
        _ => SslInputShape.Series((int)batch.shape[1], (int)batch.shape[2]),
    };

    /// <summary>A context with a fresh generator on the batch's device.</summary>
    public static AugmentationContext Context(Tensor batch, SslInputKind kind, ulong seed, Tensor? bank = null) =>
        new(new Generator(seed, batch.device), ShapeOf(batch, kind), bank);

    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && (a == b).all().item<bool>();

    public static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();
}
