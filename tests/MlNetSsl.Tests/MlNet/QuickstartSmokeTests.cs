using System.Diagnostics;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>The README's quickstart keeps working: built with the solution, run for one epoch on its embedded data.</summary>
public sealed class QuickstartSmokeTests
{
    [SkippableFact]
    public async Task QuickstartRunsEndToEndOnItsEmbeddedDataset()
    {
        string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
            ? "Debug" : "Release";
        string program = Path.Combine(SharedData.RepoRoot, "samples", "Quickstart", "bin", configuration, "net10.0", "Quickstart.dll");
        Assert.True(File.Exists(program), $"{program} is missing: build the solution first (dotnet test MlNetSsl.sln builds it).");
        string workDir = Directory.CreateTempSubdirectory("mlnetssl-quickstart-").FullName;
        try
        {
            var info = new ProcessStartInfo("dotnet") { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add(program);
            info.ArgumentList.Add("--epochs");
            info.ArgumentList.Add("1");
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                // Not left running beside the rest of the suite (and holding the folder the finally deletes).
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                throw new TimeoutException($"The quickstart did not end within 5 minutes: {await stdout}");
            }

            string output = await stdout;
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}{output}");
            Assert.Contains("2500 training images (250 labeled, 10%), 1000 test images.", output);
            Assert.Contains("raw pixels + L-BFGS max-entropy", output);
            Assert.Contains("SimCLR features + L-BFGS max-entropy", output);
            Assert.Contains("Prediction for test/", output);
            Assert.True(new FileInfo(Path.Combine(workDir, "quickstart-model.zip")).Length > 100_000);
            Assert.Empty(Directory.GetFiles(workDir, "*.tmp"));
        }
        finally
        {
            Directory.Delete(workDir, recursive: true);
        }
    }
}
