using System.Diagnostics;
using System.Globalization;
using MlNetSsl.TestData;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl.LabelEfficiency;

/// <summary>
/// Which signal ranks pretrained encoders best when labels are few (issue 15): label-free measures of the embeddings
/// against cross-validation on the few labels there are. Pretrains a set of seeded random configurations (method, epochs,
/// learning rate) on one dataset's pool; for each it measures RankMe, alignment and uniformity of two augmented views,
/// kNN retrieval of a row's other view, and (images) rotation prediction, none of which reads a label. Then, for several
/// label counts per class and several label draws, it computes what an AutoML search would see, stratified
/// cross-validated linear-probe accuracy on the drawn labels, and what the user gets, the test accuracy of a linear probe
/// trained on those same labels. Every signal's Spearman rank correlation with that test accuracy, over the configurations,
/// is averaged over the draws: the signal with the higher correlation picks better encoders at that label count.
/// </summary>
internal static class LabelFreeStudy
{
    private sealed record Configuration(string Method, int Epochs, double LearningRate);

    private sealed record Measured(Configuration Configuration, double Seconds, Dictionary<string, double> LabelFree, Tensor Pool, Tensor Test);

    public static void Run(BenchmarkData data, int configurations, int[] labelsPerClass, int draws, Action<string> log)
    {
        bool image = data.Shape.Kind == SslInputKind.Image;
        log($"## {data.Description}");
        log($"CPU: {CpuModel()}, {Environment.ProcessorCount} logical cores, load average {LoadAverage()}; {SslEnvironment.Describe()}");
        using var pool = new SslTensorDataset(torch.tensor(data.PoolRows).reshape(data.Shape.BatchShape(data.PoolLabels.Length)), data.Shape);
        using Tensor test = torch.tensor(data.TestRows).reshape(data.Shape.BatchShape(data.TestLabels.Length));

        var random = new Random(23);
        string[] methods = [.. SslMethodRegistry.NamesFor(data.Shape.Kind)];
        int[] epochChoices = image ? [1, 2, 4] : [1, 3, 9];
        var results = new List<Measured>();
        for (int c = 0; c < configurations; c++)
        {
            // Every method once before any twice, so a small study still covers them all.
            var configuration = new Configuration(methods[c % methods.Length], epochChoices[random.Next(epochChoices.Length)],
                Math.Exp(Math.Log(3e-4) + random.NextDouble() * (Math.Log(3e-3) - Math.Log(3e-4))));
            var clock = Stopwatch.StartNew();
            torch.manual_seed(100 + c);
            SslEncoder encoder = EncoderFactory.Create(data.Shape, new EncoderOptions());
            ISslMethod method = SslMethodFactory.Create(configuration.Method, encoder);
            try
            {
                SslPretrainer.Run(method, pool, DefaultAugmentations.For(configuration.Method, data.Shape), new PretrainingOptions
                {
                    Epochs = configuration.Epochs, BatchSize = (int)Math.Min(256, pool.Count), LearningRate = configuration.LearningRate,
                    Seed = 100 + c, AllowCuda = false,
                });
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                log($"  {configuration}: pretraining failed ({e.Message}); left out");
                method.Module.Dispose();
                continue;
            }
            method.Module.eval();
            Dictionary<string, double> labelFree = MeasureLabelFree(encoder, pool, image, data.ClassCount, seed: c);
            Tensor poolEmbeddings, testEmbeddings;
            using (torch.NewDisposeScope())
            {
                poolEmbeddings = Embed(encoder, pool.Slice(0, pool.Count, CPU)).MoveToOuterDisposeScope();
                testEmbeddings = Embed(encoder, test).MoveToOuterDisposeScope();
            }
            method.Module.Dispose();
            results.Add(new Measured(configuration, clock.Elapsed.TotalSeconds, labelFree, poolEmbeddings, testEmbeddings));
            log($"  {configuration.Method} {configuration.Epochs} epochs lr {configuration.LearningRate:0.00000}: {clock.Elapsed.TotalSeconds:0.0} s, " +
                string.Join(", ", labelFree.Select(m => $"{m.Key} {m.Value:0.000}")));
        }

        // Pre-chosen before any measurement of it: the mean rank of the two signals that ranked best in the previous study
        // (RankMe with rotation prediction for images; RankMe with the new kNN overlap for vectors), so noise in one can be
        // outvoted by the other.
        string partner = image ? "rotation prediction" : "view kNN overlap";
        double[] rankMeRanks = RankCorrelation.Ranks(results.Select(r => r.LabelFree["RankMe fraction"]).ToArray());
        double[] partnerRanks = RankCorrelation.Ranks(results.Select(r => r.LabelFree[partner]).ToArray());
        for (int i = 0; i < results.Count; i++) results[i].LabelFree[$"mean rank (RankMe, {partner})"] = (rankMeRanks[i] + partnerRanks[i]) / 2;

        string[] signals = [.. results[0].LabelFree.Keys];
        log("");
        log($"| labels per class | {string.Join(" | ", signals)} | cross-validated accuracy | test accuracy, best vs median configuration |");
        log($"|---|{string.Join("", signals.Select(_ => "---|"))}---|---|");
        int classes = data.ClassCount;
        foreach (int k in labelsPerClass)
        {
            var signalCorrelations = signals.ToDictionary(s => s, _ => new List<double>());
            var crossValidated = new List<double>();
            var spread = new List<(double Best, double Median)>();
            for (int draw = 0; draw < draws; draw++)
            {
                int[] labeled = DrawPerClass(data.PoolLabels, classes, k, seed: 1000 * k + draw);
                int[] labels = labeled.Select(i => data.PoolLabels[i]).ToArray();
                double[] truth = results.Select(r => ProbeAccuracy(r.Pool, labeled, labels, r.Test, data.TestLabels)).ToArray();
                double[] cv = results.Select(r => CrossValidatedAccuracy(r.Pool, labeled, labels, Math.Min(5, k), seed: draw)).ToArray();
                crossValidated.Add(Correlation(cv, truth));
                foreach (string s in signals) signalCorrelations[s].Add(Correlation(results.Select(r => r.LabelFree[s]), truth));
                double[] sorted = [.. truth.Order()];
                spread.Add((sorted[^1], sorted[sorted.Length / 2]));
            }
            log($"| {k} ({k * classes} labels) | {string.Join(" | ", signals.Select(s => MeanAndSpread(signalCorrelations[s])))} | " +
                $"{MeanAndSpread(crossValidated)} | {100 * spread.Average(p => p.Best):0.0} vs {100 * spread.Average(p => p.Median):0.0} |");
        }
        // The reference: every pool label. Its test accuracy is the encoder's quality with the label-draw noise removed, and
        // its cross-validated accuracy is what the issue's target ranks against.
        int[] everyRow = Enumerable.Range(0, data.PoolLabels.Length).ToArray();
        double[] fullTest = results.Select(r => ProbeAccuracy(r.Pool, everyRow, data.PoolLabels, r.Test, data.TestLabels)).ToArray();
        double[] fullCv = results.Select(r => CrossValidatedAccuracy(r.Pool, everyRow, data.PoolLabels, 5, seed: 0)).ToArray();
        double[] fullSorted = [.. fullTest.Order()];
        log($"| all {everyRow.Length} pool labels (reference; Spearman with their test accuracy) | " +
            $"{string.Join(" | ", signals.Select(s => Correlation(results.Select(r => r.LabelFree[s]), fullTest).ToString("0.00", CultureInfo.InvariantCulture)))} | " +
            $"{Correlation(fullCv, fullTest):0.00} | {100 * fullSorted[^1]:0.0} vs {100 * fullSorted[fullSorted.Length / 2]:0.0} |");
        log($"| all {everyRow.Length} pool labels (Spearman with their 5-fold cross-validated accuracy) | " +
            $"{string.Join(" | ", signals.Select(s => Correlation(results.Select(r => r.LabelFree[s]), fullCv).ToString("0.00", CultureInfo.InvariantCulture)))} | 1.00 | - |");
        log("");
        log("Per configuration: " + string.Join("; ", results.Select((r, i) => string.Create(CultureInfo.InvariantCulture,
            $"{r.Configuration.Method} {r.Configuration.Epochs} ep: test {100 * fullTest[i]:0.0}, CV {100 * fullCv[i]:0.0}"))));
        log("");
        log($"{results.Count} configurations, {draws} label draws per count; each cell: Spearman correlation with the test accuracy of a " +
            "linear probe trained on the drawn labels, mean +/- standard deviation over the draws.");
        foreach (Measured r in results)
        {
            r.Pool.Dispose();
            r.Test.Dispose();
        }
    }

