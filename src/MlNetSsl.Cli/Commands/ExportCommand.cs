using System.CommandLine;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.Transforms.Text;
using MlNetSsl.Cli.Data;
using MlNetSsl.Cli.Run;

namespace MlNetSsl.Cli.Commands;

/// <summary>
/// export-onnx: a model zip the tool wrote as ONNX, for serving with ONNX Runtime and no TorchSharp. ML.NET's converter
/// walks a pipeline back to the first step it cannot export and makes that step's output a graph input, so a series
/// model converted whole expects its internal resampled column and answers its own input column with garbage; here each
/// kind is cut where ONNX can take over, and the graph's inputs are named and sized on the console.
/// </summary>
internal static class ExportCommand
{
    private static readonly string[] Outputs = ["PredictedLabel", "Score"];

    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "The model zip a training command wrote.", Required = true };
        var output = new Option<string?>("--out") { Description = "The ONNX file to write. Default: the model's name with .onnx, beside it." };
        var command = new Command("export-onnx", "Write a model as ONNX for ONNX Runtime (no TorchSharp): tables and series in one graph; " +
            "images as an encoder graph and a classifier graph on its embedding (see docs/onnx.md).") { model, output };
        command.SetAction(parse =>
        {
            string modelPath = parse.GetValue(model)!;
            if (string.Equals(Path.GetExtension(modelPath), ".onnx", StringComparison.OrdinalIgnoreCase))
                throw new CliException($"{modelPath}: an ONNX file; --model takes the <Name>.zip a training command wrote.");
            string path = parse.GetValue(output) ?? Path.ChangeExtension(modelPath, ".onnx");
            // Any other name could replace a model zip or a data file with ONNX bytes.
            if (!string.Equals(Path.GetExtension(path), ".onnx", StringComparison.OrdinalIgnoreCase))
                throw new CliException($"--out {path}: give a file name ending in .onnx.");
            CliFile.CheckOutput(path, "--out", "model.onnx", ("--model", modelPath));
            var ml = new MLContext(0);
            var (loaded, schema, _) = ModelCommands.LoadModel(ml, modelPath);
            List<string> written;
            try
            {
                written = Export(ml, loaded, schema, path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The message named only the temporary file the write went to.
                throw new CliException($"--out {path}: could not be written ({e.Message}); nothing was replaced. Free space on that disk or give --out a " +
                    "path in a folder you can write to.", e);
            }
            foreach (string line in written) Console.WriteLine(line);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Writes <paramref name="model"/> (a model zip's chain, input <paramref name="schema"/>) to <paramref name="path"/>
    /// (and, for images, its encoder beside it); returns what was written and how to feed it.</summary>
    /// <exception cref="CliException">A step ML.NET cannot convert; the message names it.</exception>
    public static List<string> Export(MLContext ml, ITransformer model, DataViewSchema schema, string path)
    {
        List<ITransformer> parts = ModelParts.Flatten(model);
        int resample = parts.FindIndex(p => p is ResampleSeriesTransformer);
        int images = parts.FindIndex(p => p is ImageLoadingTransformer);
        if (images >= 0) return ExportImages(ml, parts, schema, path);
        if (resample >= 0) return ExportSeries(ml, parts, resample, schema, path);

        // Only the columns the model reads become graph inputs: ML.NET makes every column of the view one, the label too.
        var used = schema.Where(c => !c.IsHidden && Reads(model, schema, c.Name)).ToList();
        var builder = new DataViewSchema.Builder();
        foreach (var column in used) builder.AddColumn(column.Name, column.Type, column.Annotations);
        // A plain ML.NET pipeline from another tool has no table preparation of ours: what this command prints would be wrong.
        if (model.GetOutputSchema(schema).GetColumnOrNull(ModelParts.TableColumn) is null)
            throw new CliException("This zip is not a model mlnet-ssl trained (it has no input preparation of the tool's); convert an ML.NET " +
                "pipeline of your own with mlContext.Model.ConvertToOnnx.");
        Convert(ml, model, new EmptyDataView(builder.ToSchema()), path, "the model");
        return [$"Wrote {path}: inputs {string.Join(", ", used.Select(Describe))}, one row each in a batch of N; outputs PredictedLabel.output " +
                "(the class name) and Score.output (one probability per class, in the order of the model's classes).",
                "Missing numbers: give NaN, which the graph replaces with the training mean as the model does."];
    }

    private static List<string> ExportSeries(MLContext ml, List<ITransformer> parts, int resample, DataViewSchema schema, string path)
    {
        // The series arrive resampled to the model's length and with missing values filled, as the tool's loader does.
        var resampler = (ResampleSeriesTransformer)parts[resample];
        DataViewSchema resampled = resampler.GetOutputSchema(schema);
        string internalColumn = ModelParts.SeriesColumn;
        int values = ((VectorDataViewType)resampled[internalColumn].Type).Size;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(SeriesLoader.SeriesColumn, new VectorDataViewType(NumberDataViewType.Single, values));
        var input = new EmptyDataView(builder.ToSchema());
        // The graph's input takes the name the model zip's input has, not the internal one.
        ITransformer rename = ml.Transforms.CopyColumns(internalColumn, SeriesLoader.SeriesColumn).Fit(input);
        Convert(ml, new TransformerChain<ITransformer>([rename, .. parts.Skip(resample + 1)]), input, path, "the model after its series resampling");
        int steps = values / Math.Max(1, resampler.Channels);
        string resampling = resampler.Resampling switch
        {
            SeriesResampling.Mean => "a longer one by averaging, each step the mean of the stretch of steps it covers, steps cut by a boundary counting by the part inside; a shorter one by linear interpolation",
            SeriesResampling.PadOrTruncate => "a shorter one padded with its last value, a longer one cut",
            _ => "by linear interpolation between its first and last step",
        };
        return [string.Create(CultureInfo.InvariantCulture, $"Wrote {path}: input Series [N, {values}], each row one series channel after channel, ") +
                $"{resampler.Channels} channel(s) of {steps} steps. Bring a channel of another length to {steps} steps as the model zip does ({resampling}; " +
                "ResampleSeries with Resampling " + resampler.Resampling + " does it), and replace a missing value by the one before it in its channel (the first known one at its start). " +
                "Outputs: PredictedLabel.output (the class name) and Score.output (one probability per class, in the order of the model's classes)."];
    }

    private static List<string> ExportImages(MLContext ml, List<ITransformer> parts, DataViewSchema schema, string path)
    {
        int fineTuned = parts.FindIndex(p => p is SelfSupervisedFineTuneTransformer);
        if (fineTuned >= 0)
        {
            var network = (SelfSupervisedFineTuneTransformer)parts[fineTuned];
            SslInputShape shape = network.Classifier.Encoder.InputShape;
            CliFile.Replace(path, temp => { using var file = File.Create(temp); network.SaveClassifierAsOnnx(file); });
            return [$"Wrote {path}: input {network.InputColumnName} [N, 3, {shape.Height}, {shape.Width}], planar RGB in [0, 1] " +
                    $"(images stretched to {shape.Width} x {shape.Height} as docs/onnx.md shows); output Score [N, {network.ClassNames.Count}], " +
                    $"probabilities of the classes {string.Join(", ", network.ClassNames.Select(c => $"'{c}'"))} in that order."];
        }
        int stageIndex = parts.FindIndex(p => p is SelfSupervisedTransformer);
        if (stageIndex < 0)
            throw new CliException("This image model has no self-supervised stage or fine-tuned network (raw pixels into its trainer): ML.NET cannot export its " +
                "LoadImages and ResizeImages steps; serve the model zip.");
        var stage = (SelfSupervisedTransformer)parts[stageIndex];
        // --out names the classifier graph; the encoder's name derives from it, so "x.encoder.onnx" would put the
        // classifier under the encoder's name and the encoder under "x.encoder.encoder.onnx".
        if (path.EndsWith(".encoder.onnx", StringComparison.OrdinalIgnoreCase))
            throw new CliException($"--out {path}: an image model is written as two graphs; give the classifier's file (for example " +
                $"{path[..^".encoder.onnx".Length]}.onnx) and the encoder is written beside it as <name>.encoder.onnx.");
        string encoderPath = Path.Combine(Path.GetDirectoryName(path) ?? "", Path.GetFileNameWithoutExtension(path) + ".encoder.onnx");
        CliFile.CheckOutput(encoderPath, "--out", "model.onnx");
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(stage.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, stage.EmbeddingSize));
        // Both graphs are written before either replaces a file: a failed encoder write (a full disk) left the new classifier
        // beside an earlier export's encoder, whose embedding it does not read.
        string pendingClassifier = CliFile.TemporaryPathFor(path), pendingEncoder = CliFile.TemporaryPathFor(encoderPath);
        try
        {
            Convert(ml, new TransformerChain<ITransformer>([.. parts.Skip(stageIndex + 1)]), new EmptyDataView(builder.ToSchema()), pendingClassifier,
                "the classifier after the encoder");
            CliFile.Replace(pendingEncoder, temp => { using var file = File.Create(temp); stage.SaveEncoderAsOnnx(file); });
            File.Move(pendingEncoder, encoderPath, overwrite: true);
            File.Move(pendingClassifier, path, overwrite: true);
        }
        finally
        {
            File.Delete(pendingClassifier);
            File.Delete(pendingEncoder);
        }
        string embedding = OnnxOutputName(stage);
        return [$"Wrote {encoderPath}: input {stage.InputColumnName} [N, 3, {stage.InputShape.Height}, {stage.InputShape.Width}], planar RGB in [0, 1] " +
                $"(images stretched to {stage.InputShape.Width} x {stage.InputShape.Height} as docs/onnx.md shows); output {embedding} [N, {stage.EmbeddingSize}], the embedding.",
                $"Wrote {path}: input {stage.OutputColumnName} [N, {stage.EmbeddingSize}], the encoder's output; outputs PredictedLabel.output (the class name) and " +
                "Score.output (one probability per class, in the order of the model's classes). Feed each batch through the encoder, then this graph."];
    }

    // The encoder graph's output: the stage's output column, with ".output" when the stage wrote over its input.
    private static string OnnxOutputName(SelfSupervisedTransformer stage) =>
        stage.OutputColumnName == stage.InputColumnName ? stage.OutputColumnName + ".output" : stage.OutputColumnName;

    private static void Convert(MLContext ml, ITransformer model, IDataView input, string path, string what)
    {
        try
        {
            CliFile.Replace(path, temp =>
            {
                using var file = File.Create(temp);
                ml.Model.ConvertToOnnx(model, input, file, Outputs);
            });
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            // The tool hashes the words of a text column of many values (its preparation normalizes that column's text first).
            string[] hashed = HashedTextColumns(model, input.Schema);
            throw new CliException($"ML.NET could not convert {what} to ONNX ({e.Message.ReplaceLineEndings(" ").Trim()})" +
                (hashed.Length == 0 ? "; serve the model zip." : $"; the model hashes the words of the text column(s) {string.Join(", ", hashed.Select(h => $"'{h}'"))} " +
                 "(many distinct values), which ML.NET converts only in part: leave them out (--ignore-cols) and train again to export, or serve the model zip."), e);
        }
    }

    // The input columns a TextNormalizingTransformer of the model reads (ML.NET exposes no column list on it: a column it
    // reads is one whose absence it refuses).
    private static string[] HashedTextColumns(ITransformer model, DataViewSchema input)
    {
        var names = new List<string>();
        DataViewSchema schema = input;
        foreach (ITransformer part in ModelParts.Flatten(model))
        {
            if (part is TextNormalizingTransformer)
                names.AddRange(schema.Where(c => !c.IsHidden && c.Type is TextDataViewType && input.GetColumnOrNull(c.Name) is not null && Reads(part, schema, c.Name)).Select(c => c.Name));
            schema = part.GetOutputSchema(schema);
        }
        return [.. names.Distinct(StringComparer.Ordinal)];
    }

    // Whether the model reads column `name` (its label and identifier columns ride along in the input schema unused).
    private static bool Reads(ITransformer model, DataViewSchema schema, string name)
    {
        try
        {
            var builder = new DataViewSchema.Builder();
            builder.AddColumns(schema.Where(c => c.Name != name));
            model.GetOutputSchema(builder.ToSchema());
            return false;
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidOperationException or ArgumentException)
        {
            return true;
        }
    }

    private static string Describe(DataViewSchema.Column column) => column.Type switch
    {
        TextDataViewType => $"{column.Name} [N, 1] (string)",
        VectorDataViewType vector => string.Create(CultureInfo.InvariantCulture, $"{column.Name} [N, {vector.Size}] ({vector.ItemType.RawType.Name.ToLowerInvariant()})"),
        _ => $"{column.Name} [N, 1] ({column.Type.RawType.Name.ToLowerInvariant()})",
    };

    /// <summary>A view with a schema and no rows: what ML.NET's converter needs to follow a pipeline's columns.</summary>
    private sealed class EmptyDataView(DataViewSchema schema) : IDataView
    {
        public bool CanShuffle => false;

        public DataViewSchema Schema => schema;

        public long? GetRowCount() => 0;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(schema);

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [new Cursor(schema)];

        private sealed class Cursor(DataViewSchema schema) : DataViewRowCursor
        {
            public override DataViewSchema Schema => schema;

            public override long Position => -1;

            public override long Batch => 0;

            public override bool MoveNext() => false;

            public override bool IsColumnActive(DataViewSchema.Column column) => true;

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
                throw new InvalidOperationException("An empty view has no row to read.");

            public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = default;
        }
    }
}
