using System.Reflection;
using Xunit;

namespace MlNetSsl.Tests.Infrastructure;

/// <summary>Conventions every test of this project keeps.</summary>
public sealed class TestConventionTests
{
    [SkippableFact]
    public void EveryTestCanReportSkipped()
    {
        // SharedData.DataRoot reports a test skipped where the shared datasets are not, by throwing Xunit's SkipException;
        // a plain [Fact] or [Theory] would count that as a failure.
        string[] plain = typeof(TestConventionTests).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttributes<FactAttribute>(inherit: false).Any(a => a is not SkippableFactAttribute and not SkippableTheoryAttribute))
            .Select(m => $"{m.DeclaringType!.Name}.{m.Name}")
            .ToArray();
        Assert.True(plain.Length == 0, $"Use [SkippableFact] or [SkippableTheory] for: {string.Join(", ", plain)}");
    }
}
