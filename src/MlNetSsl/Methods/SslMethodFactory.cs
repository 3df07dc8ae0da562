namespace MlNetSsl;

/// <summary>Creates <see cref="ISslMethod"/> instances by <see cref="SslMethod"/>.</summary>
public static class SslMethodFactory
{
    /// <summary>Creates <paramref name="method"/> on <paramref name="encoder"/>.</summary>
    /// <param name="method">The SSL method.</param>
    /// <param name="encoder">The encoder to pretrain; it stays owned by the caller.</param>
    /// <param name="options">
    /// Null for the method's defaults; the method's own options class (for example <see cref="SimClrOptions"/>);
    /// or a plain <see cref="SslMethodOptions"/> to set only the shared projection sizes.
    /// </param>
    /// <exception cref="ArgumentException">The method does not fit the encoder's input kind, or the options are for
    /// another method; the message says what to use instead.</exception>
    public static ISslMethod Create(SslMethod method, SslEncoder encoder, SslMethodOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        if (method is SslMethod.Scarf or SslMethod.Vime) RequireTabular(method, encoder);
        return method switch
        {
            SslMethod.SimClr => new SimClrMethod(encoder, OptionsFor<SimClrOptions>(method, options)),
            SslMethod.MoCoV2 => new MoCoV2Method(encoder, OptionsFor<MoCoV2Options>(method, options)),
            SslMethod.Byol => new ByolMethod(encoder, OptionsFor<ByolOptions>(method, options)),
            SslMethod.SimSiam => new SimSiamMethod(encoder, OptionsFor<SimSiamOptions>(method, options)),
            SslMethod.BarlowTwins => new BarlowTwinsMethod(encoder, OptionsFor<BarlowTwinsOptions>(method, options)),
            SslMethod.Vicreg => new VicregMethod(encoder, OptionsFor<VicregOptions>(method, options)),
            SslMethod.Scarf => new ScarfMethod(encoder, OptionsFor<ScarfOptions>(method, options)),
            SslMethod.Vime => new VimeMethod(encoder, OptionsFor<VimeOptions>(method, options)),
            SslMethod.MaskedAutoencoder => new MaskedAutoencoderMethod(encoder, OptionsFor<MaskedAutoencoderOptions>(method, options)),
            _ => throw new ArgumentOutOfRangeException(nameof(method), method, $"Unknown SSL method {method}."),
        };
    }

    /// <summary>The methods that can pretrain an encoder taking <paramref name="kind"/> input.</summary>
    /// <param name="kind">The input kind.</param>
    public static IReadOnlyList<SslMethod> MethodsFor(SslInputKind kind) =>
        Enum.GetValues<SslMethod>().Where(m => kind == SslInputKind.Tabular || m is not (SslMethod.Scarf or SslMethod.Vime)).ToArray();

    internal static SslEncoder RequireTabular(SslMethod method, SslEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        SslInputKind kind = encoder.InputShape.Kind;
        if (kind != SslInputKind.Tabular)
            throw new ArgumentException(
                $"SSL method {method} works on tabular rows only, but the encoder's input is {kind} ({encoder.InputShape}). " +
                $"For {kind} data use one of: {string.Join(", ", MethodsFor(kind))}.", nameof(encoder));
        return encoder;
    }

    private static T OptionsFor<T>(SslMethod method, SslMethodOptions? options) where T : SslMethodOptions, new()
    {
        switch (options)
        {
            case null:
                return new T();
            case T typed:
                return typed;
            default:
                if (options.GetType() != typeof(SslMethodOptions))
                    throw new ArgumentException(
                        $"SSL method {method} takes {typeof(T).Name} (or a plain SslMethodOptions), not {options.GetType().Name}.", nameof(options));
                var result = new T();
                options.CopySharedTo(result);
                return result;
        }
    }
}
