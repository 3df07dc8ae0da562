using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using MlNetSsl;
using MlNetSsl.AutoML;

/// <summary>
/// Learns the experiment's portfolio (src/MlNetSsl.AutoML/SelfSupervised/SslPortfolio.json) from measurements: every
/// candidate configuration of an input kind runs alone, as the experiment's only trial, on every benchmark dataset of
/// that kind (the shared tables; CIFAR-10 pools of three sizes) with 10% of the labels; its refitted pipeline is scored on
/// held-out test rows and its trial time recorded. <see cref="SslPortfolioBuilder"/> then orders the candidates by gain in
/// test accuracy per second. Prints the measurements and the order; <c>--write</c> rewrites the portfolios it learned in
/// the data file (other kinds are kept as they are).
/// </summary>
internal static class PortfolioLearner
{
    /// <summary>A candidate entry: settings as in the data file, and the size limits that make it runnable or sensible.</summary>
    private sealed record Candidate(string Name, string Settings, int? MinLabeledRows = null, long? MaxRows = null);

    // Candidates that more than one input kind measures.
    private static readonly Candidate RawLightGbm = new("raw LightGBM", """{ "Features": "RawFeatures", "Downstream.Trainer": "LightGbm" }""");
    private static readonly Candidate RawLbfgs = new("raw L-BFGS", """{ "Features": "RawFeatures", "Downstream.Trainer": "LinearProbe" }""");
    private static readonly Candidate RawLbfgsMlNetL1 = new("raw L-BFGS, ML.NET's L1", """{ "Features": "RawFeatures", "Downstream.Trainer": "LinearProbe", "Downstream.L1Regularization": 1 }""");
    private static readonly Candidate ShortSslProbe = new("short SSL + L-BFGS probe", """{ "Features": "SelfSupervised", "Pretraining.Epochs": 3, "Downstream.Trainer": "LinearProbe" }""");
    private static readonly Candidate RawShortSslLbfgs = new("raw + short SSL + L-BFGS", """{ "Features": "RawAndSelfSupervised", "Pretraining.Epochs": 3, "Downstream.Trainer": "LinearProbe" }""");
    private static readonly Candidate DefaultConfiguration = new("default configuration", "{ }");
    private static readonly Candidate FineTune10 = new("SSL + fine-tuning, 10 epochs", """{ "Features": "SelfSupervised", "Downstream.Trainer": "FineTune", "Downstream.FineTuneEpochs": 10 }""");

