using TorchSharp;

namespace MlNetSsl;

/// <summary>
/// TorchSharp scalars that stay alive until the native call they are passed to has read them. Use them in a custom
/// method, encoder or augmentation wherever a number goes into a TorchSharp call: <c>x.mul(Held(0.5))</c>, not
/// <c>x * 0.5</c>; <c>a.add(b, One)</c>, not <c>a + b</c>.
/// </summary>
/// <remarks>
/// TorchSharp hands libtorch a <see cref="Scalar"/>'s native pointer and does not keep the managed object alive through
/// the call, so a Scalar made implicitly (<c>x.mul(0.5)</c>, the alpha of 1 in <c>a + b</c> or <c>add_(s)</c>) can be
/// collected and finalized while libtorch still reads it, whenever another thread's allocation starts a garbage
/// collection mid-call. libtorch then reads freed memory: "Expected false to be true", "Unknown scalar type", or a
/// crash. A background thread that allocates makes a loop of such calls fail within a second
/// (tests/MlNetSsl.Tests/Training/ScalarLifetimeTests.cs). The engine therefore passes only the constants below (never
/// collected) or scalars from <see cref="Held(double)"/>, which the calling thread keeps referenced until it has made
/// <see cref="Kept"/> more (then disposes, without the finalizer): pass them straight into the call, never store one.
/// </remarks>
public static class HeldScalars
{
    /// <summary>1 as a 64-bit integer: the alpha of a plain add, valid for integer and floating tensors.</summary>
    public static readonly Scalar One;

    /// <summary>0 as a 64-bit integer.</summary>
    public static readonly Scalar Zero;

    /// <summary>-1 as a 64-bit integer: the alpha of a subtraction.</summary>
    public static readonly Scalar MinusOne;

    static HeldScalars()
    {
        // Making a scalar loads libtorch; the environment must patch and configure it first.
        SslEnvironment.EnsureInitialized();
        One = 1L.ToScalar();
        Zero = 0L.ToScalar();
        MinusOne = (-1L).ToScalar();
    }

    /// <summary>How many of its latest held scalars a thread keeps alive (TorchSharp's dispose scopes take tensors only):
    /// 64.</summary>
    public const int Kept = 64;

    [ThreadStatic]
    private static Queue<Scalar>? t_kept;

    /// <summary>A floating-point scalar, alive until this thread has made <see cref="Kept"/> more.</summary>
    public static Scalar Held(double value) => Keep(value.ToScalar());

    /// <summary>An integer scalar, alive until this thread has made <see cref="Kept"/> more.</summary>
    public static Scalar Held(long value) => Keep(value.ToScalar());

    private static Scalar Keep(Scalar scalar)
    {
        // This thread's earlier calls have all returned, so its oldest kept scalar is read by no one any more.
        Queue<Scalar> kept = t_kept ??= new Queue<Scalar>();
        kept.Enqueue(scalar);
        if (kept.Count > Kept) kept.Dequeue().Dispose();
        return scalar;
    }
}
