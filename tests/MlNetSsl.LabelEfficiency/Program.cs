using System.Globalization;
using MlNetSsl;
using MlNetSsl.LabelEfficiency;

// Label-efficiency benchmark (issue 6): accuracy vs label fraction for raw-feature ML.NET trainers, supervised training
// from scratch, and the MlNetSsl rows (linear probe, fine-tune, FixMatch, distillation) on one pretrained encoder per
// dataset. Usage: dotnet run -c Release --project tests/MlNetSsl.LabelEfficiency -- --dataset all
// Options are listed in BenchmarkSettings and docs/label-efficiency.md.
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
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
