using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.Tests.Infrastructure;

/// <summary>
/// Runs this test assembly as a separate program, so a test can check what a fresh process sees (for example a model
/// loaded from disk with nothing shared in memory).
/// </summary>
internal static class ChildProcess
{
    /// <summary>Starts the test assembly with <paramref name="args"/> and returns its standard output.</summary>
    public static string Run(TimeSpan timeout, params string[] args)
    {
        var (exitCode, stdout, stderr) = Start(timeout, args);
        if (exitCode != 0)
            throw new InvalidOperationException($"Child process exited with {exitCode}: {stderr}{stdout}");
        return stdout;
    }

    /// <summary>Starts the test assembly with <paramref name="args"/> and returns its exit code.</summary>
    public static int RunForExitCode(TimeSpan timeout, params string[] args) => Start(timeout, args).ExitCode;

    /// <summary>Starts the test assembly with extra environment variables and returns its exit code and both outputs.</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunCapturing(TimeSpan timeout, IReadOnlyDictionary<string, string> environment,
        params string[] args) => Start(timeout, args, environment);

    private static (int ExitCode, string Stdout, string Stderr) Start(TimeSpan timeout, string[] args,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        string assembly = typeof(ChildProcess).Assembly.Location;
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        info.ArgumentList.Add(assembly);
        foreach (string arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start dotnet.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"Child process '{string.Join(' ', args)}' did not finish in {timeout}.");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The child side: dispatches on the first argument.</summary>
    public static int RunCommand(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "transform-vectors" when args.Length == 5:
                TransformVectors(modelPath: args[1], inputJson: args[2], inputColumn: args[3], outputColumn: args[4]);
                return 0;
            case "pretrain-and-die" when args.Length == 4:
                Training.LoopFixture.PretrainAndDie(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture),
                    int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
                return 0;
            case "export-onnx" when args.Length == 3:
                ExportOnnx(modelPath: args[1], casePath: args[2]);
                return 0;
            case "search-worker":
                return AutoML.SharedSearchWorker.Run(args.Skip(1));
            case "pretrain-images":
                PretrainImages();
                return 0;
            default:
                Console.Error.WriteLine("usage: transform-vectors <model.zip> <input.json> <input column> <output column> | pretrain-and-die <dir> <epochs> <die after epoch> | export-onnx <model.onnx> <case.json> | pretrain-images | search-worker key=value...");
                return 2;
        }
    }

    /// <summary>
    /// For the ONNX consumer check (build/onnx-consumer): a SCARF encoder pretrained on real HIGGS rows, exported with
    /// SaveEncoderAsOnnx, and a JSON case with the ONNX input and output names, 64 test rows and their embeddings from the
    /// TorchSharp stage, which an application without TorchSharp must reproduce.
    /// </summary>
    private static void ExportOnnx(string modelPath, string casePath)
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(MlNet.StageData.HiggsRows("train", 512));
        using var stage = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => { o.Epochs = 2; o.BatchSize = 128; }).Fit(train);
        float[][] rows = MlNet.StageData.HiggsRows("test", 64).Select(r => r.Features).ToArray();
        float[][] expected = VectorData.ReadVectors(stage.Transform(VectorData.Create(ml, "Features", rows)), "Embedding");
        using (var file = File.Create(modelPath)) stage.SaveEncoderAsOnnx(file);
        File.WriteAllText(casePath, JsonSerializer.Serialize(new
        {
            InputName = "Features", OutputName = "Embedding", InputShape = new[] { 28 }, Rows = rows, Expected = expected,
        }));
    }

    /// <summary>
    /// A short SimCLR pretraining on real CIFAR-10 images, then one image embedded alone: a batch of one is what makes
    /// libtorch probe NNPACK for its convolutions (and warn where the CPU lacks support).
    /// </summary>
    private static void PretrainImages()
    {
        var ml = new MLContext(seed: 1);
        var rows = MlNet.StageData.CifarRows(4);
        var data = MlNet.StageData.Images(ml, rows);
        using var model = ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, o => { o.Epochs = 1; o.BatchSize = 20; }).Fit(data);
        int batched = VectorData.ReadVectors(model.Transform(data), "E").Length;
        int alone = VectorData.ReadVectors(model.Transform(MlNet.StageData.Images(ml, rows.Take(1))), "E").Length;
        Console.WriteLine(batched + alone);
    }

    /// <summary>Loads a model, runs it over vectors read from JSON, and prints the output vectors as JSON.</summary>
    private static void TransformVectors(string modelPath, string inputJson, string inputColumn, string outputColumn)
    {
        float[][] rows = JsonSerializer.Deserialize<float[][]>(File.ReadAllText(inputJson))!;
        var ml = new MLContext(seed: 1);
        ITransformer model = ml.Model.Load(modelPath, out _);
        IDataView data = VectorData.Create(ml, inputColumn, rows);
        float[][] output = VectorData.ReadVectors(model.Transform(data), outputColumn);
        Console.WriteLine(JsonSerializer.Serialize(output));
    }
}

/// <summary>Builds IDataViews of fixed-size float vectors and reads vector columns back.</summary>
internal static class VectorData
{
    /// <summary>An IDataView with one known-size float vector column named <paramref name="column"/>.</summary>
    public static IDataView Create(MLContext ml, string column, float[][] rows)
    {
        int size = rows[0].Length;
        var builder = new ArrayDataViewBuilder(ml);
        builder.AddColumn(column, NumberDataViewType.Single, rows.Select(r => new VBuffer<float>(size, r)).ToArray());
        return builder.GetDataView();
    }

    /// <summary>Every row's value of a float vector column.</summary>
    public static float[][] ReadVectors(IDataView data, string column) =>
        data.GetColumn<VBuffer<float>>(column).Select(v => v.DenseValues().ToArray()).ToArray();
}
