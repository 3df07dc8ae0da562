using System.Text;

namespace MlNetSsl.Cli.Run;

/// <summary>Where a run's messages go: log.txt always (plain lines with a time), the console by verbosity.</summary>
internal sealed class RunLog : IDisposable
{
    private readonly object _gate = new();
    private StreamWriter? _file;
    private readonly DateTime _start = DateTime.UtcNow;

    public RunLog(string verbosity, string? path)
    {
        Verbosity = verbosity;
        if (path is null) return;
        FilePath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        // Appended: a --resume after a kill, or a second run of the same name that fails at once, keeps what the
        // earlier attempts logged; each attempt starts with a dated line.
        bool earlier = File.Exists(path) && new FileInfo(path).Length > 0;
        _file = new StreamWriter(path, append: true, new UTF8Encoding(false)) { AutoFlush = true };
        if (earlier) Append("");
        Append($"==== {_start:yyyy-MM-dd HH:mm:ss} UTC, process {Environment.ProcessId} ====");
    }

    public string Verbosity { get; }

    /// <summary>The log file, or null when there is none.</summary>
    public string? FilePath { get; }

    /// <summary>Why the log file stopped being written (a full disk, say), or null while it is written.</summary>
    public string? FileProblem { get; private set; }

    public bool Quiet => Verbosity == "q";

    public bool Diagnostic => Verbosity == "diag";

    /// <summary>When true the console shows a live table, so <see cref="Info"/> lines go to the log file only.</summary>
    public bool ConsoleOwnedByLiveView { get; set; }

    /// <summary>A line for the console (unless quiet or a live view owns it) and the log.</summary>
    public void Info(string line)
    {
        lock (_gate)
        {
            if (!Quiet && !ConsoleOwnedByLiveView) Console.WriteLine(line);
            WriteFile(line);
        }
    }

    /// <summary>A line shown even when quiet (results, warnings), and logged.</summary>
    public void Always(string line)
    {
        lock (_gate)
        {
            Console.WriteLine(line);
            WriteFile(line);
        }
    }

    /// <summary>An error line that does not end the run by an exception (outputs that could not be written): on standard
    /// error, as the command's other errors, and logged.</summary>
    public void Error(string line)
    {
        lock (_gate)
        {
            Console.Error.WriteLine(line);
            WriteFile(line);
        }
    }

    /// <summary>A detail for -v diag and the log.</summary>
    public void Detail(string line)
    {
        lock (_gate)
        {
            if (Diagnostic && !ConsoleOwnedByLiveView) Console.WriteLine(line);
            WriteFile(line);
        }
    }

    /// <summary>The error that ended the run, for the log only (the console shows it as the command's one-line error).</summary>
    public void Failure(string message)
    {
        lock (_gate) WriteFile($"error: {message}");
    }

    private void WriteFile(string line) => Append($"[{(DateTime.UtcNow - _start).TotalSeconds,7:0.0}s] {line}");

    private void Append(string text)
    {
        if (_file is null) return;
        try
        {
            _file.WriteLine(text);
        }
        // (ArgumentException: what a file size limit, EFBIG, throws, as on a FAT32 drive.)
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // A full disk must not end the run at whichever line happened to be logged (the error then named log.txt,
            // not the output that failed, and hid the run's own error): the log stops, the run goes on to write what it
            // can, and its end names log.txt among what could not be written.
            FileProblem = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{e.Message} {(DateTime.UtcNow - _start).TotalSeconds:0.0} s into the run");
            StreamWriter broken = _file;
            _file = null;
            try { broken.Dispose(); } catch (Exception again) when (again is IOException or UnauthorizedAccessException or ArgumentException) { }
        }
    }

    public void Dispose()
    {
        // Under the lock, and the file forgotten: a trial's thread may still log a line as the run ends.
        lock (_gate)
        {
            StreamWriter? file = _file;
            _file = null;
            try
            {
                file?.Dispose();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // The last lines could not be flushed; the run has ended and said what it could.
            }
        }
    }
}
