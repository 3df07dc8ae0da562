using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// Options shared by every SSL method. Each method has its own subclass (for example <see cref="SimClrOptions"/>)
/// whose defaults are the paper's hyperparameters scaled for short CPU runs; a plain <see cref="SslMethodOptions"/>
/// passed to <see cref="SslMethodFactory.Create(SslMethod, SslEncoder, SslMethodOptions?)"/> sets only the shared values and keeps the method's defaults.
/// </summary>
public class SslMethodOptions
{
    /// <summary>Width of the projection head's hidden layers; null means the method's default.</summary>
    public int? ProjectionHiddenSize { get; set; }

    /// <summary>Size of the projection the loss is computed on; null means the method's default.</summary>
    public int? ProjectionSize { get; set; }

    internal int ResolveHidden(int methodDefault) => Positive(ProjectionHiddenSize ?? methodDefault, nameof(ProjectionHiddenSize));

    internal int ResolveProjection(int methodDefault) => Positive(ProjectionSize ?? methodDefault, nameof(ProjectionSize));

    internal static int Positive(int value, string name) =>
        value > 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");

    internal static double Positive(double value, string name) =>
        value > 0 && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be a positive number.");

    /// <summary>The smallest softmax temperature accepted. The losses divide cosine similarities (or logits) by it in
    /// float32: 1e-38 overflows them (an infinite loss), 1e-40 gives a NaN loss, and no published setting is below 0.01.</summary>
    internal const double MinTemperature = 1e-3;

    internal static double CheckTemperature(double value, string name) =>
        value >= MinTemperature && double.IsFinite(value) ? value
            : throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number of at least 0.001 (typical values are 0.05 to 2): " +
                "the logits are divided by it, and a smaller one overflows float32 into an infinite or NaN loss.");

    internal static double InRange(double value, double min, double max, string name) =>
        value >= min && value <= max ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [{min}, {max}].");

    internal void CopySharedTo(SslMethodOptions target)
    {
        target.ProjectionHiddenSize = ProjectionHiddenSize;
        target.ProjectionSize = ProjectionSize;
    }
}

/// <summary>
/// Common plumbing of the SSL methods: the method is itself a TorchSharp module whose children are the encoder, the
/// heads and any momentum target, so one <c>state_dict</c> is a complete checkpoint.
/// </summary>
/// <remarks>
/// The method does not own the encoder: disposing the method releases its heads, targets and buffers but leaves the
/// encoder usable, because the encoder is the product the caller keeps after pretraining.
/// </remarks>
public abstract class SslMethodBase : nn.Module, ISslMethod
{
    private readonly SslMethodOptions? _options;
    private bool _disposed;

    /// <summary>Registers <paramref name="encoder"/> as the submodule <c>encoder</c>.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="encoder">The encoder to pretrain.</param>
    protected SslMethodBase(string name, SslEncoder encoder) : this(name, encoder, null)
    {
    }

    /// <summary>Registers <paramref name="encoder"/> as the submodule <c>encoder</c> and keeps the method's options.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="encoder">The encoder to pretrain.</param>
    /// <param name="options">The instance the method trains with, returned by <see cref="ISslMethod.Options"/>.</param>
    protected SslMethodBase(string name, SslEncoder encoder, SslMethodOptions? options) : base(name)
    {
        Encoder = encoder ?? throw new ArgumentNullException(nameof(encoder));
        _options = options;
        register_module("encoder", encoder);
    }

    /// <inheritdoc />
    public abstract string MethodName { get; }

    /// <inheritdoc />
    public SslEncoder Encoder { get; }

    /// <inheritdoc />
    public nn.Module Module => this;

    // Explicit: each method exposes its options under the same name with their own type.
    SslMethodOptions? ISslMethod.Options => _options;

    /// <summary>The device the encoder's parameters live on; heads, buffers and random draws use it too.</summary>
    public Device Device => Encoder.parameters().FirstOrDefault()?.device ?? torch.CPU;

    /// <summary>
    /// Every parameter that requires a gradient. Momentum targets are stored as buffers, never as parameters, so
    /// they are not in this list.
    /// </summary>
    public virtual IEnumerable<Parameter> TrainableParameters() => parameters().Where(p => p.requires_grad);

    /// <inheritdoc />
    public abstract Tensor ComputeLoss(Tensor batch, ViewGenerator views);

    /// <summary>Nothing to do by default; methods with momentum targets or queues override it.</summary>
    /// <param name="step">Zero-based index of the step just taken.</param>
    /// <param name="totalSteps">Steps in the whole run.</param>
    public virtual void AfterOptimizerStep(long step, long totalSteps)
    {
    }

    /// <summary>Moves <paramref name="head"/> to the encoder's device and registers it under <paramref name="name"/>.</summary>
    /// <typeparam name="T">Module type.</typeparam>
    /// <param name="name">Submodule name (part of checkpoint keys).</param>
    /// <param name="head">The head.</param>
    protected T AddHead<T>(string name, T head) where T : nn.Module
    {
        head.to(Device);
        register_module(name, head);
        return head;
    }

