using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// Weighted k-nearest-neighbour classification by cosine similarity, as used to monitor SSL pretraining (Wu et al.,
/// 2018; solo-learn's online kNN): each of the k nearest reference rows votes for its class with weight
/// exp(similarity / temperature).
/// </summary>
public static class KnnClassifier
{
    /// <summary>Predicted class per query row.</summary>
    /// <param name="reference">[M, d] embeddings with known labels.</param>
    /// <param name="referenceLabels">M labels, 0-based.</param>
    /// <param name="queries">[Q, d] embeddings to classify.</param>
    /// <param name="k">Neighbours (at least 1; clamped to M).</param>
    /// <param name="temperature">Vote temperature (positive); small values give the nearest row almost all the weight (1-NN), large ones approach a plain majority vote of the k rows. Default 0.07.</param>
    /// <exception cref="ArgumentException">No reference rows, a label count that differs from the rows, a negative label, or
    /// queries of another width than the reference rows.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is below 1, or the temperature is not a positive number.</exception>
    public static int[] Predict(Tensor reference, int[] referenceLabels, Tensor queries, int k, double temperature = 0.07)
    {
        if (reference.shape[0] != referenceLabels.Length)
            throw new ArgumentException($"{referenceLabels.Length} labels for {reference.shape[0]} reference rows.", nameof(referenceLabels));
        if (referenceLabels.Length == 0) throw new ArgumentException("No reference rows.", nameof(reference));
        // Checked here: a negative label reached libtorch's scatter as an index, and k = 0 voted for nobody (class 0 for every query).
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (!(temperature > 0) || double.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The vote temperature must be a positive number.");
        int negative = Array.FindIndex(referenceLabels, l => l < 0);
        if (negative >= 0)
            throw new ArgumentException($"Reference row {negative} has label {referenceLabels[negative]}; reference labels are 0-based classes " +
                "(leave unlabeled rows, marked -1 elsewhere in MlNetSsl, out of the reference).", nameof(referenceLabels));
        if (reference.dim() != 2 || queries.dim() != 2 || queries.shape[1] != reference.shape[1])
            throw new ArgumentException($"The reference rows and the queries must be [M, d] and [Q, d]; got [{string.Join(", ", reference.shape)}] " +
                $"and [{string.Join(", ", queries.shape)}].", nameof(queries));
        using var scope = torch.NewDisposeScope();
        int classes = referenceLabels.Max() + 1;
        int neighbours = Math.Min(k, referenceLabels.Length);
        var refNorm = nn.functional.normalize(reference.to_type(ScalarType.Float32), dim: 1);
        var queryNorm = nn.functional.normalize(queries.to_type(ScalarType.Float32).to(reference.device), dim: 1);
        var labels = torch.tensor(referenceLabels.Select(l => (long)l).ToArray(), device: reference.device);
        var predictions = new List<int>((int)queries.shape[0]);
        const int chunk = 1024;
        for (long start = 0; start < queryNorm.shape[0]; start += chunk)
        {
            using var inner = torch.NewDisposeScope();
            long end = Math.Min(start + chunk, queryNorm.shape[0]);
            var similarity = queryNorm.narrow(0, start, end - start).matmul(refNorm.t());
            var (values, indices) = similarity.topk(neighbours, dim: 1);
            // Measured from the nearest row's similarity (topk's first), which scales a query's votes alike and keeps them
            // finite: exp(1 / 0.01) overflows float32, and every vote became +inf, the tie going to the lowest class.
            var weights = values.sub(values.narrow(1, 0, 1)).div(Held(temperature)).exp();
            var votes = torch.zeros(new[] { end - start, classes }, device: reference.device);
            votes.scatter_add_(1, labels[indices], weights);
            predictions.AddRange(votes.argmax(1).cpu().data<long>().Select(v => (int)v));
        }
        return predictions.ToArray();
    }

    /// <summary>Fraction of <paramref name="queryLabels"/> that <see cref="Predict"/> gets right.</summary>
    public static double Accuracy(Tensor reference, int[] referenceLabels, Tensor queries, int[] queryLabels, int k, double temperature = 0.07)
    {
        int[] predicted = Predict(reference, referenceLabels, queries, k, temperature);
        if (predicted.Length != queryLabels.Length)
            throw new ArgumentException($"{queryLabels.Length} labels for {predicted.Length} query rows.", nameof(queryLabels));
        return predicted.Length == 0 ? double.NaN : predicted.Zip(queryLabels).Count(p => p.First == p.Second) / (double)predicted.Length;
    }
}
