using System.Text.Json;
using System.Text.Json.Serialization;

namespace MlNetSsl.Cli.Run;

/// <summary>Every resolved setting of a training run, as run.json records it (paths relative to run.json's folder), so
/// <c>mlnet-ssl train --config run.json</c> replays it.</summary>
internal sealed record RunSettings
{
    public required string Task { get; init; }
    public required string Dataset { get; init; }
    public string? TestDataset { get; init; }
    public string? ValidationDataset { get; init; }

    /// <summary>The data paths the run reads, each with the option that gave it (null where not given); not part of run.json.</summary>
    [JsonIgnore]
    public (string Option, string? Path)[] DataPaths =>
        [("--dataset", Dataset), ("--test-dataset", TestDataset), ("--validation-dataset", ValidationDataset)];
    public string? LabelColumn { get; init; }
    public bool? HasHeader { get; init; }
    public string? Separator { get; init; }

    /// <summary>Tables: "," when the training file's numbers have a decimal comma (detected), so files to score are read alike.</summary>
    public string? DecimalMarker { get; init; }
    public IReadOnlyList<string> IgnoreColumns { get; init; } = [];

    /// <summary>Tables: columns kept as inputs although they look like row identifiers (--keep-cols).</summary>
    public IReadOnlyList<string> KeepColumns { get; init; } = [];

    /// <summary>Tables: the training file's columns in order (as the model names them), so predict, evaluate and embed match
    /// a file without that header by position. A replay records them again from its own data.</summary>
    public IReadOnlyList<string>? TableColumns { get; init; }

    /// <summary>Tables: each numeric input column's smallest and largest value in the training file, so predict and
    /// evaluate can say when a file's values lie far outside what the model saw (another unit, shifted columns).</summary>
    public IReadOnlyDictionary<string, double[]>? NumericRanges { get; init; }

    /// <summary>Series: the shortest and longest training series, in steps per channel, so predict and evaluate can say
    /// when a file's series are outside that range (a test export cut one step short is stretched to the model's length
    /// and scored, with nothing else to show for it).</summary>
    public int[]? SeriesLengthRange { get; init; }

    /// <summary>Tables: the label column's index among <see cref="TableColumns"/>.</summary>
    public int? TableLabelIndex { get; init; }
    public string UnlabeledFolder { get; init; } = "unlabeled";
    public bool Strict { get; init; }
    public int Channels { get; init; } = 1;
    public int? SeriesLength { get; init; }
    public required int TrainTimeSeconds { get; init; }
    public bool TrainTimeChosenFromData { get; init; }
    public int? MaxTrials { get; init; }

    /// <summary>--no-ensemble: the chosen pipeline alone, never an ensemble of raw-feature pipelines.</summary>
    public bool NoEnsemble { get; init; }
    public string Metric { get; init; } = "accuracy";
    public int Seed { get; init; }
    public string Device { get; init; } = "auto";
    public required string Name { get; init; }
    public required string Output { get; init; }
    public double HoldOutFraction { get; init; } = 0.2;
    public bool LabelCurve { get; init; }

    /// <summary>--storage: never written to run.json (it may hold a password); a replay (<c>train --config</c>, which takes no
    /// --storage) therefore runs its search alone.</summary>
    [JsonIgnore]
    public string? Storage { get; init; }

    /// <summary>--experiment-name (with --storage); null: the run's name.</summary>
    public string? ExperimentName { get; init; }

    /// <summary>The worker command: joins the shared search and writes no outputs.</summary>
    [JsonIgnore]
    public bool WorkerOnly { get; init; }

    // Recorded, not read back: what produced the run.
    public string? CommandLine { get; init; }
    public IReadOnlyDictionary<string, string> Versions { get; init; } = new Dictionary<string, string>();
    public DateTimeOffset? StartedAt { get; init; }
    public string? Scheduler { get; init; }

    /// <summary>Two classes: the positive class of AUC and F1 (the rarer training class), which evaluate reuses.</summary>
    public string? PositiveClass { get; init; }

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
