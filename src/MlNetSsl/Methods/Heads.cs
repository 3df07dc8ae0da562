using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// A projection head (an MLP on top of the encoder): <c>layers - 1</c> blocks of Linear, BatchNorm and ReLU, then a
/// final Linear, optionally followed by a BatchNorm without affine parameters (SimSiam normalizes its projector's
/// output this way). The loss is computed on the head's output; the encoder's embeddings are what the stage keeps.
/// </summary>
public sealed class ProjectionHead : nn.Module<Tensor, Tensor>
{
    private readonly Sequential layers;

    /// <summary>Creates a projection head.</summary>
    /// <param name="inputSize">Embedding size of the encoder.</param>
    /// <param name="hiddenSize">Width of the hidden layers.</param>
    /// <param name="outputSize">Size of the projection the loss sees.</param>
    /// <param name="layerCount">Number of Linear layers (at least 1).</param>
    /// <param name="batchNormOnOutput">Whether to add a non-affine BatchNorm after the last Linear.</param>
    public ProjectionHead(int inputSize, int hiddenSize, int outputSize, int layerCount = 2, bool batchNormOnOutput = false)
        : base(nameof(ProjectionHead))
    {
        CheckPositive(inputSize, nameof(inputSize));
        CheckPositive(hiddenSize, nameof(hiddenSize));
        CheckPositive(outputSize, nameof(outputSize));
        CheckPositive(layerCount, nameof(layerCount));
        InputSize = inputSize;
        OutputSize = outputSize;
        layers = nn.Sequential();
        int width = inputSize;
        for (int i = 0; i < layerCount - 1; i++)
        {
            // The bias is redundant before a BatchNorm that re-centres the activations.
            layers.append($"linear{i}", nn.Linear(width, hiddenSize, hasBias: false));
            layers.append($"bn{i}", nn.BatchNorm1d(hiddenSize));
            layers.append($"relu{i}", nn.ReLU());
            width = hiddenSize;
        }
        layers.append("output", nn.Linear(width, outputSize, hasBias: !batchNormOnOutput));
        if (batchNormOnOutput)
            layers.append("output_bn", nn.BatchNorm1d(outputSize, affine: false));
        RegisterComponents();
    }

    /// <summary>Input (embedding) size.</summary>
    public int InputSize { get; }

    /// <summary>Output (projection) size.</summary>
    public int OutputSize { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => layers.call(input);

    internal static void CheckPositive(int value, string name)
    {
        if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
    }
}

/// <summary>
/// The predictor of BYOL and SimSiam: Linear, BatchNorm, ReLU, Linear. It maps one view's projection onto the other
/// view's (target) projection; its asymmetry with the target branch is what keeps these methods from collapsing.
/// </summary>
public sealed class PredictionHead : nn.Module<Tensor, Tensor>
{
    private readonly Sequential layers;

    /// <summary>Creates a prediction head.</summary>
    /// <param name="inputSize">Projection size.</param>
    /// <param name="hiddenSize">Width of the hidden layer (SimSiam uses a bottleneck narrower than the projection).</param>
    /// <param name="outputSize">Output size; equal to the projection size.</param>
    public PredictionHead(int inputSize, int hiddenSize, int outputSize) : base(nameof(PredictionHead))
    {
        ProjectionHead.CheckPositive(inputSize, nameof(inputSize));
        ProjectionHead.CheckPositive(hiddenSize, nameof(hiddenSize));
        ProjectionHead.CheckPositive(outputSize, nameof(outputSize));
        layers = nn.Sequential(
            ("linear0", nn.Linear(inputSize, hiddenSize, hasBias: false)),
            ("bn0", nn.BatchNorm1d(hiddenSize)),
            ("relu0", nn.ReLU()),
            ("output", nn.Linear(hiddenSize, outputSize)));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => layers.call(input);
}
