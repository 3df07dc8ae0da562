using System.Globalization;

namespace MlNetSsl;

/// <summary>
/// How to build one SSL method by name: the options type its models save, the input kinds it applies to, its default
/// augmentation policy and the hyperparameter AutoML tunes. The stage, model persistence and the AutoML search read
/// methods from <see cref="SslMethodRegistry"/> only, so a registered method works everywhere a built-in one does.
/// </summary>
/// <remarks>Create one with <see cref="SslMethodRegistration{TOptions}"/>.</remarks>
public abstract class SslMethodRegistration
{
    private protected SslMethodRegistration(string name, Type optionsType)
    {
        if (string.IsNullOrWhiteSpace(name) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
            throw new ArgumentException(
                $"'{name}' is not a valid SSL method name: use ASCII letters, digits, '_', '-' or '.' (it is saved in model files).", nameof(name));
        Name = name;
        OptionsType = optionsType;
    }

    /// <summary>The method's name: what <see cref="SelfSupervisedOptions.MethodName"/>, model files and AutoML use.
    /// Names compare without regard to case.</summary>
    public string Name { get; }

    /// <summary>The method's options class (derived from <see cref="SslMethodOptions"/>), which saved models record.</summary>
    public Type OptionsType { get; }

    /// <summary>Whether the method can pretrain an encoder reading <paramref name="kind"/> rows.</summary>
    /// <param name="kind">The input kind.</param>
    public abstract bool Supports(SslInputKind kind);

    /// <summary>Creates the method on <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The encoder to pretrain; it stays owned by the caller.</param>
    /// <param name="options">Null for the defaults; an instance of <see cref="OptionsType"/>; or a plain
    /// <see cref="SslMethodOptions"/> to set only the shared projection sizes.</param>
    /// <exception cref="ArgumentException">The encoder's input kind is not supported, or the options are of another type.</exception>
    public abstract ISslMethod Create(SslEncoder encoder, SslMethodOptions? options = null);

    /// <summary>The augmentation policy the method uses when the caller sets none.</summary>
    /// <param name="shape">The rows' shape (kind, image size, channels).</param>
    public abstract AugmentationPolicy DefaultAugmentations(SslInputShape shape);

    /// <summary>
    /// The method's options with its key hyperparameter scaled by <paramref name="scale"/> (a log-scale knob that
    /// AutoML searches; 1 gives the defaults).
    /// </summary>
    /// <param name="scale">A multiplier in [<see cref="MinSearchScale"/>, <see cref="MaxSearchScale"/>].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="scale"/> is outside that range, where the options
    /// would be ones the method refuses.</exception>
    public abstract SslMethodOptions SearchOptions(double scale);

    /// <summary>The smallest scale <see cref="SearchOptions"/> accepts: below it the key hyperparameter leaves the range
    /// the method accepts (SimCLR's temperature, 0.5 x scale, must be at least 0.001, so 0.002). AutoML refuses a search
    /// space whose scale range reaches below it for a method it can choose, before any trial. Default 0: any positive
    /// scale.</summary>
    public double MinSearchScale { get; init; }

    /// <summary>The largest scale <see cref="SearchOptions"/> accepts (BYOL's base momentum, 1 - 0.01 x scale, must stay at
    /// or above 0, so 100). Default infinity: any finite scale.</summary>
    public double MaxSearchScale { get; init; } = double.PositiveInfinity;

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// A method registration built from delegates: a name, a constructor and, optionally, the input kinds, the default
/// augmentations and the AutoML knob.
/// </summary>
/// <typeparam name="TOptions">The method's options class; it must serialize to JSON (public settable properties).</typeparam>
/// <example><code>
/// SslMethodRegistry.Register(new SslMethodRegistration&lt;MyOptions&gt;("MyMethod", (encoder, options) => new MyMethod(encoder, options))
/// {
///     SearchKnob = (options, scale) => options.Temperature *= scale,
/// });
/// </code></example>
public sealed class SslMethodRegistration<TOptions> : SslMethodRegistration where TOptions : SslMethodOptions, new()
{
    private static readonly SslInputKind[] AllKinds = Enum.GetValues<SslInputKind>();
    private readonly Func<SslEncoder, TOptions, ISslMethod> _create;

    /// <summary>Registers nothing yet: pass the result to <see cref="SslMethodRegistry.Register"/>.</summary>
    /// <param name="name">The method's name (ASCII letters, digits, '_', '-', '.').</param>
    /// <param name="create">Builds the method on an encoder with resolved options (never null).</param>
    public SslMethodRegistration(string name, Func<SslEncoder, TOptions, ISslMethod> create) : base(name, typeof(TOptions))
    {
        _create = create ?? throw new ArgumentNullException(nameof(create));
    }

    /// <summary>The input kinds the method applies to. Default: every kind.</summary>
    public IReadOnlyList<SslInputKind> InputKinds { get; init; } = AllKinds;

    /// <summary>The default augmentation policy per input shape. Default null:
    /// <see cref="MlNetSsl.DefaultAugmentations.TwoView(SslInputShape, bool)"/>, the two-view recipe of SimCLR and SCARF.</summary>
    public Func<SslInputShape, AugmentationPolicy>? Augmentations { get; init; }

    /// <summary>Applies AutoML's log-scale multiplier to default options (see <see cref="SearchOptions"/>). Default
    /// null: the method has no searched hyperparameter, so every scale gives the defaults.</summary>
    public Action<TOptions, double>? SearchKnob { get; init; }

    /// <inheritdoc />
    public override bool Supports(SslInputKind kind) => InputKinds.Contains(kind);

    /// <inheritdoc />
    public override ISslMethod Create(SslEncoder encoder, SslMethodOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        SslInputKind kind = encoder.InputShape.Kind;
        if (!Supports(kind))
            throw new ArgumentException(
                $"SSL method {Name} does not work on {kind} inputs (the encoder reads {encoder.InputShape}). " +
                $"For {kind} data use one of: {string.Join(", ", SslMethodRegistry.NamesFor(kind))}.", nameof(encoder));
        return _create(encoder, Resolve(options));
    }

    /// <inheritdoc />
    public override AugmentationPolicy DefaultAugmentations(SslInputShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!Supports(shape.Kind))
            throw new ArgumentException($"SSL method {Name} does not work on {shape.Kind} inputs, so it has no augmentation policy for them.", nameof(shape));
        return Augmentations?.Invoke(shape) ?? MlNetSsl.DefaultAugmentations.TwoView(shape);
    }

    /// <inheritdoc />
    public override SslMethodOptions SearchOptions(double scale)
    {
        if (!(scale > 0) || !double.IsFinite(scale))
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The method scale must be a positive number.");
        if (scale < MinSearchScale || scale > MaxSearchScale)
            throw new ArgumentOutOfRangeException(nameof(scale), scale, string.Create(CultureInfo.InvariantCulture,
                $"SSL method {Name} takes a method scale in [{MinSearchScale}, {MaxSearchScale}]: outside it the hyperparameter the scale multiplies is one the method refuses."));
        var options = new TOptions();
        SearchKnob?.Invoke(options, scale);
        return options;
    }

    private TOptions Resolve(SslMethodOptions? options)
    {
        switch (options)
        {
            case null:
                return new TOptions();
            case TOptions typed:
                return typed;
            default:
                if (options.GetType() != typeof(SslMethodOptions))
                    throw new ArgumentException(
                        $"SSL method {Name} takes {typeof(TOptions).Name} (or a plain SslMethodOptions), not {options.GetType().Name}.", nameof(options));
                var result = new TOptions();
                options.CopySharedTo(result);
                return result;
        }
    }
}

/// <summary>
/// The SSL methods this process knows, by name: the nine built-in ones (the names of <see cref="SslMethod"/>) and any
/// registered at start-up. Register a method before fitting or loading a model that uses it.
/// </summary>
public static class SslMethodRegistry
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, SslMethodRegistration> ByName = new(StringComparer.OrdinalIgnoreCase);
    private static readonly List<SslMethodRegistration> InOrder = [];