    /// <summary>Returns <paramref name="encoder"/> when it reads tabular rows; for methods that only work on them.</summary>
    /// <param name="method">The method's name, for the message.</param>
    /// <param name="encoder">The encoder to pretrain.</param>
    /// <exception cref="ArgumentException">The encoder reads images or series; the message lists the methods that fit.</exception>
    private protected static SslEncoder RequireTabular(string method, SslEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        SslInputKind kind = encoder.InputShape.Kind;
        if (kind != SslInputKind.Tabular)
            throw new ArgumentException(
                $"SSL method {method} works on tabular rows only, but the encoder's input is {kind} ({encoder.InputShape}). " +
                $"For {kind} data use one of: {string.Join(", ", SslMethodRegistry.NamesFor(kind))}.", nameof(encoder));
        return encoder;
    }

    /// <summary>Checks that <paramref name="batch"/> matches the encoder's input shape and holds at least two rows.</summary>
    /// <param name="batch">The batch given to <see cref="ComputeLoss"/>.</param>
    /// <exception cref="ArgumentException">The shape is wrong; the message gives the expected shape.</exception>
    protected void CheckBatch(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        long[] expected = Encoder.InputShape.BatchShape(batch.shape.Length > 0 ? batch.shape[0] : 0);
        if (!batch.shape.SequenceEqual(expected))
            throw new ArgumentException(
                $"{MethodName} expects a batch shaped [{string.Join(", ", expected)}] for {Encoder.InputShape}, but got [{string.Join(", ", batch.shape)}].",
                nameof(batch));
        // Batch statistics (BatchNorm, variance terms) and in-batch negatives need two rows or more.
        if (batch.shape[0] < 2)
            throw new ArgumentException($"{MethodName} needs at least 2 rows per batch, got {batch.shape[0]}.", nameof(batch));
    }

    /// <summary>Releases heads, targets and buffers, but not the encoder (see remarks on the class).</summary>
    /// <param name="disposing">True when called from <see cref="nn.Module.Dispose()"/>.</param>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            foreach ((string _, nn.Module child) in named_children().ToList())
                if (!ReferenceEquals(child, Encoder))
                    child.Dispose();
            ClearModules();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// A momentum (EMA) copy of some online modules, kept as buffers named after the online tensors
/// (<c>encoder.conv1.weight</c>, ...), so the copy is in checkpoints, never receives gradients and needs no knowledge
/// of the encoder's architecture. The target forward swaps these weights into the online modules for the duration of
/// one no-grad call and swaps them back.
/// </summary>
/// <remarks>
/// Because the swap writes the online parameters in place, target forwards must run before the step's online
/// forward (each method does so); computing several losses before one backward (gradient accumulation) is therefore
/// not supported by methods with a momentum target.
/// </remarks>
internal sealed class MomentumTarget : nn.Module
{
    private readonly (string Prefix, nn.Module Module)[] sources;

    public MomentumTarget(params (string Prefix, nn.Module Module)[] sources) : base(nameof(MomentumTarget))
    {
        this.sources = sources;
        using (torch.no_grad())
        {
            // clone() under no_grad already has no gradient; a detach() in between made a handle that nothing disposed.
            foreach ((string key, Tensor online, bool _) in OnlineTensors())
                register_buffer(key, online.clone().DetachFromDisposeScope());
        }
    }

    /// <summary>The target's copy of the online tensor named <paramref name="key"/> (for example <c>encoder.fc.weight</c>).</summary>
    public Tensor Shadow(string key) => get_buffer(key) ?? throw new KeyNotFoundException($"The momentum target has no tensor '{key}'.");

    /// <summary>The names of every parameter and buffer the target mirrors.</summary>
    public IEnumerable<string> Keys => OnlineTensors().Select(t => t.Key);

    /// <summary>target = momentum * target + (1 - momentum) * online, for parameters; buffers keep their own statistics.</summary>
    public void Update(double momentum)
    {
        using var noGrad = torch.no_grad();
        foreach ((string key, Tensor online, bool isParameter) in OnlineTensors())
            if (isParameter)
                Shadow(key).mul_(Held(momentum)).add_(online, Held(1 - momentum));
    }

    /// <summary>Runs <paramref name="forward"/> with the target's weights in place of the online ones, without gradients.</summary>
    public Tensor Run(Func<Tensor> forward)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var entries = OnlineTensors().Select(e => (e.Online, Shadow: Shadow(e.Key), e.IsParameter)).ToArray();
        Tensor[] saved = entries.Select(e => e.Online.clone()).ToArray();
        for (int i = 0; i < entries.Length; i++) entries[i].Online.copy_(entries[i].Shadow);
        try
        {
            return forward().MoveToOuterDisposeScope();
        }
        finally
        {
            for (int i = 0; i < entries.Length; i++)
            {
                // BatchNorm statistics gathered by the target forward belong to the target.
                if (!entries[i].IsParameter) entries[i].Shadow.copy_(entries[i].Online);
                entries[i].Online.copy_(saved[i]);
            }
        }
    }

    private IEnumerable<(string Key, Tensor Online, bool IsParameter)> OnlineTensors()
    {
        foreach ((string prefix, nn.Module module) in sources)
        {
            foreach ((string name, Parameter p) in module.named_parameters())
                yield return ($"{prefix}.{name}", p, true);
            foreach ((string name, Tensor b) in module.named_buffers())
                yield return ($"{prefix}.{name}", b, false);
        }
    }
}
