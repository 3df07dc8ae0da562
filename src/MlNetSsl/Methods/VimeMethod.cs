using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>Options of <see cref="VimeMethod"/>.</summary>
public sealed class VimeOptions : SslMethodOptions
{
    /// <summary>Probability p_m that a feature is masked and swapped. Default 0.3 (paper: 0.3).</summary>
    public double MaskProbability { get; set; } = 0.3;

    /// <summary>Weight alpha of the feature-reconstruction loss. Default 2.0 (paper: 2.0).</summary>
    public double Alpha { get; set; } = 2.0;
}

/// <summary>
/// VIME self-supervised learning (Yoon et al., 2020) for tabular rows: each feature is, with probability p_m,
/// replaced by the same feature of another row; the encoder sees the corrupted row and two linear heads estimate
/// which features were replaced (binary cross entropy) and reconstruct the original row (MSE).
/// loss = mask loss + alpha * reconstruction loss.
/// </summary>
/// <remarks>
/// The corruption is the method's own and draws from <see cref="ViewGenerator.Generator"/>; the augmentation
/// policy is not used. The mask label is whether the value actually changed, as in the authors' code.
/// The projection sizes of <see cref="SslMethodOptions"/> do not apply (the heads map embeddings to features).
/// </remarks>
public sealed class VimeMethod : SslMethodBase
{
    private readonly Linear maskHead;
    private readonly Linear reconstructionHead;

    /// <summary>Creates VIME on a tabular <paramref name="encoder"/>.</summary>
    /// <param name="encoder">The encoder to pretrain; its input must be tabular.</param>
    /// <param name="options">Hyperparameters; null for the defaults.</param>
    public VimeMethod(SslEncoder encoder, VimeOptions? options = null)
        : base(nameof(VimeMethod), RequireTabular(nameof(SslMethod.Vime), encoder), options ??= new VimeOptions())
    {
        Options = options;
        SslMethodOptions.InRange(Options.MaskProbability, 0, 1, nameof(Options.MaskProbability));
        SslMethodOptions.InRange(Options.Alpha, 0, double.MaxValue, nameof(Options.Alpha));
        int features = encoder.InputShape.Features;
        maskHead = AddHead("mask_head", nn.Linear(encoder.EmbeddingSize, features));
        reconstructionHead = AddHead("reconstruction_head", nn.Linear(encoder.EmbeddingSize, features));
    }

    /// <summary>The hyperparameters.</summary>
    public VimeOptions Options { get; }

    /// <inheritdoc />
    public override string MethodName => nameof(SslMethod.Vime);

    // The registry's entry: name, options, input kinds, default augmentations and the knob AutoML tunes.
    internal static SslMethodRegistration Registration { get; } = new SslMethodRegistration<VimeOptions>(nameof(SslMethod.Vime), (encoder, options) => new VimeMethod(encoder, options))
    {
        InputKinds = [SslInputKind.Tabular],
        Augmentations = _ => DefaultAugmentations.VimeMaskAndSwap(),
        SearchKnob = (o, s) => o.Alpha *= s,
    };

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        (Tensor corrupted, Tensor mask) = MaskAndSwap(batch, Options.MaskProbability, views.Generator);
        Tensor embedding = Encoder.call(corrupted);
        return SslLosses.Vime(maskHead.call(embedding), mask, reconstructionHead.call(embedding), batch, Options.Alpha);
    }

    /// <summary>
    /// VIME's corruption: mask ~ Bernoulli(p) per entry; a masked entry takes the same column's value from an
    /// independent random permutation of the batch rows (one permutation per column).
    /// </summary>
    /// <param name="batch">Rows [N, F].</param>
    /// <param name="probability">p_m.</param>
    /// <param name="generator">Source of every random draw.</param>
    /// <returns>The corrupted rows and a float mask, 1 where the value changed.</returns>
    public static (Tensor Corrupted, Tensor Mask) MaskAndSwap(Tensor batch, double probability, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(generator);
        if (batch.dim() != 2) throw new ArgumentException($"VIME corrupts rows [N, F]; got [{string.Join(", ", batch.shape)}].", nameof(batch));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor draw = torch.rand(batch.shape, generator: generator, device: batch.device).lt(Held(probability));
        Tensor permutation = torch.rand(batch.shape, generator: generator, device: batch.device).argsort(dim: 0);
        Tensor swapped = batch.gather(0, permutation);
        Tensor corrupted = torch.where(draw, swapped, batch);
        Tensor changed = corrupted.ne(batch).to(batch.dtype);
        return (corrupted.MoveToOuterDisposeScope(), changed.MoveToOuterDisposeScope());
    }
}