    static SslMethodRegistry()
    {
        // Enum order, so AutoML's choice lists stay the same from run to run.
        SslMethodRegistration[] builtIn =
        [
            SimClrMethod.Registration, MoCoV2Method.Registration, ByolMethod.Registration, SimSiamMethod.Registration,
            BarlowTwinsMethod.Registration, VicregMethod.Registration, ScarfMethod.Registration, VimeMethod.Registration,
            MaskedAutoencoderMethod.Registration,
        ];
        foreach (SslMethodRegistration registration in builtIn) Add(registration);
    }

    /// <summary>Every registered method: the built-in ones in <see cref="SslMethod"/> order, then the others in
    /// registration order.</summary>
    public static IReadOnlyList<SslMethodRegistration> All
    {
        get
        {
            lock (Gate) return InOrder.ToArray();
        }
    }

    /// <summary>Adds a method. Registering the same instance again does nothing.</summary>
    /// <param name="registration">The method's registration.</param>
    /// <exception cref="InvalidOperationException">Another method already has this name (names ignore case).</exception>
    public static void Register(SslMethodRegistration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        lock (Gate)
        {
            if (ByName.TryGetValue(registration.Name, out SslMethodRegistration? existing))
            {
                if (ReferenceEquals(existing, registration)) return;
                throw new InvalidOperationException(
                    $"An SSL method named '{existing.Name}' is already registered (options {existing.OptionsType.Name}); choose another name.");
            }
            Add(registration);
        }
    }

    /// <summary>The method registered as <paramref name="name"/>.</summary>
    /// <param name="name">The method's name (case is ignored).</param>
    /// <exception cref="ArgumentException">No method has that name; the message lists the registered ones.</exception>
    public static SslMethodRegistration Get(string name) =>
        TryGet(name, out SslMethodRegistration? registration)
            ? registration
            : throw new ArgumentException(
                $"No SSL method named '{name}' is registered in this process. Registered: {string.Join(", ", All.Select(r => r.Name))}. " +
                "A method of your own must be registered with SslMethodRegistry.Register before a model that uses it is fitted or loaded.", nameof(name));

    /// <summary>The built-in method <paramref name="method"/>.</summary>
    /// <param name="method">A built-in method.</param>
    public static SslMethodRegistration Get(SslMethod method) =>
        Enum.IsDefined(method) ? Get(method.ToString()) : throw new ArgumentOutOfRangeException(nameof(method), method, $"Unknown SSL method {method}.");

    /// <summary>Looks a method up by name.</summary>
    /// <param name="name">The method's name (case is ignored).</param>
    /// <param name="registration">The registration, or null.</param>
    public static bool TryGet(string? name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SslMethodRegistration? registration)
    {
        registration = null;
        if (name is null) return false;
        lock (Gate) return ByName.TryGetValue(name, out registration);
    }

    /// <summary>The names of the methods that can pretrain on <paramref name="kind"/> rows, in <see cref="All"/> order.</summary>
    /// <param name="kind">The input kind.</param>
    public static IReadOnlyList<string> NamesFor(SslInputKind kind) => All.Where(r => r.Supports(kind)).Select(r => r.Name).ToArray();

    private static void Add(SslMethodRegistration registration)
    {
        ByName.Add(registration.Name, registration);
        InOrder.Add(registration);
    }
}