    /// <summary>The label-free measures, each oriented so that larger should mean a better encoder.</summary>
    private static Dictionary<string, double> MeasureLabelFree(SslEncoder encoder, SslTensorDataset pool, bool image, int clusters, int seed)
    {
        using var scope = torch.NewDisposeScope();
        int rows = (int)Math.Min(1024, pool.Count);
        // Evenly spaced rows, so every class of a class-sorted pool is represented.
        Tensor indices = torch.linspace(0, pool.Count - 1, rows).to(ScalarType.Int64);
        Tensor batch = pool.Batch(indices, CPU);
        Tensor clean = Embed(encoder, batch);
        var generator = new torch.Generator((ulong)(7 + seed));
        AugmentationPolicy views = DefaultAugmentations.TwoView(pool.Shape);
        var context = new AugmentationContext(generator, pool.Shape);
        Tensor first = nn.functional.normalize(Embed(encoder, views.Apply(batch, context)), dim: 1);
        Tensor second = nn.functional.normalize(Embed(encoder, views.Apply(batch, context)), dim: 1);

        double alignment = EmbeddingQuality.Alignment(first, second);
        double uniformity = EmbeddingQuality.Uniformity(torch.cat([first, second], 0));
        // The fraction of rows whose nearest neighbour (cosine) among the second views is their own second view.
        double retrieval = first.matmul(second.t()).argmax(1).eq(torch.arange(rows)).to(ScalarType.Float32).mean().item<float>();
        var result = new Dictionary<string, double>
        {
            ["RankMe fraction"] = EmbeddingQuality.EffectiveRank(clean) / Math.Min(rows, clean.shape[1]),
            ["-alignment"] = -alignment,
            ["-uniformity"] = -uniformity,
            ["-(alignment + uniformity)"] = -(alignment + uniformity),
            ["view retrieval"] = retrieval,
            ["view kNN overlap"] = NeighbourOverlap(first, second, k: 10),
            ["view cluster agreement"] = ClusterAgreement(first, second, clusters, seed),
        };
        if (image) result["rotation prediction"] = RotationPrediction(encoder, batch);
        return result;
    }

