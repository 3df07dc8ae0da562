using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// The structure of a classifier head, enough to rebuild an <see cref="SslClassifier"/> before loading its saved
/// weights: <c>HiddenSizes.Length</c> blocks of Linear (no bias), BatchNorm and ReLU, then a BatchNorm without affine
/// parameters that standardizes the classifier's inputs, then a Linear layer to the classes.
/// The hidden blocks are the layers kept from a pretrained projection head (<see cref="FineTuneOptions.HeadFromProjectionLayer"/>).
/// </summary>
/// <param name="InputSize">Embedding size of the encoder the head sits on.</param>
/// <param name="HiddenSizes">Widths of the hidden blocks, in order; empty for a linear classifier.</param>
/// <param name="ClassCount">Number of classes (outputs).</param>
public sealed record ClassifierHeadLayout(int InputSize, int[] HiddenSizes, int ClassCount)
{
    /// <summary>Checks that every size is positive and there are at least two classes.</summary>
    /// <exception cref="ArgumentException">A size is not positive, or there are fewer than two classes.</exception>
    public void Validate()
    {
        if (InputSize < 1) throw new ArgumentException($"ClassifierHeadLayout.InputSize must be positive; got {InputSize}.", nameof(InputSize));
        ArgumentNullException.ThrowIfNull(HiddenSizes, nameof(HiddenSizes));
        if (HiddenSizes.Any(h => h < 1)) throw new ArgumentException($"ClassifierHeadLayout.HiddenSizes must all be positive; got [{string.Join(", ", HiddenSizes)}].", nameof(HiddenSizes));
        if (ClassCount < 2) throw new ArgumentException($"A classifier needs at least 2 classes; got {ClassCount}.", nameof(ClassCount));
    }
}

/// <summary>
/// An encoder with a classification head: the product of <see cref="FineTuner"/>. <c>forward</c> returns logits
/// [N, ClassCount]; <see cref="PredictProbabilities(Tensor, int)"/> runs batched, without gradients, in eval mode.
/// The module owns its encoder (disposing the classifier disposes it). Its state dict (submodules <c>encoder</c> and
/// <c>head</c>) is all a saved model needs besides <see cref="HeadLayout"/> and the encoder's options: rebuild with
/// <c>new SslClassifier(EncoderFactory.Create(shape, encoderOptions), layout)</c>, then load the weights.
/// </summary>
public sealed class SslClassifier : nn.Module<Tensor, Tensor>
{
    private readonly SslEncoder encoder;
    private readonly Sequential head;

