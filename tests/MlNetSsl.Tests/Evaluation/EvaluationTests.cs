using MlNetSsl.Tests.FineTuning;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Evaluation;

/// <summary>
/// The evaluation helpers against hand-computed values (kNN votes, RankMe, alignment and uniformity), the L-BFGS linear
/// probe on real data, and the label-fraction experiment's stratified draws and statistics.
/// </summary>
public sealed class EvaluationTests(ITestOutputHelper output) : IDisposable
{
    private readonly SingleThreadScope _threads = new();

    /// <inheritdoc />
    public void Dispose() => _threads.Dispose();

    [SkippableFact]
    public void KnnRefusesNoNeighboursAnUnlabeledReferenceRowAndQueriesOfAnotherWidth()
    {
        using var scope = torch.NewDisposeScope();
        SslEnvironment.EnsureInitialized();
        Tensor reference = torch.tensor(new float[] { 1, 0, 0.6f, 0.8f, 0.6f, -0.8f }, 3, 2);
        Tensor query = torch.tensor(new float[] { 0.6f, -0.8f }, 1, 2);
        // k = 0 voted for nobody, and every query came out as class 0.
        Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => KnnClassifier.Predict(reference, [0, 1, 1], query, k: 0)).ParamName);
        // -1, the library's mark of an unlabeled row, reached libtorch's scatter as an index.
        var unlabeled = Assert.Throws<ArgumentException>(() => KnnClassifier.Predict(reference, [0, -1, 1], query, k: 2));
        Assert.Contains("-1", unlabeled.Message);
        Assert.Throws<ArgumentException>(() => KnnClassifier.Predict(reference, [0, 1, 1], torch.ones(1, 3), k: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => KnnClassifier.Predict(reference, [0, 1, 1], query, k: 2, temperature: 0));
    }

    [SkippableFact]
    public void KnnVotesAreWeightedBySimilarityOverTheTemperature()
    {
        using var scope = torch.NewDisposeScope();
        SslEnvironment.EnsureInitialized();
        // Query (1, 0): cosine 1 to the class-0 row, 0.6 to each class-1 row.
        Tensor reference = torch.tensor(new float[] { 1, 0, 0.6f, 0.8f, 0.6f, -0.8f }, 3, 2);
        int[] labels = [0, 1, 1];
        Tensor query = torch.tensor(new float[] { 2, 0 }, 1, 2);
        // k = 3, temperature 0.07: class 0 gets exp(1 / 0.07) = e^14.3, class 1 gets 2 e^(0.6 / 0.07) = 2 e^8.6: class 0.
        Assert.Equal([0], KnnClassifier.Predict(reference, labels, query, k: 3));
        // Temperature 100: e^0.01 = 1.01 against 2 e^0.006 = 2.01: the two class-1 votes win.
        Assert.Equal([1], KnnClassifier.Predict(reference, labels, query, k: 3, temperature: 100));
        // k = 1: the nearest row alone.
        Assert.Equal([0], KnnClassifier.Predict(reference, labels, query, k: 1, temperature: 100));
        Tensor queries = torch.tensor(new float[] { 1, 0.1f, 0.5f, 0.9f, 0.5f, -0.9f, 1, -0.1f }, 4, 2);
        Assert.Equal(0.75, KnnClassifier.Accuracy(reference, labels, queries, [0, 1, 1, 1], k: 1));
    }

    [SkippableFact]
    public void KnnVotesAtASmallTemperatureStillFavourTheCloserRow()
    {
        using var scope = torch.NewDisposeScope();
        SslEnvironment.EnsureInitialized();
        // Query (1, 0): cosine 0.99 to the class-0 row, 1 to the class-1 row. At temperature 0.005 the votes are e^198 and
        // e^200: class 1. In float32 both overflowed to +inf, and the tie went to class 0.
        Tensor reference = torch.tensor(new float[] { 0.99f, MathF.Sqrt(1 - 0.99f * 0.99f), 1, 0 }, 2, 2);
        Tensor query = torch.tensor(new float[] { 1, 0 }, 1, 2);
        Assert.Equal([1], KnnClassifier.Predict(reference, [0, 1], query, k: 2, temperature: 0.005));
        Assert.Equal([1], KnnClassifier.Predict(reference, [0, 1], query, k: 2, temperature: 1e-6));
    }

    [SkippableFact]
    public void EffectiveRankMatchesHandComputedValues()
    {
        using var scope = torch.NewDisposeScope();
        SslEnvironment.EnsureInitialized();
        // Three equal singular values: the entropy of a uniform distribution over 3, so the effective rank is exactly 3.
        Tensor rankThree = torch.eye(6, 3) * 5;
        Assert.Equal(3.0, EmbeddingQuality.EffectiveRank(rankThree), 6);
        // A random rank-2 matrix: between 1 and 2.
        using var generator = new Generator(1);
        Tensor lowRank = torch.randn(new long[] { 50, 2 }, generator: generator).matmul(torch.randn(new long[] { 2, 8 }, generator: generator));
        Assert.InRange(EmbeddingQuality.EffectiveRank(lowRank), 1.0, 2.0 + 1e-6);
        // Singular values 3 and 1: p = (0.75, 0.25), exp(-(0.75 ln 0.75 + 0.25 ln 0.25)) = 1.75477.
        Tensor twoValues = torch.tensor(new float[] { 3, 0, 0, 1, 0, 0 }, 3, 2);
        Assert.Equal(Math.Exp(-(0.75 * Math.Log(0.75) + 0.25 * Math.Log(0.25))), EmbeddingQuality.EffectiveRank(twoValues), 6);
        // One direction: rank 1.
        Assert.Equal(1.0, EmbeddingQuality.EffectiveRank(torch.ones(10, 4)), 6);
        // Non-finite embeddings give NaN (and the collapse warning that says so), not libtorch's SVD error.
        Tensor broken = rankThree.clone();
        broken[1, 2] = torch.tensor(float.NaN);
        double nan = EmbeddingQuality.EffectiveRank(broken);
        Assert.True(double.IsNaN(nan));
        Assert.Contains("NaN", EmbeddingQuality.CollapseWarning(EmbeddingQuality.Spread(broken), nan, 3));
        broken[1, 2] = torch.tensor(float.PositiveInfinity);
        Assert.True(double.IsNaN(EmbeddingQuality.EffectiveRank(broken)));
    }

    [SkippableFact]
    public void AlignmentAndUniformityMatchHandComputedValues()
    {
        using var scope = torch.NewDisposeScope();
        SslEnvironment.EnsureInitialized();
        // Rows are normalized first: y becomes (0, 1), (0, 1). Distances: sqrt(2) and 0.
        Tensor x = torch.tensor(new float[] { 1, 0, 0, 1 }, 2, 2);
        Tensor y = torch.tensor(new float[] { 0, 2, 0, 1 }, 2, 2);
        Assert.Equal((2.0 + 0) / 2, EmbeddingQuality.Alignment(x, y), 6);
        Assert.Equal((Math.Sqrt(2) + 0) / 2, EmbeddingQuality.Alignment(x, y, alpha: 1), 6);
        Assert.Equal(0.0, EmbeddingQuality.Alignment(x, x * 3), 9);
        // Three points on the circle: squared distances 2, 4 and 2.
        Tensor points = torch.tensor(new float[] { 1, 0, 0, 1, -1, 0 }, 3, 2);
        Assert.Equal(Math.Log((2 * Math.Exp(-4) + Math.Exp(-8)) / 3), EmbeddingQuality.Uniformity(points), 6);
        Assert.Equal(Math.Log((2 * Math.Exp(-2) + Math.Exp(-4)) / 3), EmbeddingQuality.Uniformity(points, t: 1), 6);
        // Every row the same point: uniformity 0, its maximum.
        Assert.Equal(0.0, EmbeddingQuality.Uniformity(torch.ones(5, 3)), 9);
        Assert.Throws<ArgumentException>(() => EmbeddingQuality.Alignment(x, torch.zeros(3, 2)));
        Assert.Throws<ArgumentException>(() => EmbeddingQuality.Uniformity(torch.ones(1, 3)));
    }

    [SkippableFact]
    public void AlignmentAndUniformityOfAnEncoderOnRealRows()
    {
        using var scope = torch.NewDisposeScope();
        using SslTensorDataset rows = FineTuneTestData.Slice(FineTuneTestData.Banknote(), 0, 300);
        torch.manual_seed(2);
        using SslEncoder encoder = EncoderFactory.Create(rows.Shape, new EncoderOptions { HiddenSize = 32 });

        var (identicalAlignment, uniformity) = EmbeddingQuality.AlignmentAndUniformity(encoder, rows, AugmentationPolicy.None);
        var (augmentedAlignment, _) = EmbeddingQuality.AlignmentAndUniformity(encoder, rows, new AugmentationPolicy(new ScarfCorruption()), seed: 3);
        var again = EmbeddingQuality.AlignmentAndUniformity(encoder, rows, new AugmentationPolicy(new ScarfCorruption()), seed: 3);
        output.WriteLine($"banknote, random MLP: alignment {identicalAlignment:0.####} (no augmentation), {augmentedAlignment:0.####} (SCARF); uniformity {uniformity:0.###}");

        Assert.Equal(0.0, identicalAlignment, 9);           // two identical views
        Assert.Equal(augmentedAlignment, again.Alignment);  // seeded
        Assert.True(encoder.training);                      // mode restored

        // Two SCARF views of a row are closer than two different rows (measured 0.73 against 0.94: SCARF corrupts much
        // of banknote's 4 features), and a random MLP's embeddings spread out
        // (uniformity well below 0, the value of embeddings collapsed to one point; -4 is the bound at t = 2).
        double otherRows;
        using (torch.no_grad())
        {
            encoder.eval();
            Tensor embeddings = encoder.forward(rows.Slice(0, rows.Count, torch.CPU));
            otherRows = EmbeddingQuality.Alignment(embeddings, embeddings.roll(1, 0));
            encoder.train();
        }
        output.WriteLine($"alignment of different rows: {otherRows:0.####}");
        Assert.InRange(augmentedAlignment, 1e-4, 0.9 * otherRows);
        Assert.InRange(uniformity, -4.0, -0.5);
    }

    [SkippableFact]
    public void LinearProbeSeparatesRealClassesAndIsDeterministic()
    {
        using var scope = torch.NewDisposeScope();
        var table = FineTuneTestData.Banknote();
        using SslTensorDataset train = FineTuneTestData.Slice(table, 0, 200), test = FineTuneTestData.Slice(table, 1000, 372);
        Tensor trainRows = train.Slice(0, train.Count, torch.CPU), testRows = test.Slice(0, test.Count, torch.CPU);

        using LinearProbe probe = LinearProbe.Fit(trainRows, train.Labels!);
        double accuracy = probe.Accuracy(testRows, test.Labels!);
        output.WriteLine($"banknote, 200 labels, raw features: L-BFGS linear probe {accuracy:P1}");
        Assert.True(accuracy >= 0.96, $"accuracy {accuracy:P1}");
        Tensor probabilities = probe.PredictProbabilities(testRows);
        Assert.True(probabilities.sum(1).allclose(torch.ones(test.Count), atol: 1e-5));
        using LinearProbe same = LinearProbe.Fit(trainRows, train.Labels!);
        Assert.True(same.PredictProbabilities(testRows).eq(probabilities).all().item<bool>());
        Assert.Equal(accuracy, LinearProbe.Accuracy(trainRows, train.Labels!, testRows, test.Labels!));
        // Rows labeled -1 are skipped.
        int[] partly = train.Labels!.Select((l, i) => i < 100 ? l : -1).ToArray();
        using LinearProbe half = LinearProbe.Fit(trainRows, partly);
        Assert.Equal(2, half.ClassCount);
        Assert.Throws<ArgumentException>(() => LinearProbe.Fit(trainRows, new int[200].Select(_ => -1).ToArray()));
        Assert.Throws<ArgumentException>(() => probe.PredictProbabilities(torch.zeros(3, 5)));
    }

    [SkippableFact]
    public void LinearProbeGivesTheSameProbabilitiesForFeaturesInSmallUnits()
    {
        // Standardization makes the probe blind to units, but a deviation below 1e-6 was taken as 1e-6: features that small
        // (embeddings of small scale, raw values in volts) stayed near 0 and the L2 penalty held the weights back.
        using var scope = torch.NewDisposeScope();
        var table = FineTuneTestData.Banknote();
        using SslTensorDataset train = FineTuneTestData.Slice(table, 0, 200), test = FineTuneTestData.Slice(table, 1000, 372);
        Tensor trainRows = train.Slice(0, train.Count, torch.CPU), testRows = test.Slice(0, test.Count, torch.CPU);
        using LinearProbe probe = LinearProbe.Fit(trainRows, train.Labels!);
        using LinearProbe small = LinearProbe.Fit(trainRows * 1e-7, train.Labels!);
        Tensor expected = probe.PredictProbabilities(testRows), actual = small.PredictProbabilities(testRows * 1e-7);
        double worst = (actual - expected).abs().max().item<float>();
        output.WriteLine($"largest probability difference {worst:G3}");
        Assert.True(worst < 1e-3, $"largest probability difference {worst:G3}");
        // A feature of one value in every row is centred only.
        Tensor constant = trainRows.clone();
        constant[.., 0] = 0.5f;
        using LinearProbe withConstant = LinearProbe.Fit(constant, train.Labels!);
        Assert.True(withConstant.PredictProbabilities(testRows).isfinite().all().item<bool>());
    }

    [SkippableFact]
    public void LabelDrawsAreStratifiedNestedAndSeeded()
    {
        // Classes of 50, 30 and 20 rows, interleaved, plus 5 rows without a label.
        int[] pool = Enumerable.Range(0, 100).Select(i => i < 50 ? 0 : i < 80 ? 1 : 2).OrderBy(i => (i * 37) % 101).Concat(Enumerable.Repeat(-1, 5)).ToArray();
        int[] Counts(LabelDraw d) => [.. Enumerable.Range(0, 3).Select(c => d.LabeledRows.Count(i => pool[i] == c))];

        LabelDraw tenth = LabelFractionExperiment.Draw(pool, 0.1, seed: 1);
        Assert.Equal([5, 3, 2], Counts(tenth));
        Assert.Equal(pool.Length, tenth.LabeledRows.Length + tenth.UnlabeledRows.Length);
        Assert.Empty(tenth.LabeledRows.Intersect(tenth.UnlabeledRows));
        Assert.Equal(tenth.LabeledRows.Order(), tenth.LabeledRows);
        Assert.All(Enumerable.Range(100, 5), i => Assert.Contains(i, tenth.UnlabeledRows));
        Assert.Equal(tenth.LabeledRows.Select(i => pool[i]), tenth.Labels);

        // Largest remainder: exact shares 7.5, 4.5 and 3 of a target of 15; the tie goes to the smaller class index.
        Assert.Equal([8, 4, 3], Counts(LabelFractionExperiment.Draw(pool, 0.15, seed: 1)));
        // Tiny fractions still give every class its minimum.
        Assert.Equal([2, 2, 2], Counts(LabelFractionExperiment.Draw(pool, 0.01, seed: 1)));
        Assert.Equal([1, 0, 0], Counts(LabelFractionExperiment.Draw(pool, 0.01, seed: 1, minimumPerClass: 0)));
        Assert.Equal(100, LabelFractionExperiment.Draw(pool, 1.0, seed: 1).LabeledRows.Length);

        // Nested across fractions, fixed by the seed, different across seeds.
        LabelDraw half = LabelFractionExperiment.Draw(pool, 0.5, seed: 1);
        Assert.Subset(half.LabeledRows.ToHashSet(), tenth.LabeledRows.ToHashSet());
        Assert.Equal(tenth.LabeledRows, LabelFractionExperiment.Draw(pool, 0.1, seed: 1).LabeledRows);
        Assert.NotEqual(tenth.LabeledRows, LabelFractionExperiment.Draw(pool, 0.1, seed: 2).LabeledRows);

        Assert.Throws<ArgumentOutOfRangeException>(() => LabelFractionExperiment.Draw(pool, 0, seed: 1));
        Assert.Throws<ArgumentException>(() => LabelFractionExperiment.Draw([-1, -1], 0.5, seed: 1));
    }

    [SkippableFact]
    public void LabelDrawsMakeDatasets()
    {
        using var scope = torch.NewDisposeScope();
        using SslTensorDataset pool = FineTuneTestData.Slice(FineTuneTestData.Banknote(), 0, 100);
        LabelDraw draw = LabelFractionExperiment.Draw(pool.Labels!, 0.2, seed: 4);
        using SslTensorDataset labeled = draw.Labeled(pool), unlabeled = draw.Unlabeled(pool), masked = draw.Masked(pool);

        Assert.Equal(20, labeled.Count);
        Assert.Equal(draw.Labels, labeled.Labels);
        Assert.Equal(80, unlabeled.Count);
        Assert.Null(unlabeled.Labels);
        Assert.Equal(100, masked.Count);
        Assert.Equal(20, masked.Labels!.Count(l => l >= 0));
        Tensor expected = pool.Batch(torch.tensor(draw.LabeledRows.Select(i => (long)i).ToArray()), torch.CPU);
        Assert.True(labeled.Slice(0, 20, torch.CPU).eq(expected).all().item<bool>());
        using SslTensorDataset other = FineTuneTestData.Slice(FineTuneTestData.Banknote(), 0, 50);
        Assert.Throws<ArgumentException>(() => draw.Labeled(other));
    }

    [SkippableFact]
    public void LabelFractionExperimentReportsMeanAndStandardDeviationPerCandidate()
    {
        int[] pool = Enumerable.Range(0, 200).Select(i => i % 4).ToArray();
        var seen = new List<(string, double, int, int[])>();
        // Scores with known statistics: 0.5 + 0.01 * seed (seeds 1, 2, 3: mean 0.52, sample std 0.01), and a constant.
        var candidates = new[]
        {
            new LabelFractionCandidate("seeded", d => { seen.Add(("seeded", d.Fraction, d.Seed, d.LabeledRows)); return 0.5 + 0.01 * d.Seed; }),
            new LabelFractionCandidate("size", d => { seen.Add(("size", d.Fraction, d.Seed, d.LabeledRows)); return d.LabeledRows.Length / 200.0; }),
        };
        var lines = new List<string>();
        LabelFractionReport report = LabelFractionExperiment.Run(pool, [1.0, 0.1], [1, 2, 3], candidates, progress: new SyncProgress(lines.Add));

        Assert.Equal(4, report.Scores.Count);
        Assert.Equal([0.1, 0.1, 1.0, 1.0], report.Scores.Select(s => s.Fraction).Order());
        LabelFractionScore seeded = report["seeded", 0.1];
        Assert.Equal(0.52, seeded.Mean, 12);
        Assert.Equal(0.01, seeded.StandardDeviation, 12);
        Assert.Equal([0.51, 0.52, 0.53], seeded.Scores.Select(s => Math.Round(s, 12)));
        Assert.Equal(20, seeded.LabeledRows);
        Assert.Equal(0.1, report["size", 0.1].Mean, 12);
        Assert.Equal(0.0, report["size", 1.0].StandardDeviation, 12);
        Assert.Equal(12, lines.Count);
        // Both candidates saw the very same draws.
        foreach (var group in seen.GroupBy(s => (s.Item2, s.Item3)))
            Assert.Equal(group.First().Item4, group.Last().Item4);
        string table = report.ToMarkdown();
        output.WriteLine(table);
        Assert.Contains("| seeded | 52.0 ± 1.0 | 52.0 ± 1.0 |", table);
        Assert.Contains("(20 labels)", table);

        Assert.Throws<ArgumentException>(() => LabelFractionExperiment.Run(pool, [0.1], [1], [candidates[0], candidates[0]]));
        Assert.Throws<ArgumentException>(() => LabelFractionExperiment.Run(pool, [], [1], candidates));
        Assert.Throws<InvalidOperationException>(() => LabelFractionExperiment.Run(pool, [0.1], [1], [new LabelFractionCandidate("nan", _ => double.NaN)]));
        Assert.Throws<KeyNotFoundException>(() => report["missing", 0.1]);
    }

    private sealed class SyncProgress(Action<string> callback) : IProgress<string>
    {
        public void Report(string value) => callback(value);
    }
}
