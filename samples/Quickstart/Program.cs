// MlNetSsl quickstart: self-supervised pretraining as an ML.NET pipeline stage, on images where only 10% are labeled.
//
//   dotnet run --project samples/Quickstart -c Release [dataset folder] [--epochs N]
//
// The dataset folder holds train/<class>/*.jpg (most labels are hidden from the trainer) and test/<class>/*.jpg.
// With no argument it uses the small CIFAR-10 copy in data/cifar10-small (see data/PROVENANCE.md).
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl;

var clock = Stopwatch.StartNew();
string dataset = Positional(args) ?? Path.Combine(AppContext.BaseDirectory, "data", "cifar10-small");
int epochs = ReadOption(args, "--epochs", 15);
const int LabeledEvery = 10; // keep the label of one image in ten: 10% of the labels

if (!Directory.Exists(Path.Combine(dataset, "train")) || !Directory.Exists(Path.Combine(dataset, "test")))
{
    Console.Error.WriteLine($"'{dataset}' needs train/<class>/ and test/<class>/ folders of images.");
    return 2;
}

var ml = new MLContext(seed: 1);
ImageInput[] train = ListImages(Path.Combine(dataset, "train"), hideAllButEvery: LabeledEvery);
ImageInput[] test = ListImages(Path.Combine(dataset, "test"), hideAllButEvery: 1);
int labeled = train.Count(r => r.Label.Length > 0);
Console.WriteLine($"MlNetSsl quickstart. {SslEnvironment.Describe()}");
Console.WriteLine($"{train.Length} training images ({labeled} labeled, {labeled * 100.0 / train.Length:0}%), {test.Length} test images.");

IDataView trainData = ml.Data.LoadFromEnumerable(train);
IDataView testData = ml.Data.LoadFromEnumerable(test);
string imageFolder = dataset; // ImagePath values are relative to the dataset folder

// 1. The SSL pipeline: the encoder pretrains on all images; the trainer learns from the labeled ones only
//    (an empty Label becomes a missing key, and ML.NET trainers skip rows with a missing label).
var pipeline = ml.Transforms.LoadImages("Image", imageFolder, nameof(ImageInput.ImagePath))
    .Append(ml.Transforms.SelfSupervised("Features", "Image", SslMethod.SimClr, o =>
    {
        o.Epochs = epochs;
        o.BatchSize = 128;
        o.MonitorLabelColumnName = nameof(ImageInput.Label);
        o.Progress = new ConsoleProgress();
    }))
    .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", nameof(ImageInput.Label)))
    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", "Features"))
    .Append(ml.Transforms.Conversion.MapKeyToValue(nameof(ImagePrediction.PredictedClass), "PredictedLabel"));

Console.WriteLine($"Pretraining SimCLR for {epochs} epochs, then L-BFGS maximum entropy on the {labeled} labeled images...");
var model = pipeline.Fit(trainData);
var ssl = model.OfType<SelfSupervisedTransformer>().Single();
Console.WriteLine($"Pretrained in {ssl.PretrainingDuration.TotalSeconds:0} s; embedding size {ssl.EmbeddingSize}.");
foreach (string warning in ssl.Warnings) Console.WriteLine($"  warning: {warning}");
var sslMetrics = ml.MulticlassClassification.Evaluate(model.Transform(testData), "LabelKey");

// 2. The same trainer on raw pixels, labeled images only: the baseline the SSL features have to beat.
var baseline = ml.Transforms.LoadImages("Image", imageFolder, nameof(ImageInput.ImagePath))
    .Append(ml.Transforms.ResizeImages("Image", ssl.InputShape.Width, ssl.InputShape.Height))
    .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255))
    .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", nameof(ImageInput.Label)))
    .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", "Pixels"))
    .Fit(trainData);
var rawMetrics = ml.MulticlassClassification.Evaluate(baseline.Transform(testData), "LabelKey");

Console.WriteLine();
Console.WriteLine($"Test accuracy with {labeled} labels ({test.Length} test images):");
Console.WriteLine($"  raw pixels + L-BFGS max-entropy        {rawMetrics.MicroAccuracy,7:P1}");
Console.WriteLine($"  SimCLR features + L-BFGS max-entropy   {sslMetrics.MicroAccuracy,7:P1}");

// 3. Save the whole pipeline as one zip (written to a temp file first, so a crash never leaves half a model),
//    load it back and predict one image with a PredictionEngine.
string modelPath = Path.GetFullPath("quickstart-model.zip");
string temp = modelPath + ".tmp";
ml.Model.Save(model, trainData.Schema, temp);
File.Move(temp, modelPath, overwrite: true);
Console.WriteLine($"Saved the model to {modelPath} ({new FileInfo(modelPath).Length / 1024} KB).");

var reloaded = ml.Model.Load(modelPath, out _);
using var engine = ml.Model.CreatePredictionEngine<ImageInput, ImagePrediction>(reloaded);
var sample = test[test.Length / 2];
var prediction = engine.Predict(new ImageInput { ImagePath = sample.ImagePath });
Console.WriteLine($"Prediction for {sample.ImagePath}: {prediction.PredictedClass} (true class: {sample.Label}, " +
    $"confidence {prediction.Score.Max():P0}).");
Console.WriteLine($"Done in {clock.Elapsed.TotalSeconds:0} s.");
return 0;

// Lists <folder>/<class>/<image> files; every row keeps its path, but only one in hideAllButEvery keeps its label.
static ImageInput[] ListImages(string folder, int hideAllButEvery) =>
    Directory.GetDirectories(folder).Order(StringComparer.Ordinal)
        .SelectMany(classFolder => Directory.GetFiles(classFolder).Order(StringComparer.Ordinal)
            .Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            .Select((file, i) => new ImageInput
            {
                ImagePath = Path.GetRelativePath(Path.GetDirectoryName(folder)!, file),
                Label = i % hideAllButEvery == 0 ? Path.GetFileName(classFolder) : "",
            }))
        .ToArray();

static int ReadOption(string[] args, string name, int fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], out int value) ? value : fallback;
}


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

/// <summary>One image: its path relative to the dataset folder and its class, empty when the label is hidden.</summary>
public sealed class ImageInput
{
    public string ImagePath { get; set; } = "";
    public string Label { get; set; } = "";
}

/// <summary>What the pipeline predicts for one image.</summary>
public sealed class ImagePrediction
{
    public string PredictedClass { get; set; } = "";
    public float[] Score { get; set; } = [];
}

/// <summary>Prints pretraining progress on one line per epoch.</summary>
internal sealed class ConsoleProgress : IProgress<SslProgress>
{
    public void Report(SslProgress value)
    {
        if (value.EpochSummary is { } epoch)
            Console.WriteLine($"\r  epoch {epoch.Epoch,2}/{value.TotalEpochs}: loss {epoch.MeanLoss:0.000}, kNN on labeled rows " +
                $"{epoch.MonitorAccuracy:P1}, {epoch.SamplesPerSecond:0} images/s, {epoch.Seconds:0.0} s".PadRight(100));
        else if (!Console.IsOutputRedirected)
            Console.Write($"\r  epoch {value.Epoch,2}/{value.TotalEpochs} step {value.Step}/{value.TotalSteps} loss {value.Loss:0.000} " +
                $"ETA {value.EstimatedTimeRemaining:mm\\:ss}   ");
    }
}
