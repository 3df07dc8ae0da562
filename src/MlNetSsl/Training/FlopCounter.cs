using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>The floating-point work of one layer (a convolution or linear module) during a measured run.</summary>
/// <param name="Name">The module's path inside the measured root, for example <c>encoder.features.conv0</c>.</param>
/// <param name="LayerType">Conv1d, Conv2d or Linear.</param>
/// <param name="Calls">How many times the layer ran.</param>
/// <param name="ForwardFlops">Forward FLOPs over all calls (2 per multiply-add).</param>
/// <param name="BackwardFlops">Backward FLOPs over all calls: the forward count once for the weight gradient when the
/// weight is trained, and once more for the input gradient when the input needs one; zero for calls without gradient.</param>
internal sealed record LayerFlops(string Name, string LayerType, int Calls, double ForwardFlops, double BackwardFlops);

/// <summary>The result of a <see cref="FlopCounter"/> measurement.</summary>
internal sealed class FlopCount
{
    internal FlopCount(IReadOnlyList<LayerFlops> layers, IReadOnlyList<string> uncountedLayers)
    {
        Layers = layers;
        UncountedLayers = uncountedLayers;
    }

    /// <summary>Per-layer counts, in the order the layers first ran.</summary>
    public IReadOnlyList<LayerFlops> Layers { get; }

    /// <summary>
    /// Convolution and linear modules under the measured root that never reported a call. Either they did not run,
    /// or their parent invoked <c>forward</c> on them instead of <c>call</c> (TorchSharp runs hooks only through
    /// <c>call</c>); in the second case the count is too low, so callers should check that this list is empty.
    /// </summary>
    public IReadOnlyList<string> UncountedLayers { get; }

    /// <summary>Forward FLOPs of all layers.</summary>
    public double ForwardFlops => Layers.Sum(l => l.ForwardFlops);

    /// <summary>Backward FLOPs of all layers (zero when the run had no gradients).</summary>
    public double BackwardFlops => Layers.Sum(l => l.BackwardFlops);

    /// <summary>Forward plus backward FLOPs.</summary>
    public double TotalFlops => ForwardFlops + BackwardFlops;
}

