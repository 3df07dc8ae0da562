using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl;
using MlNetSsl.AutoML;

/// <summary>
/// The images benchmark as a new user runs it: CIFAR-10 with most labels hidden, the two-line recipe (SimCLR pretraining,
/// then FixMatch fine-tuning from that encoder with the fine-tuner's defaults) against <c>ml.SelfSupervisedExperiment()</c>
/// called with nothing but the data, the input column and a time budget. Both are scored on the same held-out test
/// images. Prints Markdown: one row per run, then every trial of the experiment.
/// </summary>
internal static class ImagesAsUserBenchmark
{
    public static async Task<int> RunAsync(string dataRoot, string dataset, uint budget, int pool, double labeledFraction, int testRows, int recipeEpochs,
        bool skipRecipe, string work, (int[] EncoderEpochs, int[] FixMatchEpochs)? recipeGrid = null, int recipeSeeds = 1)
    {
        var ml = new MLContext(seed: 1);
        Benchmark data = dataset switch
        {
            "cifar" => Benchmark.Cifar(ml, dataRoot, pool, labeledFraction, testRows, maxEpochs: 1, work),
            "mnist" => Benchmark.Mnist(ml, dataRoot, pool, labeledFraction, testRows, work),
            "folder" => Benchmark.Folder(ml, dataRoot, work),
            _ => throw new ArgumentException($"Unknown dataset '{dataset}' (cifar, mnist, folder)."),
        };
        Console.WriteLine($"# Images as a new user: {data.Description.Split(", ASHA")[0]}, budget {budget} s");
        var rows = new List<string>();

        if (recipeGrid is { } grid)
        {
            RunRecipeGrid(ml, data, grid.EncoderEpochs, grid.FixMatchEpochs, recipeSeeds);
            return 0;
        }
        if (!skipRecipe)
        {
            // The recipe: pretrain, then fine-tune with FixMatch on every row (the unlabeled ones feed FixMatch).
            var clock = Stopwatch.StartNew();
            using SelfSupervisedTransformer stage = ml.Transforms.SelfSupervised("Features", data.InputColumn, SslMethod.SimClr,
                o => o.Epochs = recipeEpochs).Fit(data.Train);
            double pretrainSeconds = clock.Elapsed.TotalSeconds;
            var keys = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(data.Train);
            using SelfSupervisedFineTuneTransformer fineTuned = ml.MulticlassClassification.Trainers
                .SelfSupervisedFineTune(stage, "LabelKey", o => o.SemiSupervised = new SemiSupervisedOptions())
                .Fit(keys.Transform(data.Train));
            double totalSeconds = clock.Elapsed.TotalSeconds;
            ITransformer recipe = keys.Append(fineTuned).Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(fineTuned.Transform(keys.Transform(data.Train))));
            double accuracy = data.TestAccuracy(recipe);
            rows.Add($"| SimCLR {recipeEpochs} epochs + FixMatch fine-tuning (defaults) | - | {pretrainSeconds:0} s + {totalSeconds - pretrainSeconds:0} s = {totalSeconds:0} s | - | - | {100 * accuracy:0.0} | - |");
            Console.WriteLine(rows[^1]);
        }

        // The plain baselines a user would try first: the pixels (RGB, as LoadImages reads them) into ML.NET's LightGBM and
        // L-BFGS maximum entropy with default options, trained on the labeled rows only. ExtractPixels needs a known image
        // size, so the images are resized to the size they already have.
        IDataView labeled = ml.Data.FilterByCustomPredicate<LabelOnly>(data.Train, row => row.Label.Length == 0);
        int side = dataset switch
        {
            "mnist" => 28,
            "folder" => data.Train.GetColumn<MLImage>(data.InputColumn).Take(1).Select(image => image.Width).Single(),
            _ => 32,
        };
        foreach ((string name, Func<IEstimator<ITransformer>> trainer) in new (string, Func<IEstimator<ITransformer>>)[]
        {
            ("raw pixels + LightGBM (defaults)", () => ml.MulticlassClassification.Trainers.LightGbm()),
            ("raw pixels + L-BFGS maximum entropy (defaults)", () => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()),
        })
        {
            var clock = Stopwatch.StartNew();
            ITransformer raw = ml.Transforms.ResizeImages("Resized", side, side, data.InputColumn)
                .Append(ml.Transforms.ExtractPixels("Features", "Resized"))
                .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
                .Append(trainer())
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
                .Fit(labeled);
            rows.Add($"| {name} | - | {clock.Elapsed.TotalSeconds:0} s | - | - | {100 * data.TestAccuracy(raw):0.0} | - |");
            Console.WriteLine(rows[^1]);
        }

