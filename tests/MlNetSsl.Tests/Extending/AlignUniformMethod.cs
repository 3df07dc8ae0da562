// A self-supervised method written outside the library, in one file: its options, the method (a projection head from
// the library's parts plus its own loss) and its registration. docs/extending.md walks through this file; the tests
// in ExternalMethodTests run it through the ML.NET stage, save/load and the AutoML search.
using MlNetSsl;  // the library (this file also compiles outside the MlNetSsl namespace)
using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl.Tests.Extending;

/// <summary>Options of <see cref="AlignUniformMethod"/>; saved with every model that uses the method.</summary>
public sealed class AlignUniformOptions : SslMethodOptions
{
    /// <summary>Weight of the uniformity term against the alignment term (paper: 1).</summary>
    public double UniformityWeight { get; set; } = 1.0;

    /// <summary>Temperature t of the uniformity kernel exp(-t ||u - v||²) (paper: 2).</summary>
    public double UniformityTemperature { get; set; } = 2.0;
}

/// <summary>
/// Alignment and uniformity on the hypersphere (Wang and Isola, 2020): the two views' normalized projections are pulled
/// together (mean squared distance) while all projections are spread over the sphere
/// (log of the mean Gaussian kernel between distinct rows).
/// </summary>
public sealed class AlignUniformMethod : SslMethodBase
{
    private readonly ProjectionHead _projector;

    /// <summary>The registry entry: name, options type and the hyperparameter AutoML scales.</summary>
    public static SslMethodRegistration Registration { get; } =
        new SslMethodRegistration<AlignUniformOptions>("AlignUniform", (encoder, options) => new AlignUniformMethod(encoder, options))
        {
            SearchKnob = (options, scale) => options.UniformityWeight *= scale,
        };

    /// <summary>Creates the method on <paramref name="encoder"/>.</summary>
    public AlignUniformMethod(SslEncoder encoder, AlignUniformOptions options) : base(nameof(AlignUniformMethod), encoder, options)
    {
        Options = options;
        _projector = AddHead("projector", new ProjectionHead(encoder.EmbeddingSize, options.ProjectionHiddenSize ?? 128, options.ProjectionSize ?? 64));
    }

    /// <summary>The hyperparameters.</summary>
    public AlignUniformOptions Options { get; }

    /// <inheritdoc />
    public override string MethodName => Registration.Name;

    /// <inheritdoc />
    public override Tensor ComputeLoss(Tensor batch, ViewGenerator views)
    {
        CheckBatch(batch);
        Tensor z1 = nn.functional.normalize(_projector.call(Encoder.call(views.Make(batch))), dim: 1);
        Tensor z2 = nn.functional.normalize(_projector.call(Encoder.call(views.Make(batch))), dim: 1);
        // Numbers go into TorchSharp calls as HeldScalars (x.mul(Held(0.5)), a.add(b, One)), never as x * 0.5 or a + b:
        // TorchSharp does not keep an implicitly made scalar alive through the native call (see HeldScalars).
        Tensor alignment = (z1 - z2).pow(Held(2L)).sum(1).mean();
        Tensor uniformity = Uniformity(z1, Options.UniformityTemperature).add(Uniformity(z2, Options.UniformityTemperature), One).div(Held(2L));
        return alignment.add(uniformity.mul(Held(Options.UniformityWeight)), One);
    }

    /// <summary>log mean over pairs i ≠ j of exp(-t ||z_i - z_j||²), for unit rows (where ||z_i - z_j||² = 2 - 2 z_i·z_j).</summary>
    public static Tensor Uniformity(Tensor z, double temperature)
    {
        long n = z.shape[0];
        using var scope = torch.NewDisposeScope();
        Tensor squaredDistance = z.matmul(z.t()).mul(Held(-2L)).add_(Held(2L), One);
        Tensor offDiagonal = squaredDistance.masked_select(torch.eye(n, dtype: ScalarType.Bool, device: z.device).logical_not());
        return torch.logsumexp(offDiagonal.mul(Held(-temperature)), 0).sub(Held(Math.Log(n * (n - 1)))).MoveToOuterDisposeScope();
    }
}
