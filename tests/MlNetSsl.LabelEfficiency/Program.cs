using System.Globalization;
using MlNetSsl;
using MlNetSsl.LabelEfficiency;

// Label-efficiency benchmark (issue 6): accuracy vs label fraction for raw-feature ML.NET trainers, supervised training
// from scratch, and the MlNetSsl rows (linear probe, fine-tune, FixMatch, distillation) on one pretrained encoder per
// dataset. Usage: dotnet run -c Release --project tests/MlNetSsl.LabelEfficiency -- --dataset all
// Options are listed in BenchmarkSettings and docs/label-efficiency.md.
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length > 0 && args[0] == "label-free-study")
{
    // Which signal ranks encoders best at few labels (issue 15), see LabelFreeStudy and docs/automl-benchmarks.md:
    //   dotnet run -c Release --project tests/MlNetSsl.LabelEfficiency -- label-free-study --dataset higgs|cifar|mnist|italypower|gunpoint [--configs 16]
    //     [--draws 5] [--labels-per-class 2,5,10] [--pool N] [--test N] [--threads T] [--data DIR]
    string Option(string name, string fallback) => Array.IndexOf(args, name) is int at and >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
    SslEnvironment.CpuThreads = int.Parse(Option("--threads", "2"), CultureInfo.InvariantCulture);
    SslEnvironment.EnsureInitialized();
    string root = Option("--data", Path.Combine("..", "shared", "data"));
    foreach (string name in Option("--dataset", "higgs").Split(','))
    {
        BenchmarkData studied = name switch
        {
            "cifar" => BenchmarkData.Cifar(root, int.Parse(Option("--pool", "2000"), CultureInfo.InvariantCulture), int.Parse(Option("--test", "1000"), CultureInfo.InvariantCulture)),
            "mnist" => BenchmarkData.Mnist(root, int.Parse(Option("--pool", "4000"), CultureInfo.InvariantCulture), int.Parse(Option("--test", "1000"), CultureInfo.InvariantCulture)),
            "higgs" => BenchmarkData.Higgs(root, int.Parse(Option("--pool", "7000"), CultureInfo.InvariantCulture), int.Parse(Option("--test", "500"), CultureInfo.InvariantCulture)),
            "italypower" => BenchmarkData.UeaResplit(root, "ItalyPowerDemand", int.Parse(Option("--test", "400"), CultureInfo.InvariantCulture)),
            "gunpoint" => BenchmarkData.UeaResplit(root, "GunPoint", int.Parse(Option("--test", "80"), CultureInfo.InvariantCulture)),
            _ => throw new ArgumentException($"Unknown dataset '{name}' (cifar, mnist, higgs, italypower, gunpoint)."),
        };
        LabelFreeStudy.Run(studied, int.Parse(Option("--configs", "16"), CultureInfo.InvariantCulture),
            Option("--labels-per-class", "2,5,10").Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray(),
            int.Parse(Option("--draws", "5"), CultureInfo.InvariantCulture), Console.WriteLine);
    }
    return 0;
}
BenchmarkSettings settings;
try
{
    settings = BenchmarkSettings.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
SslEnvironment.CpuThreads = settings.Threads;
SslEnvironment.EnsureInitialized();
string[] names = settings.Datasets.Contains("all") ? ["higgs", "basicmotions", "mnist", "cifar"] : [.. settings.Datasets];
foreach (string name in names)
{
    BenchmarkData data = name switch
    {
        "cifar" => BenchmarkData.Cifar(settings.Data, settings.Pool ?? 20000, settings.Test ?? 5000),
        "mnist" => BenchmarkData.Mnist(settings.Data, settings.Pool ?? 8000, settings.Test ?? 2000),
        "higgs" => BenchmarkData.Higgs(settings.Data, settings.Pool ?? 7000, settings.Test ?? 500),
        "basicmotions" => BenchmarkData.BasicMotions(settings.Data),
        _ => throw new ArgumentException($"Unknown dataset '{name}' (cifar, mnist, higgs, basicmotions, all)."),
    };
    LabelEfficiencyBenchmark.Run(data, name, settings, Console.WriteLine);
}
return 0;
