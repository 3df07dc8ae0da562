using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MlNetSsl.AutoML;

/// <summary>
/// The portfolio of cheap strong baselines the self-supervised experiment runs before its tuner's proposals (raw-feature
/// LightGBM and L-BFGS, a short SSL run with a linear probe, raw + SSL features, the default configuration...), per input
/// kind and in order of expected value per second. The list lives in the embedded data file <c>SslPortfolio.json</c>,
/// which says how its order was derived; see docs/automl.md.
/// </summary>
internal static class SslPortfolio
{
    private static readonly Lazy<(string Json, JsonDocument Document)> Data = new(() =>
    {
        using Stream stream = typeof(SslPortfolio).Assembly.GetManifestResourceStream("MlNetSsl.AutoML.SslPortfolio.json")
            ?? throw new InvalidOperationException("The embedded portfolio MlNetSsl.AutoML.SslPortfolio.json is missing from the assembly.");
        using var reader = new StreamReader(stream);
        string json = reader.ReadToEnd();
        return (json, JsonDocument.Parse(json));
    });

    /// <summary>The portfolio's entries for a dataset, as configurations of <paramref name="space"/> (entries whose values
    /// the space does not offer, that do not fit the dataset's size, or that repeat an earlier entry once reduced to what
    /// their trial reads, are left out), with their names and whether the learning run found them worth their time (a
    /// measured gain above 0, or no measurement: a hand-ordered list). With fewer labeled rows than the smallest
    /// <c>minLabeledRows</c> of the kind, the entries come in the order learned without the entries that need more
    /// (<c>belowMinLabeledRows</c>), with its gains; otherwise, with at least <c>fromRows.rows</c> rows, the order learned
    /// on the benchmark datasets of that size or more (<c>fromRows</c>), with its gains. LearnedSeconds: what the entry took
    /// in that learning run, in that order (null when not recorded), to price it against the entries already run;
    /// LearnedWithCachedEncoder: an earlier entry of that order pretrained with the same options, so those seconds leave
    /// its pretraining out.</summary>
    public static IReadOnlyList<(string Name, Parameters Configuration, bool Gainful, double? LearnedSeconds, bool LearnedWithCachedEncoder)> For(
        SearchSpace space, SslInputKind kind, long rows, int labeledRows)
    {
        var result = new List<(string, Parameters, bool, double?, bool)>();
        var pretrainedBefore = new HashSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<Parameters>();
        if (!Data.Value.Document.RootElement.GetProperty("portfolios").TryGetProperty(kind.ToString(), out JsonElement list)) return result;
        IEnumerable<JsonElement> entries = list.EnumerateArray().ToArray();
        int? fewest = entries.Where(e => e.TryGetProperty("minLabeledRows", out _)).Select(e => (int?)e.GetProperty("minLabeledRows").GetInt32()).Min();
        // Below every entry's label minimum the order learned without those entries applies (its places and gains);
        // otherwise, on data at least as large as an order learned on the larger benchmark datasets alone, that order.
        string? variant = fewest is int minimum && labeledRows < minimum ? "belowMinLabeledRows"
            : entries.Any(e => e.TryGetProperty("fromRows", out JsonElement large) && rows >= large.GetProperty("rows").GetInt64()) ? "fromRows" : null;
        if (variant is not null)
            entries = entries.Where(e => e.TryGetProperty(variant, out _))
                .OrderBy(e => e.GetProperty(variant).GetProperty("place").GetInt32())
                .Concat(entries.Where(e => !e.TryGetProperty(variant, out _)));
        foreach (JsonElement entry in entries)
        {
            // Whether the learning run's cost of this entry left its pretraining out (an earlier entry, run here or not, had it).
            Parameters learnedAs = Configure(space, entry.GetProperty("settings"));
            bool pretrains = learnedAs.ContainsKey(SslSearchSpace.PretrainingOption) && learnedAs.TryGetValue(SslSearchSpace.FeaturesOption, out object? source)
                && source is nameof(SslFeatureSource.SelfSupervised) or nameof(SslFeatureSource.RawAndSelfSupervised);
            bool cachedEncoder = pretrains && !pretrainedBefore.Add(learnedAs.ComputeSubsetHash(SslSearchSpace.PretrainingOption));
            if (entry.TryGetProperty("maxLabeledRows", out JsonElement maxLabeled) && labeledRows > maxLabeled.GetInt32()) continue;
            if (entry.TryGetProperty("minLabeledRows", out JsonElement minLabeled) && labeledRows < minLabeled.GetInt32()) continue;
            if (entry.TryGetProperty("maxRows", out JsonElement maxRows) && rows > maxRows.GetInt64()) continue;
            Parameters configuration = learnedAs;
            if (!space.Contains(configuration) || SslSearchSpace.EffectiveConfiguration(configuration) is not { } reduced || !seen.Add(reduced)) continue;
            JsonElement learned = variant is not null && entry.TryGetProperty(variant, out JsonElement placed) ? placed : entry;
            bool gainful = !learned.TryGetProperty("learnedGain", out JsonElement gain) || gain.GetDouble() > 0;
            double? seconds = learned.TryGetProperty("learnedSeconds", out JsonElement learnedSeconds) ? learnedSeconds.GetDouble() : null;
            result.Add((entry.GetProperty("name").GetString()!, configuration, gainful, seconds, cachedEncoder));
        }
        return result;
    }

    /// <summary>The space's default configuration with an entry's settings (an object of dotted option paths and values)
    /// applied; a setting whose option the space lacks is ignored.</summary>
    public static Parameters Configure(SearchSpace space, JsonElement settings)
    {
        Parameters configuration = space.Default;
        foreach (JsonProperty setting in settings.EnumerateObject())
            configuration = Apply(configuration, setting.Name, Value(setting.Value));
        return configuration;
    }

    /// <summary>The embedded data file's text.</summary>
    public static string Json => Data.Value.Json;

    /// <summary>A short hash of the data file, so a checkpoint written with another portfolio is refused.</summary>
    public static string Version => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Data.Value.Json)))[..8];

    /// <summary>Sets a (dotted) option when the configuration has it; an option the space lacks is left alone.</summary>
    private static Parameters Apply(Parameters configuration, string path, object value)
    {
        string[] parts = path.Split('.');
        if (parts.Length == 1) return configuration.ContainsKey(path) ? configuration.With(path, value) : configuration;
        if (!configuration.TryGetValue(parts[0], out object? nested) || nested is not Parameters inner || !inner.ContainsKey(parts[1]))
            return configuration;
        return configuration.With(parts[0], inner.With(parts[1], value));
    }

    private static object Value(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number => value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new InvalidOperationException($"The portfolio holds a setting of kind {value.ValueKind}; use text, numbers or booleans."),
    };
}
