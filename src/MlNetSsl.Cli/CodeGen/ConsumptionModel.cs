namespace MlNetSsl.Cli.CodeGen;

/// <summary>A schema checked and turned into the names the generated code uses.</summary>
internal sealed class ConsumptionModel
{
    private ConsumptionModel(string name, string identifier, ModelInputSchema schema, IReadOnlyList<GeneratedProperty> properties)
    {
        Name = name;
        Identifier = identifier;
        Schema = schema;
        Properties = properties;
    }

    /// <summary>The run's name, as the model zip's and the project folders' file names use it.</summary>
    public string Name { get; }

    /// <summary>The name as a C# identifier, for namespaces.</summary>
    public string Identifier { get; }

    /// <summary>The class that holds ModelInput, ModelOutput and Predict ("IrisModel" for the name "iris" and for "IrisModel").</summary>
    public string ClassName => Identifier.EndsWith("Model", StringComparison.Ordinal) ? Identifier : Identifier + "Model";

    /// <summary>The namespace of a project's code ("Iris.ConsoleApp" for the project "ConsoleApp" of "iris").</summary>
    /// <remarks>A class named as the namespace's first segment ("IrisModel" in "IrisModel.ConsoleApp") would not build:
    /// in Program.cs, outside that namespace, <c>IrisModel.ModelInput</c> binds to the namespace. Such a name gets
    /// "IrisModel_ConsoleApp" instead, as Model Builder names its projects' namespaces, and keeps its class name.</remarks>
    public string Namespace(string project) => ClassName == Identifier || ReferencedNames.Contains(Identifier) ? $"{Identifier}_{project}" : $"{Identifier}.{project}";

    // Names the generated code uses unqualified: inside a namespace "Path.ConsoleApp", Path.Combine would bind to that
    // namespace's parent, so a run named like one of them gets the "_" namespace too.
    private static readonly HashSet<string> ReferencedNames = new(StringComparer.Ordinal)
    {
        "System", "Microsoft", "MlNetSsl", "TorchSharp", "Path", "File", "Console", "Environment", "Math", "Task", "String", "Array",
        "List", "Dictionary", "HashSet", "KeyValuePair", "Enumerable", "StringComparer", "StringComparison", "CultureInfo",
        "MLContext", "ITransformer", "IDataView", "TextLoader", "PredictionEngine", "PredictionEnginePolicy", "ObjectPool",
        "DefaultObjectPoolProvider", "IOptions", "JsonOptions", "JsonNumberHandling", "JsonSerializer", "HttpRequest", "Results",
        "StatusCodes", "WebApplication", "ModelInput", "ModelOutput",
    };

    /// <summary>How a file laid out like the training file is read (tables whose every input has a file column), for the
    /// generated <c>LoadRows</c>; null when there is none.</summary>
    public TextFileFormat? FileLoaderFormat => Schema.FileFormat is { } format && Properties.All(p => p.Column.SourceColumnIndex is not null) ? format : null;

    /// <summary>The schema it was made from.</summary>
    public ModelInputSchema Schema { get; }

    /// <summary>ModelInput's properties, one per model input column, in the schema's order.</summary>
    public IReadOnlyList<GeneratedProperty> Properties { get; }

    /// <summary>Checks <paramref name="name"/> and <paramref name="schema"/> and names the properties.</summary>
    /// <exception cref="ArgumentException">What is wrong, naming the column or the name.</exception>
    public static ConsumptionModel Create(string name, ModelInputSchema schema)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name is "." or ".." || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains('/') || name.Contains('\\') || name.Any(char.IsControl))
            throw new ArgumentException($"The name '{name}' cannot be a file name; use letters, digits, '-' or '_'.", nameof(name));
        if (schema.Columns.Count == 0)
            throw new ArgumentException("The model has no input columns.", nameof(schema));
        if (schema.ClassNames.Count == 0)
            throw new ArgumentException("The model has no class names.", nameof(schema));
        var duplicate = schema.Columns.GroupBy(c => c.ColumnName, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"The input column '{duplicate.Key}' appears twice.", nameof(schema));
        var missing = schema.Columns.Where(c => !schema.ExampleValues.ContainsKey(c.ColumnName)).Select(c => c.ColumnName).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"The example row has no value for the input column(s) {string.Join(", ", missing.Select(m => $"'{m}'"))}.", nameof(schema));

        string identifier = CSharpText.ToIdentifier(name, "Model").TrimStart('@');
        // ModelInput may not have a member named after itself.
        var propertyNames = CSharpText.UniquePropertyNames(schema.Columns.Select(c => c.PropertyName), ["ModelInput"]);
        var properties = schema.Columns.Select((c, i) => new GeneratedProperty(c, propertyNames[i])).ToList();
        return new ConsumptionModel(name, identifier, schema, properties);
    }
}

/// <summary>One ModelInput property and the model input column it feeds.</summary>
/// <param name="Column">The column.</param>
/// <param name="Name">The property's C# name (the schema's PropertyName unless that was not a valid, unique identifier).</param>
internal sealed record GeneratedProperty(InputColumn Column, string Name);
