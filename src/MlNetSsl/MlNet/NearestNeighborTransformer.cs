using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MlNetSsl;
using MlNetSsl.MlNet;
using MlNetSsl.MlNet.Data;
using MlNetSsl.MlNet.Persistence;
using MlNetSsl.Onnx;
using TorchSharp;
using static MlNetSsl.HeldScalars;
using static TorchSharp.torch;

[assembly: LoadableClass(typeof(NearestNeighborTransformer), null, typeof(SignatureLoadModel),
    "Nearest-neighbour classifier", NearestNeighborTransformer.LoaderSignature)]

namespace MlNetSsl;

/// <summary>
/// A fitted 1-nearest-neighbour classifier (<see cref="NearestNeighborCatalog.NearestNeighbor"/>): adds <c>Score</c>
/// (class probabilities, softmax(-d_c / <see cref="Scale"/>) with d_c the Euclidean distance to the nearest training
/// row of class c) and <c>PredictedLabel</c> (the class of the nearest training row, as the label's key type with its key
/// values; on an exact tie, the lower key), computed in batches: one matrix product per batch against every training row.
/// Works with <c>MulticlassClassification.Evaluate</c>, <c>PredictionEngine</c>, <c>Model.Save/Load</c> and
/// <c>Model.ConvertToOnnx</c>.
/// </summary>
public sealed class NearestNeighborTransformer : ITransformer, ICanSaveModel
{
    internal const string LoaderSignature = "MlNetSslNearestNeighbor";
    private const string ModelStream = "NearestNeighbor.json";
    private const string RowsStream = "NearestNeighbor.rows";
    private const string Owner = "the nearest-neighbour classifier";

    private readonly NearestNeighborModel _model;
    private readonly float[] _rows; // training rows, grouped by class in key order, row after row
    private readonly int[] _starts; // first row of each class in _rows (ClassCount + 1 entries)
    private readonly BuiltOnSuccess<Reference> _reference;

    /// <param name="model">What the zip stores.</param>
    /// <param name="rows">The training rows, grouped by class.</param>
    /// <param name="reference">The distance computation's copy of the same rows and centre, when another transformer of them
    /// already made it (the scale fit); null builds it on first use.</param>
    private NearestNeighborTransformer(NearestNeighborModel model, float[] rows, BuiltOnSuccess<Reference>? reference = null)
    {
        _model = model;
        _rows = rows;
        _starts = new int[model.ClassRows.Length + 1];
        for (int c = 0; c < model.ClassRows.Length; c++) _starts[c + 1] = _starts[c] + model.ClassRows[c];
        // Not Lazy<T>: its thread-safe modes keep the first exception (an out-of-memory build) and rethrow it for good.
        _reference = reference ?? new BuiltOnSuccess<Reference>(() => new Reference(this));
    }

    /// <summary>The feature column read.</summary>
    public string FeatureColumnName => _model.FeatureColumnName;

    /// <summary>Values per row of the feature column.</summary>
    public int FeatureCount => _model.FeatureCount;

    /// <summary>Number of classes (the size of <c>Score</c>): the label's key count, including classes without training rows
    /// (their score is 0).</summary>
    public int ClassCount => _model.ClassRows.Length;

    /// <summary>Class names in key order, when the label's key values were text or numbers; otherwise empty.</summary>
    public IReadOnlyList<string> ClassNames => _model.ClassNames.Values;

    /// <summary>Training rows kept, per class in key order.</summary>
    public IReadOnlyList<int> TrainingRowsPerClass => _model.ClassRows;

    /// <summary>The scale t of the scores softmax(-d_c / t).</summary>
    public double Scale => _model.Scale;

