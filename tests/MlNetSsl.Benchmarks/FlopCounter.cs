using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl.Benchmarks;

/// <summary>
/// Counts the floating-point operations of convolutions and linear layers (the work that dominates an SSL step) by
/// forward hooks: 2 * multiply-accumulates per forward. A forward that builds a graph costs about three times its
/// forward FLOPs once the backward pass (gradients for inputs and weights) is included; forwards under no_grad
/// (momentum targets) count once.
/// </summary>
internal sealed class FlopCounter : IDisposable
{
    private readonly List<Action> _removers = [];

    public double TrainingFlops { get; private set; }

    public FlopCounter(nn.Module root)
    {
        foreach (var (_, module) in root.named_modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    Track(conv.register_forward_hook((m, input, output) =>
                    {
                        var c = (Conv2d)m;
                        long kernel = c.weight!.shape[1] * c.weight.shape[2] * c.weight.shape[3];
                        Add(2.0 * output.numel() * kernel);
                        return output;
                    }));
                    break;
                case Conv1d conv1:
                    Track(conv1.register_forward_hook((m, input, output) =>
                    {
                        var c = (Conv1d)m;
                        long kernel = c.weight!.shape[1] * c.weight.shape[2];
                        Add(2.0 * output.numel() * kernel);
                        return output;
                    }));
                    break;
                case Linear linear:
                    Track(linear.register_forward_hook((m, input, output) =>
                    {
                        Add(2.0 * output.numel() * ((Linear)m).weight!.shape[1]);
                        return output;
                    }));
                    break;
            }
        }
    }

    private void Track(nn.HookableModule<Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>, Func<nn.Module<Tensor, Tensor>, Tensor, Tensor, Tensor>>.HookRemover remover) =>
        _removers.Add(remover.remove);

    private void Add(double forwardFlops) => TrainingFlops += torch.is_grad_enabled() ? 3 * forwardFlops : forwardFlops;

    public void Dispose()
    {
        foreach (var remove in _removers) remove();
    }
}
