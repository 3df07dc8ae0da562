using System.Diagnostics;
using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl.LabelEfficiency;

/// <summary>
/// Runs the label-efficiency protocol on one dataset: pretrain one encoder (once), then for every label fraction and
/// seed draw stratified labels (<see cref="LabelFractionExperiment.Draw"/>) and score every row of the comparison on
/// the test set, recording wall time per run. Writes a Markdown table and a PNG plot.
/// </summary>
public static class LabelEfficiencyBenchmark
{
    /// <summary>Raw features with ML.NET's L-BFGS maximum-entropy trainer.</summary>
    public const string RawLbfgs = "Raw features + ML.NET L-BFGS max-ent";

    /// <summary>Raw features with ML.NET's LightGBM trainer (tabular data only).</summary>
    public const string RawLightGbm = "Raw features + ML.NET LightGBM";

    /// <summary>The same encoder trained from random weights on the labeled rows with the same augmentations.</summary>
    public const string Scratch = "Supervised from scratch (same encoder + augmentations)";

    /// <summary>L-BFGS linear probe on frozen SSL embeddings.</summary>
    public const string Probe = "SSL + linear probe";

    /// <summary>LightGBM on frozen SCARF embeddings (tabular data only).</summary>
    public const string SslLightGbm = "SSL (SCARF) features + ML.NET LightGBM";

    /// <summary>LightGBM on the raw features next to the frozen SCARF embeddings (tabular data only).</summary>
    public const string RawPlusSslLightGbm = "Raw + SCARF features + ML.NET LightGBM";

    /// <summary>LightGBM on frozen VIME embeddings (tabular data only).</summary>
    public const string VimeLightGbm = "SSL (VIME) features + ML.NET LightGBM";

    /// <summary>LightGBM on the raw features next to the frozen VIME embeddings (tabular data only).</summary>
    public const string RawPlusVimeLightGbm = "Raw + VIME features + ML.NET LightGBM";

    // Tabular SSL rows scored with LightGBM, so they are compared with LightGBM on raw features.
    private static readonly string[] LightGbmSslRows = [SslLightGbm, RawPlusSslLightGbm, VimeLightGbm, RawPlusVimeLightGbm];

    /// <summary>Full fine-tuning of the pretrained encoder.</summary>
    public const string FineTune = "SSL + fine-tune";

    /// <summary>Fine-tuning with FixMatch on the unlabeled rest of the pool.</summary>
    public const string FixMatch = "SSL + semi-supervised fine-tune (FixMatch)";

    /// <summary>Fine-tuning, then self-distillation on all pool rows.</summary>
    public const string Distill = "SSL + fine-tune + distill";

    private sealed record Row(string Name, bool IsSsl, bool NeedsUnlabeled, Func<LabelDraw, double> Evaluate);

    /// <summary>Scores and wall seconds of one row at one fraction.</summary>
    private sealed class Cell
    {
        public List<double> Scores { get; } = [];
        public List<double> Seconds { get; } = [];
    }

