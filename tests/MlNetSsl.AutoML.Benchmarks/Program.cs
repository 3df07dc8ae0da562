using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl;
using MlNetSsl.AutoML;
using MlNetSsl.TestData;

// The self-supervised AutoML benchmark on real data, with most labels hidden:
//   dotnet run -c Release --project tests/MlNetSsl.AutoML.Benchmarks -- <higgs|cifar> [options]
// Options: --budget S (seconds per searched run, default 300), --pool N (training rows; HIGGS 7000, CIFAR 1000),
//          --labeled F (labeled fraction; HIGGS 0.01, CIFAR 0.1), --test N (test rows; HIGGS 500, CIFAR 500),
//          --max-epochs E (the fidelity's maximum; HIGGS 27, CIFAR 8), --grid-fraction G (budget of the TPE+ASHA run
//          on the grid's space as a share of the grid's time, default 0.25), --data DIR (default ../shared/data),
//          --work DIR (checkpoint folders of the runs: the same command resumes after a crash; default under the temp folder),
//          --threads T (TorchSharp CPU threads; default: the library's default).
// Runs, on the same data: the default configuration (the search space's defaults, untuned); the raw-feature baseline;
// TPE+ASHA and random search+ASHA (both evaluating the default configuration first) on the default space with the same
// wall budget; grid search over a small space at the maximum fidelity, then TPE+ASHA on that space with a fraction of the
// grid's time. Every run's best pipeline is refitted and scored on held-out test rows. A last random+ASHA run (half the
// budget, pretrained features and the linear probe only) records the label-free measures of every trial, to
// rank-correlate them with cross-validated accuracy. Prints Markdown for docs/automl.md.
//   dotnet run -c Release --project tests/MlNetSsl.AutoML.Benchmarks -- tables [--budget S] [--labeled F] [--tables a,b,...] [--metric M]
//     [--tpe-cost W (the default search with TPE's cost weight W)] [--skip-previous (only the default search)] [--default-config (also the space's default configuration alone)]
// compares raw LightGBM and L-BFGS with the experiment's defaults and its previous defaults on shared tables (see Tables.cs);
// --tables basicmotions,gunpoint,italypower,plaid does the same on the shared UEA series (their own train/test splits);
// --tables proxyA,proxyB,proxyC,proxyD,proxyE on binary tables built from the shared data in the shapes of issue 15's held-out
// tables (5 features; 2% positives; 61 one-hot; 49 features with 4% positives; 108 one-hot), called exactly as a new user does.
//   dotnet run -c Release --project tests/MlNetSsl.AutoML.Benchmarks -- proxy-check --table proxyC --configs tests/MlNetSsl.AutoML.Benchmarks/proxy-configs/configsC.tsv --seeds 1,2,3,4
// runs each configuration of the file (name, tab, parameters JSON) alone with several seeds: CV against test accuracy;
// --label-offset K labels every tenth training row counted from K instead of 0 (another draw of the same size), and
// --permute-labels S shuffles the labeled rows' labels (seed S): cross-validation must then fall to chance.
//   dotnet run -c Release --project tests/MlNetSsl.AutoML.Benchmarks -- portfolio-learn [--kinds Tabular,Image (or Series)] [--image-pools 1000,2000,5000] [--write]
//     [--measurements FILE (a saved output of an earlier run: order from its measurement rows instead of measuring)]
//     [--candidates "NAME;NAME" (measure only these; add their rows to a saved output, then --write from it)]
//     [--fine-tune-folds N (folds a fine-tuning candidate trains; every candidate's fold values go to stderr)] [--folds K (K-fold objective)]
//     [--from-rows Image=2000 (also learn, per kind, an order for data of that many rows or more, on the datasets that large alone)]
// measures every portfolio candidate alone on the shared data and orders them by gain per second; --write puts the order
// into src/MlNetSsl.AutoML/SelfSupervised/SslPortfolio.json (see PortfolioLearner.cs).
//   dotnet run -c Release --project tests/MlNetSsl.AutoML.Benchmarks -- images-as-user [--dataset cifar|mnist|folder (--data <root>/{train,test}/<class>/*)] [--budget S (600)] [--pool N (5000)]
//     [--labeled F (0.1)] [--test N (1000)] [--recipe-epochs E (15)] [--skip-recipe] [--threads T] [--recipe-grid 3,10:10,25,50] [--recipe-seeds S (1)]
// compares the two-line recipe (SimCLR, then FixMatch fine-tuning) and raw-pixel LightGBM and L-BFGS with
// ml.SelfSupervisedExperiment() called as a new user calls it, on CIFAR-10 JPEGs or MNIST PNGs (see ImagesAsUser.cs); --recipe-grid SIMCLR_EPOCHS:FIXMATCH_EPOCHS runs only the recipe,
// at every pair of those lengths.
//   dotnet run -c Release --project tests/MlNetSsl.AutoML.Benchmarks -- raw-choice [--tables banknote,...,proxyE (or the UEA series)] [--csv-folder DIR] [--splits 10]
// cross-validates the portfolio's untuned raw-feature pipelines on many random splits of each dataset and compares two ways
// of choosing among those within one standard error: the best-scoring, and the first in the portfolio's order (RawChoice.cs);
// --csv-folder adds every headerless CSV there (label in the last column).
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length > 0 && args[0] is "images-as-user" or "portfolio-learn" or "tables" or "proxy-check" or "raw-choice")
{
    if (Option("--threads", null) is { } commandThreads) SslEnvironment.CpuThreads = int.Parse(commandThreads, CultureInfo.InvariantCulture);
    SslEnvironment.EnsureInitialized();
    Console.WriteLine($"# {args[0]}: {SslEnvironment.Describe()}, {Environment.ProcessorCount} logical cores, {CpuModel()}, load average {LoadAverage()}; " +
        $"command: dotnet run -c Release --project tests/MlNetSsl.AutoML.Benchmarks -- {string.Join(' ', args)}");
}
if (args.Length > 0 && args[0] == "images-as-user")
{
    return await ImagesAsUserBenchmark.RunAsync(Option("--data", null) ?? FindSharedData(), Option("--dataset", "cifar")!, uint.Parse(Option("--budget", "600")!, CultureInfo.InvariantCulture),
        int.Parse(Option("--pool", "5000")!, CultureInfo.InvariantCulture), double.Parse(Option("--labeled", "0.1")!, CultureInfo.InvariantCulture),
        int.Parse(Option("--test", "1000")!, CultureInfo.InvariantCulture), int.Parse(Option("--recipe-epochs", "15")!, CultureInfo.InvariantCulture),
        args.Contains("--skip-recipe"), Path.Combine(Path.GetTempPath(), "mlnetssl-images-as-user"),
        Option("--recipe-grid", null) is { } pairs ? (Ints(pairs.Split(":")[0]), Ints(pairs.Split(":")[1])) : null,
        int.Parse(Option("--recipe-seeds", "1")!, CultureInfo.InvariantCulture));
}
if (args.Length > 0 && args[0] == "portfolio-learn")
{
    string? repository = RepositoryRoot();
    return await PortfolioLearner.RunAsync(Option("--data", null) ?? FindSharedData(), (Option("--kinds", null) ?? "Tabular,Image").Split(','),
        args.Contains("--write"), repository is null ? null : Path.Combine(repository, "src", "MlNetSsl.AutoML", "SelfSupervised", "SslPortfolio.json"),
        Option("--measurements", null), Ints(Option("--image-pools", "1000,2000,5000")!), Option("--candidates", null)?.Split(';'),
        int.Parse(Option("--fine-tune-folds", "0")!, CultureInfo.InvariantCulture), int.Parse(Option("--folds", "0")!, CultureInfo.InvariantCulture),
        Option("--from-rows", null)?.Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture)));
}
if (args.Length > 0 && args[0] == "proxy-check")
    return await ProxyCheck.RunAsync(Option("--data", null) ?? FindSharedData(), Option("--table", "proxyC")!, Option("--configs", "configs.tsv")!,
        Ints(Option("--seeds", "1,2,3")!), int.Parse(Option("--label-offset", "0")!, CultureInfo.InvariantCulture),
        Option("--permute-labels", null) is { } permute ? int.Parse(permute, CultureInfo.InvariantCulture) : null);
