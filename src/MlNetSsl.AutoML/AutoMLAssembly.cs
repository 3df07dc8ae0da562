namespace MlNetSsl.AutoML;

/// <summary>Marker for the MlNetSsl.AutoML assembly; the experiment API arrives with the AutoML issue.</summary>
public static class AutoMLAssembly
{
    /// <summary>The version of this assembly.</summary>
    public static Version? Version => typeof(AutoMLAssembly).Assembly.GetName().Version;
}