    /// <summary>Runs the protocol on <paramref name="data"/> and writes <c>{key}.md</c> under <see cref="BenchmarkSettings.Out"/>
    /// and <c>label-efficiency-{key}.png</c> under <see cref="BenchmarkSettings.Plots"/> (rewritten after every fraction).</summary>
    /// <param name="data">The dataset.</param>
    /// <param name="key">Short dataset key for file names.</param>
    /// <param name="settings">Protocol settings.</param>
    /// <param name="log">Receives progress lines.</param>
    public static void Run(BenchmarkData data, string key, BenchmarkSettings settings, Action<string> log)
    {
        using var scope = torch.NewDisposeScope();
        bool tabular = data.Shape.Kind == SslInputKind.Tabular;
        int width = data.Shape.Size;
        using var pool = new SslTensorDataset(torch.tensor(data.PoolRows, data.Shape.BatchShape(data.PoolLabels.Length)), data.Shape, data.PoolLabels);
        using var test = new SslTensorDataset(torch.tensor(data.TestRows, data.Shape.BatchShape(data.TestLabels.Length)), data.Shape, data.TestLabels);
        log($"== {data.Description}; {SslEnvironment.Describe()}, {settings.Threads} threads");

        // Pretrain once per dataset; every fraction, seed and row reuses this encoder (FineTuner copies it).
        Pretrained pretrained = Pretrain(data, pool, settings, log, tabular ? SslMethod.Scarf : SslMethod.SimClr);
        using var method = pretrained.Method;
        SslEncoder encoder = method.Encoder;
        ProjectionHead? head = FineTuner.FindProjectionHead(method);
        Tensor poolEmbeddings, testEmbeddings;
        using (torch.no_grad())
        {
            poolEmbeddings = encoder.EmbedAll(pool);
            testEmbeddings = encoder.EmbedAll(test);
        }
        int embeddingWidth = (int)poolEmbeddings.shape[1];
        float[] poolEmbeddingRows = poolEmbeddings.data<float>().ToArray(), testEmbeddingRows = testEmbeddings.data<float>().ToArray();

        FineTuneOptions Options(LabelDraw draw) => new()
        {
            Epochs = settings.FineTuneEpochs, StepsPerEpoch = settings.StepsPerEpoch, Seed = draw.Seed, AllowCuda = false,
            ClassCount = data.ClassCount,
        };
        double TrainAndScore(SslEncoder start, LabelDraw draw, Action<FineTuneOptions> configure)
        {
            using var runScope = torch.NewDisposeScope();
            using SslTensorDataset labeled = draw.Labeled(pool);
            using SslTensorDataset? unlabeled = draw.UnlabeledRows.Length > 0 ? draw.Unlabeled(pool) : null;
            FineTuneOptions options = Options(draw);
            options.UnlabeledRows = unlabeled;
            configure(options);
            FineTuneResult result = FineTuner.Train(start, labeled, options, head);
            try
            {
                return result.Classifier.Accuracy(test);
            }
            finally
            {
                result.Classifier.Dispose();
                result.Teacher?.Dispose();
            }
        }

        var rows = new List<Row>
        {
            new(RawLbfgs, false, false, d => MlNetBaselines.Accuracy(MlNetBaselines.Trainer.LbfgsMaximumEntropy,
                Gather(data.PoolRows, d.LabeledRows, width), d.Labels, data.TestRows, data.TestLabels, width, data.ClassCount, d.Seed)),
        };
        if (tabular)
            rows.Add(new(RawLightGbm, false, false, d => MlNetBaselines.Accuracy(MlNetBaselines.Trainer.LightGbm,
                Gather(data.PoolRows, d.LabeledRows, width), d.Labels, data.TestRows, data.TestLabels, width, data.ClassCount, d.Seed,
                settings.Threads)));
        int scratchEpochs = settings.ScratchEpochs ?? 2 * settings.FineTuneEpochs;
        rows.Add(new(Scratch, false, false, d =>
        {
            torch.manual_seed(d.Seed);
            using SslEncoder untrained = EncoderFactory.Create(data.Shape, new EncoderOptions());
            // An untrained encoder: FineTuner then does plain supervised training with the fine-tuning augmentations.
            return TrainAndScore(untrained, d, o => o.Epochs = scratchEpochs);
        }));
        rows.Add(new(Probe, true, false, d =>
        {
            using var probeScope = torch.NewDisposeScope();
            Tensor train = poolEmbeddings.index_select(0, torch.tensor(d.LabeledRows.Select(i => (long)i).ToArray()));
            return LinearProbe.Accuracy(train, d.Labels, testEmbeddings, data.TestLabels);
        }));
        Pretrained? vime = null;
        if (tabular)
        {
            // Trees split on single raw features, which an embedding mixes; so the SSL features are also given next to the
            // raw ones, and VIME (reconstruction of masked values) is the second tabular method.
            float[] poolScarf = Concat(data.PoolRows, width, poolEmbeddingRows, embeddingWidth);
            float[] testScarf = Concat(data.TestRows, width, testEmbeddingRows, embeddingWidth);
            vime = Pretrain(data, pool, settings, log, SslMethod.Vime);
            float[] poolVime, testVime;
            try
            {
                using (torch.no_grad())
                using (var vimeScope = torch.NewDisposeScope())
                {
                    poolVime = vime.Method.Encoder.EmbedAll(pool).data<float>().ToArray();
                    testVime = vime.Method.Encoder.EmbedAll(test).data<float>().ToArray();
                }
            }
            finally
            {
                vime.Method.Dispose(); // only its embeddings are needed from here on
            }
            int vimeWidth = poolVime.Length / data.PoolLabels.Length;
            float[] poolRawVime = Concat(data.PoolRows, width, poolVime, vimeWidth), testRawVime = Concat(data.TestRows, width, testVime, vimeWidth);
            Func<LabelDraw, double> LightGbmOn(float[] poolFeatures, float[] testFeatures, int featureWidth) => d =>
                MlNetBaselines.Accuracy(MlNetBaselines.Trainer.LightGbm, Gather(poolFeatures, d.LabeledRows, featureWidth), d.Labels,
                    testFeatures, data.TestLabels, featureWidth, data.ClassCount, d.Seed, settings.Threads);
            rows.Add(new(SslLightGbm, true, false, LightGbmOn(poolEmbeddingRows, testEmbeddingRows, embeddingWidth)));
            rows.Add(new(RawPlusSslLightGbm, true, false, LightGbmOn(poolScarf, testScarf, width + embeddingWidth)));
            rows.Add(new(VimeLightGbm, true, false, LightGbmOn(poolVime, testVime, vimeWidth)));
            rows.Add(new(RawPlusVimeLightGbm, true, false, LightGbmOn(poolRawVime, testRawVime, width + vimeWidth)));
        }
        rows.Add(new(FineTune, true, false, d => TrainAndScore(encoder, d, _ => { })));
        rows.Add(new(FixMatch, true, true, d => TrainAndScore(encoder, d, o => o.SemiSupervised = new SemiSupervisedOptions())));
        rows.Add(new(Distill, true, false, d => TrainAndScore(encoder, d, o => o.Distill = new DistillationOptions { Epochs = settings.DistillEpochs })));

        var cells = rows.ToDictionary(r => r.Name, _ => new Dictionary<double, Cell>());
        var labelCounts = new Dictionary<double, int>();
        foreach (double fraction in settings.Fractions.Distinct().Order())
        {
            foreach (int seed in settings.Seeds)
            {
                LabelDraw draw = LabelFractionExperiment.Draw(data.PoolLabels, fraction, seed);
                labelCounts[fraction] = draw.LabeledRows.Length;
                foreach (Row row in rows)
                {
                    // FixMatch needs unlabeled rows; at 100% labels there are none, so the row is left blank there.
                    if (row.NeedsUnlabeled && draw.UnlabeledRows.Length == 0) continue;
                    var clock = Stopwatch.StartNew();
                    double accuracy = row.Evaluate(draw);
                    clock.Stop();
                    Cell cell = cells[row.Name].TryGetValue(fraction, out Cell? c) ? c : cells[row.Name][fraction] = new Cell();
                    cell.Scores.Add(accuracy);
                    cell.Seconds.Add(clock.Elapsed.TotalSeconds);
                    log($"  {fraction:P0} ({draw.LabeledRows.Length} labels) seed {seed}: {row.Name}: {accuracy:P1} in {clock.Elapsed.TotalSeconds:0.0} s");
                }
            }
            // Rewrite the report after every fraction so that an interrupted run still leaves its finished part.
            Write(data, key, settings, [pretrained, .. vime is null ? Array.Empty<Pretrained>() : [vime]], scratchEpochs, rows, cells, labelCounts, log);
        }
    }

