using System.Text.Json;
using System.Text.Json.Serialization;

namespace MlNetSsl;

/// <summary>
/// Everything about a fitted <see cref="SelfSupervisedTransformer"/> except its weights: what the model zip stores
/// as JSON next to the weights, so a model can be rebuilt, inspected and audited.
/// </summary>
internal sealed class SelfSupervisedModel
{
    /// <summary>The layout of the model zip this code writes. Raise it when the layout changes.</summary>
    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public string LibraryVersion { get; init; } = typeof(SelfSupervisedModel).Assembly.GetName().Version?.ToString() ?? "unknown";
    public required string InputColumnName { get; init; }
    public required string OutputColumnName { get; init; }
    public required SslMethod Method { get; init; }
    public required SslInputShape InputShape { get; init; }
    public required EncoderOptions EncoderOptions { get; init; }

    [JsonIgnore]
    public SslMethodOptions? MethodOptions { get; init; }

    /// <summary>The method options as JSON of their own type (the type follows from <see cref="Method"/>).</summary>
    public JsonElement? MethodOptionsJson
    {
        get => MethodOptions is null ? null : JsonSerializer.SerializeToElement(MethodOptions, MethodOptions.GetType(), MlNet.Persistence.ModelStreams.JsonDefaults);
        init => MethodOptions = value is { } json ? (SslMethodOptions?)json.Deserialize(MethodOptionsType(Method), MlNet.Persistence.ModelStreams.JsonDefaults) : null;
    }

    public required int BatchSize { get; init; }
    public bool AllowCuda { get; init; } = true;
    public required float[] NormalizationMean { get; init; }
    public required float[] NormalizationDeviation { get; init; }
    public required SslEpochRecord[] History { get; init; }
    public double PretrainingSeconds { get; init; }
    public long PretrainingRows { get; init; }

    private static Type MethodOptionsType(SslMethod method) => method switch
    {
        SslMethod.SimClr => typeof(SimClrOptions),
        SslMethod.MoCoV2 => typeof(MoCoV2Options),
        SslMethod.Byol => typeof(ByolOptions),
        SslMethod.SimSiam => typeof(SimSiamOptions),
        SslMethod.BarlowTwins => typeof(BarlowTwinsOptions),
        SslMethod.Vicreg => typeof(VicregOptions),
        SslMethod.Scarf => typeof(ScarfOptions),
        SslMethod.Vime => typeof(VimeOptions),
        SslMethod.MaskedAutoencoder => typeof(MaskedAutoencoderOptions),
        _ => typeof(SslMethodOptions),
    };
}
