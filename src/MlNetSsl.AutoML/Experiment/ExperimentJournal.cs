using System.Text.Json;
using System.Text.Json.Serialization;

namespace MlNetSsl.AutoML;

/// <summary>What a journal event records.</summary>
internal enum JournalEventType
{
    /// <summary>A trial started with the tuner's configuration.</summary>
    Started,

    /// <summary>A segment of a trial reported a metric at a fidelity.</summary>
    Result,

    /// <summary>A segment of a trial failed.</summary>
    Failed,

    /// <summary>The experiment stopped starting new trials (trial limit reached or tuner exhausted).</summary>
    NoMoreTrials,

    /// <summary>Shared store only: a promoted trial's next segment was queued for any worker.</summary>
    Continued,

    /// <summary>Shared store only: a segment's worker stopped renewing its lease (presumed dead), so the segment went back
    /// to the queue; a late result from that worker is discarded.</summary>
    Requeued,

    /// <summary>Shared store only: the tuner had nothing new to propose.</summary>
    TunerExhausted,

    /// <summary>The trial runner declined to start a segment (<see cref="TrialNotStartedException"/>).</summary>
    NotStarted,

    /// <summary>The trial runner stopped a segment at its own time limit (<see cref="TrialTimedOutException"/>).</summary>
    TimedOut,
}

/// <summary>One journal entry. Times are milliseconds; <see cref="ElapsedMs"/> is the experiment clock when it was written.</summary>
internal sealed record JournalEvent(
    JournalEventType Type,
    int TrialId,
    Parameters? Parameters,
    int? Fidelity,
    double? Metric,
    string? Message,
    double DurationMs,
    double ElapsedMs)
{
    /// <summary>
    /// <see cref="DurationMs"/> back as the <see cref="TimeSpan"/> it was written from: rounded to whole ticks, because
    /// <see cref="TimeSpan.FromMilliseconds(double)"/> truncates and 0.6688 ms read back as 6,687 ticks, so a resumed
    /// session's durations differed from the first session's by a tick.
    /// </summary>
    [JsonIgnore]
    public TimeSpan Duration => FromMilliseconds(DurationMs);

    /// <summary>Milliseconds written from a <see cref="TimeSpan"/>, back to its whole ticks.</summary>
    public static TimeSpan FromMilliseconds(double milliseconds) => TimeSpan.FromTicks((long)Math.Round(milliseconds * TimeSpan.TicksPerMillisecond));
}

/// <summary>What makes two runs the same experiment; a checkpoint written by another one is refused.</summary>
internal sealed record ExperimentFingerprint(string SearchSpace, string Tuner, string Scheduler, int Seed, bool Maximize, string Runner)
{
    /// <summary>The fields that differ from <paramref name="other"/> (the checkpoint's), for the refusal message.</summary>
    public IEnumerable<string> Differences(ExperimentFingerprint other)
    {
        if (SearchSpace != other.SearchSpace) yield return "search space";
        if (Tuner != other.Tuner) yield return $"tuner: checkpoint {other.Tuner}, now {Tuner}";
        if (Scheduler != other.Scheduler) yield return $"scheduler: checkpoint {other.Scheduler}, now {Scheduler}";
        if (Seed != other.Seed) yield return $"seed: checkpoint {other.Seed}, now {Seed}";
        if (Maximize != other.Maximize) yield return "metric direction";
        if (Runner != other.Runner)
            foreach (string difference in RunnerDifferences(other.Runner, Runner))
                yield return difference;
    }

    /// <summary>The settings that differ between two runner descriptions of the form <c>Name(key=value,...)</c>, each
    /// as "key: checkpoint a, now b": the whole descriptions run to hundreds of characters, and the user must see the
    /// one option (a metric, say) to change. Descriptions of another form are named whole.</summary>
    internal static IEnumerable<string> RunnerDifferences(string checkpoint, string now)
    {
        Dictionary<string, string>? Parts(string description)
        {
            int open = description.IndexOf('(');
            if (open < 0 || !description.EndsWith(')')) return null;
            var parts = new Dictionary<string, string>(StringComparer.Ordinal) { ["runner"] = description[..open] };
            int depth = 0, start = open + 1, position = 0;
            for (int i = open + 1; i < description.Length - 1; i++)
            {
                char c = description[i];
                if (c is '(' or '{' or '[') depth++;
                else if (c is ')' or '}' or ']') depth--;
                bool end = i == description.Length - 2;
                if (c == ',' && depth == 0 || end)
                {
                    string part = description[start..(end && c != ',' ? i + 1 : i)].Trim();
                    int equals = part.IndexOf('=');
                    // A part without a key (an objective's name) is keyed by its place; keys such as "fine-tune folds" hold '-'.
                    string key = equals > 0 && part[..equals].All(k => char.IsLetterOrDigit(k) || k is ' ' or '-' or '_') ? part[..equals] : $"#{position}";
                    parts[key] = equals > 0 && !key.StartsWith('#') ? part[(equals + 1)..] : part;
                    start = i + 1;
                    position++;
                }
            }
            return parts;
        }
        Dictionary<string, string>? before = Parts(checkpoint), after = Parts(now);
        if (before is null || after is null)
        {
            yield return $"trial runner: checkpoint {checkpoint}, now {now}";
            yield break;
        }
        foreach (string key in before.Keys.Union(after.Keys))
        {
            string was = before.GetValueOrDefault(key, "(none)"), current = after.GetValueOrDefault(key, "(none)");
            if (was != current) yield return key.StartsWith('#') ? $"trial runner: checkpoint {was}, now {current}" : $"{key}: checkpoint {was}, now {current}";
        }
    }
}

