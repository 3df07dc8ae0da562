using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// One self-supervised method: an encoder plus the method's heads, loss and target logic. Implementations are
/// TorchSharp modules, so <see cref="Module"/>'s state (encoder, heads, momentum targets, queues) is what a
/// checkpoint saves. A method is one class implementing this interface (usually through <see cref="SslMethodBase"/>),
/// composed of parts (<see cref="ProjectionHead"/>, <see cref="PredictionHead"/>, the losses in <see cref="SslLosses"/>,
/// <see cref="NegativeQueue"/>), plus an <see cref="SslMethodRegistration{TOptions}"/> registered with
/// <see cref="SslMethodRegistry"/>; docs/extending.md shows one end to end.
/// </summary>
public interface ISslMethod : IDisposable
{
    /// <summary>The method's registered name (for the built-in ones, the name of their <see cref="SslMethod"/> value).</summary>
    string MethodName { get; }

    /// <summary>The encoder being pretrained (its embeddings are the method's product).</summary>
    SslEncoder Encoder { get; }

    /// <summary>The module holding every piece of state: encoder, heads, targets and buffers.</summary>
    nn.Module Module { get; }

    /// <summary>
    /// The method's hyperparameters (its own options subclass, for example <see cref="SimClrOptions"/>), which a
    /// pretraining checkpoint records so that a run with other hyperparameters does not resume from it. Null by
    /// default, for methods without options; the built-in methods return the instance they train with.
    /// </summary>
    SslMethodOptions? Options => null;

    /// <summary>Parameters the optimizer updates (excludes momentum targets and other non-trained state).</summary>
    IEnumerable<Parameter> TrainableParameters();

    /// <summary>
    /// The training loss for one batch of raw inputs (already on the training device). The method draws its views
    /// from <paramref name="views"/>, so the augmentation policy and randomness stay under the trainer's control.
    /// </summary>
    /// <param name="batch">Inputs shaped <see cref="SslInputShape.BatchShape"/>.</param>
    /// <param name="views">Makes augmented views of a batch and supplies the step's random generator.</param>
    /// <returns>A scalar loss tensor with a gradient path to <see cref="TrainableParameters"/>.</returns>
    Tensor ComputeLoss(Tensor batch, ViewGenerator views);

    /// <summary>Called after each optimizer step: momentum/EMA target updates and queue maintenance.</summary>
    /// <param name="step">Zero-based index of the step just taken.</param>
    /// <param name="totalSteps">Steps in the whole run (for momentum schedules).</param>
    void AfterOptimizerStep(long step, long totalSteps);
}
