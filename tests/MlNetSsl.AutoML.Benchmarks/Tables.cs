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
        double? tpeCostWeight = null, bool skipPrevious = false)
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

            foreach (bool previous in skipPrevious ? new[] { false } : new[] { true, false })
            {
                SslExperiment experiment = ml.SelfSupervisedExperiment()
                    .SetDataset(train).SetInputColumn("Features", table.SeriesChannels).SetTrainingTimeInSeconds(budget).SetOptimizingMetric(metric);
                // The default search with a cost-aware TPE after the portfolio (SetTuner turns the portfolio off; SetPortfolio keeps it).
                if (!previous && tpeCostWeight is double weight)
                    experiment.SetTuner(SslTuner.FromOptions(new TpeTunerOptions { CostWeight = weight })).SetPortfolio(true);
                if (previous)
                    experiment.SetTuner(SslTuner.Tpe.WithDefaultFirst()).SetOneStandardErrorRule(false).SetCrossValidationRepeats(1).SetTrialTimeCap(1.0);
                var clock = Stopwatch.StartNew();
                SslExperimentResult result = await experiment.RunAsync();
                double seconds = clock.Elapsed.TotalSeconds;
                (double accuracy, double balanced) = table.Score(result.BestTrial.Model.Transform(test));
                string run = (previous ? "AutoML, previous defaults" : "AutoML (defaults)") + (metric == SslMetric.Accuracy ? "" : $", {metric}")
                    + (!previous && tpeCostWeight is double w ? $", TPE cost weight {w}" : "");
                rows.Add($"| {table.Name} | {run} | {seconds:0} s | {result.Trials.Count} | {100 * result.BestTrial.Metric:0.0} +/- {100 * (result.BestTrial.MetricStandardError ?? 0):0.0} | " +
                    $"{100 * accuracy:0.0} | {100 * balanced:0.0} | {result.BestPipelineDescription} |");
                Console.WriteLine(rows[^1]);
                Console.WriteLine($"  {result.ObjectiveExplanation} {result.SelectionExplanation}");
                if (!previous)
                {
                    foreach (TrialRecord trial in result.Trials.OrderBy(t => t.TrialId))
                    {
                        SslTrialMeasures? m = result.TrialMeasures.Where(x => x.TrialId == trial.TrialId).OrderByDescending(x => x.Fidelity ?? 0).FirstOrDefault();
                        SslTrialParameters p = trial.Parameters.AsType<SslTrialParameters>();
                        string what = p.Features is SslFeatureSource.RawFeatures ? $"raw {p.Downstream.Trainer}"
                            : $"{p.Features} {p.Pretraining.Method} {p.Pretraining.Epochs} ep {p.Downstream.Trainer}";
                        trials.Add($"| {table.Name} | {trial.TrialId} | {what} | {trial.Status} | " +
                            $"{(trial.Metric is double value ? $"{100 * value:0.0} +/- {100 * (m?.MetricStandardError ?? 0):0.0}" : trial.ErrorMessage)} | {trial.Duration.TotalSeconds:0.0} s |");
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
            Width = features[0].Length;
            Description = $"{description}: {Train.Length} training rows, {Train.Count(r => !float.IsNaN(r.Label))} labeled ({labeledFraction:P0}), " +
                $"{Test.Length} test rows, {labels.Distinct().Count()} classes, {Width} features";
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

        public IDataView TrainView(MLContext ml) => ml.Data.LoadFromEnumerable(Train, Schema());

        public IDataView TestView(MLContext ml) => ml.Data.LoadFromEnumerable(Test, Schema());

        private SchemaDefinition Schema()
        {
            var schema = SchemaDefinition.Create(typeof(TableRow));
            schema[nameof(TableRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Width);
            return schema;
        }

        /// <summary>Accuracy and balanced accuracy (mean per-class recall) of the predictions against the test labels.</summary>
        public (double Accuracy, double Balanced) Score(IDataView scored)
        {
            float[] predicted = scored.GetColumn<float>("PredictedLabel").ToArray();
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

        private sealed class VariableRow
        {
            public float[] Values { get; set; } = [];
        }
    }

    internal sealed class TableRow
    {
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }
}