/// <summary>
/// Counts the nominal FLOPs of convolutions and matrix products that a model runs (the benchmark's per-layer GFLOP/s
/// against a measured matmul peak). Each <see cref="Conv1d"/>, <see cref="Conv2d"/> and <see cref="Linear"/> module
/// under the measured root reports every call through a temporary forward hook; its FLOPs follow analytically from the
/// weight and the output shape: 2 x output elements x (input channels / groups x kernel size) for a convolution, 2 x
/// output elements x input features for a linear layer. Because the count comes from the shapes of a real call, it
/// includes whatever the step runs (both views, momentum-target forwards, decoders) with no per-architecture code.
/// </summary>
/// <remarks>
/// <para>Backward FLOPs are derived per call instead of timed: computing the weight gradient and the input gradient
/// each cost one forward's multiply-adds, so a layer whose weight is trained and whose input carries a gradient costs
/// 3x its forward (the usual "training = 3 x forward" rule), the first layer (raw input, no input gradient) 2x, and a
/// call without gradients (a momentum target under <c>no_grad</c>) 1x.</para>
/// <para>Not counted: normalization, activations, pooling, element-wise arithmetic, bias additions and matrix
/// products written as functions (for example a contrastive loss's similarity matrix). They are memory-bound and
/// small next to the layers; leaving them out is the usual convention and makes the figure conservative.</para>
/// </remarks>
internal static class FlopCounter
{
    /// <summary>Runs <paramref name="run"/> once and counts the FLOPs of every convolution and linear layer under
    /// <paramref name="root"/> that it calls.</summary>
    /// <param name="root">The module tree whose layers are counted.</param>
    /// <param name="run">The work to measure; it must invoke the layers through <c>call</c> (directly or through
    /// <c>Sequential</c>), as every MlNetSsl encoder and head does.</param>
    public static FlopCount Measure(nn.Module root, Action run)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(run);
        var tallies = new Dictionary<string, Tally>();
        var order = new List<string>();
        var watched = new List<string>();
        var removeHooks = new List<Action>();
        var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
        // The 1-D ConvNet runs a padded first convolution without calling it (Conv1dEncoder.PaddedInputChannels): that
        // layer is counted from its encoder's hook, on the encoder's input.
        var paddedFirst = new Dictionary<nn.Module, Conv1dEncoder>(ReferenceEqualityComparer.Instance);
        foreach ((string _, nn.Module module) in root.named_modules().Prepend((string.Empty, root)))
            if (module is Conv1dEncoder { PaddedFirstConvolution: { } first } encoder) paddedFirst[first] = encoder;
        try
        {
            // named_modules leaves out the root itself, which may be a single layer.
            foreach ((string name, nn.Module module) in root.named_modules().Prepend((string.Empty, root)))
            {
                if (!seen.Add(module) || module is not nn.Module<Tensor, Tensor> layer) continue;
                Func<Tensor, Tensor, (double Forward, double Backward)>? count = module switch
                {
                    Conv1d when paddedFirst.ContainsKey(module) => (input, _) =>
                        ConvolutionFlops((Convolution)module, input, input.shape[0] * ((Convolution)module).weight!.shape[0] * input.shape[2]),
                    Conv1d or Conv2d => (input, output) => ConvolutionFlops((Convolution)module, input, output.numel()),
                    Linear linear => (input, output) => LinearFlops(linear, input, output),
                    _ => null,
                };
                if (count is null) continue;
                string layerName = name.Length == 0 ? module.GetName() : name;
                string layerType = module.GetType().Name;
                watched.Add(layerName);
                if (paddedFirst.TryGetValue(module, out Conv1dEncoder? owner)) layer = owner;
                var remover = layer.register_forward_hook((_, input, output) =>
                {
                    (double forward, double backward) = count(input, output);
                    if (!tallies.TryGetValue(layerName, out Tally? tally))
                    {
                        tallies[layerName] = tally = new Tally(layerType);
                        order.Add(layerName);
                    }
                    tally.Calls++;
                    tally.Forward += forward;
                    tally.Backward += backward;
                    return output;
                });
                removeHooks.Add(remover.remove);
            }
            run();
        }
        finally
        {
            foreach (Action removeHook in removeHooks) removeHook();
        }
        var layers = order.Select(n => new LayerFlops(n, tallies[n].LayerType, tallies[n].Calls, tallies[n].Forward, tallies[n].Backward)).ToList();
        return new FlopCount(layers, watched.Where(n => !tallies.ContainsKey(n)).ToList());
    }

    /// <summary>Forward FLOPs of <paramref name="module"/> on <paramref name="input"/> (run once without gradients).</summary>
    /// <param name="module">The module, for example an encoder.</param>
    /// <param name="input">A batch; FLOPs scale with its row count.</param>
    public static FlopCount Forward(nn.Module<Tensor, Tensor> module, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(input);
        return Measure(module, () =>
        {
            using var noGrad = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            module.call(input);
        });
    }

    /// <summary>
    /// FLOPs of one training step of <paramref name="method"/> on <paramref name="batch"/>: its loss is computed once
    /// (views, online and target forwards) and the backward pass is counted from which calls carry gradients. No
    /// backward or optimizer step runs, and BatchNorm running statistics and other buffers are restored afterwards, so
    /// the method is left as it was. The optimizer's own element-wise update is not counted.
    /// </summary>
    /// <param name="method">The SSL method with its encoder.</param>
    /// <param name="batch">A batch of raw inputs on the method's device.</param>
    /// <param name="views">Makes the step's augmented views.</param>
    public static FlopCount TrainingStep(ISslMethod method, Tensor batch, ViewGenerator views)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(views);
        nn.Module root = method.Module;
        using var scope = torch.NewDisposeScope();
        (Tensor Live, Tensor Saved)[] buffers;
        using (torch.no_grad())
            buffers = root.named_buffers().Select(b => (b.Item2, b.Item2.clone())).ToArray();
        try
        {
            return Measure(root, () => method.ComputeLoss(batch, views));
        }
        finally
        {
            using var noGrad = torch.no_grad();
            foreach ((Tensor live, Tensor saved) in buffers) live.copy_(saved);
        }
    }

    private static (double Forward, double Backward) ConvolutionFlops(Convolution conv, Tensor input, long outputElements)
    {
        // Weight [out, in / groups, k...]: each output element takes in / groups x prod(k) multiply-adds.
        long macsPerOutput = conv.weight!.numel() / conv.weight.shape[0];
        double forward = 2.0 * outputElements * macsPerOutput;
        return (forward, BackwardFlops(forward, conv.weight, input));
    }

    private static (double Forward, double Backward) LinearFlops(Linear linear, Tensor input, Tensor output)
    {
        double forward = 2.0 * output.numel() * linear.weight!.shape[1];
        return (forward, BackwardFlops(forward, linear.weight, input));
    }

    private static double BackwardFlops(double forward, Tensor weight, Tensor input)
    {
        if (!torch.is_grad_enabled()) return 0;
        return (weight.requires_grad ? forward : 0) + (input.requires_grad ? forward : 0);
    }

    private sealed class Tally(string layerType)
    {
        public string LayerType { get; } = layerType;
        public int Calls { get; set; }
        public double Forward { get; set; }
        public double Backward { get; set; }
    }
}
