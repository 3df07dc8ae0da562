namespace MlNetSsl.Cli.Commands;

/// <summary>A problem the user can fix (a missing path, a bad column, unusable data): printed as one line, exit code 1,
/// no stack trace. The message names the file, row or column and says what to do.</summary>
internal sealed class CliException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The process exit codes of mlnet-ssl.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Cancelled = 130;
}