    /// <summary>Creates a classifier on <paramref name="encoder"/>, which it takes ownership of. The hidden blocks get
    /// Kaiming-normal weights from the global generator; the output layer starts at zero (uniform predictions).</summary>
    /// <param name="encoder">The encoder; moved into this module.</param>
    /// <param name="layout">The head's structure; <see cref="ClassifierHeadLayout.InputSize"/> must equal the encoder's embedding size.</param>
    /// <exception cref="ArgumentException">The layout is invalid or does not fit the encoder.</exception>
    public SslClassifier(SslEncoder encoder, ClassifierHeadLayout layout) : base(nameof(SslClassifier))
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(layout);
        layout.Validate();
        if (layout.InputSize != encoder.EmbeddingSize)
            throw new ArgumentException($"The head expects embeddings of size {layout.InputSize}, but the encoder produces {encoder.EmbeddingSize}.", nameof(layout));
        this.encoder = encoder;
        HeadLayout = layout with { HiddenSizes = [.. layout.HiddenSizes] };
        head = nn.Sequential();
        long width = layout.InputSize;
        for (int i = 0; i < layout.HiddenSizes.Length; i++)
        {
            var linear = nn.Linear(width, layout.HiddenSizes[i], hasBias: false);
            using (torch.NewDisposeScope())
            using (torch.no_grad())
                nn.init.kaiming_normal_(linear.weight, mode: nn.init.FanInOut.FanIn, nonlinearity: nn.init.NonlinearityType.ReLU);
            head.append($"hidden{i}", linear);
            head.append($"bn{i}", nn.BatchNorm1d(layout.HiddenSizes[i]));
            head.append($"relu{i}", nn.ReLU());
            width = layout.HiddenSizes[i];
        }
        // Standardizing the classifier's inputs (a BatchNorm without affine parameters, as MAE does for linear probing)
        // makes the head's learning speed independent of the encoder's feature scale.
        head.append("classifier_norm", nn.BatchNorm1d(width, affine: false));
        var classifier = nn.Linear(width, layout.ClassCount);
        // In-place operations return tensor handles of their own; the scope releases them (not the parameters).
        using (torch.NewDisposeScope())
        using (torch.no_grad())
        {
            classifier.weight!.zero_();
            classifier.bias!.zero_();
        }
        head.append("classifier", classifier);
        RegisterComponents();
        Device device = encoder.parameters().FirstOrDefault()?.device ?? torch.CPU;
        head.to(device);
    }

    /// <summary>The encoder (owned by this classifier).</summary>
    public SslEncoder Encoder => encoder;

    /// <summary>The head's structure (a copy).</summary>
    public ClassifierHeadLayout HeadLayout { get; }

    /// <summary>Number of classes.</summary>
    public int ClassCount => HeadLayout.ClassCount;

    /// <summary>Shape of one input row.</summary>
    public SslInputShape InputShape => encoder.InputShape;

    /// <summary>The device the weights live on.</summary>
    public Device Device => encoder.parameters().FirstOrDefault()?.device ?? torch.CPU;

    /// <summary>Logits [N, <see cref="ClassCount"/>] for a batch of inputs on the classifier's device.</summary>
    /// <param name="input">Inputs shaped <see cref="SslInputShape.BatchShape"/>.</param>
    public override Tensor forward(Tensor input) => head.call(encoder.call(input));

    /// <summary>The head (hidden blocks, input standardization, output layer), for ONNX export.</summary>
    internal Sequential Head => head;

    /// <summary>Logits from embeddings (the head alone).</summary>
    internal Tensor HeadForward(Tensor embeddings) => head.call(embeddings);

    /// <summary>The head's parameters (hidden blocks and output layer).</summary>
    internal IEnumerable<Parameter> HeadParameters() => head.parameters();

    /// <summary>
    /// Class probabilities [N, <see cref="ClassCount"/>] on the CPU for <paramref name="inputs"/> (any device), computed
    /// in batches in eval mode without gradients; the train/eval mode is restored afterwards.
    /// </summary>
    /// <param name="inputs">Rows shaped <see cref="SslInputShape.BatchShape"/> (float32; images in [0, 1]).</param>
    /// <param name="batchSize">Rows per forward pass.</param>
    /// <exception cref="ArgumentException">The inputs do not have the shape the encoder expects.</exception>
    public Tensor PredictProbabilities(Tensor inputs, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        CheckInput(inputs);
        long n = inputs.shape[0];
        return RunBatched(n, batchSize, (start, end) => inputs.narrow(0, start, end - start).to_type(ScalarType.Float32));
    }

    /// <summary>Class probabilities [N, <see cref="ClassCount"/>] on the CPU for every row of <paramref name="data"/>.</summary>
    /// <param name="data">Rows to classify (labels, if any, are ignored).</param>
    /// <param name="batchSize">Rows per forward pass.</param>
    /// <exception cref="ArgumentException">The rows do not have the encoder's input shape.</exception>
    public Tensor PredictProbabilities(SslTensorDataset data, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (data.Shape != InputShape)
            throw new ArgumentException($"The data's rows are {data.Shape} but the classifier expects {InputShape}.", nameof(data));
        Device device = Device;
        return RunBatched(data.Count, batchSize, (start, end) => data.Slice(start, end, device));
    }

    /// <summary>The most probable class of every row of <paramref name="data"/>.</summary>
    /// <param name="data">Rows to classify.</param>
    /// <param name="batchSize">Rows per forward pass.</param>
    public int[] Predict(SslTensorDataset data, int batchSize = 512)
    {
        using var scope = torch.NewDisposeScope();
        return PredictProbabilities(data, batchSize).argmax(1).data<long>().Select(v => (int)v).ToArray();
    }

    /// <summary>Accuracy on the rows of <paramref name="data"/> that carry a label (label &gt;= 0).</summary>
    /// <param name="data">Labeled rows.</param>
    /// <param name="batchSize">Rows per forward pass.</param>
    /// <exception cref="ArgumentException">The data has no labeled rows.</exception>
    public double Accuracy(SslTensorDataset data, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(data);
        int[] labels = data.Labels ?? throw new ArgumentException("The data has no labels.", nameof(data));
        int labeled = labels.Count(l => l >= 0);
        if (labeled == 0) throw new ArgumentException("The data has no labeled rows.", nameof(data));
        int[] predicted = Predict(data, batchSize);
        return predicted.Zip(labels).Count(p => p.Second >= 0 && p.First == p.Second) / (double)labeled;
    }

    private Tensor RunBatched(long n, int batchSize, Func<long, long, Tensor> batchAt)
    {
        Device device = Device;
        bool wasTraining = training;
        eval();
        try
        {
            using var outer = torch.NewDisposeScope();
            var parts = new List<Tensor>();
            using (torch.no_grad())
            {
                for (long start = 0; start < n; start += batchSize)
                {
                    using var scope = torch.NewDisposeScope();
                    Tensor batch = batchAt(start, Math.Min(start + batchSize, n)).to(device);
                    parts.Add(nn.functional.softmax(forward(batch), 1).cpu().MoveToOuterDisposeScope());
                }
            }
            Tensor all = parts.Count == 0
                ? torch.zeros(new long[] { 0, ClassCount })
                : torch.cat(parts, 0);
            return all.MoveToOuterDisposeScope();
        }
        finally
        {
            train(wasTraining);
        }
    }

    private void CheckInput(Tensor inputs)
    {
        SslInputShape shape = InputShape;
        long[] expected = shape.BatchShape(inputs.dim() > 0 ? inputs.shape[0] : 0);
        bool ok = inputs.dim() == expected.Length && inputs.shape[1] == expected[1]
            && (shape.Kind != SslInputKind.Tabular || inputs.shape[1] == shape.Features);
        if (!ok)
            throw new ArgumentException(
                $"The classifier expects rows shaped [N, {string.Join(", ", expected.Skip(1))}] ({shape}), got [{string.Join(", ", inputs.shape)}].",
                nameof(inputs));
    }
}