    /// <summary>Always true: PredictionEngine can use it.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus <c>Score</c> and <c>PredictedLabel</c>.</summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new ScoreOutput(this, CheckInput(inputSchema)).OutputSchema(inputSchema);
    }

    /// <summary>A lazy view with <c>Score</c> and <c>PredictedLabel</c>, computed a batch of rows at a time.</summary>
    /// <exception cref="InvalidDataException">When read: a row holds a missing value (NaN) or an infinity; the message names it.</exception>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new BatchedDataView(new ScoreOutput(this, CheckInput(input.Schema)), input);
    }

    /// <summary>A row-by-row mapper for <c>PredictionEngine</c>.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new BatchedRowMapper(new ScoreOutput(this, CheckInput(inputSchema)), inputSchema);
    }

    private InputColumnReader CheckInput(DataViewSchema schema) =>
        InputColumnReader.ForModel(schema, FeatureColumnName, SslInputShape.Tabular(FeatureCount), Owner);

    // ---- training ----------------------------------------------------------------------------------------------

    internal static NearestNeighborTransformer Train(IHostEnvironment env, string featureColumn, int width, int classes, ClassNames names,
        List<float[]> rows, List<int> labels, NearestNeighborOptions options)
    {
        ArgumentNullException.ThrowIfNull(env);
        SslEnvironment.EnsureInitialized();
        // Grouped by class (stable within a class), so a class's distances are one slice of the distance matrix.
        int[] order = [.. Enumerable.Range(0, rows.Count).OrderBy(i => labels[i])];
        var counts = new int[classes];
        foreach (int label in labels) counts[label]++;
        var flat = new float[checked(rows.Count * width)];
        for (int i = 0; i < order.Length; i++) rows[order[i]].CopyTo(flat, i * width);
        var mean = new double[width];
        for (int i = 0; i < rows.Count; i++)
            for (int j = 0; j < width; j++) mean[j] += flat[i * width + j];
        var model = new NearestNeighborModel
        {
            FeatureColumnName = featureColumn,
            FeatureCount = width,
            ClassRows = counts,
            ClassNames = names,
            Center = [.. mean.Select(m => (float)(m / rows.Count))],
            BatchSize = options.BatchSize,
            Scale = 1,
        };
        var untrained = new NearestNeighborTransformer(model, flat);
        double scale = options.Scale ?? untrained.FitScale(options.ScaleRows, [.. order.Select(i => labels[i])]);
        // The fitted transformer differs in its scale only, so it keeps the scale fit's copy of the rows for its distances.
        return new NearestNeighborTransformer(model with { Scale = scale }, flat, untrained._reference);
    }

    /// <summary>
    /// The scale that minimizes the leave-one-out log-loss of up to <paramref name="sampleRows"/> evenly spaced training
    /// rows (each row's class distances measured to the other training rows), over a grid of 2^(k/4) times their median
    /// nearest distance, k from -16 to 16. <paramref name="sortedLabels"/>: each stored row's class.
    /// </summary>
    private double FitScale(int sampleRows, int[] sortedLabels)
    {
        int total = sortedLabels.Length, classes = ClassCount;
        int count = Math.Min(sampleRows, total);
        int[] sample = [.. Enumerable.Range(0, count).Select(i => (int)((long)i * total / count))];
        var distances = new double[count * classes];
        for (int start = 0; start < count; start += _model.BatchSize)
        {
            int n = Math.Min(_model.BatchSize, count - start);
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var rows = new float[n * FeatureCount];
            for (int i = 0; i < n; i++) Array.Copy(_rows, (long)sample[start + i] * FeatureCount, rows, (long)i * FeatureCount, FeatureCount);
            var all = RowDistances(torch.tensor(rows, [n, FeatureCount]));
            // Leave one out: a row is not its own neighbour.
            var self = torch.tensor(sample.AsSpan(start, n).ToArray().Select(i => (long)i).ToArray(), ScalarType.Int64).unsqueeze(1);
            all = all.scatter(1, self, torch.full([n, 1], Held(double.PositiveInfinity), ScalarType.Float64));
            var perClass = PerClassMinimum(all).contiguous();
            perClass.data<double>().CopyTo(distances.AsSpan(start * classes, n * classes));
        }

        var nearest = new List<double>(count);
        for (int i = 0; i < count; i++)
        {
            double best = double.PositiveInfinity;
            for (int c = 0; c < classes; c++) best = Math.Min(best, distances[i * classes + c]);
            if (double.IsFinite(best) && best > 0) nearest.Add(best);
        }
        if (nearest.Count == 0) return 1; // every row has a duplicate: any scale predicts alike
        nearest.Sort();
        double median = nearest[nearest.Count / 2];
        double bestScale = median, bestLoss = double.PositiveInfinity;
        var logits = new double[classes];
        for (int k = -16; k <= 16; k++)
        {
            double scale = median * Math.Pow(2, k / 4.0), loss = 0;
            for (int i = 0; i < count; i++)
            {
                double max = double.NegativeInfinity;
                for (int c = 0; c < classes; c++) max = Math.Max(max, logits[c] = -distances[i * classes + c] / scale);
                if (double.IsNegativeInfinity(max)) continue; // no other row at all
                double sum = 0;
                for (int c = 0; c < classes; c++) sum += Math.Exp(logits[c] - max);
                double logProbability = logits[sortedLabels[sample[i]]] - max - Math.Log(sum);
                loss -= Math.Max(logProbability, Math.Log(1e-15));
            }
            if (loss < bestLoss)
            {
                bestLoss = loss;
                bestScale = scale;
            }
        }
        return bestScale;
    }

    // ---- inference ---------------------------------------------------------------------------------------------

    /// <summary>The training rows as the distance computation reads them: centred, transposed, in double precision, with
    /// their squared norms. Built on first use and kept (outside any dispose scope) for the transformer's life.</summary>
    private sealed class Reference
    {
        public Reference(NearestNeighborTransformer owner)
        {
            SslEnvironment.EnsureInitialized();
            int rows = owner._rows.Length / owner.FeatureCount;
            using var noGrad = torch.no_grad();
            using var stored = torch.tensor(owner._rows, [rows, owner.FeatureCount]);
            Center = torch.tensor(owner._model.Center, ScalarType.Float32).to_type(ScalarType.Float64).unsqueeze(0).DetachFromDisposeScope();
            using var centred = stored.to_type(ScalarType.Float64).sub(Center);
            Transposed = centred.t().contiguous().DetachFromDisposeScope();
            using var squares = centred.mul(centred);
            Norms = squares.sum(1).unsqueeze(0).DetachFromDisposeScope();
        }

        public Tensor Center { get; }

        public Tensor Transposed { get; }

        public Tensor Norms { get; }
    }

    /// <summary>[N, training rows] Euclidean distances (double) of float rows [N, features].</summary>
    private Tensor RowDistances(Tensor rows)
    {
        Reference reference = _reference.Value;
        var x = rows.to_type(ScalarType.Float64).sub(reference.Center);
        var squared = x.mul(x).sum(1, keepdim: true).sub(x.matmul(reference.Transposed).mul(Held(2.0))).add(reference.Norms, One);
        return squared.clamp_min(Held(0.0)).sqrt();
    }

    /// <summary>[N, classes] distance to the nearest training row of each class (+inf for a class without rows).</summary>
    private Tensor PerClassMinimum(Tensor distances)
    {
        long n = distances.shape[0];
        var columns = new Tensor[ClassCount];
        for (int c = 0; c < ClassCount; c++)
        {
            int count = _starts[c + 1] - _starts[c];
            columns[c] = count == 0
                ? torch.full([n, 1], Held(double.PositiveInfinity), ScalarType.Float64)
                : distances.narrow(1, _starts[c], count).amin([1], keepdim: true);
        }
        return torch.cat(columns, 1);
    }

    /// <summary>[N, ClassCount + 1] float32: the class probabilities, then the predicted key (one-based) as a float.</summary>
    private Tensor Compute(Tensor raw)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var perClass = PerClassMinimum(RowDistances(raw));
        // The nearest class (first on ties), not the arg max of the probabilities, which may round two classes alike.
        var key = perClass.argmin(1, keepdim: true).add(One, One).to_type(ScalarType.Float32);
        var scores = perClass.div(Held(-_model.Scale)).softmax(1).to_type(ScalarType.Float32);
        return torch.cat([scores, key], 1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Adds Score and PredictedLabel to ML.NET's ONNX converter, as <see cref="Compute"/> computes them (in float).</summary>
    private void SaveAsOnnx(OnnxContext context, string inputColumn, ScoreOutput output)
    {
        string input = SelfSupervisedTransformer.OnnxInputVariable(context, inputColumn);
        var graph = new MlNetOnnxGraph(context);
        int rows = _rows.Length / FeatureCount, width = FeatureCount;
        // Centred training rows, transposed [features, rows], and their squared norms [1, rows].
        var transposed = new float[_rows.Length];
        var norms = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            double norm = 0;
            for (int j = 0; j < width; j++)
            {
                double value = (double)_rows[r * width + j] - _model.Center[j];
                transposed[j * rows + r] = (float)value;
                norm += value * value;
            }
            norms[r] = (float)norm;
        }
        string x = graph.AddNode("Sub", [input, graph.AddInitializer(_model.Center, [1, width], "nn_center")], "nn_centred");
        string products = graph.AddNode("MatMul", [x, graph.AddInitializer(transposed, [width, rows], "nn_rows")], "nn_products");
        string squares = graph.AddNode("Mul", [x, x], "nn_squares");
        string ones = graph.AddInitializer(Enumerable.Repeat(1f, width).ToArray(), [width, 1], "nn_ones");
        string inputNorms = graph.AddNode("MatMul", [squares, ones], "nn_input_norms");
        string twice = graph.AddNode("Mul", [products, graph.AddInitializer([2f], [1], "nn_two")], "nn_twice");
        string squared = graph.AddNode("Add", [graph.AddNode("Sub", [inputNorms, twice], "nn_difference"),
            graph.AddInitializer(norms, [1, rows], "nn_norms")], "nn_squared");
        string distances = graph.AddNode("Sqrt", [graph.AddNode("Relu", [squared], "nn_clamped")], "nn_distances");
        var columns = new string[ClassCount];
        for (int c = 0; c < ClassCount; c++)
        {
            int count = _starts[c + 1] - _starts[c];
            if (count == 0)
            {
                // A class without training rows: infinitely far (its score is 0), one column per input row.
                string zero = graph.AddNode("Mul", [inputNorms, graph.AddInitializer([0f], [1], "nn_zero")], "nn_zeros");
                columns[c] = graph.AddNode("Add", [zero, graph.AddInitializer([float.PositiveInfinity], [1], "nn_infinity")], $"nn_class{c}");
                continue;
            }
            // Gather rather than Slice (whose tensor inputs need opset 10): valid down to ML.NET's opset 9.
            long[] indices = [.. Enumerable.Range(_starts[c], count).Select(i => (long)i)];
            string slice = graph.AddNode("Gather", [distances, graph.AddInitializer(indices, [count], "nn_class_rows")], $"nn_rows{c}",
                OnnxAttribute.Of("axis", 1));
            columns[c] = graph.AddNode("ReduceMin", [slice], $"nn_class{c}", OnnxAttribute.Of("axes", new long[] { 1 }), OnnxAttribute.Of("keepdims", 1));
        }
        string perClass = graph.AddNode("Concat", columns, "nn_class_distances", OnnxAttribute.Of("axis", 1));
        string logits = graph.AddNode("Mul", [perClass, graph.AddInitializer([(float)(-1 / _model.Scale)], [1], "nn_scale")], "nn_logits");
        string probabilities = graph.AddNode("Softmax", [logits], "nn_probabilities", OnnxAttribute.Of("axis", 1));
        string score = context.AddIntermediateVariable(output.Columns[0].Type, output.Columns[0].Name);
        context.CreateNode("Identity", probabilities, score, context.GetNodeName("Identity"), "");
        // PredictedLabel: the one-based key of the nearest class (first on ties), as the IDataView getter gives it.
        string index = graph.AddNode("ArgMin", [perClass], "nn_argmin", OnnxAttribute.Of("axis", 1), OnnxAttribute.Of("keepdims", 1));
        string key = graph.AddNode("Add", [index, graph.AddInitializer(new long[] { 1 }, [1], "nn_one")], "nn_key");
        string label = context.AddIntermediateVariable(output.Columns[1].Type, output.Columns[1].Name);
        context.CreateNode("Cast", key, label, context.GetNodeName("Cast"), "").AddAttribute("to", typeof(uint));
    }

    /// <summary>Score (probabilities) and PredictedLabel (the nearest class, as a one-based key).</summary>
    private sealed class ScoreOutput(NearestNeighborTransformer owner, InputColumnReader reader) : BatchedOutput
    {
        public override InputColumnReader Reader => reader;

        public override int BatchSize => owner._model.BatchSize;

        public override int ValuesPerRow => owner.ClassCount + 1;

        public override IReadOnlyList<(string Name, DataViewType Type, DataViewSchema.Annotations? Annotations)> Columns { get; } =
        [
            ("Score", new VectorDataViewType(NumberDataViewType.Single, owner.ClassCount), owner._model.ClassNames.ToSlotNames()),
            ("PredictedLabel", new KeyDataViewType(typeof(uint), owner.ClassCount), owner._model.ClassNames.ToAnnotations()),
        ];

        public override Tensor Compute(Tensor raw) => owner.Compute(raw);

        public override void SaveAsOnnx(OnnxContext context) => owner.SaveAsOnnx(context, reader.ColumnName, this);

        public override Delegate MakeGetter(int column, Func<ReadOnlyMemory<float>> values)
        {
            int classes = owner.ClassCount;
            if (column == 0) return VectorGetter(() => values()[..classes]);
            ValueGetter<uint> predicted = (ref uint key) => key = (uint)values().Span[classes];
            return predicted;
        }
    }

    // ---- persistence -------------------------------------------------------------------------------------------

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "MSSLNNCL",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(NearestNeighborTransformer).Assembly.FullName);

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ModelStreams.SaveRecord(ctx, GetVersionInfo(), NearestNeighborModel.CurrentFormatVersion, ModelStream, _model);
        ModelStreams.SaveBlob(ctx, RowsStream, MemoryMarshal.AsBytes(_rows.AsSpan()).ToArray());
    }

    // Called by ML.NET through the LoadableClass registration above.
    private static NearestNeighborTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var model = ModelStreams.LoadRecord<NearestNeighborModel>(ctx, GetVersionInfo(), NearestNeighborModel.CurrentFormatVersion,
            ModelStream, Owner, m => m.FormatVersion);
        byte[] bytes = ModelStreams.LoadBlob(ctx, RowsStream, Owner);
        long expected = (long)model.ClassRows.Sum() * model.FeatureCount * sizeof(float);
        if (model.FeatureCount < 1 || model.ClassRows.Length < 2 || model.ClassRows.Any(c => c < 0) || model.Center.Length != model.FeatureCount ||
            !(double.IsFinite(model.Scale) && model.Scale > 0) || model.BatchSize < 1 || bytes.LongLength != expected)
            throw new InvalidDataException($"The model stream '{ModelStream}' of {Owner} does not match its rows ('{RowsStream}', {bytes.LongLength} bytes); " +
                "the file is damaged. Save the model again with mlContext.Model.Save.");
        return new NearestNeighborTransformer(model, MemoryMarshal.Cast<byte, float>(bytes).ToArray());
    }
}