    private static readonly Dictionary<SslInputKind, Candidate[]> Candidates = new()
    {
        [SslInputKind.Tabular] =
        [
            RawLightGbm,
            RawLbfgs,
            RawLbfgsMlNetL1,
            new("raw LightGBM, small leaves", """{ "Features": "RawFeatures", "Downstream.Trainer": "LightGbm", "Downstream.LightGbmMinimumRowsPerLeaf": 5, "Downstream.LightGbmIterations": 50 }"""),
            ShortSslProbe,
            new("raw + short SSL + LightGBM", """{ "Features": "RawAndSelfSupervised", "Pretraining.Epochs": 3, "Downstream.Trainer": "LightGbm" }"""),
            RawShortSslLbfgs,
            DefaultConfiguration,
            new("raw + SSL + LightGBM", """{ "Features": "RawAndSelfSupervised", "Downstream.Trainer": "LightGbm" }"""),
            FineTune10,
        ],
        [SslInputKind.Series] =
        [
            new("raw 1-NN", """{ "Features": "RawFeatures", "Downstream.Trainer": "NearestNeighbor" }"""),
            RawLbfgs,
            RawLbfgsMlNetL1,
            RawLightGbm,
            new("raw LightGBM, small leaves", """{ "Features": "RawFeatures", "Downstream.Trainer": "LightGbm", "Downstream.LightGbmMinimumRowsPerLeaf": 2, "Downstream.LightGbmIterations": 50 }"""),
            ShortSslProbe,
            RawShortSslLbfgs,
            DefaultConfiguration,
            new("raw + SSL + L-BFGS", """{ "Features": "RawAndSelfSupervised", "Downstream.Trainer": "LinearProbe" }"""),
            FineTune10,
            new("SSL + fine-tuning, 30 epochs", """{ "Features": "SelfSupervised", "Downstream.Trainer": "FineTune", "Downstream.FineTuneEpochs": 30 }"""),
        ],
        [SslInputKind.Image] =
        [
            ShortSslProbe,
            new("raw pixels L-BFGS", """{ "Features": "RawFeatures", "Downstream.Trainer": "LinearProbe" }""", MaxRows: 20000),
            DefaultConfiguration,
            new("SSL + LightGBM", """{ "Features": "SelfSupervised", "Downstream.Trainer": "LightGbm" }"""),
            FineTune10,
            new("SSL + FixMatch fine-tuning, 10 epochs", """{ "Features": "SelfSupervised", "Downstream.Trainer": "FineTune", "Downstream.SemiSupervised": true, "Downstream.FineTuneEpochs": 10 }""", MinLabeledRows: 50),
            new("short SSL + FixMatch fine-tuning, 10 epochs", """{ "Features": "SelfSupervised", "Pretraining.Epochs": 3, "Downstream.Trainer": "FineTune", "Downstream.SemiSupervised": true, "Downstream.FineTuneEpochs": 10 }""", MinLabeledRows: 50),
            new("short SSL + FixMatch fine-tuning, 25 epochs", """{ "Features": "SelfSupervised", "Pretraining.Epochs": 3, "Downstream.Trainer": "FineTune", "Downstream.SemiSupervised": true, "Downstream.FineTuneEpochs": 25 }""", MinLabeledRows: 50),
        ],
    };

    /// <summary>One benchmark dataset: training rows (most labels hidden), its input column, and a test scorer.</summary>
    private sealed record Dataset(string Name, IDataView Train, string InputColumn, long Rows, int LabeledRows, Func<ITransformer, double> TestAccuracy,
        int SeriesChannels = 0);