/// <summary>
/// The append-only record of an experiment: which trials started with which configuration, and every segment's
/// result or failure, in order. With a checkpoint folder the whole journal is rewritten after every event through
/// <see cref="AtomicFile"/> (a uniquely named temporary file moved over <c>journal.json</c>), so a crash leaves either the
/// previous or the new journal, never half of one; it is one JSON document, never appended to in place.
/// A resumed experiment replays it to rebuild the tuner and scheduler exactly.
/// </summary>
internal sealed class ExperimentJournal
{
    public const string FileName = "journal.json";
    private const int FormatVersion = 1;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        WriteIndented = true,
    };

    private readonly string? _path;
    private readonly List<JournalEvent> _events;

    private ExperimentJournal(string? path, ExperimentFingerprint fingerprint, List<JournalEvent> events)
    {
        _path = path;
        Fingerprint = fingerprint;
        _events = events;
    }

    public ExperimentFingerprint Fingerprint { get; }

    public IReadOnlyList<JournalEvent> Events => _events;

    /// <summary>The experiment clock at the last event (where a resumed experiment's clock continues).</summary>
    public TimeSpan LastElapsed => _events.Count > 0 ? JournalEvent.FromMilliseconds(_events[^1].ElapsedMs) : TimeSpan.Zero;

    /// <summary>A journal kept only in memory (no checkpoint folder).</summary>
    public static ExperimentJournal InMemory(ExperimentFingerprint fingerprint) => new(null, fingerprint, new List<JournalEvent>());

    /// <summary>Opens the journal in <paramref name="folder"/>, or starts one.</summary>
    /// <exception cref="InvalidOperationException">The folder holds another experiment's journal.</exception>
    /// <exception cref="InvalidDataException">The journal is damaged or from a newer version.</exception>
    public static ExperimentJournal OpenOrCreate(string folder, ExperimentFingerprint fingerprint)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, FileName);
        // A session killed mid-write leaves its temporary file; a resume that journals nothing new would keep it forever.
        AtomicFile.RemoveStaleTemporaries(path, AtomicFile.StaleAfter);
        if (!File.Exists(path))
        {
            var journal = new ExperimentJournal(path, fingerprint, new List<JournalEvent>());
            journal.Write();
            return journal;
        }

        InvalidDataException Newer(int version) => new($"{path} was written by a newer MlNetSsl.AutoML (journal format {version}; this " +
            $"version reads up to {FormatVersion}). Resume it with that version, or use another checkpoint folder.");
        JournalFile file;
        string text = File.ReadAllText(path);
        try
        {
            file = JsonSerializer.Deserialize<JournalFile>(text, JsonOptions)
                ?? throw new InvalidDataException($"{path} is empty.");
        }
        catch (JsonException e)
        {
            // A newer format's events (a new event type, say) do not deserialize here: such a journal is newer, not damaged.
            if (NewerFormat(text) is int newer) throw Newer(newer);
            throw new InvalidDataException($"The experiment journal {path} is damaged ({e.Message}). Delete the checkpoint folder to start over.", e);
        }
        if (file.Version > FormatVersion) throw Newer(file.Version);
        if (file.Fingerprint is null || file.Events is null)
            throw new InvalidDataException($"The experiment journal {path} is incomplete. Delete the checkpoint folder to start over.");
        var differences = fingerprint.Differences(file.Fingerprint).ToList();
        if (differences.Count > 0)
            throw new InvalidOperationException(
                $"The checkpoint folder {folder} belongs to a different experiment (differs in: {string.Join("; ", differences)}). " +
                "Use another folder, or the same settings to resume.");
        return new ExperimentJournal(path, fingerprint, file.Events);
    }

    /// <summary>Appends an event and, with a checkpoint folder, persists the journal atomically.</summary>
    public void Append(JournalEvent journalEvent)
    {
        _events.Add(journalEvent);
        if (_path is not null) Write();
    }

    /// <summary>One event as a line of JSON (the shared store's log entries).</summary>
    internal static string Serialize(JournalEvent journalEvent) => JsonSerializer.Serialize(journalEvent, LineOptions);

    /// <summary>Reads an event written by <see cref="Serialize"/>.</summary>
    internal static JournalEvent? Deserialize(string json) => JsonSerializer.Deserialize<JournalEvent>(json, LineOptions);

    private static readonly JsonSerializerOptions LineOptions = new(JsonOptions) { WriteIndented = false };

    private void Write()
    {
        AtomicFile.WriteAllBytes(_path!, JsonSerializer.SerializeToUtf8Bytes(new JournalFile(FormatVersion, Fingerprint, _events), JsonOptions));
    }

    /// <summary>The journal's format version when it is above <see cref="FormatVersion"/>; null otherwise (or when the text is
    /// not JSON).</summary>
    private static int? NewerFormat(string text)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("version", out JsonElement version)
                && version.TryGetInt32(out int value) && value > FormatVersion ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private sealed record JournalFile(int Version, ExperimentFingerprint Fingerprint, List<JournalEvent> Events);
}