if (args.Length > 0 && args[0] == "raw-choice")
    return RawChoiceBenchmark.Run(Option("--data", null) ?? FindSharedData(),
        (Option("--tables", null) ?? "banknote,abalone,horse-colic,wine,higgs,proxyA,proxyB,proxyC,proxyD,proxyE").Split(','), Option("--csv-folder", null),
        int.Parse(Option("--splits", "10")!, CultureInfo.InvariantCulture));
if (args.Length > 0 && args[0] == "tables")
{
    return await TablesBenchmark.RunAsync(Option("--data", null) ?? FindSharedData(), uint.Parse(Option("--budget", "60")!, CultureInfo.InvariantCulture),
        double.Parse(Option("--labeled", "0.1")!, CultureInfo.InvariantCulture),
        (Option("--tables", null) ?? "banknote,abalone,horse-colic,higgs").Split(','), Enum.Parse<SslMetric>(Option("--metric", "Accuracy")!),
        Option("--tpe-cost", null) is { } cost ? double.Parse(cost, CultureInfo.InvariantCulture) : null, args.Contains("--skip-previous"),
        args.Contains("--default-config"), Option("--seeds", null) is { } seedList ? Ints(seedList) : null);
}
if (args.Length == 0 || args[0] is not ("higgs" or "cifar"))
{
    Console.Error.WriteLine("Usage: dotnet run -c Release --project tests/MlNetSsl.AutoML.Benchmarks -- <higgs|cifar|tables|images-as-user|portfolio-learn|proxy-check|raw-choice> [--budget S] [--pool N] " +
        "[--labeled F] [--test N] [--max-epochs E] [--grid-fraction G] [--data DIR] [--work DIR] [--threads T]");
    return 2;
}
bool cifar = args[0] == "cifar";
string dataRoot = Option("--data", null) ?? FindSharedData();
uint budget = uint.Parse(Option("--budget", "300")!, CultureInfo.InvariantCulture);
int pool = int.Parse(Option("--pool", cifar ? "1000" : "7000")!, CultureInfo.InvariantCulture);
double labeledFraction = double.Parse(Option("--labeled", cifar ? "0.1" : "0.01")!, CultureInfo.InvariantCulture);
int testRows = int.Parse(Option("--test", "500")!, CultureInfo.InvariantCulture);
int maxEpochs = int.Parse(Option("--max-epochs", cifar ? "8" : "27")!, CultureInfo.InvariantCulture);
double gridFraction = double.Parse(Option("--grid-fraction", "0.25")!, CultureInfo.InvariantCulture);
// Every run keeps a checkpoint folder here, so the same command after a crash or a kill resumes where it stopped (finished
// runs replay their journal and only refit); delete the folder to start over.
string work = Option("--work", null) ?? Path.Combine(Path.GetTempPath(), "mlnetssl-automl-benchmark",
    string.Join("_", args.Where(a => !a.StartsWith("--work", StringComparison.Ordinal)).Select(a => a.TrimStart('-'))));