    /// <summary>How much of a row's neighbourhood survives augmentation: the mean Jaccard overlap of its k nearest
    /// neighbours (cosine) among the first views and among the second views. A collapsed encoder has arbitrary neighbours.</summary>
    private static double NeighbourOverlap(Tensor first, Tensor second, int k)
    {
        using var scope = torch.NewDisposeScope();
        long n = first.shape[0];
        Tensor self = torch.eye(n, dtype: ScalarType.Bool);
        long[] a = first.matmul(first.t()).masked_fill(self, -2).topk(k, 1).indexes.data<long>().ToArray();
        long[] b = second.matmul(second.t()).masked_fill(self, -2).topk(k, 1).indexes.data<long>().ToArray();
        double total = 0;
        for (long i = 0; i < n; i++)
        {
            var left = new HashSet<long>(a.Skip((int)(i * k)).Take(k));
            int shared = b.Skip((int)(i * k)).Take(k).Count(left.Contains);
            total += shared / (double)(2 * k - shared);
        }
        return total / n;
    }

    /// <summary>Whether the embedding's cluster structure survives augmentation: k-means (as many clusters as classes) on
    /// the first views, both views assigned to the nearest centroid, and the normalized mutual information of the two
    /// assignments (0 when either puts every row in one cluster).</summary>
    private static double ClusterAgreement(Tensor first, Tensor second, int clusters, int seed)
    {
        using var scope = torch.NewDisposeScope();
        long n = first.shape[0];
        var random = new Random(seed);
        Tensor centroids = first[torch.tensor(Enumerable.Range(0, (int)n).OrderBy(_ => random.Next()).Take(clusters).Select(i => (long)i).ToArray())].clone();
        Tensor assignment = torch.zeros(n, dtype: ScalarType.Int64);
        for (int iteration = 0; iteration < 30; iteration++)
        {
            assignment = torch.cdist(first, centroids).argmin(1);
            for (int c = 0; c < clusters; c++)
            {
                Tensor members = assignment.eq(c);
                if (members.any().item<bool>()) centroids[c] = first[members].mean([0]);
            }
        }
        long[] x = torch.cdist(first, centroids).argmin(1).data<long>().ToArray();
        long[] y = torch.cdist(second, centroids).argmin(1).data<long>().ToArray();
        return NormalizedMutualInformation(x, y);
    }