        Console.WriteLine($"## ml.SelfSupervisedExperiment(), {budget} s (load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        var search = Stopwatch.StartNew();
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data.Train).SetInputColumn(data.InputColumn).SetTrainingTimeInSeconds(budget)
            .SetProgress(new ConsoleProgress())
            .RunAsync();
        double withRefit = search.Elapsed.TotalSeconds;
        double testAccuracy = data.TestAccuracy(result.BestTrial.Model);
        rows.Add($"| ml.SelfSupervisedExperiment() | {budget} s | search {result.Elapsed.TotalSeconds:0} s, with refit {withRefit:0} s | {result.Trials.Count} | " +
            $"{100 * result.BestTrial.Metric:0.0} +/- {100 * (result.BestTrial.MetricStandardError ?? 0):0.0} | {100 * testAccuracy:0.0} | {result.BestPipelineDescription} |");
        Console.WriteLine(rows[^1]);
        Console.WriteLine($"  {result.ObjectiveExplanation} {result.SelectionExplanation}");
        foreach (string note in result.Notes) Console.WriteLine($"  note: {note}");
        foreach (var stage in ((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<IDisposable>()) stage.Dispose();

        Console.WriteLine();
        Console.WriteLine("| run | budget | time | trials | CV accuracy +/- SE | test accuracy | pipeline |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (string row in rows) Console.WriteLine(row);
        Console.WriteLine();
        Console.WriteLine("| trial | status | CV accuracy +/- SE | duration | configuration |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (TrialRecord trial in result.Trials.OrderBy(t => t.TrialId))
        {
            SslTrialMeasures? m = result.TrialMeasures.Where(x => x.TrialId == trial.TrialId).OrderByDescending(x => x.Fidelity ?? 0).FirstOrDefault();
            Console.WriteLine($"| {trial.TrialId} | {trial.Status} | " +
                $"{(trial.Metric is double value ? string.Create(CultureInfo.InvariantCulture, $"{100 * value:0.0} +/- {100 * (m?.MetricStandardError ?? 0):0.0}") : trial.ErrorMessage)} | " +
                $"{trial.Duration.TotalSeconds:0} s | {ConsoleProgress.Summary(trial.Parameters)} |");
        }
        return 0;
    }

    /// <summary>The recipe at smaller sizes: every encoder length with every FixMatch length, each fine-tuned on all the
    /// labels and scored on the test images, to see what an encoder epoch and a fine-tuning epoch are each worth. Each
    /// encoder's linear probe (L-BFGS maximum entropy on its embedding, with ML.NET's L1 of 1 and without L1, the
    /// label-free objective's final probe) is scored beside it (FixMatch epochs 0; give no FixMatch epochs, "3,8:", for
    /// probes only), and each fine-tuning runs with <paramref name="seeds"/> seeds, to see its spread.</summary>
    private static void RunRecipeGrid(MLContext ml, Benchmark data, int[] encoderEpochs, int[] fixMatchEpochs, int seeds)
    {
        var keys = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(data.Train);
        IDataView keyed = keys.Transform(data.Train);
        IDataView labeled = ml.Data.FilterByCustomPredicate<LabelOnly>(data.Train, row => row.Label.Length == 0);
        Console.WriteLine("| SimCLR epochs | pretraining | FixMatch epochs | seed | fine-tuning | test accuracy | load |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (int epochs in encoderEpochs)
        {
            var clock = Stopwatch.StartNew();
            using SelfSupervisedTransformer stage = ml.Transforms.SelfSupervised("Features", data.InputColumn, SslMethod.SimClr,
                o => o.Epochs = epochs).Fit(data.Train);
            double pretrainSeconds = clock.Elapsed.TotalSeconds;
            // ML.NET's defaults (L1 1, L2 1), and the label-free objective's final probe (no L1).
            foreach (float l1 in new[] { 1f, 0f })
            {
                clock.Restart();
                ITransformer probe = stage.Append(ml.Transforms.Conversion.MapValueToKey("Label")
                    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(l1Regularization: l1, l2Regularization: 1))
                    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
                    .Fit(stage.Transform(labeled)));
                Console.WriteLine($"| {epochs} | {pretrainSeconds:0} s | 0 (linear probe, L1 {l1}, L2 1) | - | {clock.Elapsed.TotalSeconds:0} s | " +
                    $"{100 * data.TestAccuracy(probe):0.0} | {File.ReadAllText("/proc/loadavg").Split(' ')[0]} |");
            }
            foreach (int fineTuneEpochs in fixMatchEpochs)
            {
                for (int seed = 1; seed <= seeds; seed++)
                {
                    clock.Restart();
                    using SelfSupervisedFineTuneTransformer fineTuned = ml.MulticlassClassification.Trainers
                        .SelfSupervisedFineTune(stage, "LabelKey", o => { o.Epochs = fineTuneEpochs; o.Seed = seed; o.SemiSupervised = new SemiSupervisedOptions(); })
                        .Fit(keyed);
                    double fineTuneSeconds = clock.Elapsed.TotalSeconds;
                    ITransformer model = keys.Append(fineTuned).Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(fineTuned.Transform(keyed)));
                    Console.WriteLine($"| {epochs} | {pretrainSeconds:0} s | {fineTuneEpochs} | {seed} | {fineTuneSeconds:0} s | {100 * data.TestAccuracy(model):0.0} | " +
                        $"{File.ReadAllText("/proc/loadavg").Split(' ')[0]} |");
                }
            }
        }
    }
}

/// <summary>The label column alone, to keep the labeled rows (an empty label marks an unlabeled image).</summary>
internal sealed class LabelOnly
{
    public string Label { get; set; } = "";
}
