using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// `mlnet-ssl export-onnx` on models the tool trained: ONNX Runtime, fed as the console says, predicts what
/// `mlnet-ssl predict` wrote. Converted whole, a series model's graph read its internal resampled column and gave wrong
/// classes for its own input (10 of 40 right on BasicMotions in an audit).
/// </summary>
public sealed class CliExportOnnxTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mlnetssl-cli-onnx-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private string Train(string task, string dataset, string name, params string[] extra)
    {
        string output = Path.Combine(_work, "runs");
        var trained = CliCoreTests.Run([task, "--dataset", dataset, "--train-time", "5", "--max-trials", "1", "-o", output, "--name", name, .. extra]);
        Assert.True(trained.ExitCode == 0, trained.Stderr + trained.Stdout);
        return Path.Combine(output, name, name + ".zip");
    }

    // predict's CSV: each row's predicted class and its scores, in the model's class order.
    private (string[] Labels, float[][] Scores) Predict(string model, string dataset)
    {
        string csv = Path.Combine(_work, Path.GetFileNameWithoutExtension(model) + "-predictions.csv");
        var predicted = CliCoreTests.Run("predict", "--model", model, "--dataset", dataset, "--out", csv);
        Assert.True(predicted.ExitCode == 0, predicted.Stderr + predicted.Stdout);
        // Numbers and class names only: no quoted field.
        List<string[]> rows = [.. File.ReadLines(csv).Where(l => l.Length > 0).Select(l => l.Split(','))];
        int[] scoreColumns = [.. Enumerable.Range(0, rows[0].Length).Where(i => rows[0][i].StartsWith("Score_", StringComparison.Ordinal))];
        int label = Array.IndexOf(rows[0], "PredictedLabel");
        return ([.. rows.Skip(1).Select(r => r[label])],
            [.. rows.Skip(1).Select(r => scoreColumns.Select(i => float.Parse(r[i], CultureInfo.InvariantCulture)).ToArray())]);
    }

    private static string Export(string model)
    {
        var exported = CliCoreTests.Run("export-onnx", "--model", model);
        Assert.True(exported.ExitCode == 0, exported.Stderr + exported.Stdout);
        return exported.Stdout;
    }

    private static void AssertSamePredictions((string[] Labels, float[][] Scores) expected, IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results)
    {
        string[] labels = [.. results.Single(r => r.Name == "PredictedLabel.output").AsTensor<string>()];
        float[] scores = [.. results.Single(r => r.Name == "Score.output").AsTensor<float>()];
        Assert.Equal(expected.Labels, labels);
        int classes = expected.Scores[0].Length;
        for (int row = 0; row < expected.Scores.Length; row++)
            for (int c = 0; c < classes; c++)
                Assert.True(Math.Abs(expected.Scores[row][c] - scores[row * classes + c]) <= 1e-4,
                    $"row {row} class {c}: predict {expected.Scores[row][c]}, ONNX {scores[row * classes + c]}");
    }

    [SkippableFact]
    public void ATableModelWithACategoryColumnServesFromOneGraphOfItsInputColumns()
    {
        string[] colours = ["red", "green", "blue"];
        string[] lines = [.. File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv")).Where(l => l.Length > 0)];
        new Random(3).Shuffle(lines);
        lines = lines[..200];
        string train = Path.Combine(_work, "colours.csv");
        File.WriteAllLines(train, ["variance,skewness,curtosis,entropy,colour,class", .. lines.Select((l, i) => l.Insert(l.LastIndexOf(','), "," + colours[i % 3]))]);
        string model = Train("classification", train, "Colours", "--label-col", "class");
        string stdout = Export(model);
        Assert.Contains("inputs variance [N, 1] (single), skewness [N, 1] (single), curtosis [N, 1] (single), entropy [N, 1] (single), colour [N, 1] (string)", stdout, StringComparison.Ordinal);

        var expected = Predict(model, train);
        using var session = new InferenceSession(Path.ChangeExtension(model, ".onnx"));
        // The columns the model reads, and not the label.
        Assert.Equal(["colour", "curtosis", "entropy", "skewness", "variance"], session.InputMetadata.Keys.Order(StringComparer.Ordinal));
        string[][] cells = [.. lines.Select(l => l.Split(','))];
        var inputs = new List<NamedOnnxValue>();
        for (int column = 0; column < 4; column++)
            inputs.Add(NamedOnnxValue.CreateFromTensor(new[] { "variance", "skewness", "curtosis", "entropy" }[column],
                new DenseTensor<float>(cells.Select(c => float.Parse(c[column], CultureInfo.InvariantCulture)).ToArray(), [cells.Length, 1])));
        inputs.Add(NamedOnnxValue.CreateFromTensor("colour", new DenseTensor<string>(cells.Select((_, i) => colours[i % 3]).ToArray(), [cells.Length, 1])));
        using var results = session.Run(inputs);
        AssertSamePredictions(expected, results);

        // Refused with one line: an --out that is not .onnx (it could replace a model zip), an ONNX file as the model, and
        // a zip another tool wrote, whose graph this command would describe wrongly.
        var zipOut = CliCoreTests.Run("export-onnx", "--model", model, "--out", Path.Combine(_work, "other.zip"));
        Assert.Equal(1, zipOut.ExitCode);
        Assert.Contains("give a file name ending in .onnx", zipOut.Stderr, StringComparison.Ordinal);
        var onnxIn = CliCoreTests.Run("export-onnx", "--model", Path.ChangeExtension(model, ".onnx"));
        Assert.Equal(1, onnxIn.ExitCode);
        Assert.Contains("an ONNX file; --model takes", onnxIn.Stderr, StringComparison.Ordinal);
        var ml = new Microsoft.ML.MLContext(1);
        var rows = ml.Data.LoadFromEnumerable(cells.Select(c => new PlainRow { Features = [.. c.Take(4).Select(v => float.Parse(v, CultureInfo.InvariantCulture))], Label = c[4] }));
        var plain = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()).Fit(rows);
        string plainZip = Path.Combine(_work, "plain.zip");
        ml.Model.Save(plain, rows.Schema, plainZip);
        var foreign = CliCoreTests.Run("export-onnx", "--model", plainZip);
        Assert.Equal(1, foreign.ExitCode);
        Assert.Contains("not a model mlnet-ssl trained", foreign.Stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AnEnsembleOfRawPipelinesPredictsAndServesFromOneGraph()
    {
        // HIGGS rows, 1 in 3 labeled: the portfolio's raw L-BFGS and LightGBM pipelines complement each other there, and
        // ensemble selection keeps several of them.
        string[] lines = [.. File.ReadLines(Path.Combine(SharedData.DataRoot, "higgs", "binary.train")).Where(l => l.Length > 0).Take(3000)];
        string[][] cells = [.. lines.Select(l => l.Split('\t'))];
        string train = Path.Combine(_work, "higgs.csv");
        File.WriteAllLines(train, [$"label,{string.Join(",", Enumerable.Range(0, 28).Select(i => $"f{i}"))}",
            .. cells.Select((c, i) => (i % 3 == 0 ? (c[0] == "1" ? "signal" : "background") : "") + "," + string.Join(",", c[1..]))]);
        string output = Path.Combine(_work, "runs");
        var trained = CliCoreTests.Run("classification", "--dataset", train, "--label-col", "label", "--train-time", "60", "--max-trials", "5",
            "-o", output, "--name", "Higgs");
        Assert.True(trained.ExitCode == 0, trained.Stderr + trained.Stdout);
        Assert.Contains("Chosen: Ensemble of ", trained.Stdout, StringComparison.Ordinal);
        string model = Path.Combine(output, "Higgs", "Higgs.zip");

        Export(model);
        var expected = Predict(model, train);
        using var session = new InferenceSession(Path.ChangeExtension(model, ".onnx"));
        var inputs = Enumerable.Range(0, 28).Select(column => NamedOnnxValue.CreateFromTensor($"f{column}",
            new DenseTensor<float>(cells.Select(c => float.Parse(c[column + 1], CultureInfo.InvariantCulture)).ToArray(), [cells.Length, 1]))).ToList();
        using var results = session.Run(inputs);
        AssertSamePredictions(expected, results);

        var single = CliCoreTests.Run("classification", "--dataset", train, "--label-col", "label", "--train-time", "60", "--max-trials", "5",
            "-o", output, "--name", "HiggsSingle", "--no-ensemble");
        Assert.True(single.ExitCode == 0, single.Stderr + single.Stdout);
        Assert.Contains("Chosen: Raw features + ", single.Stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AMacroAccuracyModelDecidesOnBalancedScoresInOnnxAndInItsComparisons()
    {
        // HIGGS rows with one background row in six (about 85% signal), 1 in 3 labeled: for macro accuracy the model divides
        // its class probabilities by the class shares, a step appended to the pipeline that ONNX must carry as well.
        string[][] cells = [.. File.ReadLines(Path.Combine(SharedData.DataRoot, "higgs", "binary.train")).Where(l => l.Length > 0).Select(l => l.Split('\t'))
            .Where((c, i) => c[0] == "1" || i % 6 == 0).Take(2400)];
        string train = Path.Combine(_work, "imbalanced.csv");
        File.WriteAllLines(train, [$"label,{string.Join(",", Enumerable.Range(0, 28).Select(i => $"f{i}"))}",
            .. cells.Select((c, i) => (i % 3 == 0 ? (c[0] == "1" ? "signal" : "background") : "") + "," + string.Join(",", c[1..]))]);
        string output = Path.Combine(_work, "runs");
        var trained = CliCoreTests.Run("classification", "--dataset", train, "--label-col", "label", "--train-time", "60", "--max-trials", "3",
            "--metric", "macro-accuracy", "--no-ensemble", "--label-curve", "-o", output, "--name", "Balanced");
        Assert.True(trained.ExitCode == 0, trained.Stderr + trained.Stdout);
        string report = File.ReadAllText(Path.Combine(output, "Balanced", "report.html"));
        Assert.Contains("divides its class probabilities by the classes", report, StringComparison.Ordinal);
        Assert.Contains("Label curve", report, StringComparison.Ordinal);
        string model = Path.Combine(output, "Balanced", "Balanced.zip");

        Export(model);
        var expected = Predict(model, train);
        int background = expected.Labels.Count(l => l == "background");
        // Without the step a model trained on 15% background predicts it for a few rows in a hundred at most.
        Assert.True(background > cells.Length / 10, $"background predicted for {background} of {cells.Length} rows");
        using var session = new InferenceSession(Path.ChangeExtension(model, ".onnx"));
        var inputs = Enumerable.Range(0, 28).Select(column => NamedOnnxValue.CreateFromTensor($"f{column}",
            new DenseTensor<float>(cells.Select(c => float.Parse(c[column + 1], CultureInfo.InvariantCulture)).ToArray(), [cells.Length, 1]))).ToList();
        using var results = session.Run(inputs);
        AssertSamePredictions(expected, results);
    }

    [SkippableFact]
    public void TheLabelCurveFindsAPipelinesFrontPastTheBalancingStep()
    {
        // A pipeline as the tool builds it (a front, the standardizer, the trainer, the key-to-value map), with and without
        // ReweightClassScores appended: the label curve refits the trainer on the front's features in both.
        var ml = new MLContext(1);
        string[][] cells = [.. File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "banknote_authentication.csv")).Where((l, i) => l.Length > 0 && i % 4 == 0).Select(l => l.Split(','))];
        var rows = ml.Data.LoadFromEnumerable(cells.Select(c => new PlainRow { Features = [.. c.Take(4).Select(v => float.Parse(v, CultureInfo.InvariantCulture))], Label = c[4] }));
        var front = ml.Transforms.CopyColumns("Front", "Features");
        var trained = ml.Transforms.Conversion.MapValueToKey("Label").Append(front).Append(ml.Transforms.NormalizeMeanVariance("Front"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(featureColumnName: "Front"))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var balanced = trained.Append(ml.Transforms.ReweightClassScores([1, 3])).Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        foreach (var pipeline in new IEstimator<ITransformer>[] { trained, balanced })
        {
            ITransformer model = pipeline.Fit(rows);
            // As the label curve sees it: without the label map the model starts with.
            var withoutLabelMap = new Microsoft.ML.Data.TransformerChain<ITransformer>([.. ((IEnumerable<ITransformer>)model).Skip(1)]);
            var found = MlNetSsl.Cli.Run.DownstreamFits.FrontOf(withoutLabelMap);
            Assert.NotNull(found);
            Assert.Equal("Front", found.Column);
        }
    }

    private sealed class PlainRow
    {
        [Microsoft.ML.Data.VectorType(4)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    [SkippableFact]
    public void AnImageExportThatFailsHalfwayReplacesNeitherGraph()
    {
        string folder = Path.Combine(_work, "images");
        string source = Path.Combine(SharedData.RepoRoot, "samples", "Quickstart", "data", "cifar10-small", "train");
        foreach (string label in new[] { "cat", "ship" })
        {
            Directory.CreateDirectory(Path.Combine(folder, label));
            foreach (string file in Directory.GetFiles(Path.Combine(source, label)).Order(StringComparer.Ordinal).Take(15))
                File.Copy(file, Path.Combine(folder, label, Path.GetFileName(file)));
        }
        string model = Train("image-classification", folder, "Pictures");
        Assert.Contains("Pictures.encoder.onnx", Export(model), StringComparison.Ordinal);
        // Stand-ins for an earlier export's two graphs, to tell whether either is replaced.
        string classifier = Path.ChangeExtension(model, ".onnx"), encoder = Path.Combine(Path.GetDirectoryName(model)!, "Pictures.encoder.onnx");
        File.WriteAllText(classifier, "earlier classifier");
        File.WriteAllText(encoder, "earlier encoder");

        // Files of 100 KiB at most, as a disk that fills during the export: the classifier graph (about 6 KiB) can be
        // written, the encoder graph (about 1.5 MB) cannot.
        var (code, stdout, stderr) = CliCoreTests.RunWithFileSizeLimit(100, "export-onnx", "--model", model);
        Assert.True(code == 1, $"exit {code}: {stderr}\n{stdout}");
        Assert.Single(stderr.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        // The new classifier used to replace the earlier one beside the earlier encoder, whose embedding it does not read.
        Assert.Equal("earlier classifier", File.ReadAllText(classifier));
        Assert.Equal("earlier encoder", File.ReadAllText(encoder));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(model)!, "*.tmp"));
    }

    [SkippableFact]
    public void AnImageModelServesThroughItsEncoderGraphThenItsClassifierGraph()
    {
        // 30 of the quickstart's 32 x 32 CIFAR-10 JPEGs per class, in three classes.
        string folder = Path.Combine(_work, "images");
        string source = Path.Combine(SharedData.RepoRoot, "samples", "Quickstart", "data", "cifar10-small", "train");
        foreach (string label in new[] { "airplane", "cat", "ship" })
        {
            Directory.CreateDirectory(Path.Combine(folder, label));
            foreach (string file in Directory.GetFiles(Path.Combine(source, label)).Order(StringComparer.Ordinal).Take(30))
                File.Copy(file, Path.Combine(folder, label, Path.GetFileName(file)));
        }
        string model = Train("image-classification", folder, "Pictures");
        string stdout = Export(model);
        Assert.Contains("input Ssl_Image [N, 3, 32, 32]", stdout, StringComparison.Ordinal);

        // predict lists the images in its own order; the ONNX run follows it.
        string csv = Path.Combine(_work, "Pictures-predictions.csv");
        var expected = Predict(model, folder);
        string[] files = [.. File.ReadLines(csv).Skip(1).Where(l => l.Length > 0).Select(l => Path.Combine(folder, l.Split(',')[0]))];
        float[] pixels = [.. files.SelectMany(PlanarRgb)];
        using var encoder = new InferenceSession(Path.Combine(Path.GetDirectoryName(model)!, "Pictures.encoder.onnx"));
        using var embedded = encoder.Run([NamedOnnxValue.CreateFromTensor("Ssl_Image", new DenseTensor<float>(pixels, [files.Length, 3, 32, 32]))]);
        using var classifier = new InferenceSession(Path.ChangeExtension(model, ".onnx"));
        using var results = classifier.Run([NamedOnnxValue.CreateFromTensor("SslFeatures", embedded.Single().AsTensor<float>().ToDenseTensor())]);
        AssertSamePredictions(expected, results);

        // --out names the classifier graph: the encoder's own name is refused, not written as "x.encoder.encoder.onnx".
        string encoderNamed = Path.Combine(_work, "served.encoder.onnx");
        var refused = CliCoreTests.Run("export-onnx", "--model", model, "--out", encoderNamed);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("give the classifier's file", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_work, "served.onnx"), refused.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(encoderNamed));
    }

    // A 32 x 32 image as the encoder takes it: planar RGB in [0, 1].
    private static float[] PlanarRgb(string path)
    {
        using var bitmap = SkiaSharp.SKBitmap.Decode(path).Copy(SkiaSharp.SKColorType.Bgra8888);
        Assert.Equal((32, 32), (bitmap.Width, bitmap.Height));
        var planes = new float[3 * 32 * 32];
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
            {
                SkiaSharp.SKColor pixel = bitmap.GetPixel(x, y);
                planes[y * 32 + x] = pixel.Red / 255f;
                planes[1024 + y * 32 + x] = pixel.Green / 255f;
                planes[2048 + y * 32 + x] = pixel.Blue / 255f;
            }
        return planes;
    }

    [SkippableFact]
    public void ASeriesModelServesFromItsSeriesInputNotItsInternalResampledColumn()
    {
        string ts = Path.Combine(SharedData.DataRoot, "uea", "GunPoint_TRAIN.ts");
        string model = Train("series-classification", ts, "Gun");
        // The one trial is the Series portfolio's first entry, the raw 1-NN: its Score and PredictedLabel export as well.
        ITransformer loaded = new MLContext(0).Model.Load(model, out _);
        Assert.Contains(MlNetSsl.Cli.Run.ModelParts.Flatten(loaded), p => p is NearestNeighborTransformer);
        Assert.Contains("input Series [N, 150]", Export(model), StringComparison.Ordinal);

        var expected = Predict(model, ts);
        using var session = new InferenceSession(Path.ChangeExtension(model, ".onnx"));
        Assert.Equal(["Series"], session.InputMetadata.Keys);
        MlNetSsl.TsFile file = MlNetSsl.TsFile.Read(ts);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Series",
            new DenseTensor<float>(file.Series.SelectMany(s => s).ToArray(), [file.Series.Count, 150]))]);
        AssertSamePredictions(expected, results);
    }
}