    private sealed record Pretrained(ISslMethod Method, SslMethod Kind, int EpochsRun, int EpochsPlanned, double Seconds, double MinutesCap, int BatchSize);

    private static Pretrained Pretrain(BenchmarkData data, SslTensorDataset pool, BenchmarkSettings settings, Action<string> log, SslMethod kind)
    {
        bool image = data.Shape.Kind == SslInputKind.Image;
        int epochs = settings.PretrainEpochs ?? (image ? 200 : 100);
        double minutes = settings.PretrainMinutes ?? data.Name switch { "CIFAR-10" => 30, "MNIST" => 15, "HIGGS" => 5, _ => 2 };
        int batch = (int)Math.Min(image ? 128 : 256, pool.Count);
        torch.manual_seed(11);
        SslEncoder encoder = EncoderFactory.Create(data.Shape, new EncoderOptions());
        ISslMethod method = SslMethodFactory.Create(kind, encoder);
        using var budget = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        int done = 0;
        try
        {
            SslPretrainer.Run(method, pool, DefaultAugmentations.For(kind, data.Shape), new PretrainingOptions
            {
                Epochs = epochs, BatchSize = batch, LearningRate = image ? 2e-3 : 1e-3, Seed = 11, AllowCuda = false,
                CancellationToken = budget.Token,
                Progress = new SyncProgress<SslProgress>(p =>
                {
                    if (p.EpochSummary is not { } summary) return;
                    done++;
                    if (done == 1 || done % 10 == 0) log($"  pretrain {summary}");
                    // The CPU budget is checked at epoch boundaries, so the encoder always ends on a whole epoch.
                    if (clock.Elapsed.TotalMinutes >= minutes) budget.Cancel();
                }),
            });
        }
        catch (OperationCanceledException) when (budget.IsCancellationRequested)
        {
            log($"  pretraining stopped by the {minutes} min budget after {done} of {epochs} epochs");
        }
        method.Module.eval();
        log($"  pretrained {kind} for {done} epochs in {clock.Elapsed.TotalSeconds:0} s");
        return new Pretrained(method, kind, done, epochs, clock.Elapsed.TotalSeconds, minutes, batch);
    }

