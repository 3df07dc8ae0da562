using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl;

/// <summary>
/// The TorchSharp model against its ONNX export served by ONNX Runtime (ML.NET's ApplyOnnxModel): PredictionEngine
/// latency per row, batched Transform throughput, and the native libraries each deployment ships on this platform.
/// Usage: dotnet run -c Release --project tests/MlNetSsl.Benchmarks -- --onnx [--data path/to/shared/data]
/// </summary>
internal static class OnnxBenchmark
{
    private const int Calls = 2000;

    public static void Run(string dataRoot)
    {
        var ml = new MLContext(seed: 1);
        Console.WriteLine($"# MlNetSsl TorchSharp model vs ONNX Runtime ({SslEnvironment.Describe()}, {Environment.ProcessorCount} logical cores, {Cpu()})");
        Console.WriteLine();
        Console.WriteLine("| model | runtime | PredictionEngine p50 ms | p95 ms | Transform rows/s |");
        Console.WriteLine("|---|---|---|---|---|");

        var higgs = File.ReadLines(Path.Combine(dataRoot, "higgs", "binary.train")).Where(l => l.Length > 0).Take(4000)
            .Select(l => new Row { Features = l.Split('\t').Skip(1).Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray() })
            .ToArray();
        Compare(ml, "HIGGS 28 features, Mlp (SCARF)", higgs, SslMethod.Scarf, seriesChannels: 0);

        var motions = ReadSeries(Path.Combine(dataRoot, "uea", "BasicMotions_TRAIN.ts"));
        var repeated = Enumerable.Range(0, 4000 / motions.Length + 1).SelectMany(_ => motions).Take(4000).ToArray();
        Compare(ml, "BasicMotions 6x100, Conv1d (SimCLR)", repeated, SslMethod.SimClr, seriesChannels: 6);

        Console.WriteLine();
        Console.WriteLine($"Native libraries an app ships for this platform ({System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}):");
        Console.WriteLine($"- TorchSharp-cpu: {NativeSize(f => f.Contains("torch", StringComparison.OrdinalIgnoreCase) || f.Contains("c10") || f.Contains("gomp")):0} MB");
        Console.WriteLine($"- ONNX Runtime: {NativeSize(f => f.Contains("onnxruntime", StringComparison.OrdinalIgnoreCase)):0} MB");
    }

    private static void Compare(MLContext ml, string name, Row[] rows, SslMethod method, int seriesChannels)
    {
        int width = rows[0].Features.Length;
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        var data = ml.Data.LoadFromEnumerable(rows, schema);
        using var stage = ml.Transforms.SelfSupervised("Embedding", "Features", method, o =>
        {
            o.Epochs = 1;
            o.BatchSize = 256;
            o.SeriesChannels = seriesChannels;
        }).Fit(data);
        string onnxPath = Path.Combine(Path.GetTempPath(), $"mlnetssl-bench-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var file = File.Create(onnxPath)) stage.SaveEncoderAsOnnx(file);
            using var onnx = ml.Transforms.ApplyOnnxModel("Embedding", "Features", onnxPath).Fit(data);
            Report(ml, name, "TorchSharp", stage, rows, data, schema);
            Report(ml, name, "ONNX Runtime", onnx, rows, data, schema);
        }
        finally
        {
            File.Delete(onnxPath);
        }
    }

    private static void Report(MLContext ml, string name, string runtime, ITransformer model, Row[] rows, IDataView data, SchemaDefinition schema)
    {
        using var engine = ml.Model.CreatePredictionEngine<Row, Embedded>(model, new PredictionEngineOptions { OwnsTransformer = false, InputSchemaDefinition = schema });
        for (int i = 0; i < 50; i++) engine.Predict(rows[i]);
        var times = new double[Calls];
        var clock = new Stopwatch();
        for (int i = 0; i < Calls; i++)
        {
            clock.Restart();
            engine.Predict(rows[i % rows.Length]);
            times[i] = clock.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        double best = double.MaxValue;
        for (int run = 0; run < 4; run++)
        {
            var watch = Stopwatch.StartNew();
            var output = model.Transform(data);
            using var cursor = output.GetRowCursor(new[] { output.Schema["Embedding"] });
            var getter = cursor.GetGetter<VBuffer<float>>(output.Schema["Embedding"]);
            VBuffer<float> value = default;
            while (cursor.MoveNext()) getter(ref value);
            if (run > 0) best = Math.Min(best, watch.Elapsed.TotalSeconds); // the first run warms up
        }
        Console.WriteLine($"| {name} | {runtime} | {times[Calls / 2]:0.000} | {times[(int)(Calls * 0.95)]:0.000} | {rows.Length / best:0} |");
    }

    private static Row[] ReadSeries(string path) =>
        File.ReadLines(path).SkipWhile(l => !l.StartsWith("@data", StringComparison.OrdinalIgnoreCase)).Skip(1)
            .Where(l => l.Length > 0)
            .Select(l => new Row
            {
                Features = l.Split(':').SkipLast(1)
                    .SelectMany(channel => channel.Split(',').Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)))
                    .ToArray(),
            })
            .ToArray();

    private static double NativeSize(Func<string, bool> belongs)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "runtimes", System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier, "native");
        if (!Directory.Exists(folder)) return double.NaN;
        return Directory.GetFiles(folder).Where(f => belongs(Path.GetFileName(f))).Sum(f => new FileInfo(f).Length) / 1e6;
    }

    private static string Cpu() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
            : "unknown CPU";

    public sealed class Row
    {
        public float[] Features { get; set; } = [];
    }

    public sealed class Embedded
    {
        public float[] Embedding { get; set; } = [];
    }
}
