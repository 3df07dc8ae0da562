using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Training;

/// <summary>A small MLP encoder for loop-mechanics tests (the real encoders are tested on their own).</summary>
internal sealed class SmallMlpEncoder : SslEncoder
{
    private readonly nn.Module<Tensor, Tensor> _layers;

    public SmallMlpEncoder(int features, int embedding) : base(nameof(SmallMlpEncoder), SslInputShape.Tabular(features))
    {
        EmbeddingSize = embedding;
        _layers = nn.Sequential(nn.Linear(features, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, embedding));
        RegisterComponents();
    }

    public override int EmbeddingSize { get; }
    public override EncoderKind Kind => EncoderKind.Mlp;
    public override Tensor forward(Tensor input) => _layers.forward(input);
}

/// <summary>
/// A minimal method with a momentum target and a buffer, so checkpoints must carry non-trained state:
/// invariance between two views plus a variance hinge (a VICReg-like loss without the covariance term).
/// </summary>
internal sealed class MomentumTestMethod : nn.Module, ISslMethod
{
    private readonly SslEncoder _encoder;
    private readonly Linear _target;
    private readonly Linear _head;
    private readonly Tensor _updates;

    public MomentumTestMethod(SslEncoder encoder) : base(nameof(MomentumTestMethod))
    {
        _encoder = encoder;
        _head = nn.Linear(encoder.EmbeddingSize, 16);
        _target = nn.Linear(encoder.EmbeddingSize, 16);
        _updates = torch.zeros(1);
        RegisterComponents();
        register_buffer("updates", _updates);
        foreach (var p in _target.parameters()) p.requires_grad_(false);
    }

    public string MethodName => "MomentumTest";
    public SslEncoder Encoder => _encoder;
    public nn.Module Module => this;
    public IEnumerable<Parameter> TrainableParameters() => _encoder.parameters().Concat(_head.parameters());

    public Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        Tensor a = _head.forward(_encoder.forward(views.Make(batch)));
        Tensor b = _head.forward(_encoder.forward(views.Make(batch)));
        Tensor t;
        using (torch.no_grad()) t = _target.forward(_encoder.forward(batch));
        Tensor invariance = nn.functional.mse_loss(a, b) + 0.1 * nn.functional.mse_loss(a, t);
        Tensor variance = nn.functional.relu(1 - (a.var(0) + 1e-4).sqrt()).mean();
        return invariance + variance;
    }

    public void AfterOptimizerStep(long step, long totalSteps)
    {
        using var noGrad = torch.no_grad();
        foreach (var (target, online) in _target.parameters().Zip(_head.parameters()))
            target.mul_(0.9).add_(online, alpha: 0.1);
        _updates.add_(1);
    }
}

/// <summary>Gaussian noise plus per-row scaling, drawn from the step's generator.</summary>
public sealed class NoiseAndScale : Augmentation
{
    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Tabular;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        var noise = torch.randn(batch.shape, generator: context.Generator, device: batch.device) * (0.3 * Strength);
        var scale = 1 + (torch.rand(new[] { batch.shape[0], 1L }, generator: context.Generator, device: batch.device) - 0.5) * (0.4 * Strength);
        return batch * scale + noise;
    }
}
