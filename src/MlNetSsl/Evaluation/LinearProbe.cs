using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// A multinomial logistic regression trained on fixed features (embeddings): the standard linear-probe evaluation of
/// self-supervised encoders. Features are standardized with the training rows' statistics; the weights start at zero
/// and are fitted by full-batch L-BFGS on the mean cross entropy plus an L2 penalty, so the result is deterministic.
/// </summary>
public sealed class LinearProbe : IDisposable
{
    private readonly Tensor _weight, _bias, _mean, _std;

    private LinearProbe(Tensor weight, Tensor bias, Tensor mean, Tensor std, int classCount)
    {
        _weight = weight;
        _bias = bias;
        _mean = mean;
        _std = std;
        ClassCount = classCount;
    }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>Number of input features.</summary>
    public int FeatureCount => (int)_weight.shape[1];

    /// <summary>Fits a probe on <paramref name="features"/> [N, d] with <paramref name="labels"/> (0-based; rows labeled -1 are skipped).</summary>
    /// <param name="features">Training features [N, d] (any device; computed on the CPU in float64).</param>
    /// <param name="labels">N labels, 0..K-1, or -1 to skip a row.</param>
    /// <param name="l2">L2 penalty on the weights (not the bias), added to the mean cross entropy as l2 * ||W||^2 / 2. Default 1e-3.</param>
    /// <param name="classCount">Number of classes; null means the largest label plus one.</param>
    /// <param name="maxIterations">L-BFGS iterations at most. Default 500.</param>
    /// <exception cref="ArgumentException">No labeled rows, a label count that differs from the rows, or fewer than 2 classes.</exception>
    public static LinearProbe Fit(Tensor features, int[] labels, double l2 = 1e-3, int? classCount = null, int maxIterations = 500)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (features.dim() != 2) throw new ArgumentException($"Features must be [N, d]; got [{string.Join(", ", features.shape)}].", nameof(features));
        if (features.shape[0] != labels.Length) throw new ArgumentException($"{labels.Length} labels for {features.shape[0]} rows.", nameof(labels));
        if (!(l2 >= 0)) throw new ArgumentOutOfRangeException(nameof(l2), l2, "l2 must not be negative.");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxIterations, 1);
        long[] rows = Enumerable.Range(0, labels.Length).Where(i => labels[i] >= 0).Select(i => (long)i).ToArray();
        if (rows.Length == 0) throw new ArgumentException("No labeled rows to fit a linear probe on.", nameof(labels));
        int classes = classCount ?? rows.Max(i => labels[i]) + 1;
        if (classes < 2) throw new ArgumentException("A linear probe needs at least 2 classes.", nameof(labels));
        if (rows.Any(i => labels[i] >= classes)) throw new ArgumentException($"A label is out of range for {classes} classes.", nameof(labels));
        SslEnvironment.EnsureInitialized();

        using var scope = torch.NewDisposeScope();
        Tensor x = features.detach().cpu().to_type(ScalarType.Float64).index_select(0, torch.tensor(rows));
        Tensor y = torch.tensor(rows.Select(i => (long)labels[i]).ToArray());
        Tensor mean = x.mean([0]);
        // A feature of one value in every row is centred only (dividing by the rounding noise of its deviation would blow
        // that noise up); any other is scaled by its own deviation, however small: a floor of 1e-6 left features in small
        // units near 0, where the L2 penalty held their weights back.
        Tensor std = x.std(0, unbiased: false);
        std = torch.where(x.amax([0]).eq(x.amin([0])).logical_or(std.le(Zero)), torch.ones_like(std), std);
        x = (x - mean) / std;
        long d = x.shape[1];
        var weight = new TorchSharp.Modules.Parameter(torch.zeros(classes, d, dtype: ScalarType.Float64));
        var bias = new TorchSharp.Modules.Parameter(torch.zeros(classes, dtype: ScalarType.Float64));
        using (var optimizer = torch.optim.LBFGS([weight, bias], lr: 1, max_iter: maxIterations, history_size: 20))
        {
            Tensor Closure()
            {
                optimizer.zero_grad();
                Tensor logits = x.matmul(weight.t()).add(bias, One);
                Tensor loss = nn.functional.cross_entropy(logits, y).add(weight.pow(Held(2L)).sum().mul(Held(l2 / 2)), One);
                loss.backward();
                return loss;
            }
            optimizer.step(Closure);
        }
        var probe = new LinearProbe(weight.detach().clone().DetachFromDisposeScope(), bias.detach().clone().DetachFromDisposeScope(),
            mean.DetachFromDisposeScope(), std.DetachFromDisposeScope(), classes);
        weight.Dispose();
        bias.Dispose();
        return probe;
    }

    /// <summary>Fits a probe on the training features and returns its accuracy on the test features.</summary>
    /// <param name="trainFeatures">Training features [N, d].</param>
    /// <param name="trainLabels">Training labels (-1 rows are skipped).</param>
    /// <param name="testFeatures">Test features [M, d].</param>
    /// <param name="testLabels">Test labels (-1 rows are skipped).</param>
    /// <param name="l2">L2 penalty; see <see cref="Fit"/>.</param>
    public static double Accuracy(Tensor trainFeatures, int[] trainLabels, Tensor testFeatures, int[] testLabels, double l2 = 1e-3)
    {
        using var probe = Fit(trainFeatures, trainLabels, l2);
        return probe.Accuracy(testFeatures, testLabels);
    }

    /// <summary>Class probabilities [M, K] (CPU, float32) for <paramref name="features"/> [M, d].</summary>
    /// <exception cref="ArgumentException">The feature count differs from the training features'.</exception>
    public Tensor PredictProbabilities(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.dim() != 2 || features.shape[1] != FeatureCount)
            throw new ArgumentException($"The probe was fitted on {FeatureCount} features; got [{string.Join(", ", features.shape)}].", nameof(features));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor x = (features.detach().cpu().to_type(ScalarType.Float64) - _mean) / _std;
        return nn.functional.softmax(x.matmul(_weight.t()).add(_bias, One), 1).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>The most probable class per row of <paramref name="features"/>.</summary>
    public int[] Predict(Tensor features)
    {
        using var scope = torch.NewDisposeScope();
        return PredictProbabilities(features).argmax(1).data<long>().Select(v => (int)v).ToArray();
    }

    /// <summary>Accuracy on the rows of <paramref name="labels"/> that are not -1.</summary>
    /// <exception cref="ArgumentException">The label count differs from the rows, or no row is labeled.</exception>
    public double Accuracy(Tensor features, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        int[] predicted = Predict(features);
        if (predicted.Length != labels.Length) throw new ArgumentException($"{labels.Length} labels for {predicted.Length} rows.", nameof(labels));
        int labeled = labels.Count(l => l >= 0);
        if (labeled == 0) throw new ArgumentException("No labeled rows.", nameof(labels));
        return predicted.Zip(labels).Count(p => p.Second >= 0 && p.First == p.Second) / (double)labeled;
    }

    /// <summary>Releases the weights.</summary>
    public void Dispose()
    {
        _weight.Dispose();
        _bias.Dispose();
        _mean.Dispose();
        _std.Dispose();
    }
}
