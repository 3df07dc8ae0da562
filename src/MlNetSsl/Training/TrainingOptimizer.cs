using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// The optimizers pretraining can use, behind one small surface: set the learning rate, step, and save or restore
/// state for exact resumes. Biases and normalization parameters (one-dimensional) get no weight decay, and LARS
/// leaves their update unscaled, as in the SimCLR and BYOL recipes.
/// </summary>
internal abstract class TrainingOptimizer : IDisposable
{
    public abstract void ZeroGrad();
    public abstract void Step(double learningRate);
    public abstract void Save(BinaryWriter writer);
    public abstract void Load(BinaryReader reader);
    public abstract void Dispose();

    public static TrainingOptimizer Create(IReadOnlyList<Parameter> parameters, PretrainingOptions options)
    {
        var decayed = parameters.Where(p => p.dim() > 1).ToList();
        var plain = parameters.Where(p => p.dim() <= 1).ToList();
        return options.Optimizer switch
        {
            SslOptimizer.AdamW => new TorchOptimizer(torch.optim.AdamW(new[]
            {
                new AdamW.ParamGroup(decayed, lr: options.LearningRate, weight_decay: options.WeightDecay),
                new AdamW.ParamGroup(plain, lr: options.LearningRate, weight_decay: 0),
            }, lr: options.LearningRate)),
            SslOptimizer.Sgd => new TorchOptimizer(torch.optim.SGD(new[]
            {
                new SGD.ParamGroup(decayed, lr: options.LearningRate, momentum: options.Momentum, weight_decay: options.WeightDecay),
                new SGD.ParamGroup(plain, lr: options.LearningRate, momentum: options.Momentum, weight_decay: 0),
            }, learningRate: options.LearningRate, momentum: options.Momentum)),
            SslOptimizer.Lars => new LarsOptimizer(decayed, plain, options.Momentum, options.WeightDecay, options.LarsTrustCoefficient),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Optimizer, "Unknown optimizer."),
        };
    }

    private sealed class TorchOptimizer(OptimizerHelper optimizer) : TrainingOptimizer
    {
        public override void ZeroGrad() => optimizer.zero_grad();

        public override void Step(double learningRate)
        {
            foreach (var group in optimizer.ParamGroups) group.LearningRate = learningRate;
            OptimizerSteps.Step(optimizer);
        }

        public override void Save(BinaryWriter writer) => optimizer.save_state_dict(writer);
        public override void Load(BinaryReader reader) => optimizer.load_state_dict(reader);
        public override void Dispose() => optimizer.Dispose();
    }

    /// <summary>LARS: SGD with momentum whose per-tensor step is scaled by eta * |w| / (|g| + wd |w|).</summary>
    private sealed class LarsOptimizer : TrainingOptimizer
    {
        private readonly List<(Parameter Parameter, bool Adapt, Tensor Velocity)> _state = [];
        private readonly double _momentum, _weightDecay, _eta;

        public LarsOptimizer(IEnumerable<Parameter> adapted, IEnumerable<Parameter> plain, double momentum, double weightDecay, double eta)
        {
            _momentum = momentum;
            _weightDecay = weightDecay;
            _eta = eta;
            foreach (var p in adapted) _state.Add((p, true, torch.zeros_like(p).DetachFromDisposeScope()));
            foreach (var p in plain) _state.Add((p, false, torch.zeros_like(p).DetachFromDisposeScope()));
        }

        public override void ZeroGrad()
        {
            foreach (var (p, _, _) in _state) p.grad?.zero_();
        }

        public override void Step(double learningRate)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            foreach (var (p, adapt, velocity) in _state)
            {
                if (p.grad is not { } grad) continue;
                Tensor update = grad;
                if (adapt)
                {
                    update = grad.add(p, HeldScalars.Held(_weightDecay));
                    double weightNorm = p.norm().item<float>();
                    double updateNorm = update.norm().item<float>();
                    double trust = weightNorm > 0 && updateNorm > 0 ? _eta * weightNorm / updateNorm : 1.0;
                    update = update.mul(HeldScalars.Held(trust));
                }
                velocity.mul_(HeldScalars.Held(_momentum)).add_(update, HeldScalars.One);
                p.add_(velocity, HeldScalars.Held(-learningRate));
            }
        }

        public override void Save(BinaryWriter writer)
        {
            writer.Write(_state.Count);
            foreach (var (_, _, velocity) in _state) velocity.Save(writer);
        }

        public override void Load(BinaryReader reader)
        {
            int count = reader.ReadInt32();
            if (count != _state.Count)
                throw new InvalidDataException($"The checkpoint's LARS state has {count} tensors; this model has {_state.Count}.");
            foreach (var (_, _, velocity) in _state) velocity.Load(reader);
        }

        public override void Dispose()
        {
            foreach (var (_, _, velocity) in _state) velocity.Dispose();
            _state.Clear();
        }
    }
}
