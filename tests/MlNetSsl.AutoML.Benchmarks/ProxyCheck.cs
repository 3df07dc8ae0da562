using System.Globalization;
using Microsoft.ML;
using MlNetSsl.AutoML;

/// <summary>One fixed configuration per experiment (SetMaxTrials(1)) on a proxy table, for several seeds: its
/// cross-validated accuracy against the test accuracy of its refit; optionally on another draw of labeled rows, or with
/// their labels permuted (a leak check: see <see cref="TablesBenchmark.Table.WithLabelDraw"/>).</summary>
internal static class ProxyCheck
{
    public static async Task<int> RunAsync(string dataRoot, string table, string configFile, int[] seeds, int labelOffset = 0, int? permuteSeed = null)
    {
        var t = TablesBenchmark.Table.Load(dataRoot, table, 0.1);
        if (labelOffset != 0 || permuteSeed is not null) t = t.WithLabelDraw(labelOffset, permuteSeed);
        Console.WriteLine($"## {t.Description}");
        Console.WriteLine("| config | seed | CV accuracy +/- SE | test accuracy | balanced | pipeline |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (string line in File.ReadLines(configFile).Where(l => l.Contains('\t')))
        {
            string name = line.Split('\t')[0];
            Parameters configuration = System.Text.Json.JsonSerializer.Deserialize<Parameters>(line.Split('\t')[1])!;
            foreach (int seed in seeds)
            {
                var ml = new MLContext(seed: seed);
                IDataView train = t.TrainView(ml), test = t.TestView(ml);
                SslExperimentResult result = await ml.SelfSupervisedExperiment().SetDataset(train).SetInputColumn("Features")
                    .SetTuner(SslTuner.Custom(name, (_, _) => new FixedTuner(configuration))).SetMaxTrials(1).SetSeed(seed).RunAsync();
                (double accuracy, double balanced) = t.Score(result.BestTrial.Model.Transform(test));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {seed} | {100 * result.BestTrial.Metric:0.0} +/- {100 * (result.BestTrial.MetricStandardError ?? 0):0.0} | {100 * accuracy:0.0} | {100 * balanced:0.0} | {result.BestPipelineDescription} |"));
            }
        }
        return 0;
    }
}
