using System.Reflection;
using System.Xml.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Cli.CodeGen;
using MlNetSsl.Cli.Data;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// The generated console app and Web API for each task: the files, C# that compiles without a warning, ModelInput
/// matching the model's columns, and Predict giving what a PredictionEngine over the same model gives.
/// </summary>
public sealed class CodeGenTests : IDisposable
{
    private static readonly PackageVersions Versions = new("9.8.7-test", "0.107.0", "[5.0.1, 5.1)");
    private readonly string _runFolder = Path.Combine(Path.GetTempPath(), "mlnetssl-codegen-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_runFolder)) Directory.Delete(_runFolder, recursive: true);
    }

    private static ModelInputSchema ImageSchema() => new(
        "image-classification",
        [new InputColumn("ImagePath", "ImagePath", InputColumnKind.ImagePath, null)],
        ["cat", "dog"],
        0,
        new Dictionary<string, string> { ["ImagePath"] = "../data/cat/cat 01.jpg" },
        "cat");

    private static ModelInputSchema TableSchema() => new(
        "classification",
        [
            new InputColumn("sepal_length", "SepalLength", InputColumnKind.Number, 0),
            new InputColumn("colour", "Colour", InputColumnKind.Text, 1),
            // Names the generator must repair: invalid, a duplicate, and the enclosing type's name.
            new InputColumn("Col2", "2nd value", InputColumnKind.Number, 2),
            new InputColumn("Col3", "SepalLength", InputColumnKind.Number, 3),
            new InputColumn("ModelInput", "ModelInput", InputColumnKind.Text, 5),
        ],
        ["setosa", "versicolor", "say \"hi\""],
        0,
        new Dictionary<string, string>
        {
            ["sepal_length"] = "5.1",
            ["colour"] = "dark \"red\"\\ \n",
            ["Col2"] = "",
            ["Col3"] = "-1.5e-7",
            ["ModelInput"] = "x",
        },
        "setosa",
        "species",
        new TextFileFormat(';', true, ','),
        ["sample_no", "Row_id"]);

    private static ModelInputSchema SeriesSchema() => new(
        "series-classification",
        [new InputColumn("Series", "Series", InputColumnKind.Series, null)],
        ["walking", "running"],
        2,
        new Dictionary<string, string> { ["Series"] = string.Join(",", Enumerable.Range(0, 25).Select(i => (i * 0.25 - 3).ToString(System.Globalization.CultureInfo.InvariantCulture))) },
        null);

    public static TheoryData<string> Tasks => new() { "image", "table", "series" };

