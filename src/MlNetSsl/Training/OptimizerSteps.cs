using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// The update of TorchSharp's AdamW and SGD, op for op (so the weights are the same bit for bit), on the optimizer's own
/// state tensors, with every scalar held (see <see cref="HeldScalars"/>): TorchSharp's <c>step()</c> makes about eight
/// unheld scalars per parameter per step, the engine's largest exposure to the scalar-lifetime race. The optimizer
/// object still owns the state, the learning rates and the state-dict format of checkpoints.
/// </summary>
internal static class OptimizerSteps
{
    /// <summary>One optimizer step of <paramref name="optimizer"/> (AdamW or SGD) from the parameters' gradients.</summary>
    public static void Step(OptimizerHelper optimizer)
    {
        // state_dict() hands out the live per-parameter states, in the order of parameters().
        IList<OptimizerState> states = optimizer.state_dict().State;
        List<Parameter> parameters = optimizer.parameters().ToList();
        if (states.Count != parameters.Count)
            throw new InvalidOperationException($"The optimizer holds {states.Count} parameter states for {parameters.Count} parameters.");
        using var noGrad = torch.no_grad();
        int index = 0;
        switch (optimizer)
        {
            case AdamW adamW:
                foreach (AdamW.ParamGroup group in adamW.ParamGroups.Cast<AdamW.ParamGroup>())
                    foreach (Parameter parameter in group.Parameters)
                        AdamWUpdate(parameter, (AdamW.State)states[index++], group.Options);
                break;
            case SGD sgd:
                foreach (SGD.ParamGroup group in sgd.ParamGroups.Cast<SGD.ParamGroup>())
                    foreach (Parameter parameter in group.Parameters)
                        SgdUpdate(parameter, (SGD.State)states[index++], group.Options);
                break;
            default:
                throw new NotSupportedException($"{optimizer.GetType().Name} has no held-scalar step; use AdamW or SGD.");
        }
    }

    private static void AdamWUpdate(Parameter parameter, AdamW.State state, AdamW.Options options)
    {
        if (parameter.grad is not { } gradient) return;
        if (options.amsgrad == true) throw new NotSupportedException("AMSGrad has no held-scalar step.");
        using var scope = torch.NewDisposeScope();
        double learningRate = options.LearningRate!.Value, beta1 = options.beta1!.Value, beta2 = options.beta2!.Value;
        Tensor grad = options.maximize == true ? -gradient : gradient;
        state.step += 1;
        parameter.mul_(Held(1 - learningRate * options.weight_decay!.Value));
        double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
        double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
        state.exp_avg.mul_(Held(beta1)).add_(grad, Held(1 - beta1));
        state.exp_avg_sq.mul_(Held(beta2)).addcmul_(grad, grad, Held(1 - beta2));
        Tensor denominator = state.exp_avg_sq.sqrt().div(Held(Math.Sqrt(biasCorrection2))).add_(Held(options.eps!.Value), One);
        parameter.addcdiv_(state.exp_avg, denominator, Held(-(learningRate / biasCorrection1)));
    }

    private static void SgdUpdate(Parameter parameter, SGD.State state, SGD.Options options)
    {
        if (parameter.grad is not { } gradient) return;
        using var scope = torch.NewDisposeScope();
        double learningRate = options.LearningRate!.Value, momentum = options.momentum!.Value, weightDecay = options.weight_decay!.Value;
        Tensor grad = weightDecay != 0 ? gradient.add(parameter, Held(weightDecay)) : gradient;
        if (momentum != 0)
        {
            Tensor? buffer = state.momentum_buffer;
            if (buffer is null)
            {
                buffer = grad.clone().detach().DetachFromDisposeScope();
                state.momentum_buffer = buffer;
            }
            else
            {
                buffer.mul_(Held(momentum)).add_(grad, Held(1 - options.dampening!.Value));
            }
            grad = options.nesterov == true ? grad.add(buffer, Held(momentum)) : buffer;
        }
        parameter.add_(grad, Held(options.maximize == true ? learningRate : -learningRate));
    }
}
