using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using MlNetSsl.Tests.Cli;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Docs;

/// <summary>
/// Every C# block (```csharp, ```cs or ```c#) in README.md and the markdown under docs/ and samples/ compiles, without
/// a warning, against the public API this test process runs with, so an example cannot name a method, option or
/// property the library no longer has. Blocks are fragments; the wrapping rules are:
/// <list type="number">
/// <item>Every block gets the usings a user of the page would write (<see cref="Usings"/>: the implicit usings of a
/// console project, ML.NET, MlNetSsl, and the TorchSharp ones the extension files in tests/MlNetSsl.Tests/Extending use).</item>
/// <item>A block with statements is a Program.cs of top-level statements (types it declares come after them).</item>
/// <item>It may use the placeholders of <see cref="Placeholders"/> for "your data" and for what the page's earlier steps
/// made without declaring them; a name the block declares itself hides the placeholder.</item>
/// <item>A block that only declares types is a file of its own, compiled with each block of its page, since the
/// page's later blocks use its types.</item>
/// <item>A block that cannot compile on purpose (a signature, say) is marked on the line before its fence with
/// <c>&lt;!-- not compiled: why --&gt;</c>; it is reported skipped, by name, with the reason.</item>
/// </list>
/// Errors and warnings are reported at the markdown file and line (the blocks are compiled under <c>#line</c> directives).
/// </summary>
public sealed class DocExampleTests
{
    private static readonly string[] Usings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks",
        "Microsoft.ML", "Microsoft.ML.Data", "MlNetSsl", "MlNetSsl.AutoML",
        "TorchSharp", "TorchSharp.Modules", "static TorchSharp.torch", "static MlNetSsl.HeldScalars",
        // extending.md shows this tuner's use but points to its file (in this test project) rather than quoting it.
        "LocalSearchTuner = MlNetSsl.Tests.Extending.LocalSearchTuner",
    ];

    // Static members brought in by `using static`, so a block's own declaration of the same name simply hides one.
    private const string Placeholders = """
        /// <summary>What the doc examples take as given: the ML.NET context, "your data", and objects an earlier step of
        /// the same page made. Only compiled, never run.</summary>
        public static class DocPlaceholders
        {
            public static readonly MLContext ml = new(seed: 1);
            public static readonly CancellationToken cancellationToken = default;

            // Your data: rows of an image, tabular or series dataset, a folder of images, a secret for a connection string.
            public static readonly IDataView data = null!, allRows = null!, rows = null!, train = null!;
            public static readonly string imageFolder = "", secret = "";
            public static readonly string[] paths = [];

            // The engine's tensors (pretraining.md, fine-tuning.md): image rows, their labels (-1 = unlabeled), test rows.
            public static readonly Tensor images = null!, testRows = null!;
            public static readonly int[] labels = [];
            public static readonly SslTensorDataset unlabeledImages = null!;

            // What earlier steps made: a fitted stage and fine-tuned classifier, a pretrained encoder and its method,
            // a finished AutoML search.
            public static readonly SelfSupervisedTransformer stage = null!;
            public static readonly SelfSupervisedFineTuneTransformer fineTuned = null!;
            public static readonly SslEncoder encoder = null!;
            public static readonly ISslMethod method = null!;
            public static readonly SslExperimentResult result = null!;

            // Your trial function for the generic search engine (automl.md).
            public static Task<double> TrainAndScoreAsync(TrialRequest request, CancellationToken token) => Task.FromResult(0.0);
        }

        """;

    private static readonly Regex Fence = new(@"^\s*```\s*(csharp|cs|c#)\s*$", RegexOptions.IgnoreCase);
    private static readonly Regex FenceEnd = new(@"^\s*```\s*$");
    private static readonly Regex NotCompiled = new(@"^\s*<!--\s*not compiled:\s*(?<why>.+?)\s*-->\s*$", RegexOptions.IgnoreCase);

    /// <summary>One C# block: its markdown file (relative to the repository root, '/'-separated), the line of its
    /// opening fence, its text, and the reason it is not compiled where the page marks it so.</summary>
    private sealed record DocBlock(string File, int FenceLine, string Code, string? NotCompiledBecause)
    {
        public string Name => $"{File}:{FenceLine}";
        public bool DeclaresTypesOnly => !Parse().GetCompilationUnitRoot().Members.OfType<GlobalStatementSyntax>().Any();

        // #line maps the compiler's positions back to the markdown: the block's first line is the one after the fence.
        public SyntaxTree Parse() =>
            CSharpSyntaxTree.ParseText($"#line {FenceLine + 1} \"{File}\"\n{Code}", CodeGenCompiler.Parse, File);
    }

    private static string? DocsMissing()
    {
        try
        {
            string root = SharedData.RepoRoot;
            return File.Exists(Path.Combine(root, "README.md")) && Directory.Exists(Path.Combine(root, "docs"))
                ? null
                : $"README.md or docs/ is not in the repository root {root}.";
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }

    private static readonly Lazy<IReadOnlyList<DocBlock>> AllBlocks = new(() => DocsMissing() is null ? ReadBlocks() : []);

    private static IReadOnlyList<DocBlock> ReadBlocks()
    {
        string root = SharedData.RepoRoot;
        IEnumerable<string> pages = new[] { "docs", "samples" }
            .Select(folder => Path.Combine(root, folder))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*.md", SearchOption.AllDirectories))
            .Where(path => !path.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Prepend(Path.Combine(root, "README.md"))
            .Order(StringComparer.Ordinal);
        var blocks = new List<DocBlock>();
        foreach (string page in pages)
        {
            string name = Path.GetRelativePath(root, page).Replace(Path.DirectorySeparatorChar, '/');
            string[] lines = File.ReadAllLines(page);
            for (int i = 0; i < lines.Length; i++)
            {
                if (!Fence.IsMatch(lines[i])) continue;
                int end = Array.FindIndex(lines, i + 1, line => FenceEnd.IsMatch(line));
                if (end < 0) throw new InvalidDataException($"{name}:{i + 1}: the C# block is never closed (no ``` line after it).");
                Match mark = i > 0 ? NotCompiled.Match(lines[i - 1]) : Match.Empty;
                blocks.Add(new DocBlock(name, i + 1, string.Join('\n', lines[(i + 1)..end]), mark.Success ? mark.Groups["why"].Value : null));
                i = end;
            }
        }
        return blocks;
    }

    /// <summary>One case per C# block, named by file and line; a single case that reports the docs missing where they are.</summary>
    public static TheoryData<string> Blocks
    {
        get
        {
            var data = new TheoryData<string>();
            if (DocsMissing() is not null) data.Add("(docs not found)");
            foreach (DocBlock block in AllBlocks.Value) data.Add(block.Name);
            return data;
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Blocks))]
    public void Compiles(string block)
    {
        string? missing = DocsMissing();
        Skip.If(missing is not null, missing);
        DocBlock example = AllBlocks.Value.Single(b => b.Name == block);
        Skip.If(example.NotCompiledBecause is not null, $"{block} is marked 'not compiled: {example.NotCompiledBecause}'.");

        SyntaxTree tree = example.Parse();
        // The page's other type-only blocks come along: a later block uses the types an earlier one declares.
        var pageTypes = AllBlocks.Value
            .Where(b => b.File == example.File && b != example && b.NotCompiledBecause is null && b.DeclaresTypesOnly)
            .Select(b => b.Parse());
        SyntaxTree usings = CSharpSyntaxTree.ParseText(
            string.Concat(Usings.Select(u => $"global using {u};\n")) + "global using static DocPlaceholders;\n", CodeGenCompiler.Parse, "DocUsings.g.cs");
        SyntaxTree placeholders = CSharpSyntaxTree.ParseText(Placeholders, CodeGenCompiler.Parse, "DocPlaceholders.g.cs");

        OutputKind kind = example.DeclaresTypesOnly ? OutputKind.DynamicallyLinkedLibrary : OutputKind.ConsoleApplication;
        // Warnings count too: an example that warns (an [Obsolete] member, a possible null) teaches the warning.
        // Those in another block of the page are that block's own case; the prelude must never have any.
        var problems = CodeGenCompiler.Diagnose([tree, .. pageTypes, usings, placeholders], kind)
            .Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .Where(d => d.Location.SourceTree is null || d.Location.SourceTree == tree || d.Location.SourceTree == usings || d.Location.SourceTree == placeholders)
            .Select(d => d.ToString())
            .ToList();
        Assert.True(problems.Count == 0, $"{block} does not compile cleanly against the current API:\n{string.Join('\n', problems)}");
    }

    [SkippableFact]
    public void FindsTheBlocksOfTheReadmeAndTheDocs()
    {
        string? missing = DocsMissing();
        Skip.If(missing is not null, missing);
        var blocks = AllBlocks.Value;
        // A broken fence pattern would find nothing and let every page go unchecked.
        Assert.Contains(blocks, b => b.File == "README.md");
        Assert.Contains(blocks, b => b.File == "docs/ml-net-stage.md");
        Assert.True(blocks.Count >= 20, $"Only {blocks.Count} C# blocks found in README.md, docs/ and samples/.");
        // Marking a block "not compiled" is for the few that cannot be examples (a signature); most must compile.
        var skipped = blocks.Where(b => b.NotCompiledBecause is not null).Select(b => b.Name).ToList();
        Assert.True(skipped.Count <= blocks.Count / 10, $"{skipped.Count} of {blocks.Count} C# blocks are marked 'not compiled': {string.Join(", ", skipped)}");
    }
}