    private static float[] Gather(float[] rows, int[] indexes, int width)
    {
        var result = new float[indexes.Length * width];
        for (int i = 0; i < indexes.Length; i++) Array.Copy(rows, indexes[i] * width, result, i * width, width);
        return result;
    }

    // Row i of the result is row i of a followed by row i of b.
    private static float[] Concat(float[] a, int widthA, float[] b, int widthB)
    {
        int count = a.Length / widthA;
        var result = new float[count * (widthA + widthB)];
        for (int i = 0; i < count; i++)
        {
            Array.Copy(a, i * widthA, result, i * (widthA + widthB), widthA);
            Array.Copy(b, i * widthB, result, i * (widthA + widthB) + widthA, widthB);
        }
        return result;
    }

    private static (double Mean, double Std) Stats(IReadOnlyList<double> values)
    {
        double mean = values.Average();
        double std = values.Count < 2 ? 0 : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return (mean, std);
    }

    private static void Write(BenchmarkData data, string key, BenchmarkSettings settings, IReadOnlyList<Pretrained> pretrainings, int scratchEpochs,
        List<Row> rows, Dictionary<string, Dictionary<double, Cell>> cells, Dictionary<double, int> labelCounts, Action<string> log)
    {
        double[] fractions = labelCounts.Keys.Order().ToArray();
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"### {data.Name}").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"{data.Description}; {data.ClassCount} classes.").AppendLine();
        foreach (Pretrained pretrained in pretrainings)
            text.AppendLine(CultureInfo.InvariantCulture,
                $"Pretraining: {pretrained.Kind} on the whole pool (labels unused), default encoder for {data.Shape.Kind} input, batch {pretrained.BatchSize}, " +
                $"{pretrained.EpochsRun} of {pretrained.EpochsPlanned} scheduled epochs within a {pretrained.MinutesCap:0.#} min budget: {pretrained.Seconds:0} s wall.");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Fine-tuning rows: {settings.FineTuneEpochs} epochs, steps per epoch {(settings.StepsPerEpoch == 0 ? "automatic" : settings.StepsPerEpoch.ToString(CultureInfo.InvariantCulture))}, " +
            $"distillation {settings.DistillEpochs} epochs; supervised from scratch {scratchEpochs} epochs; seeds {string.Join(", ", settings.Seeds)}; " +
            $"{settings.Threads} CPU thread(s).").AppendLine();
        text.Append("| row |");
        foreach (double f in fractions) text.Append(CultureInfo.InvariantCulture, $" {f:P0} ({labelCounts[f]} labels) |");
        foreach (double f in fractions) text.Append(CultureInfo.InvariantCulture, $" s/run at {f:P0} |");
        text.AppendLine().Append("|---|").Append(string.Concat(Enumerable.Repeat("---|", fractions.Length * 2))).AppendLine();
        foreach (Row row in rows)
        {
            text.Append("| ").Append(row.Name).Append(" |");
            foreach (double f in fractions)
                text.Append(cells[row.Name].TryGetValue(f, out Cell? c) ? Format(Stats(c.Scores)) : " n/a (no unlabeled rows) |");
            foreach (double f in fractions)
                text.Append(cells[row.Name].TryGetValue(f, out Cell? c) ? string.Create(CultureInfo.InvariantCulture, $" {c.Seconds.Average():0.0} |") : " - |");
            text.AppendLine();
        }
        text.AppendLine().AppendLine("Accuracy on the test set in percent, mean ± sample std over the label draws. Wall seconds are per run (one draw), pretraining excluded.").AppendLine();
        text.Append(Targets(data, rows, cells, fractions));
        Directory.CreateDirectory(settings.Out);
        string file = Path.Combine(settings.Out, $"{key}.md");
        File.WriteAllText(file, text.ToString());
        string png = Path.Combine(settings.Plots, $"label-efficiency-{key}.png");
        Directory.CreateDirectory(settings.Plots);
        ResultPlot.Save(png, $"{data.Name}: accuracy vs label fraction", fractions,
            rows.Select(r => (r.Name, fractions.Select(f => cells[r.Name].TryGetValue(f, out Cell? c) ? Stats(c.Scores).Mean * 100 : double.NaN).ToArray())).ToArray());
        log($"  wrote {file} and {png}");

        static string Format((double Mean, double Std) s) => string.Create(CultureInfo.InvariantCulture, $" {s.Mean * 100:0.0} ± {s.Std * 100:0.0} |");
    }

    /// <summary>The issue's targets, checked on the measured means (fractions below 100% only).</summary>
    private static string Targets(BenchmarkData data, List<Row> rows, Dictionary<string, Dictionary<double, Cell>> cells, double[] fractions)
    {
        var text = new StringBuilder("Targets (fractions below 100%):").AppendLine().AppendLine();
        double? Mean(string row, double f) => cells.TryGetValue(row, out var byFraction) && byFraction.TryGetValue(f, out Cell? c) ? Stats(c.Scores).Mean * 100 : null;
        foreach (double f in fractions.Where(f => f < 1))
        {
            string at = string.Create(CultureInfo.InvariantCulture, $"{f:P0}");
            if (data.Shape.Kind == SslInputKind.Image)
            {
                var best = rows.Where(r => r.IsSsl).Select(r => (r.Name, Mean: Mean(r.Name, f))).Where(x => x.Mean is not null).MaxBy(x => x.Mean);
                double? scratch = Mean(Scratch, f);
                if (best.Mean is { } b && scratch is { } s)
                    text.AppendLine(CultureInfo.InvariantCulture, $"- {at}: best MlNetSsl row ({best.Name}) {b:0.0} vs supervised from scratch {s:0.0}: {b - s:+0.0;-0.0} points, target >= +5: **{(b - s >= 5 ? "met" : "missed")}**");
            }
            if (data.Shape.Kind == SslInputKind.Tabular && Mean(RawLightGbm, f) is { } raw)
            {
                var best = LightGbmSslRows.Select(r => (Name: r, Mean: Mean(r, f))).Where(x => x.Mean is not null).MaxBy(x => x.Mean);
                if (best.Mean is { } ssl)
                    text.AppendLine(CultureInfo.InvariantCulture, $"- {at}: best SSL-feature LightGBM row ({best.Name}) {ssl:0.0} vs LightGBM on raw {raw:0.0}: {ssl - raw:+0.0;-0.0} points, target >= 0: **{(ssl >= raw ? "met" : "missed")}**");
            }
            // "Its raw-feature row": LightGBM on SSL features against LightGBM on raw features, every other SSL row against
            // the linear raw-feature row (L-BFGS max-ent).
            foreach (Row row in rows.Where(r => r.IsSsl))
            {
                string rawRow = LightGbmSslRows.Contains(row.Name) ? RawLightGbm : RawLbfgs;
                if (Mean(row.Name, f) is { } m && Mean(rawRow, f) is { } r)
                    text.AppendLine(CultureInfo.InvariantCulture, $"- {at}: {row.Name} {m:0.0} vs {rawRow} {r:0.0}: {m - r:+0.0;-0.0}: **{(m > r ? "beats" : "does not beat")}** its raw-feature row");
            }
        }
        return text.AppendLine().ToString();
    }

    private sealed class SyncProgress<T>(Action<T> callback) : IProgress<T>
    {
        public void Report(T value) => callback(value);
    }
}
