using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>One entry of an <see cref="AugmentationPolicy"/>: an augmentation applied to each row with a probability.</summary>
public sealed class AugmentationStep
{
    /// <summary>Creates a step.</summary>
    /// <param name="augmentation">The augmentation.</param>
    /// <param name="probability">Chance, per row, that the augmentation is applied (0 to 1).</param>
    public AugmentationStep(Augmentation augmentation, double probability = 1.0)
    {
        if (double.IsNaN(probability) || probability < 0 || probability > 1)
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "Probability must be in [0, 1].");
        Augmentation = augmentation ?? throw new ArgumentNullException(nameof(augmentation));
        Probability = probability;
    }

    /// <summary>The augmentation.</summary>
    public Augmentation Augmentation { get; }

    /// <summary>Chance, per row, that the augmentation is applied.</summary>
    public double Probability { get; }
}

/// <summary>
/// An ordered list of augmentations, each applied per row with its own probability, over a whole batch at once.
/// Policies are values: they serialize to and from JSON, are recorded in saved models, and are what AutoML searches.
/// </summary>
public sealed class AugmentationPolicy
{
    /// <summary>Creates a policy from its steps, applied in order.</summary>
    public AugmentationPolicy(IEnumerable<AugmentationStep> steps) => Steps = steps.ToArray();

    /// <summary>Creates a policy that applies each augmentation to every row.</summary>
    public AugmentationPolicy(params Augmentation[] augmentations) : this(augmentations.Select(a => new AugmentationStep(a))) { }

    /// <summary>The steps, in the order they are applied.</summary>
    public IReadOnlyList<AugmentationStep> Steps { get; }

    /// <summary>A policy that leaves batches unchanged.</summary>
    public static AugmentationPolicy None { get; } = new(Array.Empty<AugmentationStep>());

    /// <summary>Applies every step to <paramref name="batch"/>; rows skip a step with probability 1 - p.</summary>
    public Tensor Apply(Tensor batch, AugmentationContext context)
    {
        Tensor current = Run(batch, context, rows: null, batch.shape[0]);
        return ReferenceEquals(current, batch) ? batch.clone() : current;
    }

    /// <summary>
    /// The rows <paramref name="rows"/> of <see cref="Apply"/>'s output, augmenting only those rows: each gets the random
    /// draws it would get in the whole batch, so the result equals <c>Apply(batch, context).index_select(0, rows)</c>
    /// (a policy with an augmentation whose draws are not per row, <see cref="Augmentation.DrawsPerRow"/>, is applied to
    /// the whole batch and the rows selected). The generator's state afterwards differs from Apply's: reseed it before
    /// drawing again where runs must repeat.
    /// </summary>
    internal Tensor ApplyToRows(Tensor batch, Tensor rows, AugmentationContext context)
    {
        if (Steps.Any(s => s.Probability > 0 && !s.Augmentation.DrawsPerRow)) return Apply(batch, context).index_select(0, rows);
        if (rows.shape[0] == 0) return batch.index_select(0, rows);
        return Run(batch.index_select(0, rows), context.ForRows(rows, batch.shape[0]), rows, batch.shape[0]);
    }

    // The steps over the rows of a batch of batchRows rows (rows: their indices in it; null: all of them, in order).
    private Tensor Run(Tensor current, AugmentationContext context, Tensor? rows, long batchRows)
    {
        foreach (AugmentationStep step in Steps)
        {
            if (step.Probability <= 0) continue;
            if (step.Augmentation.InputKind != context.InputShape.Kind)
                throw new InvalidOperationException(
                    $"{step.Augmentation.GetType().Name} applies to {step.Augmentation.InputKind} inputs, but the data is {context.InputShape.Kind}.");
            Tensor augmented = step.Augmentation.Apply(current, context);
            if (step.Probability < 1)
            {
                // Drawn for the whole batch, so a selected row keeps or skips the step as it would there.
                Tensor draw = torch.rand(new[] { batchRows }, generator: context.Generator, device: current.device);
                Tensor keep = (rows is null ? draw : draw.index_select(0, rows)).lt(HeldScalars.Held(step.Probability));
                long[] maskShape = Enumerable.Repeat(1L, (int)current.dim()).ToArray();
                maskShape[0] = current.shape[0];
                augmented = torch.where(keep.view(maskShape), augmented, current);
            }
            current = augmented;
        }
        return current;
    }

