namespace MlNetSsl.AutoML;

/// <summary>Identifies the MlNetSsl.AutoML assembly (search spaces, tuners, schedulers, experiments).</summary>
public static class AutoMLAssembly
{
    /// <summary>The version of this assembly.</summary>
    public static Version? Version => typeof(AutoMLAssembly).Assembly.GetName().Version;
}