    /// <param name="dataRoot">The shared data folder.</param>
    /// <param name="kinds">The input kinds to learn.</param>
    /// <param name="write">Rewrite the data file.</param>
    /// <param name="portfolioFile">The data file.</param>
    /// <param name="measurementsFile">A saved output of an earlier run: its measurement rows are read instead of measuring again.</param>
    /// <param name="imagePools">The CIFAR-10 pool sizes the image candidates run on.</param>
    /// <param name="only">Measure only these candidates (names); their rows can then be added to a saved output.</param>
    /// <param name="fineTuneFolds">Folds a fine-tuning candidate trains (<see cref="SslExperiment.SetFineTuneFolds"/>; 0: the
    /// experiment's automatic choice); every candidate's fold values go to the standard error stream, to study the CV.</param>
    /// <param name="folds">Folds of the cross-validated objective (0: the experiment's automatic objective).</param>
    /// <param name="fromRows">Per kind, a dataset size from which a second order applies, learned on the benchmark datasets
    /// of that size or more alone (the greedy order over all sizes suits the smaller ones: on CIFAR-10 it runs FixMatch from
    /// the longer-pretrained encoder third, which wins on 1,000 images, where a 600 s budget leaves room for everything,
    /// but on 5,000 it leaves no room for the 25-epoch FixMatch that wins there).</param>
    public static async Task<int> RunAsync(string dataRoot, IReadOnlyList<string> kinds, bool write, string? portfolioFile, string? measurementsFile,
        IReadOnlyList<int> imagePools, IReadOnlyList<string>? only = null, int fineTuneFolds = 0, int folds = 0,
        IReadOnlyDictionary<string, long>? fromRows = null)
    {
        if (only is not null && write) throw new ArgumentException("--candidates measures a few candidates; add their rows to a saved output, then --write from it.");
        string[]? saved = measurementsFile is null ? null : File.ReadAllLines(measurementsFile);
        var ml = new MLContext(seed: 1);
        var learned = new Dictionary<string, List<(Candidate Candidate, SslPortfolioBuilder.Step Step)>>();
        var learnedBelowMinLabels = new Dictionary<string, IReadOnlyList<SslPortfolioBuilder.Step>>();
        var learnedFromRows = new Dictionary<string, (long Rows, IReadOnlyList<SslPortfolioBuilder.Step> Order)>();
        foreach (string kindName in kinds)
        {
            SslInputKind kind = Enum.Parse<SslInputKind>(kindName, ignoreCase: true);
            if (!Candidates.TryGetValue(kind, out Candidate[]? candidates))
                throw new ArgumentException($"No candidates for {kind}; learn Tabular, Series or Image.");
            if (only is not null)
            {
                string[] unknown = only.Where(n => candidates.All(c => c.Name != n)).ToArray();
                if (unknown.Length > 0) throw new ArgumentException($"No {kind} candidate named {string.Join(", ", unknown.Select(n => $"'{n}'"))}.");
                candidates = candidates.Where(c => only.Contains(c.Name)).ToArray();
            }
            string[]? savedSection = saved is null ? null : Section(saved, kind);
            Dataset[] datasets = savedSection is null ? Datasets(ml, dataRoot, kind, imagePools) : SavedDatasets(savedSection, candidates);
            var measurements = new List<SslPortfolioBuilder.Measurement>();
            Console.WriteLine($"## {kind}: {candidates.Length} candidates on {string.Join(", ", datasets.Select(d => $"{d.Name} ({d.Rows} rows, {d.LabeledRows} labeled)"))}");
            Console.WriteLine();
            Console.WriteLine("| dataset | candidate | test accuracy | trial time | of which pretraining | CV accuracy | load |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            foreach (Dataset dataset in datasets)
            {
                var onDataset = new List<SslPortfolioBuilder.Measurement>();
                foreach (Candidate candidate in candidates)
                {
                    if (!Fits(candidate, dataset.Rows, dataset.LabeledRows)
                        || (savedSection is not null && !SavedRows(savedSection).Any(c => c[0] == dataset.Name && c[1] == candidate.Name)))
                    {
                        Console.WriteLine($"| {dataset.Name} | {candidate.Name} | not run (size limits) | - | - | - | - |");
                        continue;
                    }
                    (SslPortfolioBuilder.Measurement m, double? cv, string load) = savedSection is null ? await Measure(ml, dataset, candidate, fineTuneFolds, folds)
                        : Saved(savedSection, dataset.Name, candidate.Name);
                    onDataset.Add(m);
                    Console.WriteLine(FormattableString.Invariant(
                        $"| {dataset.Name} | {candidate.Name} | {100 * m.Value:0.0} | {m.Seconds:0.0} s | {m.PretrainingSeconds:0.0} s | {(cv is double v ? $"{100 * v:0.0}" : "failed")} | {load} |"));
                }
                // A candidate the dataset's size rules out adds nothing there and costs nothing (the experiment skips it).
                double worst = onDataset.Min(m => m.Value);
                foreach (Candidate skipped in candidates.Where(c => onDataset.All(m => m.Candidate != c.Name)))
                    onDataset.Add(new SslPortfolioBuilder.Measurement(skipped.Name, dataset.Name, worst, 0, 0));
                measurements.AddRange(onDataset);
            }
            IReadOnlyList<SslPortfolioBuilder.Step> order = SslPortfolioBuilder.Order(measurements, name => PretrainingKey(candidates.Single(c => c.Name == name)));
            Console.WriteLine();
            PrintOrder($"Learned {kind} order (gain: mean rise of the best scaled test accuracy so far; seconds: mean cost at that place):", order);
            Console.WriteLine("(Gain 0: raises no benchmark dataset's best; kept last for data where it might.)");
            Console.WriteLine();
            learned[kind.ToString()] = order.Select(s => (candidates.Single(c => c.Name == s.Candidate), s)).ToList();
            // Data with fewer labeled rows than an entry's minimum never runs that entry, and the entries it outranked may
            // be worth their time there (plain fine-tuning where FixMatch is ruled out): a second order without them.
            if (candidates.Where(c => c.MinLabeledRows is not null).Select(c => c.MinLabeledRows!.Value).DefaultIfEmpty().Min() is int below and > 0)
            {
                IReadOnlyList<SslPortfolioBuilder.Step> fewer = SslPortfolioBuilder.Order(
                    measurements.Where(m => candidates.Single(c => c.Name == m.Candidate).MinLabeledRows is null).ToList(),
                    name => PretrainingKey(candidates.Single(c => c.Name == name)));
                PrintOrder($"Learned {kind} order below {below} labeled rows (without the entries that need more):", fewer);
                Console.WriteLine();
                learnedBelowMinLabels[kind.ToString()] = fewer;
            }
            if (fromRows is not null && fromRows.TryGetValue(kind.ToString(), out long large))
            {
                string[] largeDatasets = datasets.Where(d => d.Rows >= large).Select(d => d.Name).ToArray();
                if (largeDatasets.Length == 0 || largeDatasets.Length == datasets.Length)
                    throw new ArgumentException($"--from-rows {kind}={large}: {largeDatasets.Length} of the {datasets.Length} {kind} datasets have that many rows; choose a size that some but not all reach.");
                IReadOnlyList<SslPortfolioBuilder.Step> largeOrder = SslPortfolioBuilder.Order(
                    measurements.Where(m => largeDatasets.Contains(m.Dataset)).ToList(), name => PretrainingKey(candidates.Single(c => c.Name == name)));
                PrintOrder($"Learned {kind} order from {large} rows (on {string.Join(", ", largeDatasets)} alone):", largeOrder);
                Console.WriteLine();
                learnedFromRows[kind.ToString()] = (large, largeOrder);
            }
        }
        if (write)
        {
            string path = portfolioFile ?? throw new InvalidOperationException("--write needs the repository (run it from the repository with dotnet run).");
            string json = Rewrite(File.ReadAllText(path), learned, learnedBelowMinLabels, learnedFromRows);
            string temporary = path + ".tmp";
            File.WriteAllText(temporary, json);
            File.Move(temporary, path, overwrite: true);
            Console.WriteLine($"Wrote the learned portfolio(s) to {Path.GetFileName(path)}.");
        }
        return 0;
    }

    private static void PrintOrder(string title, IReadOnlyList<SslPortfolioBuilder.Step> order)
    {
        Console.WriteLine(title);
        Console.WriteLine();
        Console.WriteLine("| place | candidate | gain | seconds |");
        Console.WriteLine("|---|---|---|---|");
        for (int i = 0; i < order.Count; i++)
            Console.WriteLine(FormattableString.Invariant($"| {i + 1} | {order[i].Candidate} | {order[i].Gain:0.000} | {order[i].Seconds:0.0} |"));
    }

    /// <summary>The lines of a saved output (or of the docs that quote it) under its "kind:" heading, up to the next
    /// heading of that level.</summary>
    private static string[] Section(string[] lines, SslInputKind kind)
    {
        int start = Array.FindIndex(lines, l => l.StartsWith('#') && l.TrimStart('#').TrimStart().StartsWith($"{kind}:", StringComparison.Ordinal));
        if (start < 0) throw new InvalidDataException($"The saved output has no '## {kind}:' section.");
        string level = lines[start][..(lines[start].IndexOf(' ') + 1)];
        int end = Array.FindIndex(lines, start + 1, l => l.StartsWith(level, StringComparison.Ordinal) || (l.StartsWith('#') && l.IndexOf(' ') < level.Length - 1));
        return lines[start..(end < 0 ? lines.Length : end)];
    }

    /// <summary>The datasets a saved output measured these candidates on, with their sizes (never run again).</summary>
    private static Dataset[] SavedDatasets(string[] lines, Candidate[] candidates)
    {
        var names = new List<string>();
        foreach (string[] cells in SavedRows(lines))
            if (candidates.Any(c => c.Name == cells[1]) && !names.Contains(cells[0])) names.Add(cells[0]);
        // The heading names each dataset's size: "... on banknote (961 rows, 97 labeled), abalone (...)".
        var sizes = System.Text.RegularExpressions.Regex.Matches(lines[0], @"(?:on |, )(?<name>[^,(]+?) \((?<rows>\d+) rows, (?<labeled>\d+) labeled\)")
            .ToDictionary(m => m.Groups["name"].Value, m => (Rows: long.Parse(m.Groups["rows"].Value, CultureInfo.InvariantCulture),
                Labeled: int.Parse(m.Groups["labeled"].Value, CultureInfo.InvariantCulture)));
        return names.Select(name => new Dataset(name, null!, "", sizes.TryGetValue(name, out var size) ? size.Rows : 0,
            sizes.TryGetValue(name, out size) ? size.Labeled : int.MaxValue, _ => double.NaN)).ToArray();
    }

    /// <summary>A saved row's measurement, CV accuracy and the load average it was measured at.</summary>
    private static (SslPortfolioBuilder.Measurement, double?, string Load) Saved(string[] lines, string dataset, string candidate)
    {
        string[] cells = SavedRows(lines).FirstOrDefault(c => c[0] == dataset && c[1] == candidate)
            ?? throw new InvalidDataException($"The saved output has no row for {candidate} on {dataset}.");
        static double Number(string cell) => double.Parse(cell.Replace(" s", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);
        return (new SslPortfolioBuilder.Measurement(candidate, dataset, Number(cells[2]) / 100, Number(cells[3]), Number(cells[4])),
            cells[5] == "failed" ? null : Number(cells[5]) / 100, cells[6]);
    }

    /// <summary>The measurement rows of a saved output: | dataset | candidate | test accuracy | time | pretraining | CV | load |.</summary>
    private static IEnumerable<string[]> SavedRows(string[] lines) => lines
        .Where(l => l.StartsWith("| ", StringComparison.Ordinal))
        .Select(l => l.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray())
        .Where(c => c.Length == 7 && c[0] != "dataset" && c[3].EndsWith(" s", StringComparison.Ordinal));

    private static bool Fits(Candidate candidate, long rows, int labeledRows) =>
        !(candidate.MinLabeledRows is int min && labeledRows < min) && !(candidate.MaxRows is long max && rows > max);

    /// <summary>Candidates with the same pretraining settings share the experiment's cached encoder.</summary>
    private static string? PretrainingKey(Candidate candidate)
    {
        using JsonDocument settings = JsonDocument.Parse(candidate.Settings);
        string features = settings.RootElement.TryGetProperty("Features", out JsonElement f) ? f.GetString()! : "SelfSupervised";
        if (features == "RawFeatures") return null;
        return string.Join(";", settings.RootElement.EnumerateObject().Where(p => p.Name.StartsWith("Pretraining.", StringComparison.Ordinal))
            .Select(p => $"{p.Name}={p.Value.GetRawText()}").Order(StringComparer.Ordinal));
    }

    private static async Task<(SslPortfolioBuilder.Measurement, double? Cv, string Load)> Measure(MLContext ml, Dataset dataset, Candidate candidate,
        int fineTuneFolds, int folds)
    {
        using JsonDocument settings = JsonDocument.Parse(candidate.Settings);
        JsonElement root = settings.RootElement.Clone();
        var clock = Stopwatch.StartNew();
        SslExperiment experiment = ml.SelfSupervisedExperiment()
            .SetDataset(dataset.Train).SetInputColumn(dataset.InputColumn, dataset.SeriesChannels);
        if (folds > 0) experiment.SetObjective(SslObjective.CrossValidatedAccuracy(folds));
        SslExperimentResult result = await experiment
            .SetTuner(SslTuner.Custom($"portfolio candidate {candidate.Name}", (space, _) => new FixedTuner(SslPortfolio.Configure(space, root))))
            .SetOneStandardErrorRule(false)
            .SetFineTuneFolds(fineTuneFolds)
            .SetMaxTrials(1)
            .RunAsync();
        TrialRecord trial = result.Trials.Single();
        if (result.TrialMeasures.LastOrDefault(m => m.TrialId == trial.TrialId)?.MetricFoldValues is { } foldValues)
            Console.Error.WriteLine(FormattableString.Invariant($"{dataset.Name} | {candidate.Name} | fold values: {string.Join(" ", foldValues.Select(v => $"{100 * v:0.0}"))}"));
        double pretraining = result.TrialMeasures.Where(m => m.TrialId == trial.TrialId).Sum(m => m.PretrainingSeconds);
        double accuracy = dataset.TestAccuracy(result.BestTrial.Model);
        foreach (var owned in ((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<IDisposable>()) owned.Dispose();
        return (new SslPortfolioBuilder.Measurement(candidate.Name, dataset.Name, accuracy, trial.Duration.TotalSeconds, pretraining), trial.Metric, LoadAverage());
    }

    private static Dataset[] Datasets(MLContext ml, string dataRoot, SslInputKind kind, IReadOnlyList<int> imagePools)
    {
        if (kind is SslInputKind.Tabular or SslInputKind.Series)
        {
            string[] names = kind == SslInputKind.Tabular ? ["banknote", "abalone", "horse-colic", "wine", "higgs"] : ["basicmotions", "gunpoint", "italypower", "plaid"];
            return names.Select(name =>
            {
                TablesBenchmark.Table table = TablesBenchmark.Table.Load(dataRoot, name, 0.1);
                IDataView test = table.TestView(ml);
                return new Dataset(name, table.TrainView(ml), "Features", table.Train.Length, table.Train.Count(r => !float.IsNaN(r.Label)),
                    model => table.Score(model.Transform(test)).Accuracy, table.SeriesChannels);
            }).ToArray();
        }
        return imagePools.Select(pool =>
        {
            Benchmark cifar = Benchmark.Cifar(ml, dataRoot, pool, 0.1, testRows: 500, maxEpochs: 1, work: "");
            return new Dataset($"CIFAR-10 {pool}", cifar.Train, cifar.InputColumn, pool, pool / 10, cifar.TestAccuracy);
        }).ToArray();
    }

    /// <summary>The data file with the learned kinds' entries replaced (in their learned order) and its "about" saying how.</summary>
    private static string Rewrite(string json, Dictionary<string, List<(Candidate Candidate, SslPortfolioBuilder.Step Step)>> learned,
        Dictionary<string, IReadOnlyList<SslPortfolioBuilder.Step>> learnedBelowMinLabels,
        Dictionary<string, (long Rows, IReadOnlyList<SslPortfolioBuilder.Step> Order)> learnedFromRows)
    {
        using JsonDocument current = JsonDocument.Parse(json);
        var buffer = new MemoryStream();
        // Relaxed escaping keeps the apostrophes of the "about" text readable.
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("about");
            foreach (string line in About()) writer.WriteStringValue(line);
            writer.WriteEndArray();
            writer.WriteStartObject("portfolios");
            foreach (JsonProperty kind in current.RootElement.GetProperty("portfolios").EnumerateObject())
            {
                writer.WritePropertyName(kind.Name);
                if (!learned.TryGetValue(kind.Name, out var entries))
                {
                    kind.Value.WriteTo(writer);
                    continue;
                }
                writer.WriteStartArray();
                foreach ((Candidate candidate, SslPortfolioBuilder.Step step) in entries)
                {
                    writer.WriteStartObject();
                    writer.WriteString("name", candidate.Name);
                    if (candidate.MinLabeledRows is int min) writer.WriteNumber("minLabeledRows", min);
                    if (candidate.MaxRows is long max) writer.WriteNumber("maxRows", max);
                    writer.WriteNumber("learnedGain", Math.Round(step.Gain, 4));
                    writer.WriteNumber("learnedSeconds", Math.Round(step.Seconds, 1));
                    if (learnedBelowMinLabels.TryGetValue(kind.Name, out var fewer))
                        WritePlace(writer, "belowMinLabeledRows", null, fewer, candidate.Name);
                    if (learnedFromRows.TryGetValue(kind.Name, out var larger))
                        WritePlace(writer, "fromRows", larger.Rows, larger.Order, candidate.Name);
                    writer.WritePropertyName("settings");
                    using (JsonDocument settings = JsonDocument.Parse(candidate.Settings)) settings.RootElement.WriteTo(writer);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>A candidate's place and figures in another learned order, as an object of the entry (nothing when that
    /// order leaves it out).</summary>
    private static void WritePlace(Utf8JsonWriter writer, string property, long? rows, IReadOnlyList<SslPortfolioBuilder.Step> order, string candidate)
    {
        int index = order.Select(s => s.Candidate).ToList().IndexOf(candidate);
        if (index < 0) return;
        writer.WriteStartObject(property);
        if (rows is long atLeast) writer.WriteNumber("rows", atLeast);
        writer.WriteNumber("place", index + 1);
        writer.WriteNumber("learnedGain", Math.Round(order[index].Gain, 4));
        writer.WriteNumber("learnedSeconds", Math.Round(order[index].Seconds, 1));
        writer.WriteEndObject();
    }

    private static IEnumerable<string> About() =>
    [
        "The configurations ml.SelfSupervisedExperiment() runs before its tuner's proposals, per input kind, in order of",
        "expected value per second: cheap strong baselines first, so a budget spent by one slow SSL trial can never leave",
        "the plain baselines untried (FLAML's zero-shot configurations and auto-sklearn's portfolios are the model).",
        "Each entry's settings change the search space's default configuration (dotted option paths); a setting whose",
        "option is not in the space is ignored (Pretraining.Epochs under a scheduler: the fidelity sets the epochs), and",
        "an entry whose values the space does not offer is skipped. minLabeledRows / maxRows restrict an entry to datasets",
        "of that size. Entries that share their Pretraining options reuse one pretrained encoder from the cache. On data",
        "with fewer labeled rows than the smallest minLabeledRows of its kind, belowMinLabeledRows gives each remaining",
        "entry's place and gain in the order learned without the entries that need more labels; otherwise, on data with at",
        "least fromRows.rows rows, fromRows gives each entry's place and gain in the order learned on the benchmark datasets",
        "of that size or more alone (the greedy order over every size suits the small ones).",
        "Learned with",
        "  dotnet run -c Release --project tests/MlNetSsl.AutoML.Benchmarks -- portfolio-learn --kinds Tabular,Image --from-rows Image=2000 --write",
        "  dotnet run -c Release --project tests/MlNetSsl.AutoML.Benchmarks -- portfolio-learn --kinds Series --write",
        "which run every candidate alone on the shared tables (banknote, abalone, horse-colic, white wine, HIGGS), on",
        "CIFAR-10 pools of 1,000, 2,000 and 5,000 images and on the shared UEA series (BasicMotions, GunPoint,",
        "ItalyPowerDemand, PLAID), each with 10% of the labels (series: at least 4 per class), score the refitted pipeline on",
        "held-out test rows and order the candidates greedily by mean gain in test accuracy (scaled per dataset between the",
        "worst and the best candidate) per mean second (SslPortfolioBuilder). learnedGain / learnedSeconds are each entry's",
        "figures at its place; candidates that raised no dataset's best come last (gain 0).",
        "The Tabular entry \"raw L-BFGS, ML.NET's L1\" was added by hand after that kind's learning run, which measured the",
        "L-BFGS probe with ML.NET's L1 of 1 as its default; see its note. The Series order (its learning run of 2026-12-07)",
        "measured every Series entry, the nearest neighbour and ML.NET's L1 included.",
    ];

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
}
