#pragma warning disable CS0436 // a project that sees another assembly's internals (InternalsVisibleTo) sees its copy of the attribute too
// Part of the ML.NET internals plumbing: see docs/decisions/0002-mlnet-internals-for-persistence.md.
// The runtime honours this attribute by name; the BCL does not ship it, so each assembly declares its own.
// With it, code compiled against the publicized reference copies may call ML.NET's internal members at run time.
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]
// Only the projects that list it in MlNetInternalsAssemblies call into it (MlNetSsl: the class-score average).
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.StandardTrainers")]

namespace System.Runtime.CompilerServices
{
    /// <summary>Lets this assembly use non-public members of the named assembly (read by the runtime).</summary>
    [AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
    internal sealed class IgnoresAccessChecksToAttribute : Attribute
    {
        /// <summary>Creates the attribute for one assembly.</summary>
        /// <param name="assemblyName">The simple name of the assembly whose access checks are ignored.</param>
        public IgnoresAccessChecksToAttribute(string assemblyName) => AssemblyName = assemblyName;

        /// <summary>The simple name of the assembly whose access checks are ignored.</summary>
        public string AssemblyName { get; }
    }
}
