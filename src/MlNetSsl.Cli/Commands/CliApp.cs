using System.CommandLine;
using System.Runtime.InteropServices;
using MlNetSsl.Cli.Run;

namespace MlNetSsl.Cli.Commands;

/// <summary>The mlnet-ssl command line: parsing, exit codes, Ctrl+C, and one-line errors.</summary>
internal static class CliApp
{
    /// <summary>-v q|m|diag, on every command.</summary>
    public static readonly Option<string> Verbosity = new("--verbosity", "-v")
    {
        Description = "Output: q (results only), m (progress, the default) or diag (details and stack traces).",
        DefaultValueFactory = _ => "m",
        Recursive = true,
    };

    public static async Task<int> RunAsync(string[] args)
    {
        Verbosity.AcceptOnlyFromAmong("q", "m", "diag");
        RootCommand root = new("mlnet-ssl: from an image folder, a CSV or a series file to an ML.NET model with self-supervised pretraining, " +
            "a report and code that consumes it.");
        root.Options.Add(Verbosity);
        foreach (Command command in TrainingCommands.Create()) root.Subcommands.Add(command);
        foreach (Command command in ModelCommands.Create()) root.Subcommands.Add(command);
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());

        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) Console.Error.WriteLine($"error: {InPlainWords(error.Message)}");
            Console.Error.WriteLine("Run 'mlnet-ssl --help' (or 'mlnet-ssl <command> --help') for the commands and their options.");
            return ExitCodes.Usage;
        }

        // Our own Ctrl+C handling: the first press cancels the run, which then saves what it has; a second one ends the
        // process. System.CommandLine's would kill the process 2 s after the first press, before the outputs are written.
        // Only the training commands (and train, worker) watch for it: predict, embed, evaluate and export-onnx ran to
        // their end after a first Ctrl+C (20,000 images scored and exit 0), so there it ends the process as usual; their
        // outputs are written through a temporary file, so none is left half written.
        using var cancellation = new CancellationTokenSource();
        bool savesOnCancel = SavesOutputsOnSignal(parse.CommandResult.Command.Name);
        PosixSignalRegistration Register(PosixSignal signal) => PosixSignalRegistration.Create(signal, context =>
        {
            if (!savesOnCancel || cancellation.IsCancellationRequested) return;
            context.Cancel = true;
            cancellation.Cancel();
        });
        using PosixSignalRegistration interrupt = Register(PosixSignal.SIGINT);
        using PosixSignalRegistration terminate = Register(PosixSignal.SIGTERM);
        var configuration = new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false };
        bool diagnostic = parse.GetValue(Verbosity) == "diag";
        try
        {
            return await parse.InvokeAsync(configuration, cancellation.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (cancellation.IsCancellationRequested)
        {
            Console.Error.WriteLine($"cancelled: {e.Message}");
            return ExitCodes.Cancelled;
        }
        catch (CliException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            if (diagnostic) Console.Error.WriteLine(e);
            return ExitCodes.Failed;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"error: {OneLine(e)}" + (IsDiskFull(e) ? DiskFullAdvice : "") + (diagnostic ? "" : " (run with -v diag for details)"));
            if (diagnostic) Console.Error.WriteLine(e);
            return ExitCodes.Failed;
        }
    }

    /// <summary>Whether <paramref name="command"/> (a command's name; a worker's is its task's) watches the first Ctrl+C or
    /// SIGTERM to stop its search and save what it has; the others end at once, as programs do.</summary>
    internal static bool SavesOutputsOnSignal(string command) =>
        command is "image-classification" or "classification" or "series-classification" or "train";

    /// <summary>A parse error without .NET type names: "as expected type 'System.Nullable`1[System.Int32]'" becomes "as a
    /// whole number".</summary>
    internal static string InPlainWords(string message) => System.Text.RegularExpressions.Regex.Replace(message,
        @"as expected type '(?:System\.Nullable`1\[)?System\.(\w+)\]?'", match => match.Groups[1].Value switch
        {
            "Int32" or "Int64" => "as a whole number",
            "Double" or "Single" => "as a number",
            "Boolean" => "as true or false",
            _ => "as a value of the expected kind",
        });

    /// <summary>What to do about a full disk met where no command said it (the search's checkpoint journal or cache): the
    /// bare system message named only a temporary file.</summary>
    internal const string DiskFullAdvice = "; free space on that disk (or give -o another folder) and run the same command again " +
        "(a training command with --resume: the trials it finished are kept in checkpoint/)";

    /// <summary>Whether <paramref name="e"/> or an exception inside it says the disk is full (ENOSPC on Linux and macOS,
    /// ERROR_DISK_FULL or ERROR_HANDLE_DISK_FULL on Windows).</summary>
    internal static bool IsDiskFull(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
            if (inner is IOException { HResult: 28 or unchecked((int)0x80070070) or unchecked((int)0x80070027) }) return true;
        return false;
    }

    /// <summary>The innermost meaningful message on one line. ML.NET's parallel cursors wrap what a transform threw in
    /// "Splitter/consolidator worker encountered exception while consuming source data", which names nothing.</summary>
    private static string OneLine(Exception e)
    {
        while (e.InnerException is not null && (e is AggregateException or System.Reflection.TargetInvocationException or TypeInitializationException
            || e.Message.Contains("worker encountered exception", StringComparison.Ordinal)))
            e = e.InnerException;
        return $"{e.Message.ReplaceLineEndings(" ")}";
    }
}