    private static double NormalizedMutualInformation(long[] x, long[] y)
    {
        int n = x.Length;
        var joint = x.Zip(y).GroupBy(p => p).ToDictionary(g => g.Key, g => g.Count() / (double)n);
        var px = x.GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count() / (double)n);
        var py = y.GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count() / (double)n);
        double mutual = joint.Sum(j => j.Value * Math.Log(j.Value / (px[j.Key.First] * py[j.Key.Second])));
        double hx = -px.Values.Sum(p => p * Math.Log(p)), hy = -py.Values.Sum(p => p * Math.Log(p));
        return hx <= 0 || hy <= 0 ? 0 : mutual / Math.Sqrt(hx * hy);
    }

    /// <summary>Linear-probe accuracy at telling the four quarter turns of held-out images apart (training on the other half).</summary>
    private static double RotationPrediction(SslEncoder encoder, Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        int n = (int)images.shape[0], half = n / 2;
        Tensor[] turned = Enumerable.Range(0, 4).Select(q => Embed(encoder, q == 0 ? images : images.rot90(q, (2, 3)).contiguous())).ToArray();
        Tensor train = torch.cat(turned.Select(t => t[..half]).ToArray(), 0);
        Tensor testRows = torch.cat(turned.Select(t => t[half..]).ToArray(), 0);
        int[] trainLabels = Enumerable.Range(0, 4).SelectMany(q => Enumerable.Repeat(q, half)).ToArray();
        int[] testLabels = Enumerable.Range(0, 4).SelectMany(q => Enumerable.Repeat(q, n - half)).ToArray();
        return LinearProbe.Accuracy(train, trainLabels, testRows, testLabels);
    }

    private static Tensor Embed(SslEncoder encoder, Tensor rows)
    {
        using var noGrad = torch.no_grad();
        var parts = new List<Tensor>();
        for (long start = 0; start < rows.shape[0]; start += 512)
            parts.Add(encoder.call(rows.narrow(0, start, Math.Min(512, rows.shape[0] - start))));
        return torch.cat(parts, 0);
    }

    private static double ProbeAccuracy(Tensor pool, int[] labeled, int[] labels, Tensor test, int[] testLabels)
    {
        using var scope = torch.NewDisposeScope();
        return LinearProbe.Accuracy(pool[torch.tensor(labeled)], labels, test, testLabels);
    }

    /// <summary>Stratified k-fold accuracy of the linear probe on the labeled rows, pooled over the folds.</summary>
    private static double CrossValidatedAccuracy(Tensor pool, int[] labeled, int[] labels, int folds, int seed)
    {
        using var scope = torch.NewDisposeScope();
        var random = new Random(seed);
        var fold = new int[labeled.Length];
        foreach (var group in Enumerable.Range(0, labeled.Length).GroupBy(i => labels[i]))
        {
            int[] members = [.. group];
            random.Shuffle(members);
            for (int j = 0; j < members.Length; j++) fold[members[j]] = j % folds;
        }
        int correct = 0;
        for (int f = 0; f < folds; f++)
        {
            int[] trainAt = Enumerable.Range(0, labeled.Length).Where(i => fold[i] != f).ToArray();
            int[] testAt = Enumerable.Range(0, labeled.Length).Where(i => fold[i] == f).ToArray();
            double accuracy = LinearProbe.Accuracy(pool[torch.tensor(trainAt.Select(i => labeled[i]).ToArray())], trainAt.Select(i => labels[i]).ToArray(),
                pool[torch.tensor(testAt.Select(i => labeled[i]).ToArray())], testAt.Select(i => labels[i]).ToArray());
            correct += (int)Math.Round(accuracy * testAt.Length);
        }
        return correct / (double)labeled.Length;
    }

    private static int[] DrawPerClass(int[] labels, int classes, int perClass, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, classes).SelectMany(c =>
        {
            int[] members = Enumerable.Range(0, labels.Length).Where(i => labels[i] == c).ToArray();
            random.Shuffle(members);
            return members.Take(perClass);
        }).ToArray();
    }

    /// <summary>Spearman's correlation, 0 where a side is constant (a signal that cannot tell configurations apart).</summary>
    private static double Correlation(IEnumerable<double> signal, double[] truth) =>
        RankCorrelation.Spearman(signal, truth) is var r && double.IsNaN(r) ? 0 : r;

    private static string MeanAndSpread(List<double> values)
    {
        double mean = values.Average();
        double sd = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
        return string.Create(CultureInfo.InvariantCulture, $"{mean:0.00} +/- {sd:0.00}");
    }

    private static string CpuModel() => File.Exists("/proc/cpuinfo")
        ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
        : "unknown";

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
}
