namespace MlNetSsl;

/// <summary>Creates <see cref="ISslMethod"/> instances by name through <see cref="SslMethodRegistry"/>.</summary>
public static class SslMethodFactory
{
    /// <summary>Creates the built-in <paramref name="method"/> on <paramref name="encoder"/>.</summary>
    /// <param name="method">The SSL method.</param>
    /// <param name="encoder">The encoder to pretrain; it stays owned by the caller.</param>
    /// <param name="options">
    /// Null for the method's defaults; the method's own options class (for example <see cref="SimClrOptions"/>);
    /// or a plain <see cref="SslMethodOptions"/> to set only the shared projection sizes.
    /// </param>
    /// <exception cref="ArgumentException">The method does not fit the encoder's input kind, or the options are for
    /// another method; the message says what to use instead.</exception>
    public static ISslMethod Create(SslMethod method, SslEncoder encoder, SslMethodOptions? options = null) =>
        SslMethodRegistry.Get(method).Create(encoder, options);

    /// <summary>Creates the registered method <paramref name="methodName"/> on <paramref name="encoder"/>.</summary>
    /// <param name="methodName">A built-in method's name or one registered with <see cref="SslMethodRegistry.Register"/>.</param>
    /// <param name="encoder">The encoder to pretrain; it stays owned by the caller.</param>
    /// <param name="options">Null for the defaults, or the method's options.</param>
    /// <exception cref="ArgumentException">No such method, it does not fit the encoder's input kind, or the options are for another method.</exception>
    public static ISslMethod Create(string methodName, SslEncoder encoder, SslMethodOptions? options = null) =>
        SslMethodRegistry.Get(methodName).Create(encoder, options);

    /// <summary>The built-in methods that can pretrain an encoder taking <paramref name="kind"/> input
    /// (<see cref="SslMethodRegistry.NamesFor"/> also lists registered ones).</summary>
    /// <param name="kind">The input kind.</param>
    public static IReadOnlyList<SslMethod> MethodsFor(SslInputKind kind) =>
        Enum.GetValues<SslMethod>().Where(m => SslMethodRegistry.Get(m).Supports(kind)).ToArray();
}
