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
Motion[] train = Motion.ReadTs(Path.Combine(folder, "BasicMotions_TRAIN.ts"));
Motion[] test = Motion.ReadTs(Path.Combine(folder, "BasicMotions_TEST.ts"));
var kept = new Dictionary<string, int>();
foreach (var row in train)
{
    kept[row.Label] = kept.GetValueOrDefault(row.Label) + 1;
    if (kept[row.Label] > LabelsPerClass) row.Label = "";
}
Console.WriteLine($"MlNetSsl sensor-series sample. {SslEnvironment.Describe()}");
Console.WriteLine($"{train.Length} training series ({train.Count(r => r.Label.Length > 0)} labeled), {test.Length} test series.");

IDataView trainData = ml.Data.LoadFromEnumerable(train);
IDataView testData = ml.Data.LoadFromEnumerable(test);

// A float vector of C*T values with SeriesChannels = C is read as a series; the stage picks a 1-D ConvNet.
var pipeline = ml.Transforms.SelfSupervised("Embedding", nameof(Motion.Values), SslMethod.SimClr, o =>
    {
        o.SeriesChannels = Motion.Channels;
        o.Epochs = epochs;
        o.BatchSize = 40;
        o.LearningRate = 3e-3;
    })
    .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", nameof(Motion.Label)))
    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", "Embedding"));
var baseline = ml.Transforms.NormalizeMeanVariance("Scaled", nameof(Motion.Values))
    .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", nameof(Motion.Label)))
    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", "Scaled"));

var model = pipeline.Fit(trainData);
var ssl = model.OfType<SelfSupervisedTransformer>().Single();
Console.WriteLine($"Pretrained {ssl.History.Count} epochs in {ssl.PretrainingDuration.TotalSeconds:0.0} s (final loss {ssl.History[^1].MeanLoss:0.000}).");
var sslMetrics = ml.MulticlassClassification.Evaluate(model.Transform(testData), "LabelKey");
var rawMetrics = ml.MulticlassClassification.Evaluate(baseline.Fit(trainData).Transform(testData), "LabelKey");
Console.WriteLine($"Test accuracy on {test.Length} series with {LabelsPerClass} labels per activity:");
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

/// <summary>One motion recording: 6 channels x 100 steps, channel after channel, and its activity (empty when hidden).</summary>
public sealed class Motion
{
    public const int Channels = 6;
    public const int Steps = 100;

    [VectorType(Channels * Steps)]
    public float[] Values { get; set; } = [];
    public string Label { get; set; } = "";

    /// <summary>Reads the sktime/UEA .ts format: header lines start with '@' or '#'; channels are separated by ':', the label is last.</summary>
    public static Motion[] ReadTs(string path)
    {
        bool inData = false;
        var rows = new List<Motion>();
        foreach (string line in File.ReadLines(path))
        {
            if (line.StartsWith('#') || line.Length == 0) continue;
            if (line.StartsWith("@data", StringComparison.OrdinalIgnoreCase)) { inData = true; continue; }
            if (!inData || line.StartsWith('@')) continue;
            string[] parts = line.Split(':');
            if (parts.Length != Channels + 1) throw new InvalidDataException($"{path}: a series has {parts.Length - 1} channels, not {Channels}.");
            var values = parts[..Channels].SelectMany(c => c.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture))).ToArray();
            if (values.Length != Channels * Steps) throw new InvalidDataException($"{path}: a series has {values.Length} values, not {Channels * Steps}.");
            rows.Add(new Motion { Values = values, Label = parts[^1].Trim() });
        }
        return rows.ToArray();
    }
}