    private static ModelInputSchema SchemaFor(string task) => task switch
    {
        "image" => ImageSchema(),
        "table" => TableSchema(),
        "series" => SeriesSchema(),
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    [SkippableTheory]
    [MemberData(nameof(Tasks))]
    public void Writes_both_projects_with_the_packages_and_the_model(string task)
    {
        ConsumptionCodeGenerator.Generate(_runFolder, "Iris", SchemaFor(task), Versions);

        foreach (string project in new[] { "ConsoleApp", "WebApi" })
        {
            string folder = Path.Combine(_runFolder, $"Iris.{project}");
            Assert.True(File.Exists(Path.Combine(folder, "Iris.consumption.cs")), $"{project}: no Iris.consumption.cs");
            Assert.True(File.Exists(Path.Combine(folder, "Program.cs")), $"{project}: no Program.cs");
            var csproj = XDocument.Load(Path.Combine(folder, $"Iris.{project}.csproj"));
            var references = csproj.Descendants("PackageReference").ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!);
            Assert.Equal("9.8.7-test", references["MlNetSsl"]);
            Assert.Equal("0.107.0", references["TorchSharp-cpu"]);
            Assert.Contains(csproj.Descendants("None"), e => (string?)e.Attribute("Include") == "../Iris.zip" && (string?)e.Attribute("CopyToOutputDirectory") == "PreserveNewest");
            Assert.Equal("enable", csproj.Descendants("Nullable").Single().Value);
        }
        Assert.Equal("Microsoft.NET.Sdk.Web", (string?)XDocument.Load(Path.Combine(_runFolder, "Iris.WebApi", "Iris.WebApi.csproj")).Root!.Attribute("Sdk"));
        // The framework's request logging at Warning, as ASP.NET Core's template sets it (six Information lines per request otherwise).
        using (var settings = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_runFolder, "Iris.WebApi", "appsettings.json"))))
            Assert.Equal("Warning", settings.RootElement.GetProperty("Logging").GetProperty("LogLevel").GetProperty("Microsoft.AspNetCore").GetString());
        // Only the two projects: the staging folder is gone.
        Assert.Equal(new[] { "Iris.ConsoleApp", "Iris.WebApi" }, Directory.GetDirectories(_runFolder).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal).ToArray());
    }

    [SkippableTheory]
    [MemberData(nameof(Tasks))]
    public void Generated_csharp_compiles_without_warnings(string task)
    {
        ConsumptionCodeGenerator.Generate(_runFolder, "Iris", SchemaFor(task), Versions);
        string console = Path.Combine(_runFolder, "Iris.ConsoleApp");
        string web = Path.Combine(_runFolder, "Iris.WebApi");
        var consoleFiles = new[] { Path.Combine(console, "Iris.consumption.cs"), Path.Combine(console, "Program.cs") };
        var webFiles = new[] { Path.Combine(web, "Iris.consumption.cs"), Path.Combine(web, "Program.cs") };

        Assert.Empty(CodeGenCompiler.SyntaxErrors([.. consoleFiles, .. webFiles]));
        var (consoleDiagnostics, image) = CodeGenCompiler.Compile(consoleFiles, web: false);
        Assert.True(consoleDiagnostics.Count == 0, string.Join("\n", consoleDiagnostics));
        Assert.NotNull(image);

        Skip.If(CodeGenCompiler.AspNetCoreFolder is null, "The ASP.NET Core shared framework is not installed; the Web API was only parsed.");
        var (webDiagnostics, _) = CodeGenCompiler.Compile(webFiles, web: true);
        Assert.True(webDiagnostics.Count == 0, string.Join("\n", webDiagnostics));
    }

    [SkippableTheory]
    [InlineData("IrisModel", "IrisModel", "IrisModel_ConsoleApp")]
    [InlineData("my-model", "MyModel", "MyModel_ConsoleApp")]
    [InlineData("Model", "Model", "Model_ConsoleApp")]
    [InlineData("SslModel", "SslModel", "SslModel_ConsoleApp")] // --name's default
    [InlineData("iris", "IrisModel", "Iris.ConsoleApp")]
    [InlineData("Path", "PathModel", "Path_ConsoleApp")] // a type the generated code names unqualified
    [InlineData("TextLoader", "TextLoaderModel", "TextLoader_ConsoleApp")]
    public void A_name_that_ends_in_Model_gives_projects_that_compile(string name, string className, string consoleNamespace)
    {
        // The class used to share the namespace's first segment (IrisModel.ConsoleApp), so Program.cs's
        // IrisModel.ModelInput bound to the namespace: CS0234 in both projects.
        ConsumptionCodeGenerator.Generate(_runFolder, name, TableSchema(), Versions);
        string console = Path.Combine(_runFolder, $"{name}.ConsoleApp");
        string web = Path.Combine(_runFolder, $"{name}.WebApi");
        string consumption = File.ReadAllText(Path.Combine(console, $"{name}.consumption.cs"));
        Assert.Contains($"namespace {consoleNamespace};", consumption, StringComparison.Ordinal);
        Assert.Matches($@"public static partial class {className}\r?\n", consumption);
        Assert.Equal(consoleNamespace, XDocument.Load(Path.Combine(console, $"{name}.ConsoleApp.csproj")).Descendants("RootNamespace").Single().Value);

        var (consoleDiagnostics, image) = CodeGenCompiler.Compile([Path.Combine(console, $"{name}.consumption.cs"), Path.Combine(console, "Program.cs")], web: false);
        Assert.True(consoleDiagnostics.Count == 0, string.Join("\n", consoleDiagnostics));
        Assert.NotNull(CodeGenCompiler.Load(image!).GetType($"{consoleNamespace}.{className}"));

        Skip.If(CodeGenCompiler.AspNetCoreFolder is null, "The ASP.NET Core shared framework is not installed; the Web API was not compiled.");
        var (webDiagnostics, _) = CodeGenCompiler.Compile([Path.Combine(web, $"{name}.consumption.cs"), Path.Combine(web, "Program.cs")], web: true);
        Assert.True(webDiagnostics.Count == 0, string.Join("\n", webDiagnostics));
    }

    [SkippableFact]
    public void LoadRows_reads_a_file_as_the_training_run_read_it()
    {
        // ';' between fields, a decimal comma, quoted fields that hold the separator, spaces and a quote, missing markers:
        // with ML.NET's defaults (no quoting, '.' only, 0 for an empty cell) most of these rows would read wrong, silently.
        Directory.CreateDirectory(_runFolder);
        string csv = Path.Combine(_runFolder, "regions.csv");
        var lines = new List<string> { "area;region;variety;note" };
        for (int i = 0; i < 24; i++)
        {
            string area = i switch { 3 => "", 4 => "NA", 5 => "?", _ => $"{10 + i},{i % 10}5" };
            string region = i switch { 0 => "\"West; coast\"", 1 => "\" spaced \"", 2 => "NA", 6 => "", 7 => "\"say \"\"hi\"\"\"", _ => i % 2 == 0 ? "North" : "South " };
            lines.Add($"{area};{region};{(i % 3 == 0 ? "Kama" : "Rosa")};n{i % 4}");
        }
        File.WriteAllLines(csv, lines);
        TrainingData cli = TableLoader.LoadForTraining(csv, new CsvSettings(null, null, "variety", []));
        Assert.Equal(new TextFileFormat(';', true, ','), cli.Format);
        var schema = new ModelInputSchema("classification", cli.Columns, ["Kama", "Rosa"], 0, cli.RowValues(0), "Kama", "variety", cli.Format);

        Type modelClass = CompileConsole("Regions", schema).GetType("Regions.ConsoleApp.RegionsModel", throwOnError: true)!;
        var ml = new MLContext(seed: 1);
        var rows = (IDataView)modelClass.GetMethod("LoadRows")!.Invoke(null, [ml, csv])!;

        AssertSameColumns(cli, rows);
        // What the run read, so the comparison above covers the hard cells.
        Assert.Equal(["West; coast", "spaced", "", "South", "North", "South", "", "say \"hi\""], cli.View.GetColumn<ReadOnlyMemory<char>>("region").Take(8).Select(v => v.ToString()));
        Assert.Equal(10.05f, cli.View.GetColumn<float>("area").First());
        Assert.All(cli.View.GetColumn<float>("area").Skip(3).Take(3), v => Assert.True(float.IsNaN(v)));
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void LoadRows_skips_Excels_sep_line_and_reads_with_the_separator_it_names_as_the_training_run_did(bool header)
    {
        // Abalone rows as a German Excel writes them with "sep=;" first: ';' between fields, a decimal comma. The run takes
        // that line as the separator's name, not a row; ML.NET's loader would read it as the header (or a row of NaN) and
        // the header as a row.
        Directory.CreateDirectory(_runFolder);
        string csv = Path.Combine(_runFolder, "abalone.csv");
        var lines = new List<string> { "sep=;" };
        if (header) lines.Add("Sex;Length;Diameter;Height;Whole weight;Shucked weight;Viscera weight;Shell weight;Rings");
        lines.AddRange(File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "abalone.csv")).Where(l => l.Length > 0).Take(30)
            .Select(l => l.Replace(',', ';').Replace('.', ',')));
        File.WriteAllLines(csv, lines);
        TrainingData cli = TableLoader.LoadForTraining(csv, new CsvSettings(null, null, header ? "Rings" : "8", []));
        Assert.Equal(new TextFileFormat(';', header, ','), cli.Format);
        var schema = new ModelInputSchema("classification", cli.Columns, ["7", "9", "10", "15"], 0, cli.RowValues(0), "15", header ? "Rings" : "Col8", cli.Format);

        Type modelClass = CompileConsole("Abalone", schema).GetType("Abalone.ConsoleApp.AbaloneModel", throwOnError: true)!;
        var rows = (IDataView)modelClass.GetMethod("LoadRows")!.Invoke(null, [new MLContext(seed: 1), csv])!;

        Assert.Equal(30, cli.View.GetColumn<float>(cli.Columns[1].ColumnName).Count());
        AssertSameColumns(cli, rows);
        Assert.Equal(0.455f, cli.View.GetColumn<float>(cli.Columns[1].ColumnName).First());
    }

    // Every input column as the run read it (numbers bit for bit, text cells as written).
    private static void AssertSameColumns(TrainingData cli, IDataView rows)
    {
        foreach (InputColumn column in cli.Columns)
        {
            if (column.Kind == InputColumnKind.Number)
                Assert.Equal(cli.View.GetColumn<float>(column.ColumnName).ToArray(), rows.GetColumn<float>(column.ColumnName).ToArray());
            else
                Assert.Equal(cli.View.GetColumn<ReadOnlyMemory<char>>(column.ColumnName).Select(v => v.ToString()).ToArray(),
                    rows.GetColumn<ReadOnlyMemory<char>>(column.ColumnName).Select(v => v.ToString()).ToArray());
        }
    }

    [SkippableFact]
    public void LoadRows_reads_columns_aligned_with_runs_of_blanks_as_the_training_run_read_them()
    {
        // The UCI layout (auto-mpg: aligned numbers, '?' for a missing one, a tab, then a quoted name holding spaces): ML.NET's
        // loader reads each blank as a separator, so without the rewrite every aligned column read as empty.
        Directory.CreateDirectory(_runFolder);
        string data = Path.Combine(_runFolder, "auto.data");
        var lines = new List<string>();
        for (int i = 0; i < 24; i++)
        {
            string horsepower = i == 3 ? "?" : $"{90 + i * 3}.0";
            lines.Add($"{18 + i % 7,4}.0{4 + 2 * (i % 3),4}{300 - (i % 5) * 20,9}.0{horsepower,11}  {(i % 2 == 0 ? "usa" : "japan"),-6}\t\"car {i % 4} \"\"de luxe\"\"\"  {(i % 3 == 0 ? "5'10\"" : "6'0\"")}");
        }
        File.WriteAllLines(data, lines);
        TrainingData cli = TableLoader.LoadForTraining(data, new CsvSettings(null, null, "4", []));
        Assert.Equal(new TextFileFormat(CsvTable.Blanks, false, '.'), cli.Format);
        Assert.Equal(6, cli.Columns.Count);
        var schema = new ModelInputSchema("classification", cli.Columns, ["japan", "usa"], 0, cli.RowValues(0), "usa", "Col4", cli.Format);

        Type modelClass = CompileConsole("Auto", schema).GetType("Auto.ConsoleApp.AutoModel", throwOnError: true)!;
        var rows = (IDataView)modelClass.GetMethod("LoadRows")!.Invoke(null, [new MLContext(seed: 1), data])!;
        AssertSameColumns(cli, rows);
        Assert.Equal([18f, 19f, 20f], cli.View.GetColumn<float>("Col0").Take(3));
        Assert.True(float.IsNaN(cli.View.GetColumn<float>("Col3").ElementAt(3)));
        // A doubled quote inside a quoted field, and a quote inside an unquoted one (5'10"), read as written.
        Assert.Equal("car 0 \"de luxe\"", cli.View.GetColumn<ReadOnlyMemory<char>>("Col5").First().ToString());
        Assert.Equal("5'10\"", cli.View.GetColumn<ReadOnlyMemory<char>>("Col6").First().ToString());
    }

    [SkippableTheory]
    [InlineData("image", "'Ssl_Image'", "'ImagePath'")]
    [InlineData("series", "'Ssl_Series'", "'Series'")]
    public void The_Web_API_names_the_field_the_caller_sent_in_a_refused_rows_message(string task, string modelColumn, string field)
    {
        // The model's errors name its own input column ("Column 'Ssl_Image' of the row to predict has no image"), which
        // the caller never sent.
        ConsumptionCodeGenerator.Generate(_runFolder, "Iris", SchemaFor(task), Versions);
        string program = File.ReadAllText(Path.Combine(_runFolder, "Iris.WebApi", "Program.cs"));
        Assert.Contains($"e.Message.Replace(\"{modelColumn}\", \"{field}\", StringComparison.Ordinal)", program, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void The_Web_API_takes_a_whole_record_and_numbers_only_as_JSON_numbers()
    {
        ConsumptionCodeGenerator.Generate(_runFolder, "Iris", TableSchema(), Versions);
        string program = File.ReadAllText(Path.Combine(_runFolder, "Iris.WebApi", "Program.cs"));
        // A record copied from the file holds the label and the columns the run ignored (--ignore-cols, identifiers): they
        // are accepted and ignored; any other field is still refused, as every name not in this set is.
        string fields = program.Split('\n').Single(line => line.StartsWith("var fields = ", StringComparison.Ordinal));
        Assert.EndsWith("StringComparer.OrdinalIgnoreCase) { \"species\", \"sample_no\", \"Row_id\" };", fields.TrimEnd('\r'));
        Assert.Contains("Where(n => !fields.Contains(n))", program, StringComparison.Ordinal);

        // The number handling the program sets, not added to the web defaults (which read "14.92" as a number).
        Assert.Contains("NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)", program, StringComparison.Ordinal);
        Assert.DoesNotContain("NumberHandling |=", program, StringComparison.Ordinal);
        Type input = CompileConsole("Iris", TableSchema()).GetType("Iris.ConsoleApp.IrisModel+ModelInput", throwOnError: true)!;
        var options = new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web)
        {
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        };
        var quoted = Assert.Throws<System.Text.Json.JsonException>(() => System.Text.Json.JsonSerializer.Deserialize("{\"sepalLength\":\"14.92\"}", input, options));
        var nullNumber = Assert.Throws<System.Text.Json.JsonException>(() => System.Text.Json.JsonSerializer.Deserialize("{\"sepalLength\":null}", input, options));
        // Both read as "could not be converted to System.Single", which the 400 follows with how a number and a missing one go.
        Assert.All(new[] { quoted, nullNumber }, e => Assert.Contains("System.Single", e.Message, StringComparison.Ordinal));
        Assert.Contains("e.Message.Contains(\"System.Single\", StringComparison.Ordinal)", program, StringComparison.Ordinal);
        Assert.Contains("for a missing one send \\\"NaN\\\" or leave the field out", program, StringComparison.Ordinal);
        object missing = System.Text.Json.JsonSerializer.Deserialize("{\"sepalLength\":\"NaN\",\"sepalLength2\":1.5}", input, options)!;
        Assert.True(float.IsNaN((float)input.GetProperty("SepalLength")!.GetValue(missing)!));
        Assert.Equal(1.5f, (float)input.GetProperty("SepalLength2")!.GetValue(missing)!);
    }

    [SkippableFact]
    public void The_Web_API_refuses_an_infinite_number_naming_its_field()
    {
        // JSON reads 1e40 and "Infinity" as an infinite float: the model answered 200 with NaN scores and an arbitrary
        // label, where training and predict refuse such a cell.
        ConsumptionCodeGenerator.Generate(_runFolder, "Iris", TableSchema(), Versions);
        string program = File.ReadAllText(Path.Combine(_runFolder, "Iris.WebApi", "Program.cs"));
        foreach (string number in new[] { "SepalLength", "_2ndValue", "SepalLength2" })
            Assert.Contains($"(\"{number}\", input.{number}),", program, StringComparison.Ordinal);
        Assert.DoesNotContain("input.Colour)", program, StringComparison.Ordinal);
        Assert.DoesNotContain("input.ModelInput2)", program, StringComparison.Ordinal);
        Assert.Contains(".Where(f => float.IsInfinity(f.Value))", program, StringComparison.Ordinal);
        Assert.Contains("statusCode: StatusCodes.Status400BadRequest", program.Split("infinite.Count > 0")[1], StringComparison.Ordinal);

        // A series model refuses an infinite value itself, naming its place; an image model has no numbers.
        foreach (string task in new[] { "series", "image" })
        {
            ConsumptionCodeGenerator.Generate(_runFolder, "Other", SchemaFor(task), Versions);
            Assert.DoesNotContain("IsInfinity", File.ReadAllText(Path.Combine(_runFolder, "Other.WebApi", "Program.cs")), StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public void ModelInput_has_one_property_per_model_column_with_its_name_type_and_source_column()
    {
        var schema = TableSchema();
        Type input = CompileConsole("Iris", schema).GetType("Iris.ConsoleApp.IrisModel+ModelInput", throwOnError: true)!;

        var properties = input.GetProperties();
        Assert.Equal(schema.Columns.Count, properties.Length);
        Assert.Equal(properties.Length, properties.Select(p => p.Name).Distinct().Count());
        foreach (var column in schema.Columns)
        {
            var property = Assert.Single(properties, p => p.GetCustomAttribute<ColumnNameAttribute>()?.Name == column.ColumnName);
            Assert.Equal(column.Kind == InputColumnKind.Number ? typeof(float) : typeof(string), property.PropertyType);
            var loadColumn = Assert.Single(property.GetCustomAttributesData(), a => a.AttributeType == typeof(LoadColumnAttribute));
            Assert.Equal(column.SourceColumnIndex, (int)loadColumn.ConstructorArguments[0].Value!);
        }
        Assert.Equal(new[] { "Colour", "ModelInput2", "SepalLength", "SepalLength2", "_2ndValue" }, properties.Select(p => p.Name).Order(StringComparer.Ordinal).ToArray());
    }

    [SkippableFact]
    public void Series_input_is_a_variable_length_vector_and_the_example_keeps_every_value()
    {
        var schema = SeriesSchema();
        Type input = CompileConsole("Motions", schema).GetType("Motions.ConsoleApp.MotionsModel+ModelInput", throwOnError: true)!;
        var series = input.GetProperty("Series")!;
        Assert.Equal(typeof(float[]), series.PropertyType);
        Assert.NotNull(series.GetCustomAttribute<VectorTypeAttribute>());

        string program = File.ReadAllText(Path.Combine(_runFolder, "Motions.ConsoleApp", "Program.cs"));
        foreach (string value in schema.ExampleValues["Series"].Split(','))
            Assert.Contains(CSharpText.FloatLiteral(value) + ",", program);
        Assert.DoesNotContain("Actual label", program); // the schema gave none
    }

    [SkippableFact]
    public void Image_example_is_copied_from_the_run_folder_into_the_program_output()
    {
        ConsumptionCodeGenerator.Generate(_runFolder, "Pets", ImageSchema(), Versions);
        var csproj = XDocument.Load(Path.Combine(_runFolder, "Pets.ConsoleApp", "Pets.ConsoleApp.csproj"));
        var example = Assert.Single(csproj.Descendants("None"), e => ((string?)e.Attribute("Link"))?.StartsWith("ExampleData/", StringComparison.Ordinal) == true);
        Assert.Equal("../../data/cat/cat 01.jpg", (string?)example.Attribute("Include"));
        string program = File.ReadAllText(Path.Combine(_runFolder, "Pets.ConsoleApp", "Program.cs"));
        Assert.Contains("Path.Combine(AppContext.BaseDirectory, \"ExampleData\", \"cat 01.jpg\")", program);
        Assert.Contains("\"Actual label: \" + \"cat\"", program);
    }

    [SkippableFact]
    public void Image_example_is_copied_into_the_console_app_so_a_copy_of_the_folder_still_builds()
    {
        // A reference to the dataset's file (../../<dataset>/...) broke the build (MSB3030) of a copy of the run folder.
        string image = Path.Combine(_runFolder, "data", "cat", "cat 01.jpg");
        Directory.CreateDirectory(Path.GetDirectoryName(image)!);
        File.WriteAllBytes(image, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
        var schema = ImageSchema() with { ExampleValues = new Dictionary<string, string> { ["ImagePath"] = "data/cat/cat 01.jpg" } };

        ConsumptionCodeGenerator.Generate(_runFolder, "Pets", schema, Versions);

        string console = Path.Combine(_runFolder, "Pets.ConsoleApp");
        Assert.Equal(File.ReadAllBytes(image), File.ReadAllBytes(Path.Combine(console, "ExampleData", "cat 01.jpg")));
        var csproj = XDocument.Load(Path.Combine(console, "Pets.ConsoleApp.csproj"));
        var example = Assert.Single(csproj.Descendants("None"), e => (string?)e.Attribute("Update") == "ExampleData/cat 01.jpg");
        Assert.Equal("PreserveNewest", (string?)example.Attribute("CopyToOutputDirectory"));
        // Nothing outside the project but the model beside it.
        Assert.Equal(new[] { "../Pets.zip" }, csproj.Descendants("None").Select(e => (string?)e.Attribute("Include")).OfType<string>().ToArray());
        Assert.Contains("Path.Combine(AppContext.BaseDirectory, \"ExampleData\", \"cat 01.jpg\")", File.ReadAllText(Path.Combine(console, "Program.cs")));
    }

    [SkippableFact]
    public void Predict_gives_what_a_prediction_engine_over_the_same_model_gives()
    {
        // A small model that honours the contract: numbers and a text in, PredictedLabel and Score out, no label needed.
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 60).Select(i => new TrainingRow
        {
            SepalLength = i % 3 + (i % 7) * 0.1f,
            Colour = (i % 3) switch { 0 => "red", 1 => "green", _ => "blue" },
            Label = (i % 3) switch { 0 => "setosa", 1 => "versicolor", _ => "virginica" },
        }).ToList();
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        var model = ml.Transforms.Categorical.OneHotEncoding("ColourEncoded", "colour")
            .Append(ml.Transforms.Concatenate("Features", "sepal_length", "ColourEncoded"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy())
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(keyed);
        var schema = new ModelInputSchema(
            "classification",
            [new InputColumn("sepal_length", "SepalLength", InputColumnKind.Number, 0), new InputColumn("colour", "Colour", InputColumnKind.Text, 1)],
            ["setosa", "versicolor", "virginica"],
            0,
            new Dictionary<string, string> { ["sepal_length"] = "1.2", ["colour"] = "green" },
            "versicolor");
        // The generated code reads the model from its own base directory, which for this in-memory assembly is the tests'.
        string name = "CodeGenPredict" + Guid.NewGuid().ToString("N");
        string zip = Path.Combine(AppContext.BaseDirectory, name + ".zip");
        ml.Model.Save(model, keyed.Schema, zip);
        try
        {
            var generated = CompileConsole(name, schema);
            Type modelClass = generated.GetType($"{name}.ConsoleApp.{name}Model", throwOnError: true)!;
            Type inputType = modelClass.GetNestedType("ModelInput")!;
            var predict = modelClass.GetMethod("Predict")!;
            var expectedEngine = ml.Model.CreatePredictionEngine<TrainingRow, ExpectedOutput>(model);
            foreach (var row in rows.Take(6))
            {
                object input = Activator.CreateInstance(inputType)!;
                inputType.GetProperty("SepalLength")!.SetValue(input, row.SepalLength);
                inputType.GetProperty("Colour")!.SetValue(input, row.Colour);
                object output = predict.Invoke(null, [input])!;
                var expected = expectedEngine.Predict(row);
                Assert.Equal(expected.PredictedLabel, (string)output.GetType().GetProperty("PredictedLabel")!.GetValue(output)!);
                Assert.Equal(expected.Score, (float[])output.GetType().GetProperty("Score")!.GetValue(output)!);
            }
        }
        finally
        {
            File.Delete(zip);
        }
    }

    /// <summary>The generated image Web API's ImageProblem check, compiled; skips when ASP.NET Core is not installed.</summary>
    private Func<string, string?> CompiledImageProblem(out string web)
    {
        Skip.If(CodeGenCompiler.AspNetCoreFolder is null, "The ASP.NET Core shared framework is not installed; the Web API was not compiled.");
        ConsumptionCodeGenerator.Generate(_runFolder, "Pets", ImageSchema(), Versions);
        web = Path.Combine(_runFolder, "Pets.WebApi");
        var (diagnostics, image) = CodeGenCompiler.Compile([Path.Combine(web, "Pets.consumption.cs"), Path.Combine(web, "Program.cs")], web: true);
        Assert.True(image is not null, string.Join("\n", diagnostics));
        MethodInfo problem = CodeGenCompiler.LoadWeb(image!).GetType("Program", throwOnError: true)!
            .GetMethods(BindingFlags.Static | BindingFlags.NonPublic).Single(m => m.Name.Contains("ImageProblem", StringComparison.Ordinal));
        return path => (string?)problem.Invoke(null, [path]);
    }

    [SkippableFact]
    public void The_image_Web_API_refuses_an_image_over_100_megapixels_and_a_file_that_is_no_image_from_their_headers()
    {
        // The model decodes an image whole before resizing it: a 219 KB PNG of 15000 x 15000 pixels took 24 s and 2 GB of
        // the server, and /dev/zero 19 s. The API reads the header first, as the training run does.
        Func<string, string?> imageProblem = CompiledImageProblem(out string web);

        string huge = Path.Combine(_runFolder, "huge.png"), text = Path.Combine(_runFolder, "notes.jpg");
        File.WriteAllBytes(huge, CliScaleAndOddInputTests.PngHeaderOnly(15000, 15000));
        File.WriteAllText(text, "not an image");
        string photo = Directory.GetFiles(Path.Combine(SharedData.RepoRoot, "samples", "Quickstart", "data", "cifar10-small", "train", "cat")).First();

        Assert.StartsWith("15000x15000 pixels, more than the 100 megapixels", imageProblem(huge));
        Assert.StartsWith("not an image file", imageProblem(text));
        Assert.Null(imageProblem(photo));
        Assert.Null(imageProblem(Path.Combine(_runFolder, "missing.jpg"))); // the model's own message names a missing file
        Assert.Contains("if (ImageProblem(input.ImagePath) is string imageProblem)", File.ReadAllText(Path.Combine(web, "Program.cs")), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void The_image_Web_API_refuses_a_truncated_image_as_mlnet_ssl_predict_does()
    {
        // A CIFAR-10 JPEG cut short (an interrupted upload) keeps its header; the decoder filled the rest with grey and the
        // MNIST model's Web API answered 200 with 0.89 for one class, where `mlnet-ssl predict` refuses the file.
        Func<string, string?> imageProblem = CompiledImageProblem(out _);

        string photo = Directory.GetFiles(Path.Combine(SharedData.DataRoot, "cifar10", "test", "ship")).Order(StringComparer.Ordinal).First();
        byte[] whole = File.ReadAllBytes(photo);
        string cut = Path.Combine(_runFolder, "cut.jpg"), cutPng = Path.Combine(_runFolder, "cut.png"), png = Path.Combine(_runFolder, "whole.png");
        File.WriteAllBytes(cut, whole[..(whole.Length * 3 / 4)]);
        using (var bitmap = SkiaSharp.SKBitmap.Decode(photo))
        using (var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100))
            File.WriteAllBytes(png, data.ToArray());
        byte[] wholePng = File.ReadAllBytes(png);
        File.WriteAllBytes(cutPng, wholePng[..(wholePng.Length / 2)]);

        Assert.Null(imageProblem(photo));
        Assert.Null(imageProblem(png));
        Assert.StartsWith("a truncated image (the file ends before its last pixels)", imageProblem(cut));
        Assert.NotNull(imageProblem(cutPng));

        // A progressive JPEG (as web photos often are) cut short fails to decode as invalid input, not incomplete input:
        // it was "an image the decoder cannot read (InvalidInput)".
        byte[] progressive = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "cat-progressive.jpg"));
        string cutProgressive = Path.Combine(_runFolder, "cut-progressive.jpg");
        File.WriteAllBytes(cutProgressive, progressive[..(progressive.Length / 2)]);
        Assert.StartsWith("a truncated image (the file ends before its last pixels)", imageProblem(cutProgressive));
    }

    [SkippableFact]
    public void An_image_Web_API_of_two_image_fields_checks_each_and_compiles()
    {
        // Each check declares its own pattern variable: two of one name in the handler's block were CS0128.
        Skip.If(CodeGenCompiler.AspNetCoreFolder is null, "The ASP.NET Core shared framework is not installed; the Web API was not compiled.");
        var schema = new ModelInputSchema(
            "image-classification",
            [new InputColumn("Front", "Front", InputColumnKind.ImagePath, null), new InputColumn("Back", "Back", InputColumnKind.ImagePath, null)],
            ["cat", "dog"],
            0,
            new Dictionary<string, string> { ["Front"] = "../data/cat/1.jpg", ["Back"] = "../data/cat/2.jpg" },
            "cat");
        ConsumptionCodeGenerator.Generate(_runFolder, "Two", schema, Versions);
        string web = Path.Combine(_runFolder, "Two.WebApi");
        var (diagnostics, image) = CodeGenCompiler.Compile([Path.Combine(web, "Two.consumption.cs"), Path.Combine(web, "Program.cs")], web: true);
        Assert.True(image is not null, string.Join("\n", diagnostics));
        string program = File.ReadAllText(Path.Combine(web, "Program.cs"));
        Assert.Contains("ImageProblem(input.Front) is string imageProblem)", program, StringComparison.Ordinal);
        Assert.Contains("ImageProblem(input.Back) is string imageProblem2)", program, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void The_Web_APIs_engines_share_the_model_so_an_engine_the_pool_drops_leaves_it_usable()
    {
        // The pool disposes an engine it does not keep (more requests at once than it retains). An engine that owned the
        // model (ML.NET's default) would then dispose the shared one, freeing an SSL stage's encoder: every later request
        // failed with ObjectDisposedException (500).
        Skip.If(CodeGenCompiler.AspNetCoreFolder is null, "The ASP.NET Core shared framework is not installed; the Web API was not compiled.");
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 40).Select(i => new TrainingRow
        {
            SepalLength = i % 2 + (i % 7) * 0.1f,
            Colour = "red",
            Label = i % 2 == 0 ? "setosa" : "versicolor",
        }).ToList();
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        var model = ml.Transforms.Concatenate("Features", "sepal_length")
            .Append(ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => o.Epochs = 0))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(featureColumnName: "Embedding"))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(keyed);
        var schema = new ModelInputSchema(
            "classification",
            [new InputColumn("sepal_length", "SepalLength", InputColumnKind.Number, 0)],
            ["setosa", "versicolor"],
            0,
            new Dictionary<string, string> { ["sepal_length"] = "1.2" },
            "versicolor");
        string name = "CodeGenPool" + Guid.NewGuid().ToString("N");
        string zip = Path.Combine(AppContext.BaseDirectory, name + ".zip");
        ml.Model.Save(model, keyed.Schema, zip);
        try
        {
            ConsumptionCodeGenerator.Generate(_runFolder, name, schema, Versions);
            string web = Path.Combine(_runFolder, name + ".WebApi");
            var (diagnostics, image) = CodeGenCompiler.Compile([Path.Combine(web, name + ".consumption.cs"), Path.Combine(web, "Program.cs")], web: true);
            Assert.True(image is not null, string.Join("\n", diagnostics));
            var generated = CodeGenCompiler.LoadWeb(image!);
            Type inputType = generated.GetType($"{name}.WebApi.{name}Model+ModelInput", throwOnError: true)!;
            object policy = Activator.CreateInstance(generated.GetType("PredictionEnginePolicy", throwOnError: true)!)!;
            var create = policy.GetType().GetMethod("Create")!;
            object kept = create.Invoke(policy, null)!;
            object dropped = create.Invoke(policy, null)!;
            object Input(float value)
            {
                object row = Activator.CreateInstance(inputType)!;
                inputType.GetProperty("SepalLength")!.SetValue(row, value);
                return row;
            }
            var predict = kept.GetType().GetMethod("Predict", [inputType])!;
            float[] Scores(object engine, float value)
            {
                object output = predict.Invoke(engine, [Input(value)])!;
                return (float[])output.GetType().GetProperty("Score")!.GetValue(output)!;
            }
            _ = Scores(kept, 1.2f);
            float[] expected = Scores(dropped, 0.3f);

            ((IDisposable)dropped).Dispose();

            // A row the kept engine has not just predicted: the same row again was answered even over a disposed model.
            Assert.Equal(expected, Scores(kept, 0.3f));
        }
        finally
        {
            File.Delete(zip);
        }
    }

    [SkippableFact]
    public void A_second_run_replaces_the_projects_whole()
    {
        ConsumptionCodeGenerator.Generate(_runFolder, "Iris", TableSchema(), Versions);
        string leftover = Path.Combine(_runFolder, "Iris.ConsoleApp", "leftover.txt");
        File.WriteAllText(leftover, "from the previous run");
        ConsumptionCodeGenerator.Generate(_runFolder, "Iris", ImageSchema(), Versions);

        Assert.False(File.Exists(leftover));
        Assert.Contains("ImagePath", File.ReadAllText(Path.Combine(_runFolder, "Iris.ConsoleApp", "Iris.consumption.cs")));
        Assert.Equal(2, Directory.GetDirectories(_runFolder).Length);
    }

    [SkippableFact]
    public void Bad_names_and_schemas_are_refused_before_anything_is_written()
    {
        Assert.Throws<ArgumentException>(() => ConsumptionCodeGenerator.Generate(_runFolder, "a/b", TableSchema(), Versions));
        Assert.Throws<ArgumentException>(() => ConsumptionCodeGenerator.Generate(_runFolder, "..", TableSchema(), Versions));
        var noExample = TableSchema() with { ExampleValues = new Dictionary<string, string> { ["sepal_length"] = "1" } };
        var error = Assert.Throws<ArgumentException>(() => ConsumptionCodeGenerator.Generate(_runFolder, "Iris", noExample, Versions));
        Assert.Contains("'colour'", error.Message);
        Assert.False(Directory.Exists(_runFolder) && Directory.EnumerateFileSystemEntries(_runFolder).Any());
    }

    [SkippableFact]
    public void The_tool_references_the_MlNetSsl_version_it_was_built_with()
    {
        var versions = PackageVersions.OfThisTool();
        string library = typeof(SslEnvironment).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];
        Assert.Equal(library, versions.MlNetSsl);
        Assert.Equal(typeof(TorchSharp.torch).Assembly.GetName().Version!.ToString(3), versions.TorchSharpCpu);
        Assert.False(string.IsNullOrWhiteSpace(versions.MicrosoftMLLightGbm));
    }

    [SkippableFact]
    public void A_tool_run_from_its_source_tree_references_that_trees_library_by_a_relative_path()
    {
        // <repo>/src/MlNetSsl.Cli/bin/Release/net10.0 is a source build (dotnet run --project src/MlNetSsl.Cli); a tool
        // installed from the package (a .store folder), or a bin folder of another project, is not.
        string repo = Path.Combine(_runFolder, "some repo");
        string toolFolder = Path.Combine(repo, "src", "MlNetSsl.Cli", "bin", "Release", "net10.0");
        Directory.CreateDirectory(toolFolder);
        Directory.CreateDirectory(Path.Combine(repo, "src", "MlNetSsl"));
        string library = Path.Combine(repo, "src", "MlNetSsl", "MlNetSsl.csproj");
        File.WriteAllText(library, "<Project />");
        Assert.Null(PackageVersions.SourceTreeLibrary(toolFolder)); // no MlNetSsl.Cli.csproj beside bin: not the tool's tree
        File.WriteAllText(Path.Combine(repo, "src", "MlNetSsl.Cli", "MlNetSsl.Cli.csproj"), "<Project />");
        Assert.Equal(library, PackageVersions.SourceTreeLibrary(toolFolder));
        Assert.Null(PackageVersions.SourceTreeLibrary(Path.Combine(repo, "tests", "MlNetSsl.Tests", "bin", "Release", "net10.0")));
        Assert.Null(PackageVersions.SourceTreeLibrary(Path.Combine(_runFolder, "tools", ".store", "mlnetssl.cli", "0.1.0")));
        Assert.Equal(library, PackageVersions.OfThisTool(toolFolder).LibraryProject);

        // A run folder inside the tree, as the README's "-o runs" makes: each project is one folder below it.
        string runFolder = Path.Combine(repo, "runs", "Iris");
        ConsumptionCodeGenerator.Generate(runFolder, "Iris", TableSchema(), Versions with { LibraryProject = library });

        foreach (string project in new[] { "Iris.ConsoleApp/Iris.ConsoleApp.csproj", "Iris.WebApi/Iris.WebApi.csproj" })
        {
            var xml = XDocument.Load(Path.Combine(runFolder, project));
            Assert.Equal("../../../src/MlNetSsl/MlNetSsl.csproj", Assert.Single(xml.Descendants("ProjectReference")).Attribute("Include")!.Value);
            Assert.DoesNotContain(xml.Descendants("PackageReference"), r => r.Attribute("Include")!.Value == "MlNetSsl");
            Assert.Contains(xml.Descendants("PackageReference"), r => r.Attribute("Include")!.Value == "TorchSharp-cpu");
            var import = Assert.Single(xml.Descendants("Import"));
            Assert.Equal("../../../src/MlNetSsl/buildTransitive/MlNetSsl.targets", import.Attribute("Project")!.Value);
            Assert.DoesNotContain(Path.GetFullPath(_runFolder), File.ReadAllText(Path.Combine(runFolder, project)));
        }
    }

    [SkippableTheory]
    [InlineData("sepal length", "SepalLength")]
    [InlineData("sepal_length", "SepalLength")]
    [InlineData("3rd", "_3rd")]
    [InlineData("--", "Column")]
    [InlineData("Größe", "Größe")]
    public void Identifiers_are_made_of_the_letters_and_digits_of_a_name(string raw, string expected) =>
        Assert.Equal(expected, CSharpText.ToIdentifier(raw, "Column"));

    [SkippableTheory]
    [InlineData("5.1", 5.1f)]
    [InlineData("-1.5e-7", -1.5e-7f)]
    [InlineData("3.4028235E+38", float.MaxValue)]
    [InlineData("1e-45", float.Epsilon)]
    public void Float_literals_read_back_to_the_same_value(string text, float expected)
    {
        string literal = CSharpText.FloatLiteral(text);
        Assert.EndsWith("f", literal);
        Assert.Equal(expected, float.Parse(literal.TrimEnd('f'), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("float.NaN", CSharpText.FloatLiteral(""));
        Assert.Throws<FormatException>(() => CSharpText.FloatLiteral("red"));
    }

    private Assembly CompileConsole(string name, ModelInputSchema schema)
    {
        ConsumptionCodeGenerator.Generate(_runFolder, name, schema, Versions);
        string folder = Path.Combine(_runFolder, name + ".ConsoleApp");
        var (diagnostics, image) = CodeGenCompiler.Compile([Path.Combine(folder, name + ".consumption.cs"), Path.Combine(folder, "Program.cs")], web: false);
        Assert.True(image is not null, string.Join("\n", diagnostics));
        return CodeGenCompiler.Load(image!);
    }

    public sealed class TrainingRow
    {
        [ColumnName("sepal_length")]
        public float SepalLength { get; set; }

        [ColumnName("colour")]
        public string Colour { get; set; } = "";

        public string Label { get; set; } = "";
    }

    public sealed class ExpectedOutput
    {
        public string PredictedLabel { get; set; } = "";

        public float[] Score { get; set; } = [];
    }
}