var ml = new MLContext(seed: 1);
if (Option("--threads", null) is { } threads) SslEnvironment.CpuThreads = int.Parse(threads, CultureInfo.InvariantCulture);
SslEnvironment.EnsureInitialized();
Benchmark benchmark = cifar
    ? Benchmark.Cifar(ml, dataRoot, pool, labeledFraction, testRows, maxEpochs, work)
    : Benchmark.Higgs(ml, dataRoot, pool, labeledFraction, testRows, maxEpochs, work);
Console.WriteLine($"# Self-supervised AutoML benchmark: {benchmark.Description}");
Console.WriteLine($"{SslEnvironment.Describe()}, {Environment.ProcessorCount} logical cores, load average {LoadAverage()}; " +
    $"command: dotnet run -c Release --project tests/MlNetSsl.AutoML.Benchmarks -- {string.Join(' ', args)}");
Console.WriteLine();

var rows = new List<RunRow>();
SslSearchSpace space = SslSearchSpace.For(benchmark.Train, benchmark.InputColumn);
SslScheduler asha = SslScheduler.Asha(minEpochs: 1, maxEpochs: maxEpochs, reduction: 3);

// 1. What a user gets untuned: the space's default configuration (the stage's and L-BFGS's defaults, 10 epochs).
rows.Add(await benchmark.Run("default configuration", space, Scripted("default", space.Default), SslScheduler.None, null, 1));
// 2. The honest alternative without pretraining.
Parameters raw = space.Default.With(SslSearchSpace.FeaturesOption, nameof(SslFeatureSource.RawFeatures));
rows.Add(await benchmark.Run("raw features, default probe", space, Scripted("raw", raw), SslScheduler.None, null, 1));
// 3-4. AutoML on the default space, same wall budget, each starting from the default configuration (as the experiment's
//      default tuner does).
RunRow tpe = await benchmark.Run("TPE + ASHA", space, SslTuner.Tpe.WithDefaultFirst(), asha, budget, null);
rows.Add(tpe);
rows.Add(await benchmark.Run("random + ASHA", space, SslTuner.Random.WithDefaultFirst(), asha, budget, null));
// 5-6. Grid over a small space at the maximum fidelity, then TPE+ASHA on that space with a fraction of the grid's time.
RunRow grid = await benchmark.Run("grid (small space, max epochs)", benchmark.GridSpace(maxEpochs), SslTuner.Grid, SslScheduler.None, null, null);
rows.Add(grid);
uint gridShare = (uint)Math.Max(1, Math.Round(grid.Elapsed.TotalSeconds * gridFraction));
rows.Add(await benchmark.Run($"TPE + ASHA (small space, {gridFraction:P0} of grid time)", benchmark.GridSpace(null), SslTuner.Tpe, asha, gridShare, null));

