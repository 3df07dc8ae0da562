using System.Reflection;

namespace MlNetSsl.Cli.CodeGen;

/// <summary>
/// Writes the code that consumes a run's model, as Model Builder does: <c>&lt;Name&gt;.ConsoleApp/</c> (the
/// <c>&lt;Name&gt;.consumption.cs</c> classes and a program that predicts one dataset row) and <c>&lt;Name&gt;.WebApi/</c>
/// (<c>POST /predict</c> over a pool of prediction engines). Both reference the MlNetSsl package (or, when the tool runs
/// from a source build, that tree's library project) and a TorchSharp backend with explicit versions and take the model
/// zip from the run folder into their output.
/// </summary>
internal static class ConsumptionCodeGenerator
{
    /// <summary>Writes <c>&lt;Name&gt;.ConsoleApp/</c> and <c>&lt;Name&gt;.WebApi/</c> into <paramref name="runFolder"/>, replacing earlier ones.</summary>
    /// <param name="runFolder">The run's folder, which holds (or will hold) <c>&lt;Name&gt;.zip</c>.</param>
    /// <param name="name">The run's name (--name): the model zip's and the projects' file names.</param>
    /// <param name="schema">What the model takes and gives, and the example row.</param>
    /// <exception cref="ArgumentException">The name is not a file name, or the schema lacks columns, classes or example values.</exception>
    public static void Generate(string runFolder, string name, ModelInputSchema schema) =>
        Generate(runFolder, name, schema, PackageVersions.OfThisTool());

    /// <inheritdoc cref="Generate(string, string, ModelInputSchema)"/>
    /// <param name="versions">The package versions the generated projects reference.</param>
    internal static void Generate(string runFolder, string name, ModelInputSchema schema, PackageVersions versions)
    {
        ArgumentException.ThrowIfNullOrEmpty(runFolder);
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(versions);
        var model = ConsumptionModel.Create(name, schema);

        string target = Path.GetFullPath(runFolder);
        Directory.CreateDirectory(target);
        // Both projects sit one folder below the run folder, so one relative path to a source tree's library serves both.
        if (versions.LibraryProject is { } library && Path.IsPathFullyQualified(library))
            versions = versions with { LibraryProject = CliFile.RelativePath(Path.Combine(target, name), library) };
        // Everything is written into a hidden sibling first and each project folder is then moved into place by one
        // rename, so a crash leaves either the previous projects or complete new ones, never half a project.
        string staging = Path.Combine(target, $".codegen-{Guid.NewGuid():N}.tmp");
        try
        {
            // The example image is copied into the console app, so the project keeps building when its folder is copied
            // elsewhere or the dataset moves (a reference to the dataset's file would not).
            var bundled = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (example, _, link) in ConsumptionTemplates.ExampleFiles(model))
            {
                string source = Path.GetFullPath(example, target);
                if (!File.Exists(source)) continue;
                string copy = Path.Combine(staging, $"{name}.ConsoleApp", link);
                Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
                File.Copy(source, copy);
                bundled.Add(example);
            }
            var projects = new (string Folder, IReadOnlyDictionary<string, string> Files)[]
            {
                ($"{name}.ConsoleApp", ConsumptionTemplates.ConsoleApp(model, versions, bundled)),
                ($"{name}.WebApi", ConsumptionTemplates.WebApi(model, versions)),
            };
            foreach (var (folder, files) in projects)
            {
                foreach (var (relativePath, text) in files)
                {
                    string path = Path.Combine(staging, folder, relativePath);
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    File.WriteAllText(path, text);
                }
            }
            foreach (var (folder, _) in projects) MoveIntoPlace(Path.Combine(staging, folder), Path.Combine(target, folder));
        }
        finally
        {
            TryDeleteFolder(staging);
        }
    }

    // The previous folder (a re-run, or --resume) is renamed away before the new one is renamed in, then removed.
    private static void MoveIntoPlace(string built, string destination)
    {
        string? previous = null;
        if (Directory.Exists(destination))
        {
            previous = $"{destination}.{Guid.NewGuid():N}.old";
            Directory.Move(destination, previous);
        }
        Directory.Move(built, destination);
        if (previous is not null) TryDeleteFolder(previous);
    }

    private static void TryDeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover hidden folder costs disk space only; the projects themselves are already in place.
        }
    }
}

/// <summary>The package versions a generated project references.</summary>
/// <param name="MlNetSsl">The MlNetSsl package: the version this tool was built from.</param>
/// <param name="TorchSharpCpu">The TorchSharp-cpu backend package.</param>
/// <param name="MicrosoftMLLightGbm">Microsoft.ML.LightGbm (the search may choose LightGBM as the downstream trainer, and loading its model needs it).</param>
/// <param name="LibraryProject">When the tool runs from a build of the MlNetSsl source tree: that tree's
/// <c>src/MlNetSsl/MlNetSsl.csproj</c>, which the projects reference instead of the MlNetSsl package (no feed a user of
/// a source build has holds that package); null for an installed tool.</param>
internal sealed record PackageVersions(string MlNetSsl, string TorchSharpCpu, string MicrosoftMLLightGbm, string? LibraryProject = null)
{
    /// <summary>The versions this tool was built with (assembly metadata written by its project file), and the library
    /// project when it runs from its source tree's build output.</summary>
    public static PackageVersions OfThisTool() => OfThisTool(AppContext.BaseDirectory);

    /// <summary><see cref="OfThisTool()"/> for a tool whose files are in <paramref name="toolFolder"/>.</summary>
    internal static PackageVersions OfThisTool(string toolFolder) => Packaged() with { LibraryProject = SourceTreeLibrary(toolFolder) };

    /// <summary>The library project of the source tree whose <c>src/MlNetSsl.Cli/bin/</c> holds <paramref name="toolFolder"/>, or null.</summary>
    internal static string? SourceTreeLibrary(string toolFolder)
    {
        for (var folder = new DirectoryInfo(Path.GetFullPath(toolFolder)); folder?.Parent?.Parent is { } parent; folder = folder.Parent)
        {
            // <repo>/src/MlNetSsl.Cli/bin/...: the tool's own project beside the library's.
            if (folder.Name != "bin" || folder.Parent.Name != "MlNetSsl.Cli" || parent.Name != "src") continue;
            string library = Path.Combine(parent.FullName, "MlNetSsl", "MlNetSsl.csproj");
            return File.Exists(library) && File.Exists(Path.Combine(folder.Parent.FullName, "MlNetSsl.Cli.csproj")) ? library : null;
        }
        return null;
    }

    private static PackageVersions Packaged()
    {
        var metadata = typeof(PackageVersions).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Where(a => a.Value is not null)
            .ToDictionary(a => a.Key, a => a.Value!, StringComparer.Ordinal);
        string Get(string key) => metadata.TryGetValue(key, out string? value) && value.Length > 0
            ? value
            : throw new InvalidOperationException($"mlnet-ssl was built without the assembly metadata '{key}' (see MlNetSsl.Cli.csproj).");
        return new PackageVersions(Get("MlNetSslPackageVersion"), Get("TorchSharpCpuPackageVersion"), Get("MicrosoftMLLightGbmPackageVersion"));
    }
}