/// <summary>What the model zip stores about a nearest-neighbour classifier besides its training rows.</summary>
internal sealed record NearestNeighborModel
{
    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public required string FeatureColumnName { get; init; }
    public required int FeatureCount { get; init; }
    /// <summary>Training rows of each class, in key order (the rows are stored grouped by class).</summary>
    public required int[] ClassRows { get; init; }
    public required ClassNames ClassNames { get; init; }
    /// <summary>The training rows' mean, subtracted before the distances are expanded (|x|² - 2x·y + |y|²) to keep their rounding small.</summary>
    public required float[] Center { get; init; }
    public required double Scale { get; init; }
    public required int BatchSize { get; init; }
}

/// <summary>A value built on first use, under a lock (one build at a time, every caller then gets the same value). A build
/// that throws is not kept: the exception goes to its caller and the next use builds again, where <see cref="Lazy{T}"/>
/// with <see cref="LazyThreadSafetyMode.ExecutionAndPublication"/> would rethrow the first exception for good.</summary>
internal sealed class BuiltOnSuccess<T>(Func<T> build) where T : class
{
    private readonly Lock _gate = new();
    private volatile T? _value;

    /// <summary>The value, built now if no build has succeeded yet.</summary>
    public T Value
    {
        get
        {
            if (_value is { } value) return value;
            lock (_gate) return _value ??= build();
        }
    }
}