Console.WriteLine();
Console.WriteLine("| run | budget | elapsed | trials (completed/pruned/failed) | best CV accuracy | winner | test accuracy | pretraining reuse |");
Console.WriteLine("|---|---|---|---|---|---|---|---|");
foreach (RunRow row in rows) Console.WriteLine(row.ToMarkdown());
Console.WriteLine();
RunRow defaults = rows[0];
Console.WriteLine($"AutoML (TPE + ASHA) vs default: {100 * (tpe.TestAccuracy - defaults.TestAccuracy):+0.0;-0.0} points on the test rows " +
    $"({100 * (tpe.BestMetric - defaults.BestMetric):+0.0;-0.0} in CV accuracy); target >= +3.");
RunRow onGrid = rows[^1];
Console.WriteLine($"TPE + ASHA on the grid's space with {onGrid.Elapsed.TotalSeconds:0} s ({onGrid.Elapsed / grid.Elapsed:P0} of the grid's " +
    $"{grid.Elapsed.TotalSeconds:0} s): {100 * (onGrid.TestAccuracy - grid.TestAccuracy):+0.0;-0.0} points on the test rows, " +
    $"{100 * (onGrid.BestMetric - grid.BestMetric):+0.0;-0.0} in CV accuracy; target within 1 point using <= 25%.");
Console.WriteLine();
// 7. A separate run records the label-free measures of every trial (they cost a few seconds per segment, which would have
//    shortened the compared runs): random search samples the space evenly, which suits a correlation. The measures
//    describe pretrained embeddings, so this run searches those only, under the linear probe.
SslSearchSpace pretrainedOnly = SslSearchSpace.For(benchmark.Train, benchmark.InputColumn).WithoutRawFeatures().WithoutSupervisedFromScratch()
    .WithDownstreamTrainers(DownstreamTrainer.LinearProbe);
RunRow measured = await benchmark.Run("random + ASHA, pretrained features only, label-free measures recorded", pretrainedOnly, SslTuner.Random, asha,
    budget / 2, null, recordLabelFree: true);
Console.WriteLine(measured.ToMarkdown());
Console.WriteLine();
benchmark.PrintLabelFreeCorrelation(measured.Measures);
return 0;

static SslTuner Scripted(string name, Parameters configuration) => SslTuner.Custom(name, (_, _) => new FixedTuner(configuration));

string? Option(string name, string? fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
}

static string FindSharedData() => RepositoryRoot() is { } root ? Path.GetFullPath(Path.Combine(root, "..", "shared", "data"))
    : throw new DirectoryNotFoundException("No MlNetSsl.sln above the program; pass --data.");

static string? RepositoryRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "MlNetSsl.sln"))) return dir.FullName;
    return null;
}

static string CpuModel() => File.Exists("/proc/cpuinfo")
    ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
    : "unknown CPU";

