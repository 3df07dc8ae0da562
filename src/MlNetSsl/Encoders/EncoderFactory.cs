namespace MlNetSsl;

/// <summary>Builds the encoder that <see cref="EncoderOptions"/> describe for an input shape: a built-in one by
/// <see cref="EncoderOptions.Kind"/>, or a registered one by <see cref="EncoderOptions.Name"/>.</summary>
public static class EncoderFactory
{
    /// <summary>Creates an encoder for rows of <paramref name="shape"/>.</summary>
    /// <param name="shape">Shape of one input row.</param>
    /// <param name="options">Architecture settings; null uses the defaults.</param>
    /// <exception cref="ArgumentException">The options do not fit the input; the message names the option.</exception>
    public static SslEncoder Create(SslInputShape shape, EncoderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        options ??= new EncoderOptions();
        options.Validate(shape);
        SslEnvironment.EnsureInitialized();
        if (options.Name is { } name) return SslEncoderRegistry.Get(name).Create(shape, options.Clone());
        return options.ResolveKind(shape.Kind) switch
        {
            EncoderKind.ConvNet => new ConvNetEncoder(shape, options),
            EncoderKind.ResNet => new ResNetEncoder(shape, options),
            EncoderKind.Mlp => new MlpEncoder(shape, options),
            EncoderKind.ResMlp => new ResMlpEncoder(shape, options),
            EncoderKind.Conv1d => new Conv1dEncoder(shape, options),
            var k => throw new ArgumentException($"EncoderOptions.Kind = {k} is not supported.", nameof(options)),
        };
    }
}
