// MlNetSsl sensor-series sample: SimCLR on smartwatch motion series (BasicMotions: 6 channels x 100 steps),
// with two labels per activity.
//
//   dotnet run --project samples/SensorSeries -c Release [folder with BasicMotions_TRAIN.ts and _TEST.ts] [--epochs N]
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl;

string folder = Positional(args) ?? Path.Combine(AppContext.BaseDirectory, "data");
int epochs = args.Contains("--epochs") ? int.Parse(args[Array.IndexOf(args, "--epochs") + 1], CultureInfo.InvariantCulture) : 60;
const int LabelsPerClass = 2;

var ml = new MLContext(seed: 1);
// The library reads the UEA/UCR .ts format: the series (channel after channel), their classes and the channel count.
TsFile trainFile = TsFile.Read(Path.Combine(folder, "BasicMotions_TRAIN.ts"));
TsFile testFile = TsFile.Read(Path.Combine(folder, "BasicMotions_TEST.ts"));
IDataView testData = ml.Data.LoadFromTsFile(testFile);

// Few labels: the first two series of each activity keep theirs; the others are pretrained on, unlabeled (an empty label).
var kept = new Dictionary<string, int>();
Motion[] train = trainFile.Series.Select((series, i) =>
{
    string label = trainFile.Labels[i];
    kept[label] = kept.GetValueOrDefault(label) + 1;
    return new Motion { Features = series, Label = kept[label] <= LabelsPerClass ? label : "" };
}).ToArray();
// The columns LoadFromTsFile gives: the series as a known-size vector (channels x steps) and a text label.
var schema = SchemaDefinition.Create(typeof(Motion));
schema[nameof(Motion.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, trainFile.Channels * trainFile.Lengths[0]);
IDataView trainData = ml.Data.LoadFromEnumerable(train, schema);
Console.WriteLine($"MlNetSsl sensor-series sample. {SslEnvironment.Describe()}");
foreach (string note in trainFile.Notes.Concat(testFile.Notes)) Console.WriteLine(note);
Console.WriteLine($"{train.Length} training series ({train.Count(r => r.Label.Length > 0)} labeled), {testFile.Series.Count} test series.");

// A float vector of C*T values with SeriesChannels = C is read as a series; the stage picks a 1-D ConvNet.
var pipeline = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.SimClr, o =>
    {
        o.SeriesChannels = trainFile.Channels;
        o.Epochs = epochs;
        o.BatchSize = 40;
        o.LearningRate = 3e-3;
    })
    .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label"))
    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", "Embedding"));
var baseline = ml.Transforms.NormalizeMeanVariance("Scaled", "Features")
    .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label"))
    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", "Scaled"));

var model = pipeline.Fit(trainData);
var ssl = model.OfType<SelfSupervisedTransformer>().Single();
Console.WriteLine($"Pretrained {ssl.History.Count} epochs in {ssl.PretrainingDuration.TotalSeconds:0.0} s (final loss {ssl.History[^1].MeanLoss:0.000}).");
var sslMetrics = ml.MulticlassClassification.Evaluate(model.Transform(testData), "LabelKey");
var rawMetrics = ml.MulticlassClassification.Evaluate(baseline.Fit(trainData).Transform(testData), "LabelKey");
Console.WriteLine($"Test accuracy on {testFile.Series.Count} series with {LabelsPerClass} labels per activity:");
Console.WriteLine($"  raw values + L-BFGS        {rawMetrics.MicroAccuracy:P1}");
Console.WriteLine($"  SimCLR embedding + L-BFGS  {sslMetrics.MicroAccuracy:P1}");
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

/// <summary>One training series, channel after channel, and its activity (empty when hidden).</summary>
public sealed class Motion
{
    public float[] Features { get; set; } = [];
    public string Label { get; set; } = "";
}