static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
static int[] Ints(string list) => list.Split(",", StringSplitOptions.RemoveEmptyEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();

/// <summary>One dataset with its hidden labels, test rows and grid space.</summary>
internal sealed class Benchmark
{
    private readonly MLContext _ml;
    private readonly Func<ITransformer, double> _testAccuracy;

    private readonly string _work;

    private Benchmark(MLContext ml, string description, IDataView train, string inputColumn, SslInputKind kind, Func<ITransformer, double> testAccuracy,
        string work)
    {
        _ml = ml;
        _work = work;
        Description = description;
        Train = train;
        InputColumn = inputColumn;
        Kind = kind;
        _testAccuracy = testAccuracy;
    }

    public string Description { get; }

    public IDataView Train { get; }

    public string InputColumn { get; }

    public SslInputKind Kind { get; }

    /// <summary>The share of the held-out test rows a model (ending in a PredictedLabel of the label's type) gets right.</summary>
    public double TestAccuracy(ITransformer model) => _testAccuracy(model);

    public static Benchmark Higgs(MLContext ml, string dataRoot, int pool, double labeledFraction, int testRows, int maxEpochs, string work)
    {
        HiggsRow[] train = ReadHiggs(dataRoot, "train", pool);
        int every = (int)Math.Round(1 / labeledFraction);
        for (int i = 0; i < train.Length; i++)
            if (i % every != 0) train[i].Label = float.NaN;
        HiggsRow[] test = ReadHiggs(dataRoot, "test", testRows);
        IDataView testView = ml.Data.LoadFromEnumerable(test);
        return new Benchmark(ml,
            $"HIGGS, {train.Length} training rows, {train.Count(r => !float.IsNaN(r.Label))} labeled ({labeledFraction:P0}), {test.Length} test rows, ASHA 1..{maxEpochs} epochs",
            ml.Data.LoadFromEnumerable(train), "Features", SslInputKind.Tabular,
            model => Agreement(model.Transform(testView).GetColumn<float>("PredictedLabel"), test.Select(r => r.Label)), work);
    }

    public static Benchmark Cifar(MLContext ml, string dataRoot, int pool, double labeledFraction, int testRows, int maxEpochs, string work)
    {
        string root = Path.Combine(dataRoot, "cifar10");
        ImageRow[] train = ListImages(root, "train", pool / 10);
        int every = (int)Math.Round(1 / labeledFraction);
        // Rows are interleaved by class, so hiding all but every k-th label keeps the same share of every class.
        for (int i = 0; i < train.Length; i++)
            if ((i / 10) % every != 0) train[i].Label = "";
        ImageRow[] test = ListImages(root, "test", testRows / 10);
        return LoadedImages(ml, root, train, test,
            $"CIFAR-10, {train.Length} training images, {train.Count(r => r.Label.Length > 0)} labeled ({labeledFraction:P0}), {test.Length} test images, ASHA 1..{maxEpochs} epochs",
            work);
    }

    /// <summary>Image files under <paramref name="root"/> read with <c>LoadImages</c> into an "Image" column, as a user loads
    /// them; test accuracy compares PredictedLabel with the test rows' labels.</summary>
    private static Benchmark LoadedImages(MLContext ml, string root, ImageRow[] train, ImageRow[] test, string description, string work)
    {
        var load = ml.Transforms.LoadImages("Image", root, nameof(ImageRow.ImagePath));
        IDataView testView = load.Fit(ml.Data.LoadFromEnumerable(test)).Transform(ml.Data.LoadFromEnumerable(test));
        IDataView trainView = load.Fit(ml.Data.LoadFromEnumerable(train)).Transform(ml.Data.LoadFromEnumerable(train));
        return new Benchmark(ml, description, trainView, "Image", SslInputKind.Image,
            model => Agreement(model.Transform(testView).GetColumn<string>("PredictedLabel"), test.Select(r => r.Label)), work);
    }

    /// <summary>An image folder laid out as the CLI reads it: <c>&lt;root&gt;/train/&lt;class&gt;/*</c> (labeled),
    /// <c>&lt;root&gt;/train/unlabeled/*</c> (no label) and <c>&lt;root&gt;/test/&lt;class&gt;/*</c>, for images the shared data
    /// does not hold (give the folder with <c>--data</c>). Every file is used, whatever the pool and test options.</summary>
    public static Benchmark Folder(MLContext ml, string root, string work)
    {
        ImageRow[] Rows(string split) => Directory.GetDirectories(Path.Combine(root, split)).OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(folder => Directory.GetFiles(folder, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal)
                .Select(file => new ImageRow
                {
                    ImagePath = Path.GetRelativePath(root, file),
                    Label = split == "train" && Path.GetFileName(folder) == "unlabeled" ? "" : Path.GetFileName(folder),
                }))
            .ToArray();
        ImageRow[] train = Rows("train"), test = Rows("test");
        return LoadedImages(ml, root, train, test,
            $"the image folder {Path.GetFileName(Path.TrimEndingDirectorySeparator(root))}, {train.Length} training images, {train.Count(r => r.Label.Length > 0)} labeled, {test.Length} test images",
            work);
    }

    /// <summary>MNIST as a user would have it: PNG files in one folder per digit. The shared data holds the official test
    /// split only (10,000 images), so the first <paramref name="pool"/> images are the training pool and the last
    /// <paramref name="testRows"/> the test images; every k-th label of the pool is kept. The PNGs are written once under
    /// <paramref name="work"/>, then loaded with <c>LoadImages</c> like the CIFAR-10 JPEGs.</summary>
    public static Benchmark Mnist(MLContext ml, string dataRoot, int pool, double labeledFraction, int testRows, string work)
    {
        (byte[] pixels, byte[] labels) = MnistIdxFile.ReadTestSplit(Path.Combine(dataRoot, "mnist"));
        if (pool + testRows > labels.Length)
            throw new ArgumentException($"MNIST's shared split has {labels.Length} images; pool {pool} + test {testRows} is more.");
        string root = Path.Combine(work, "mnist-png");
        ImageRow Write(int index, string split)
        {
            string relative = Path.Combine(split, labels[index].ToString(CultureInfo.InvariantCulture), $"{index:D5}.png");
            string path = Path.Combine(root, relative);
            if (!File.Exists(path))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                var rgba = new byte[28 * 28 * 4];
                for (int p = 0; p < 28 * 28; p++)
                {
                    byte value = pixels[index * 784 + p];
                    rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = value;
                    rgba[4 * p + 3] = 255;
                }
                using MLImage image = MLImage.CreateFromPixels(28, 28, MLPixelFormat.Rgba32, rgba);
                string temporary = path + ".tmp.png";
                image.Save(temporary);
                File.Move(temporary, path, overwrite: true);
            }
            return new ImageRow { ImagePath = relative, Label = labels[index].ToString(CultureInfo.InvariantCulture) };
        }
        int every = (int)Math.Round(1 / labeledFraction);
        ImageRow[] train = Enumerable.Range(0, pool).Select(i => Write(i, "train")).ToArray();
        for (int i = 0; i < train.Length; i++)
            if (i % every != 0) train[i].Label = "";
        ImageRow[] test = Enumerable.Range(labels.Length - testRows, testRows).Select(i => Write(i, "test")).ToArray();
        return LoadedImages(ml, root, train, test,
            $"MNIST (the shared official test split), {train.Length} training images (images 0..{pool - 1}), {train.Count(r => r.Label.Length > 0)} labeled ({labeledFraction:P0}), {test.Length} test images (the last {testRows})",
            work);
    }

    /// <summary>The small space grid search runs over, every other option at its default, epochs fixed at
    /// <paramref name="epochs"/> for the grid and left to the scheduler when null. HIGGS: SCARF, VICReg or SimCLR x
    /// augmentation strength 1/3, 2/3 or 1 x learning rate 3e-4, 1e-3 or 3e-3 x probe L2 0.01 or 1 (54 configurations,
    /// 27 pretraining runs). CIFAR, where an epoch costs about 50 times more: SimCLR or BYOL x strength 0.5 or 1 x learning
    /// rate 1e-3 or 3e-3 x probe L2 0.01 or 1 (16 configurations, 8 pretraining runs).</summary>
    public SearchSpace GridSpace(int? epochs)
    {
        // The grid compares pretraining configurations under the cheapest downstream model, so the fine-tuning, LightGBM
        // and scratch choices are left out (removed options stay at their defaults).
        SslSearchSpace space = SslSearchSpace.For(Kind).WithoutRawFeatures().WithoutSupervisedFromScratch()
            .WithDownstreamTrainers(DownstreamTrainer.LinearProbe);
        foreach (string unused in new[] { "LightGbmLeaves", "LightGbmMinimumRowsPerLeaf", "LightGbmIterations", "FineTuneEpochs",
            "FineTuneLearningRate", "FreezeEncoder", "SemiSupervised", "Distill" })
            space.Downstream.Remove(unused);
        if (Kind == SslInputKind.Image)
        {
            space.WithMethods(SslMethod.SimClr, SslMethod.Byol);
            space.Pretraining["AugmentationStrength"] = new ChoiceOption(0.5, 1.0);
            space.Pretraining["LearningRate"] = new ChoiceOption(1e-3, 3e-3);
        }
        else
        {
            space.WithMethods(SslMethod.Scarf, SslMethod.Vicreg, SslMethod.SimClr);
            space.Pretraining["AugmentationStrength"] = new ChoiceOption(1.0 / 3, 2.0 / 3, 1.0);
            space.Pretraining["LearningRate"] = new ChoiceOption(3e-4, 1e-3, 3e-3);
        }
        space.Pretraining["Augmentations"] = new ChoiceOption("Default");
        space.Downstream["L2Regularization"] = new ChoiceOption(0.01, 1.0);
        space.Downstream["L1Regularization"] = new ChoiceOption(1.0);
        foreach (string fixedOption in new[] { "Encoder", "EncoderWidth", "EmbeddingSize", "BatchSize", "MethodScale" })
        {
            SearchSpaceOption option = space.Pretraining[fixedOption];
            object value = option switch
            {
                ChoiceOption choice => choice.DefaultChoice,
                NumericRangeOption range => range.Default,
                IntegerRangeOption range => range.Default,
                _ => throw new InvalidOperationException(fixedOption),
            };
            space.Pretraining[fixedOption] = new ChoiceOption(value);
        }
        if (epochs is int e) space.Pretraining["Epochs"] = new ChoiceOption(e);
        else space.Pretraining.Remove("Epochs");
        return space;
    }

    public async Task<RunRow> Run(string name, SearchSpace space, SslTuner tuner, SslScheduler scheduler, uint? budgetSeconds, int? maxTrials,
        bool recordLabelFree = false)
    {
        Console.WriteLine($"## {name} (load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        SslExperiment experiment = _ml.SelfSupervisedExperiment()
            .SetDataset(Train)
            .SetInputColumn(InputColumn)
            .SetSearchSpace(space)
            .SetObjective(SslObjective.CrossValidatedAccuracy(folds: 5))
            .SetTuner(tuner)
            .SetScheduler(scheduler)
            .SetRecordLabelFreeMeasures(recordLabelFree)
            .SetCheckpoint(Path.Combine(_work, new string(name.Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray())))
            .SetProgress(new ConsoleProgress());
        if (budgetSeconds is uint seconds) experiment.SetTrainingTimeInSeconds(seconds);
        experiment.SetMaxTrials(maxTrials ?? 10_000);
        var clock = Stopwatch.StartNew();
        SslExperimentResult result = await experiment.RunAsync();
        TimeSpan total = clock.Elapsed;
        double accuracy = _testAccuracy(result.BestTrial.Model);
        foreach (var stage in ((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<SelfSupervisedTransformer>()) stage.Dispose();
        var row = new RunRow(name, budgetSeconds, result.Elapsed, total, result.Trials, result.BestTrial.Metric, result.BestFeatureSource,
            result.BestPipelineDescription ?? "", accuracy, result.PretrainingReuse, result.TrialMeasures);
        Console.WriteLine($"best: {row.BestPipeline} CV {row.BestMetric:P1}, test {row.TestAccuracy:P1}; {result.StopReason}; search {result.Elapsed.TotalSeconds:0} s, " +
            $"with refit {total.TotalSeconds:0} s; reuse: {result.PretrainingReuse}");
        Console.WriteLine();
        return row;
    }

    /// <summary>Spearman rank correlation between each label-free measure and cross-validated accuracy over the pretrained
    /// segments of a run (all rungs, and the first rung alone, where every trial is measured at the same fidelity).</summary>
    public void PrintLabelFreeCorrelation(IReadOnlyList<SslTrialMeasures> measures)
    {
        var scored = measures.Where(m => m.FeatureSource == SslFeatureSource.SelfSupervised && m.CrossValidatedAccuracy is not null && m.LabelFreeScore is not null).ToList();
        int? firstRung = scored.Select(m => m.Fidelity).Min();
        Console.WriteLine("| label-free measure | Spearman vs CV accuracy, all segments | first rung only |");
        Console.WriteLine("|---|---|---|");
        void Line(string label, Func<SslTrialMeasures, double?> measure)
        {
            var all = scored.Where(m => measure(m) is not null).ToList();
            var first = all.Where(m => m.Fidelity == firstRung).ToList();
            Console.WriteLine($"| {label} | {RankCorrelation.Spearman(all.Select(m => measure(m)!.Value), all.Select(m => m.CrossValidatedAccuracy!.Value)):0.00} (n={all.Count}) | " +
                $"{RankCorrelation.Spearman(first.Select(m => measure(m)!.Value), first.Select(m => m.CrossValidatedAccuracy!.Value)):0.00} (n={first.Count}) |");
        }
        Line("label-free objective (what SslObjective.LabelFree maximizes)", m => m.LabelFreeScore);
        Line("RankMe / min(rows, embedding size)", m => m.RankMeFraction);
        Line("RankMe (raw)", m => m.RankMe);
        if (Kind == SslInputKind.Image) Line("rotation-prediction accuracy", m => m.RotationPredictionAccuracy);
    }

    private static double Agreement<T>(IEnumerable<T> predicted, IEnumerable<T> actual)
    {
        var pairs = predicted.Zip(actual).ToList();
        return pairs.Count(p => EqualityComparer<T>.Default.Equals(p.First, p.Second)) / (double)pairs.Count;
    }

    private static HiggsRow[] ReadHiggs(string dataRoot, string split, int count) =>
        File.ReadLines(Path.Combine(dataRoot, "higgs", $"binary.{split}")).Where(l => l.Length > 0).Take(count)
            .Select(line => line.Split('\t').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray())
            .Select(v => new HiggsRow { Label = v[0], Features = v[1..] }).ToArray();

    /// <summary>The first <paramref name="perClass"/> images of each class by file name, interleaved by class.</summary>
    private static ImageRow[] ListImages(string root, string split, int perClass)
    {
        string[][] byClass = Directory.GetDirectories(Path.Combine(root, split)).Order(StringComparer.Ordinal)
            .Select(dir => Directory.GetFiles(dir, "*.jpg").Order(StringComparer.Ordinal).Take(perClass).ToArray()).ToArray();
        return Enumerable.Range(0, perClass).SelectMany(i => byClass.Where(files => i < files.Length).Select(files => new ImageRow
        {
            ImagePath = Path.GetRelativePath(root, files[i]),
            Label = Path.GetFileName(Path.GetDirectoryName(files[i]))!,
        })).ToArray();
    }
}

/// <summary>One benchmark run, summarized.</summary>
internal sealed record RunRow(string Name, uint? Budget, TimeSpan Elapsed, TimeSpan WithRefit, IReadOnlyList<TrialRecord> Trials, double BestMetric,
    SslFeatureSource? Winner, string BestPipeline, double TestAccuracy, PretrainingReuseSummary? Reuse, IReadOnlyList<SslTrialMeasures> Measures)
{
    public string ToMarkdown() =>
        $"| {Name} | {(Budget is uint b ? $"{b} s" : "-")} | {Elapsed.TotalSeconds:0} s | {Trials.Count} ({Trials.Count(t => t.Status == TrialStatus.Completed)}/" +
        $"{Trials.Count(t => t.Status == TrialStatus.Pruned)}/{Trials.Count(t => t.Status == TrialStatus.Failed)}) | {BestMetric:P1} | {Winner} | " +
        $"{TestAccuracy:P1} | {(Reuse is null || Reuse.Segments == 0 ? "-" : $"{Reuse.EpochsReused} of {Reuse.EpochsTrained + Reuse.EpochsReused} epochs reused, {Reuse.TimeSaved.TotalSeconds:0} s saved ({Reuse.SavedFraction:P0})")} |";
}

internal sealed class HiggsRow
{
    [VectorType(28)]
    public float[] Features { get; set; } = [];

    public float Label { get; set; }
}

internal sealed class ImageRow
{
    public string ImagePath { get; set; } = "";

    public string Label { get; set; } = "";
}

/// <summary>Proposes one configuration, then nothing.</summary>
internal sealed class FixedTuner(Parameters configuration) : ITuner
{
    private bool _proposed;

    public Parameters? Propose(TrialContext context)
    {
        if (_proposed) return null;
        _proposed = true;
        return configuration;
    }

    public void Update(TrialResult result)
    {
    }
}

/// <summary>Prints trial results as they come (not every start, to keep the log short).</summary>
internal sealed class ConsoleProgress : IProgress<SslTrialReport>
{
    public void Report(SslTrialReport value)
    {
        if (value.Kind is TrialReportKind.Running) return;
        TrialRecord t = value.Trial;
        string metric = t.Metric?.ToString("P1", CultureInfo.InvariantCulture) ?? "-";
        Console.WriteLine($"  {value.Elapsed.TotalSeconds,5:0} s  #{t.TrialId} {value.Kind} at {value.Fidelity?.ToString(CultureInfo.InvariantCulture) ?? "full"}: {metric}" +
            (t.ErrorMessage is null ? "" : $" ({t.ErrorMessage})") + $"  {Summary(t.Parameters)}");
    }

    public static string Summary(Parameters p)
    {
        string source = p.TryGetValue("Features", out object? features) ? (string)features : "SelfSupervised";
        string downstream = p.TryGetValue("Downstream", out object? down) ? Downstream((Parameters)down) : "";
        if (source == "RawFeatures") return $"raw features -> {downstream}";
        if (!p.TryGetValue("Pretraining", out object? nested)) return downstream;
        var pre = (Parameters)nested;
        string Value(string key) => Text(pre, key);
        if (source == "SupervisedFromScratch") return $"from scratch {Value("Encoder")} w{Value("EncoderWidth")} -> {downstream}";
        return $"{Value("Method")} {Value("Encoder")} w{Value("EncoderWidth")} e{Value("EmbeddingSize")} lr{Value("LearningRate")} b{Value("BatchSize")} " +
            $"s{Value("MethodScale")} {Value("Augmentations")}@{Value("AugmentationStrength")} -> {downstream}";
    }

    // Only the options the chosen downstream trainer reads, so a log line shows what the trial actually trained.
    private static string Downstream(Parameters d) => Text(d, "Trainer") switch
    {
        "LightGbm" => $"LightGBM leaves {Text(d, "LightGbmLeaves")} min {Text(d, "LightGbmMinimumRowsPerLeaf")} it {Text(d, "LightGbmIterations")}",
        "FineTune" => $"fine-tune {Text(d, "FineTuneEpochs")} ep lr{Text(d, "FineTuneLearningRate")}" +
            (Text(d, "FreezeEncoder") == "True" ? " frozen" : "") + (Text(d, "SemiSupervised") == "True" ? " FixMatch" : "") +
            (Text(d, "Distill") == "True" ? " distill" : ""),
        _ => $"probe L1 {Text(d, "L1Regularization")} L2 {Text(d, "L2Regularization")}",
    };

    private static string Text(Parameters p, string key) =>
        p.TryGetValue(key, out object? v) ? v is double d ? d.ToString("G3", CultureInfo.InvariantCulture) : v.ToString()! : "-";
}
