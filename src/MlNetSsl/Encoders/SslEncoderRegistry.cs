namespace MlNetSsl;

/// <summary>
/// An encoder of your own, by name: how to build it for an input shape from <see cref="EncoderOptions"/>, and the input
/// kinds it reads. Register it with <see cref="SslEncoderRegistry.Register"/>, then set <see cref="EncoderOptions.Name"/>
/// (in <see cref="SelfSupervisedOptions.EncoderOptions"/>): the stage, model files and fine-tuning build it by that name.
/// </summary>
public sealed class SslEncoderRegistration
{
    private readonly Func<SslInputShape, EncoderOptions, SslEncoder> _create;

    /// <summary>Registers nothing yet: pass the result to <see cref="SslEncoderRegistry.Register"/>.</summary>
    /// <param name="name">The encoder's name (ASCII letters, digits, '_', '-', '.'); saved in model files.</param>
    /// <param name="create">Builds the encoder for a shape with options whose <see cref="EncoderOptions.Name"/> is this name.
    /// The encoder should hand the options to <see cref="SslEncoder(string, SslInputShape, EncoderOptions)"/>, so it can
    /// be rebuilt for fine-tuning.</param>
    /// <param name="inputKinds">The input kinds it reads.</param>
    public SslEncoderRegistration(string name, Func<SslInputShape, EncoderOptions, SslEncoder> create, params SslInputKind[] inputKinds)
    {
        if (string.IsNullOrWhiteSpace(name) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
            throw new ArgumentException($"'{name}' is not a valid encoder name: use ASCII letters, digits, '_', '-' or '.'.", nameof(name));
        if (Enum.TryParse<EncoderKind>(name, ignoreCase: true, out _))
            throw new ArgumentException($"'{name}' is a built-in EncoderKind; choose another name.", nameof(name));
        ArgumentNullException.ThrowIfNull(inputKinds);
        if (inputKinds.Length == 0) throw new ArgumentException("Name at least one input kind the encoder reads.", nameof(inputKinds));
        Name = name;
        _create = create ?? throw new ArgumentNullException(nameof(create));
        InputKinds = inputKinds.Distinct().ToArray();
    }

    /// <summary>The encoder's name.</summary>
    public string Name { get; }

    /// <summary>The input kinds it reads.</summary>
    public IReadOnlyList<SslInputKind> InputKinds { get; }

    internal SslEncoder Create(SslInputShape shape, EncoderOptions options)
    {
        if (!InputKinds.Contains(shape.Kind))
            throw new ArgumentException(
                $"Encoder {Name} reads {string.Join(" or ", InputKinds)} inputs, not {shape.Kind} ({shape}).", nameof(shape));
        SslEncoder encoder = _create(shape, options);
        if (!encoder.InputShape.Equals(shape))
        {
            encoder.Dispose();
            throw new InvalidOperationException($"Encoder {Name} was asked for {shape} rows but reads {encoder.InputShape}.");
        }
        return encoder;
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>The encoders registered by the application, by name (the built-in ones are chosen by <see cref="EncoderKind"/>).</summary>
public static class SslEncoderRegistry
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, SslEncoderRegistration> ByName = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The registered encoders.</summary>
    public static IReadOnlyList<SslEncoderRegistration> All
    {
        get
        {
            lock (Gate) return ByName.Values.ToArray();
        }
    }

    /// <summary>Adds an encoder. Registering the same instance again does nothing.</summary>
    /// <exception cref="InvalidOperationException">Another encoder already has this name (names ignore case).</exception>
    public static void Register(SslEncoderRegistration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        lock (Gate)
        {
            if (ByName.TryGetValue(registration.Name, out SslEncoderRegistration? existing))
            {
                if (ReferenceEquals(existing, registration)) return;
                throw new InvalidOperationException($"An encoder named '{existing.Name}' is already registered; choose another name.");
            }
            ByName.Add(registration.Name, registration);
        }
    }

    /// <summary>The encoder registered as <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No encoder has that name; the message says how to register it.</exception>
    public static SslEncoderRegistration Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (Gate)
        {
            if (ByName.TryGetValue(name, out SslEncoderRegistration? registration)) return registration;
        }
        throw new ArgumentException(
            $"No encoder named '{name}' is registered in this process. Registered: {(All.Count == 0 ? "none" : string.Join(", ", All.Select(r => r.Name)))}. " +
            "An encoder of your own must be registered with SslEncoderRegistry.Register before a model that uses it is fitted or loaded.", nameof(name));
    }
}
