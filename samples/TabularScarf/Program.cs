// MlNetSsl tabular sample: SCARF pretraining on wine-quality records where only 5% have a label.
//
//   dotnet run --project samples/TabularScarf -c Release [winequality-white.csv] [--epochs N]
//
// Task: tell "good" wines (quality 7 or more) from the others, from 11 physico-chemical measurements.
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl;

string path = Positional(args) ?? Path.Combine(AppContext.BaseDirectory, "data", "winequality-white.csv");
int epochs = args.Contains("--epochs") ? int.Parse(args[Array.IndexOf(args, "--epochs") + 1], CultureInfo.InvariantCulture) : 30;
const int LabeledEvery = 20; // 5% of the training rows keep their label

var ml = new MLContext(seed: 1);
Wine[] all = File.ReadLines(path).Where(l => l.Length > 0).Select(Wine.Parse).ToArray();
var shuffled = (Wine[])all.Clone();
new Random(7).Shuffle(shuffled); // the file is not in random order
Wine[] train = shuffled[..4000];
Wine[] test = shuffled[4000..];
for (int i = 0; i < train.Length; i++)
    if (i % LabeledEvery != 0) train[i].Label = ""; // hidden label: a missing key for the trainer
Console.WriteLine($"MlNetSsl tabular sample. {SslEnvironment.Describe()}");
Console.WriteLine($"{train.Length} training rows ({train.Count(w => w.Label.Length > 0)} labeled), {test.Length} test rows.");

IDataView trainData = ml.Data.LoadFromEnumerable(train);
IDataView testData = ml.Data.LoadFromEnumerable(test);

// SCARF learns from every row; the stage standardizes the features itself (statistics saved with the model).
var scarf = ml.Transforms.SelfSupervised("Embedding", nameof(Wine.Features), SslMethod.Scarf, o =>
{
    o.Epochs = epochs;
    o.BatchSize = 256;
    o.EmbeddingSize = 64;
    o.Progress = new Progress<SslProgress>(p => { if (p.EpochSummary is { } e && e.Epoch % 10 == 0) Console.WriteLine($"  {e}"); });
});
var withScarf = scarf
    .Append(ml.Transforms.Concatenate("Combined", nameof(Wine.Features), "Embedding"))
    .Append(ml.Transforms.NormalizeMeanVariance("Combined"))
    .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", nameof(Wine.Label)))
    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", "Combined"));
var rawOnly = ml.Transforms.NormalizeMeanVariance("Scaled", nameof(Wine.Features))
    .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", nameof(Wine.Label)))
    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", "Scaled"));

var sslModel = withScarf.Fit(trainData);
var rawModel = rawOnly.Fit(trainData);
var ssl = ml.MulticlassClassification.Evaluate(sslModel.Transform(testData), "LabelKey");
var raw = ml.MulticlassClassification.Evaluate(rawModel.Transform(testData), "LabelKey");
Console.WriteLine($"Test on {test.Length} rows (macro accuracy averages the two classes):");
Console.WriteLine($"  raw features + L-BFGS           accuracy {raw.MicroAccuracy:P1}, macro {raw.MacroAccuracy:P1}");
Console.WriteLine($"  raw + SCARF embedding + L-BFGS  accuracy {ssl.MicroAccuracy:P1}, macro {ssl.MacroAccuracy:P1}");

string modelPath = Path.GetFullPath("tabular-scarf-model.zip");
ml.Model.Save(sslModel, trainData.Schema, modelPath + ".tmp");
File.Move(modelPath + ".tmp", modelPath, overwrite: true);
Console.WriteLine($"Saved the model to {modelPath}.");
return 0;


// The first argument that is neither an option ("--name") nor an option's value.
static string? Positional(string[] args)
{
    for (int i = 0; i < args.Length; i++)
    {
        if (args[i].StartsWith("--", StringComparison.Ordinal)) i++;
        else return args[i];
    }
    return null;
}

/// <summary>One wine: 11 measurements and a class, "good" or "ordinary" (empty when hidden).</summary>
public sealed class Wine
{
    [VectorType(11)]
    public float[] Features { get; set; } = [];
    public string Label { get; set; } = "";

    public static Wine Parse(string line)
    {
        float[] values = line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        return new Wine { Features = values[..11], Label = values[11] >= 7 ? "good" : "ordinary" };
    }
}
