using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl;
using MlNetSsl.AutoML;

/// <summary>
/// The tables benchmark: on shared tables with 10% (or the given share) of the training labels kept, the plain baselines
/// a new user would try (ML.NET's LightGBM and L-BFGS on the raw features, default options, labeled rows only) against
/// <c>ml.SelfSupervisedExperiment()</c> as a new user calls it (SetDataset, SetInputColumn, SetTrainingTimeInSeconds), and
/// against the same experiment with the previous defaults (TPE after the default configuration, no portfolio, one CV
/// repetition, the top of the leaderboard, no trial cap). Prints Markdown: one row per dataset and run, then every trial of
/// the default runs (the portfolio's measured cost and metric per entry).
/// </summary>
internal static class TablesBenchmark
{
    public static async Task<int> RunAsync(string dataRoot, uint budget, double labeledFraction, string[] datasets, SslMetric metric,
        double? tpeCostWeight = null, bool skipPrevious = false, bool defaultConfiguration = false, int[]? seeds = null)
    {
        var rows = new List<string>();
        var trials = new List<string>();
        foreach (string name in datasets)
        {
            Table table = Table.Load(dataRoot, name, labeledFraction);
            Console.WriteLine($"## {table.Description} (load average {LoadAverage()})");
            var ml = new MLContext(seed: 1);
            IDataView train = table.TrainView(ml), test = table.TestView(ml);
            IDataView labeled = ml.Data.FilterRowsByMissingValues(train, "Label");

            foreach ((string run, IEstimator<ITransformer> trainer) in new (string, IEstimator<ITransformer>)[]
            {
                ("raw LightGBM (defaults)", ml.MulticlassClassification.Trainers.LightGbm()),
                ("raw L-BFGS (defaults)", ml.Transforms.NormalizeMeanVariance("Features").Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy())),
            })
            {
                var clock = Stopwatch.StartNew();
                ITransformer model = ml.Transforms.Conversion.MapValueToKey("Label").Append(trainer)
                    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(labeled);
                (double accuracy, double balanced) = table.Score(model.Transform(test));
                rows.Add($"| {table.Name} | {run} | {clock.Elapsed.TotalSeconds:0.0} s | - | - | {100 * accuracy:0.0} | {100 * balanced:0.0} | - |");
                Console.WriteLine(rows[^1]);
            }

            if (table.Name.StartsWith("proxy", StringComparison.Ordinal))
            {
                // The binary trainer a reviewer may call instead (bool label, default options).
                var clock = Stopwatch.StartNew();
                var toBool = ml.Transforms.CustomMapping<TableRow, BoolLabel>((input, output) => output.BinaryLabel = input.Label == 1f, null);
                ITransformer model = toBool.Append(ml.BinaryClassification.Trainers.LightGbm(labelColumnName: "BinaryLabel")).Fit(labeled);
                IDataView scored = model.Transform(test);
                float[] predicted = scored.GetColumn<bool>("PredictedLabel").Select(b => b ? 1f : 0f).ToArray();
                (double accuracy, double balanced) = table.ScorePredictions(predicted);
                rows.Add($"| {table.Name} | raw binary LightGBM (defaults) | {clock.Elapsed.TotalSeconds:0.0} s | - | - | {100 * accuracy:0.0} | {100 * balanced:0.0} | - |");
                Console.WriteLine(rows[^1]);
            }

            if (defaultConfiguration)
            {
                // What a user gets untuned, issue 15's "default configuration": the search space's defaults (the stage's
                // default method, 10 epochs, L-BFGS with its defaults), one trial, cross-validated and refitted as the
                // search would.
                var clock = Stopwatch.StartNew();
                SslExperimentResult result = await ml.SelfSupervisedExperiment().SetDataset(train).SetInputColumn("Features", table.SeriesChannels)
                    .SetOptimizingMetric(metric).SetOneStandardErrorRule(false).SetMaxTrials(1)
                    .SetTuner(SslTuner.Custom("default configuration", (space, _) => new FixedTuner(space.Default))).RunAsync();
                (double accuracy, double balanced) = table.Score(result.BestTrial.Model.Transform(test));
                rows.Add($"| {table.Name} | default configuration | {clock.Elapsed.TotalSeconds:0.0} s | 1 | {100 * result.BestTrial.Metric:0.0} +/- {100 * (result.BestTrial.MetricStandardError ?? 0):0.0} | " +
                    $"{100 * accuracy:0.0} | {100 * balanced:0.0} | {result.BestPipelineDescription} |");
                Console.WriteLine(rows[^1]);
                foreach (var stage in ((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<IDisposable>()) stage.Dispose();
            }

            // With seeds, the search runs once per experiment seed (folds, pretraining, tuner): on few labels its pick
            // varies with them, and one run says little about a change to the selection.
            foreach ((bool previous, int? seed) in (skipPrevious ? new[] { false } : new[] { true, false })
                .SelectMany(p => (seeds ?? [-1]).Select(s => (p, s < 0 ? (int?)null : s))))
            {
                // The proxies are called as issue 15 called them, which set no metric; another metric is set as a user would.
                SslExperiment experiment = table.Name.StartsWith("proxy", StringComparison.Ordinal)
                    ? (metric == SslMetric.Accuracy
                        ? ml.SelfSupervisedExperiment().SetDataset(train).SetInputColumn("Features").SetTrainingTimeInSeconds(budget)
                        : ml.SelfSupervisedExperiment().SetDataset(train).SetInputColumn("Features").SetTrainingTimeInSeconds(budget).SetOptimizingMetric(metric))
                    : ml.SelfSupervisedExperiment()
                    .SetDataset(train).SetInputColumn("Features", table.SeriesChannels).SetTrainingTimeInSeconds(budget).SetOptimizingMetric(metric);
                // The default search with a cost-aware TPE after the portfolio (SetTuner turns the portfolio off; SetPortfolio keeps it).
                if (!previous && tpeCostWeight is double weight)
                    experiment.SetTuner(SslTuner.FromOptions(new TpeTunerOptions { CostWeight = weight })).SetPortfolio(true);
                if (seed is int experimentSeed) experiment.SetSeed(experimentSeed);
                if (previous)
                    experiment.SetTuner(SslTuner.Tpe.WithDefaultFirst()).SetOneStandardErrorRule(false).SetCrossValidationRepeats(1).SetTrialTimeCap(1.0);
                var clock = Stopwatch.StartNew();
                SslExperimentResult result = await experiment.RunAsync();
                double seconds = clock.Elapsed.TotalSeconds;
                (double accuracy, double balanced) = table.Score(result.BestTrial.Model.Transform(test));
                string run = (previous ? "AutoML, previous defaults" : "AutoML (defaults)") + (metric == SslMetric.Accuracy ? "" : $", {metric}")
                    + (!previous && tpeCostWeight is double w ? $", TPE cost weight {w}" : "") + (seed is int shown ? $", seed {shown}" : "");
                rows.Add($"| {table.Name} | {run} | {seconds:0} s | {result.Trials.Count} | {100 * result.BestTrial.Metric:0.0} +/- {100 * (result.BestTrial.MetricStandardError ?? 0):0.0} | " +
                    $"{100 * accuracy:0.0} | {100 * balanced:0.0} | {result.BestPipelineDescription} |");
                Console.WriteLine(rows[^1]);
                Console.WriteLine($"  {result.ObjectiveExplanation} {result.SelectionExplanation}");
                Console.WriteLine($"  stop: {result.StopReason}; search elapsed {result.Elapsed.TotalSeconds:0.0} s; Run() wall {seconds:0.0} s; best trial {result.BestTrial.TrialId}");
                foreach (string note in result.Notes) Console.WriteLine($"  note: {note}");
                if (!previous)
                {
                    foreach (TrialRecord trial in result.Trials.OrderBy(t => t.TrialId))
                    {
                        SslTrialMeasures? m = result.TrialMeasures.Where(x => x.TrialId == trial.TrialId).OrderByDescending(x => x.Fidelity ?? 0).FirstOrDefault();
                        SslTrialParameters p = trial.Parameters.AsType<SslTrialParameters>();
                        string what = p.Features is SslFeatureSource.RawFeatures ? $"raw {p.Downstream.Trainer}"
                            : $"{p.Features} {p.Pretraining.Method} {p.Pretraining.Epochs} ep {p.Downstream.Trainer}";
                        trials.Add($"| {table.Name}{(seed is int k ? $" seed {k}" : "")} | {trial.TrialId} | {what} | {trial.Status} | " +
                            $"{(trial.Metric is double value ? $"{100 * value:0.0} +/- {100 * (m?.MetricStandardError ?? 0):0.0}" : trial.ErrorMessage)} | {trial.Duration.TotalSeconds:0.0} s | {System.Text.Json.JsonSerializer.Serialize(trial.Parameters)} |");
                    }
                }
                foreach (var stage in ((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<IDisposable>()) stage.Dispose();
            }
            Console.WriteLine();
        }
        Console.WriteLine($"| table | run | time | trials | CV {metric} +/- SE | test accuracy | test balanced accuracy | pipeline |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        rows.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine("| table | trial | configuration | status | CV accuracy +/- SE | time |");
        Console.WriteLine("|---|---|---|---|---|---|");
        trials.ForEach(Console.WriteLine);
        return 0;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";

    /// <summary>A table split into training rows (most labels hidden) and test rows.</summary>
    internal sealed class Table
    {
        private Table(string name, string description, float[][] features, float[] labels, double labeledFraction)
        {
            Name = name;
            // A seeded shuffle, 30% of the rows for testing; of the rest every k-th keeps its label.
            var random = new Random(17);
            int[] order = Enumerable.Range(0, labels.Length).OrderBy(_ => random.Next()).ToArray();
            int testCount = (int)(labels.Length * 0.3);
            Test = order.Take(testCount).Select(i => new TableRow { Features = features[i], Label = labels[i] }).ToArray();
            int every = (int)Math.Round(1 / labeledFraction);
            Train = order.Skip(testCount).Select((i, k) => new TableRow { Features = features[i], Label = k % every == 0 ? labels[i] : float.NaN }).ToArray();
            _trainLabels = order.Skip(testCount).Select(i => labels[i]).ToArray();
            _everyTrainLabel = _trainLabels;
            _labeledEvery = every;
            Width = features[0].Length;
            _describe = labeledCount => $"{description}: {Train.Length} training rows, {labeledCount} labeled ({labeledFraction:P0}), " +
                $"{Test.Length} test rows, {labels.Distinct().Count()} classes, {Width} features";
            Description = _describe(Train.Count(r => !float.IsNaN(r.Label)));
        }

        private Table(Table source, TableRow[] train, string draw)
        {
            Name = source.Name;
            Test = source.Test;
            Train = train;
            Width = source.Width;
            _trainLabels = source._trainLabels;
            _everyTrainLabel = source._everyTrainLabel;
            _labeledEvery = source._labeledEvery;
            _describe = source._describe;
            Description = $"{_describe!(train.Count(r => !float.IsNaN(r.Label)))}, {draw}";
        }

        private readonly float[]? _trainLabels;
        private readonly float[] _everyTrainLabel;
        private readonly int _labeledEvery;
        private readonly Func<int, string>? _describe;

        /// <summary>The same split with another draw of labeled rows: every k-th training row counted from
        /// <paramref name="offset"/> (0 is the draw every other command uses) keeps its label; with
        /// <paramref name="permuteSeed"/>, those labels are then shuffled among the labeled rows, which leaves a pipeline
        /// nothing to learn, so its cross-validated accuracy must fall to chance unless the evaluation leaks labels.</summary>
        public Table WithLabelDraw(int offset, int? permuteSeed)
        {
            if (_trainLabels is null) throw new InvalidOperationException($"{Name} has its own labeled rows per class; only tables take another draw.");
            TableRow[] train = Train.Select((r, k) => new TableRow { Features = r.Features, Label = (k + offset) % _labeledEvery == 0 ? _trainLabels[k] : float.NaN })
                .ToArray();
            if (permuteSeed is int seed)
            {
                var random = new Random(seed);
                int[] labeled = Enumerable.Range(0, train.Length).Where(r => !float.IsNaN(train[r].Label)).ToArray();
                float[] permuted = labeled.Select(r => train[r].Label).OrderBy(_ => random.Next()).ToArray();
                for (int i = 0; i < labeled.Length; i++) train[labeled[i]].Label = permuted[i];
            }
            return new Table(this, train, $"labeled rows from offset {offset}" + (permuteSeed is int p ? $", their labels permuted (seed {p})" : ""));
        }

        /// <summary>A series dataset with its own training and test split: per class, every k-th training row (in a
        /// seeded shuffle) keeps its label, at least 4 of each class (2 in a class of fewer than 4 rows) so that
        /// cross-validation can score every class, and the test rows are the test split.</summary>
        private Table(string name, string description, float[][] train, float[] trainLabels, float[][] test, float[] testLabels,
            double labeledFraction, int seriesChannels)
        {
            Name = name;
            SeriesChannels = seriesChannels;
            var random = new Random(17);
            int[] order = Enumerable.Range(0, trainLabels.Length).OrderBy(_ => random.Next()).ToArray();
            var keep = new HashSet<int>();
            foreach (var byClass in order.GroupBy(i => trainLabels[i]))
            {
                int[] rows = byClass.ToArray();
                int count = Math.Max((int)Math.Ceiling(rows.Length * labeledFraction), Math.Min(4, Math.Max(2, rows.Length / 2)));
                keep.UnionWith(rows.Take(count));
            }
            Train = order.Select(i => new TableRow { Features = train[i], Label = keep.Contains(i) ? trainLabels[i] : float.NaN }).ToArray();
            _everyTrainLabel = order.Select(i => trainLabels[i]).ToArray();
            Test = Enumerable.Range(0, testLabels.Length).Select(i => new TableRow { Features = test[i], Label = testLabels[i] }).ToArray();
            Width = train[0].Length;
            Description = $"{description}: {Train.Length} training series, {keep.Count} labeled ({labeledFraction:P0}, at least 4 per class), " +
                $"{Test.Length} test series, {trainLabels.Concat(testLabels).Distinct().Count()} classes, {seriesChannels} channel(s) x {Width / seriesChannels} steps";
        }

        public string Name { get; }

        public string Description { get; }

        /// <summary>Channels of a series dataset (its rows are channel after channel); 0 for a table.</summary>
        public int SeriesChannels { get; }

        public TableRow[] Train { get; }

        public TableRow[] Test { get; }

        public int Width { get; }

        /// <summary>Every row with its label, the training rows (labeled or not) and then the test rows: for a benchmark
        /// that draws its own splits (<see cref="RawChoiceBenchmark"/>).</summary>
        public (float[][] Features, float[] Labels) AllRows() =>
            ([.. Train.Select(r => r.Features), .. Test.Select(r => r.Features)], [.. _everyTrainLabel, .. Test.Select(r => r.Label)]);

        public IDataView TrainView(MLContext ml) => ml.Data.LoadFromEnumerable(Train, Schema());

        public IDataView TestView(MLContext ml) => ml.Data.LoadFromEnumerable(Test, Schema());

        private SchemaDefinition Schema()
        {
            var schema = SchemaDefinition.Create(typeof(TableRow));
            schema[nameof(TableRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Width);
            return schema;
        }

        /// <summary>Accuracy and balanced accuracy (mean per-class recall) of the predictions against the test labels.</summary>
        public (double Accuracy, double Balanced) Score(IDataView scored) => ScorePredictions(scored.GetColumn<float>("PredictedLabel").ToArray());

        public (double Accuracy, double Balanced) ScorePredictions(float[] predicted)
        {
            float[] actual = Test.Select(r => r.Label).ToArray();
            double accuracy = predicted.Zip(actual).Count(p => p.First == p.Second) / (double)actual.Length;
            double balanced = actual.Distinct().Average(c =>
                Enumerable.Range(0, actual.Length).Count(i => actual[i] == c && predicted[i] == c) / (double)actual.Count(a => a == c));
            return (accuracy, balanced);
        }

        public static Table Load(string dataRoot, string name, double labeledFraction)
        {
            string folder = Path.Combine(dataRoot, "tabular");
            static float Parse(string value) => float.Parse(value, CultureInfo.InvariantCulture);
            if (name.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) && File.Exists(name))
            {
                // Any headerless CSV with the class last (a path in --tables), for tables outside ../shared: a cell that is
                // not a number takes its column's mean, as the tool fills missing values.
                string[][] lines = File.ReadLines(name).Where(l => l.Trim().Length > 0).Select(l => l.Split(',')).ToArray();
                string[] classes = lines.Select(v => v[^1].Trim()).Distinct().Order(StringComparer.Ordinal).ToArray();
                float?[][] cells = lines.Select(v => v[..^1].Select(c => float.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out float x)
                    && float.IsFinite(x) ? (float?)x : null).ToArray()).ToArray();
                float[] means = Enumerable.Range(0, cells[0].Length)
                    .Select(c => cells.Select(r => r[c]).Where(x => x.HasValue).Select(x => x!.Value).DefaultIfEmpty(0f).Average()).ToArray();
                return new Table(Path.GetFileNameWithoutExtension(name), $"{Path.GetFileName(name)} ({classes.Length} classes)",
                    cells.Select(r => r.Select((x, c) => x ?? means[c]).ToArray()).ToArray(),
                    lines.Select(v => (float)Array.IndexOf(classes, v[^1].Trim())).ToArray(), labeledFraction);
            }
            switch (name)
            {
                case "banknote":
                {
                    var lines = File.ReadLines(Path.Combine(folder, "banknote_authentication.csv")).Where(l => l.Length > 0).Select(l => l.Split(',')).ToArray();
                    return new Table(name, "banknote (binary)", lines.Select(v => v[..4].Select(Parse).ToArray()).ToArray(),
                        lines.Select(v => Parse(v[4])).ToArray(), labeledFraction);
                }
                case "abalone":
                {
                    // Sex one-hot (M, F, I) and 7 measurements; rings grouped into the usual 3 age classes: <= 8, 9-10, >= 11.
                    var lines = File.ReadLines(Path.Combine(folder, "abalone.csv")).Where(l => l.Length > 0).Select(l => l.Split(',')).ToArray();
                    return new Table(name, "abalone (3 age classes)",
                        lines.Select(v => new[] { v[0] == "M" ? 1f : 0f, v[0] == "F" ? 1f : 0f, v[0] == "I" ? 1f : 0f }.Concat(v[1..8].Select(Parse)).ToArray()).ToArray(),
                        lines.Select(v => Parse(v[8]) switch { <= 8 => 0f, <= 10 => 1f, _ => 2f }).ToArray(), labeledFraction);
                }
                case "horse-colic":
                {
                    // Target: surgical lesion (0-based column 23, 1 yes / 2 no). Features: columns 0-21 without the hospital
                    // number (2); '?' becomes the column mean plus a missing-value indicator per column that has any.
                    var lines = File.ReadLines(Path.Combine(folder, "horse-colic.csv")).Where(l => l.Length > 0).Select(l => l.Split(',')).ToArray();
                    int[] columns = Enumerable.Range(0, 22).Where(c => c != 2).ToArray();
                    var features = lines.Select(_ => new List<float>()).ToArray();
                    foreach (int c in columns)
                    {
                        float?[] values = lines.Select(v => v[c] == "?" ? (float?)null : Parse(v[c])).ToArray();
                        float mean = values.Where(x => x.HasValue).Average(x => x!.Value);
                        bool anyMissing = values.Any(x => !x.HasValue);
                        for (int r = 0; r < lines.Length; r++)
                        {
                            features[r].Add(values[r] ?? mean);
                            if (anyMissing) features[r].Add(values[r].HasValue ? 0f : 1f);
                        }
                    }
                    return new Table(name, "horse-colic (surgical lesion, binary)", features.Select(f => f.ToArray()).ToArray(),
                        lines.Select(v => Parse(v[23])).ToArray(), labeledFraction);
                }
                case "wine":
                {
                    // White wine quality >= 7 ("good", about a fifth of the rows) against the rest: an imbalanced binary table.
                    var lines = File.ReadLines(Path.Combine(folder, "winequality-white.csv")).Where(l => l.Length > 0).Select(l => l.Split(',')).ToArray();
                    return new Table(name, "white wine, quality >= 7 (binary, imbalanced)", lines.Select(v => v[..11].Select(Parse).ToArray()).ToArray(),
                        lines.Select(v => Parse(v[11]) >= 7 ? 1f : 0f).ToArray(), labeledFraction);
                }
                case "higgs":
                {
                    var lines = File.ReadLines(Path.Combine(dataRoot, "higgs", "binary.train")).Where(l => l.Length > 0)
                        .Select(l => l.Split('\t').Select(Parse).ToArray()).ToArray();
                    return new Table(name, "HIGGS (binary)", lines.Select(v => v[1..]).ToArray(), lines.Select(v => v[0]).ToArray(), labeledFraction);
                }
                case "proxyA" or "proxyB" or "proxyC" or "proxyD" or "proxyE":
                    return LoadProxy(dataRoot, name, labeledFraction);
                case "basicmotions" or "gunpoint" or "italypower" or "plaid":
                    return LoadSeries(dataRoot, name, labeledFraction);
                default:
                    throw new ArgumentException($"Unknown dataset {name}; use banknote, abalone, horse-colic, wine, higgs, basicmotions, gunpoint, italypower or plaid.");
            }
        }

        /// <summary>A UEA series dataset of the shared folder, read as a new user reads it: values as they are (no
        /// standardization), series of differing lengths resampled to the median length with the library's
        /// <c>ResampleSeries</c> (linear), as the CLI does.</summary>
        private static Table LoadSeries(string dataRoot, string name, double labeledFraction)
        {
            string file = name switch { "basicmotions" => "BasicMotions", "gunpoint" => "GunPoint", "italypower" => "ItalyPowerDemand", _ => "PLAID" };
            var (train, trainLabels, classes) = MlNetSsl.TestData.UeaTsFile.Read(Path.Combine(dataRoot, "uea", $"{file}_TRAIN.ts"), null);
            var (test, testLabels, _) = MlNetSsl.TestData.UeaTsFile.Read(Path.Combine(dataRoot, "uea", $"{file}_TEST.ts"), classes);
            int channels = train[0].Length;
            int[] lengths = train.Select(s => s[0].Length).Order().ToArray();
            int length = lengths[lengths.Length / 2];
            float[][] Flat(float[][][] series)
            {
                float[][] rows = series.Select(s => s.SelectMany(c => c).ToArray()).ToArray();
                if (series.All(s => s.All(c => c.Length == length))) return rows;
                var ml = new MLContext(seed: 1);
                IDataView raw = ml.Data.LoadFromEnumerable(rows.Select(r => new VariableRow { Values = r }));
                IDataView resampled = ml.Transforms.ResampleSeries("Series", nameof(VariableRow.Values), channels, length).Fit(raw).Transform(raw);
                return resampled.GetColumn<float[]>("Series").ToArray();
            }
            string shape = lengths[0] == lengths[^1] ? $"{length} steps" : $"{lengths[0]} to {lengths[^1]} steps, resampled to {length}";
            return new Table(name, $"{file} (UEA series, {classes.Length} classes, {shape})", Flat(train), trainLabels.Select(l => (float)l).ToArray(),
                Flat(test), testLabels.Select(l => (float)l).ToArray(), labeledFraction, channels);
        }

        /// <summary>Proxies of the reviewer's binary tables (A: 5 numeric; B: 6 features, 2% positives; C: 61 one-hot;
        /// D: 49 features, 4% positives; E: 108 one-hot), built deterministically from the shared data.</summary>
        private static Table LoadProxy(string dataRoot, string name, double labeledFraction)
        {
            static float Parse(string value) => float.Parse(value, CultureInfo.InvariantCulture);
            float[][] Higgs(bool withTest) => File.ReadLines(Path.Combine(dataRoot, "higgs", "binary.train"))
                .Concat(withTest ? File.ReadLines(Path.Combine(dataRoot, "higgs", "binary.test")) : [])
                .Where(l => l.Length > 0).Select(l => l.Split('\t').Select(Parse).ToArray()).ToArray();
            // Keeps every negative and as many positives (in a seeded order) as give the share asked for.
            static (float[][], float[]) Subsample(float[][] x, float[] y, double positiveShare, int seed)
            {
                var random = new Random(seed);
                int negatives = y.Count(v => v == 0);
                int keepPositives = (int)Math.Round(positiveShare / (1 - positiveShare) * negatives);
                var keep = new HashSet<int>(Enumerable.Range(0, y.Length).Where(i => y[i] == 1).OrderBy(_ => random.Next()).Take(keepPositives));
                int[] rows = Enumerable.Range(0, y.Length).Where(i => y[i] == 0 || keep.Contains(i)).ToArray();
                return (rows.Select(i => x[i]).ToArray(), rows.Select(i => y[i]).ToArray());
            }
            // Quantile bins per column (thresholds at the column's quantiles), one-hot encoded.
            static float[][] OneHot(float[][] x, int[] bins)
            {
                var columns = new List<Func<float[], float[]>>();
                for (int c = 0; c < bins.Length; c++)
                {
                    int column = c, count = bins[c];
                    float[] sorted = x.Select(r => r[column]).Order().ToArray();
                    float[] cuts = Enumerable.Range(1, count - 1).Select(k => sorted[(int)((long)k * sorted.Length / count)]).ToArray();
                    columns.Add(r =>
                    {
                        var v = new float[count];
                        int b = 0;
                        while (b < cuts.Length && r[column] >= cuts[b]) b++;
                        v[b] = 1;
                        return v;
                    });
                }
                return x.Select(r => columns.SelectMany(f => f(r)).ToArray()).ToArray();
            }
            static (float[][], float[]) Take(float[][] x, float[] y, int count, int seed)
            {
                var random = new Random(seed);
                int[] rows = Enumerable.Range(0, y.Length).OrderBy(_ => random.Next()).Take(count).Order().ToArray();
                return (rows.Select(i => x[i]).ToArray(), rows.Select(i => y[i]).ToArray());
            }
            switch (name)
            {
                case "proxyA":
                {
                    float[][] h = Higgs(false);
                    return new Table(name, "proxy A: HIGGS first 5 features (binary)", h.Select(v => v[1..6]).ToArray(), h.Select(v => v[0]).ToArray(), labeledFraction);
                }
                case "proxyB":
                {
                    // White wine, quality >= 8 against the rest, positives cut to 2%; 6 of the 11 features.
                    var lines = File.ReadLines(Path.Combine(dataRoot, "tabular", "winequality-white.csv")).Where(l => l.Length > 0).Select(l => l.Split(',')).ToArray();
                    int[] pick = [1, 4, 5, 6, 7, 10];
                    var (x, y) = Subsample(lines.Select(v => pick.Select(c => Parse(v[c])).ToArray()).ToArray(),
                        lines.Select(v => Parse(v[11]) >= 8 ? 1f : 0f).ToArray(), 0.02, 5);
                    return new Table(name, $"proxy B: white wine quality >= 8, {y.Average():P1} positives (binary)", x, y, labeledFraction);
                }
                case "proxyC":
                {
                    // Abalone, rings >= 10 against the rest; sex one-hot (3) + 6 measurements in 8 quantile bins + 1 in 10 = 61
                    // one-hot features; 2,858 rows (2,001 training rows).
                    var lines = File.ReadLines(Path.Combine(dataRoot, "tabular", "abalone.csv")).Where(l => l.Length > 0).Select(l => l.Split(',')).ToArray();
                    float[][] numeric = OneHot(lines.Select(v => v[1..8].Select(Parse).ToArray()).ToArray(), [8, 8, 8, 8, 8, 8, 10]);
                    float[][] all = lines.Select((v, i) => new[] { v[0] == "M" ? 1f : 0f, v[0] == "F" ? 1f : 0f, v[0] == "I" ? 1f : 0f }.Concat(numeric[i]).ToArray()).ToArray();
                    var (x, y) = Take(all, lines.Select(v => Parse(v[8]) >= 10 ? 1f : 0f).ToArray(), 2858, 3);
                    return new Table(name, $"proxy C: abalone rings >= 10, 61 one-hot, {y.Average():P1} positives (binary)", x, y, labeledFraction);
                }
                case "proxyD":
                {
                    // HIGGS 28 features + 14 products of neighbouring columns + 7 Gaussian noise columns = 49; positives cut to 4%.
                    float[][] h = Higgs(false);
                    var noise = new Random(11);
                    float Gaussian() => (float)(Math.Sqrt(-2 * Math.Log(1 - noise.NextDouble())) * Math.Cos(2 * Math.PI * noise.NextDouble()));
                    float[][] wide = h.Select(v => v[1..].Concat(Enumerable.Range(0, 14).Select(k => v[1 + 2 * k] * v[2 + 2 * k]))
                        .Concat(Enumerable.Range(0, 7).Select(_ => Gaussian())).ToArray()).ToArray();
                    var (x, y) = Subsample(wide, h.Select(v => v[0]).ToArray(), 0.04, 7);
                    return new Table(name, $"proxy D: HIGGS 28 + 14 products + 7 noise, {y.Average():P1} positives (binary)", x, y, labeledFraction);
                }
                default:
                {
                    // HIGGS train + test (7,500 rows, the most there is: 5,250 training rows, not 8,000), first 27 columns in
                    // 4 quantile bins = 108 one-hot features.
                    float[][] h = Higgs(true);
                    return new Table(name, "proxy E: HIGGS 27 columns x 4 quantile bins, 108 one-hot (binary)",
                        OneHot(h.Select(v => v[1..28]).ToArray(), Enumerable.Repeat(4, 27).ToArray()), h.Select(v => v[0]).ToArray(), labeledFraction);
                }
            }
        }

        private sealed class VariableRow
        {
            public float[] Values { get; set; } = [];
        }
    }

    internal sealed class BoolLabel
    {
        public bool BinaryLabel { get; set; }
    }

    internal sealed class TableRow
    {
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }
}