    /// <summary>The policy as JSON: a list of <c>{ "probability": p, "augmentation": { "type": name, ... } }</c>.</summary>
    public string ToJson() => JsonSerializer.Serialize(
        Steps.Select(s => new StepDto { Probability = s.Probability, Augmentation = s.Augmentation }).ToArray(), JsonOptions);

    /// <summary>Reads a policy written by <see cref="ToJson"/>.</summary>
    /// <exception cref="FormatException">The JSON is not a valid policy; the message says what is wrong.</exception>
    public static AugmentationPolicy FromJson(string json)
    {
        try
        {
            StepDto[] steps = JsonSerializer.Deserialize<StepDto[]>(json, JsonOptions)
                ?? throw new FormatException("An augmentation policy's JSON must be an array of steps, not null.");
            return new AugmentationPolicy(steps.Select((s, i) => new AugmentationStep(
                s.Augmentation ?? throw new FormatException($"Step {i} of the augmentation policy has no 'augmentation'."),
                s.Probability)));
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            throw new FormatException($"Invalid augmentation policy JSON: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        Steps.Count == 0 ? "(no augmentation)" : string.Join(" -> ", Steps.Select(s => s.Probability < 1 ? $"{s.Augmentation} p={s.Probability:0.##}" : s.Augmentation.ToString()));

    private sealed class StepDto
    {
        public double Probability { get; set; } = 1.0;
        public Augmentation? Augmentation { get; set; }
    }

    /// <summary>
    /// Makes a custom <see cref="Augmentation"/> subclass readable by <see cref="FromJson"/> (the built-in ones are
    /// known already). Writing needs no registration.
    /// </summary>
    /// <typeparam name="T">The augmentation type; its JSON discriminator is its class name.</typeparam>
    public static void RegisterAugmentation<T>() where T : Augmentation, new() =>
        AugmentationJsonConverter.Register(typeof(T));

    /// <summary>JSON settings shared by policies and saved models.</summary>
    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(), new AugmentationJsonConverter() },
    };
}

/// <summary>
/// Writes an augmentation as <c>{ "type": ClassName, ...its properties }</c> and reads it back by class name: the
/// built-in augmentations of this assembly plus any registered with <see cref="AugmentationPolicy.RegisterAugmentation{T}"/>.
/// </summary>
internal sealed class AugmentationJsonConverter : JsonConverter<Augmentation>
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Type> Known = new(
        typeof(Augmentation).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(Augmentation)) && !t.IsAbstract && t.IsPublic)
            .ToDictionary(t => t.Name, t => t));

    public static void Register(Type type) => Known[type.Name] = type;

    public override bool CanConvert(Type typeToConvert) => typeToConvert == typeof(Augmentation);

    public override Augmentation Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(ref reader)?.AsObject()
            ?? throw new JsonException("An augmentation must be a JSON object.");
        string name = node["type"]?.GetValue<string>()
            ?? throw new JsonException("An augmentation object needs a \"type\" naming its class.");
        if (!Known.TryGetValue(name, out Type? type))
            throw new JsonException($"Unknown augmentation type '{name}'. Known: {string.Join(", ", Known.Keys.Order())}. " +
                "Register custom ones with AugmentationPolicy.RegisterAugmentation<T>().");
        node.Remove("type");
        return (Augmentation?)node.Deserialize(type, options) ?? throw new JsonException($"Augmentation '{name}' is null.");
    }

    public override void Write(Utf8JsonWriter writer, Augmentation value, JsonSerializerOptions options)
    {
        var node = JsonSerializer.SerializeToNode(value, value.GetType(), options)!.AsObject();
        writer.WriteStartObject();
        writer.WriteString("type", value.GetType().Name);
        foreach (var (key, child) in node)
        {
            writer.WritePropertyName(key);
            if (child is null) writer.WriteNullValue(); else child.WriteTo(writer, options);
        }
        writer.WriteEndObject();
    }
}
