using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl.MlNet.Data;

/// <summary>
/// Turns raw rows into encoder inputs: images from bytes to [0, 1]; tabular rows standardized per feature; series
/// standardized per channel. Statistics are learned once at Fit and saved with the model, so training and
/// inference see identically scaled inputs.
/// </summary>
internal sealed class InputNormalizer
{
    public InputNormalizer(SslInputKind kind, float[] mean, float[] deviation)
    {
        if (mean.Length != deviation.Length)
            throw new ArgumentException($"{mean.Length} means but {deviation.Length} deviations.", nameof(deviation));
        Kind = kind;
        Mean = mean;
        Deviation = deviation;
    }

    /// <summary>The input kind the statistics belong to.</summary>
    public SslInputKind Kind { get; }

    /// <summary>Per-feature (tabular) or per-channel (series) means; empty for images.</summary>
    public float[] Mean { get; }

    /// <summary>Per-feature or per-channel standard deviations (1 where a feature holds one value in every row); empty for images.</summary>
    public float[] Deviation { get; }

    /// <summary>Statistics of raw float rows [N, F] (tabular) or [N, C, T] (series); none for images.</summary>
    public static InputNormalizer Fit(SslInputShape shape, Tensor raw)
    {
        if (shape.Kind == SslInputKind.Image) return new InputNormalizer(SslInputKind.Image, [], []);
        using var scope = torch.NewDisposeScope();
        var values = raw.to_type(ScalarType.Float64);
        long[] dims = shape.Kind == SslInputKind.Tabular ? [0] : [0, 2];
        var mean = values.mean(dims);
        var deviation = (values - (shape.Kind == SslInputKind.Tabular ? mean : mean.unsqueeze(-1))).pow(Held(2L)).mean(dims).sqrt();
        // A feature that never varies would divide by zero; centring it alone is the useful part. Constant means every value
        // equal, not a small deviation: values measured in small units (EEG in volts, 1e-6 and below) vary by less than any
        // fixed bound, and a bound of 1e-6 left such features unscaled, so every row reached the encoder as about 0.
        bool[] constant = raw.amax(dims).eq(raw.amin(dims)).data<bool>().ToArray();
        float[] m = mean.to_type(ScalarType.Float32).data<float>().ToArray();
        float[] d = deviation.to_type(ScalarType.Float32).data<float>().ToArray();
        for (int i = 0; i < d.Length; i++)
            if (constant[i] || !(d[i] > 0)) d[i] = 1f;
        return new InputNormalizer(shape.Kind, m, d);
    }

    /// <summary>Encoder input (float32) from a raw batch; images stay in [0, 1], vectors are standardized.</summary>
    public Tensor Apply(Tensor raw)
    {
        if (Kind == SslInputKind.Image)
            return raw.dtype == ScalarType.Byte ? raw.to_type(ScalarType.Float32).div_(Held(255.0)) : raw;
        var mean = torch.tensor(Mean, device: raw.device);
        var deviation = torch.tensor(Deviation, device: raw.device);
        if (Kind == SslInputKind.Series)
        {
            mean = mean.unsqueeze(-1);
            deviation = deviation.unsqueeze(-1);
        }
        return (raw - mean) / deviation;
    }
}
