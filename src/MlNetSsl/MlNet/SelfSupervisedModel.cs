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
    /// <summary>The registered method's name (the built-in ones are saved under their <see cref="SslMethod"/> names).</summary>
    public required string Method { get; init; }
    public required SslInputShape InputShape { get; init; }
    public required EncoderOptions EncoderOptions { get; init; }

    [JsonIgnore]
    public SslMethodOptions? MethodOptions { get => methodOptions; init => methodOptions = value; }

    private SslMethodOptions? methodOptions;

    /// <summary>The method options as JSON of their own type (the registered method's <see cref="SslMethodRegistration.OptionsType"/>,
    /// or the shared <see cref="SslMethodOptions"/> when the caller passed only those).</summary>
    public JsonElement? MethodOptionsJson
    {
        get => methodOptionsJson ?? (MethodOptions is null ? null : JsonSerializer.SerializeToElement(MethodOptions, MethodOptions.GetType(), ModuleState.JsonDefaults));
        init => methodOptionsJson = value;
    }

    // Read after the whole object, because JSON property order does not guarantee Method comes first.
    private JsonElement? methodOptionsJson;

    /// <summary>Binds the stored options JSON to the registered method's options type; called once after loading.</summary>
    /// <exception cref="ArgumentException">The method is not registered in this process.</exception>
    public void ResolveOptions()
    {
        if (methodOptionsJson is not { } json) return;
        // A caller may have passed a plain SslMethodOptions: its JSON holds only the shared sizes, which bind to any options type.
        methodOptions = (SslMethodOptions?)json.Deserialize(SslMethodRegistry.Get(Method).OptionsType, ModuleState.JsonDefaults);
        methodOptionsJson = null;
    }

    public required int BatchSize { get; init; }
    public bool AllowCuda { get; init; } = true;
    public required float[] NormalizationMean { get; init; }
    public required float[] NormalizationDeviation { get; init; }
    public required SslEpochRecord[] History { get; init; }
    public double PretrainingSeconds { get; init; }
    public long PretrainingRows { get; init; }
}
