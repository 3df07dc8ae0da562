using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// Compiles generated C# in memory the way its project would (net10.0, nullable and implicit usings on), against the
/// assemblies this test process runs with (ML.NET, MlNetSsl) and, for the Web API, the ASP.NET Core shared framework.
/// Much faster than building the generated projects, which the CLI consumer check does. The C# examples in the docs are
/// compiled here too (DocExampleTests).
/// </summary>
internal static class CodeGenCompiler
{
    private static readonly string[] ConsoleUsings =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    private static readonly string[] WebUsings =
    [
        .. ConsoleUsings, "System.Net.Http.Json", "Microsoft.AspNetCore.Builder", "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Http", "Microsoft.AspNetCore.Routing", "Microsoft.Extensions.Configuration",
        "Microsoft.Extensions.DependencyInjection", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging",
    ];

    /// <summary>The ASP.NET Core shared framework beside the running .NET runtime, or null when it is not installed.</summary>
    public static string? AspNetCoreFolder
    {
        get
        {
            string runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
            string candidate = Path.Combine(runtime, "..", "..", "Microsoft.AspNetCore.App", Path.GetFileName(runtime));
            return Directory.Exists(candidate) ? Path.GetFullPath(candidate) : null;
        }
    }

    /// <summary>Parses each file; returns the syntax errors, each with its file and line.</summary>
    public static IReadOnlyList<string> SyntaxErrors(IEnumerable<string> files) =>
        files.SelectMany(file => CSharpSyntaxTree.ParseText(File.ReadAllText(file), Parse, file).GetDiagnostics())
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => d.ToString())
            .ToList();

    /// <summary>Compiles the files as a console or web application; returns the warnings and errors and, when none, the assembly image.</summary>
    public static (IReadOnlyList<string> Diagnostics, byte[]? Image) Compile(IEnumerable<string> files, bool web)
    {
        var trees = files.Select(file => CSharpSyntaxTree.ParseText(File.ReadAllText(file), Parse, file)).ToList();
        string globalUsings = string.Concat((web ? WebUsings : ConsoleUsings).Select(u => $"global using global::{u};\n"));
        trees.Add(CSharpSyntaxTree.ParseText(globalUsings, Parse, "GlobalUsings.g.cs"));

        var compilation = Create(trees, web, OutputKind.ConsoleApplication);
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        var diagnostics = result.Diagnostics
            .Where(d => d.Severity is DiagnosticSeverity.Warning or DiagnosticSeverity.Error)
            .Select(d => d.ToString())
            .ToList();
        return (diagnostics, result.Success && diagnostics.Count == 0 ? image.ToArray() : null);
    }

    /// <summary>Loads a compiled image into its own collectible context (its dependencies come from this process).</summary>
    public static Assembly Load(byte[] image) =>
        new AssemblyLoadContext("generated-code", isCollectible: true).LoadFromStream(new MemoryStream(image));

    /// <summary>Loads a compiled Web API image into its own collectible context, its ASP.NET Core dependencies (such as
    /// Microsoft.Extensions.ObjectPool) from the shared framework, the others from this process.</summary>
    public static Assembly LoadWeb(byte[] image)
    {
        string folder = AspNetCoreFolder ?? throw new InvalidOperationException("The ASP.NET Core shared framework is not installed.");
        var context = new AssemblyLoadContext("generated-web", isCollectible: true);
        context.Resolving += (loader, name) =>
            Path.Combine(folder, name.Name + ".dll") is var path && File.Exists(path) ? loader.LoadFromAssemblyPath(path) : null;
        return context.LoadFromStream(new MemoryStream(image));
    }

    /// <summary>The parse options of every compile here (the latest C#), for callers that parse their own trees.</summary>
    public static CSharpParseOptions Parse => new(LanguageVersion.Latest);

    /// <summary>Compiles already parsed trees (their global usings among them) as a console application or a library,
    /// against this process's assemblies, without emitting; returns every diagnostic, hidden ones included.</summary>
    public static IReadOnlyList<Diagnostic> Diagnose(IEnumerable<SyntaxTree> trees, OutputKind kind) =>
        Create(trees, web: false, kind).GetDiagnostics();

    private static CSharpCompilation Create(IEnumerable<SyntaxTree> trees, bool web, OutputKind kind) => CSharpCompilation.Create(
        "Generated" + Guid.NewGuid().ToString("N"),
        trees,
        web ? WebReferences.Value : ConsoleReferences.Value,
        new CSharpCompilationOptions(kind, nullableContextOptions: NullableContextOptions.Enable, warningLevel: 9999));

    // Reading a few hundred assemblies' metadata is most of a compile's time: once per process.
    private static readonly Lazy<List<MetadataReference>> ConsoleReferences = new(() => References(web: false));
    private static readonly Lazy<List<MetadataReference>> WebReferences = new(() => References(web: true));

    private static List<MetadataReference> References(bool web)
    {
        // This process's trusted assemblies (the runtime, ML.NET, MlNetSsl, TorchSharp...) by file name; the ASP.NET
        // Core framework's replace any same-named ones, as the web SDK's framework reference would.
        var byName = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .GroupBy(path => Path.GetFileName(path), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(group => group.Key, group => group.First(), StringComparer.OrdinalIgnoreCase);
        if (web)
        {
            string folder = AspNetCoreFolder ?? throw new InvalidOperationException("The ASP.NET Core shared framework is not installed.");
            foreach (string path in Directory.EnumerateFiles(folder, "*.dll")) byName[Path.GetFileName(path)] = path;
        }
        return byName.Values.Where(IsManaged).Select(path => (MetadataReference)MetadataReference.CreateFromFile(path)).ToList();
    }

    private static bool IsManaged(string path)
    {
        try
        {
            AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
