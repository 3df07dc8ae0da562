using System.Globalization;
using System.Text.Json;
using MlNetSsl.AutoML;

namespace MlNetSsl.Tests.AutoML;

/// <summary>
/// The worker program of the shared-storage tests (started as <c>search-worker key=value...</c> through the test assembly's
/// entry point): one <see cref="SearchExperiment"/> on a store, with a synthetic objective that takes a set time, so the
/// tests control how long trials run and which one is slow. Every segment leaves a marker file naming the trial, the
/// fidelity and the process, so a test knows which process to kill or stop. Prints the final leaderboard as JSON.
/// </summary>
internal static class SharedSearchWorker
{
    /// <summary>The settings of one worker; <see cref="Arguments"/> writes them as the child's command line.</summary>
    internal sealed record Options(string Storage, string Name, int MaxTrials, string Tuner, string Scheduler, int DelayMs, string MarkerFolder)
    {
        /// <summary>The trial that runs for <see cref="SlowMs"/> in the first process that runs it (later ones run it fast).</summary>
        public int SlowTrial { get; init; } = -1;

        public int SlowMs { get; init; } = 30_000;

        public int GraceMs { get; init; } = 2000;

        /// <summary>The checkpoint folder the workers share (trial state, cache), inside the test's own temporary folder, so
        /// nothing is left under the machine's temporary folder (a store without a checkpoint folder uses one there).</summary>
        public string CheckpointFolder => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(MarkerFolder))!, "checkpoint-" + Name);

        /// <summary>Above 0: each worker waits (at most a minute) until this many workers have started before it searches,
        /// so a slow process start does not leave every trial to the first worker.</summary>
        public int StartTogether { get; init; }

        public string[] Arguments() =>
        [
            "search-worker", $"storage={Storage}", $"name={Name}", $"maxTrials={MaxTrials}", $"tuner={Tuner}", $"scheduler={Scheduler}",
            $"delayMs={DelayMs}", $"markers={MarkerFolder}", $"slowTrial={SlowTrial}", $"slowMs={SlowMs}", $"graceMs={GraceMs}", $"startTogether={StartTogether}",
        ];

        public static Options Parse(IEnumerable<string> arguments)
        {
            var values = arguments.Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
            int Int(string key) => int.Parse(values[key], CultureInfo.InvariantCulture);
            return new Options(values["storage"], values["name"], Int("maxTrials"), values["tuner"], values["scheduler"], Int("delayMs"), values["markers"])
            {
                SlowTrial = Int("slowTrial"),
                SlowMs = Int("slowMs"),
                GraceMs = Int("graceMs"),
                StartTogether = Int("startTogether"),
            };
        }
    }

    /// <summary>The search every worker and the in-process reference run: 6 x 3 integer grid, deterministic objective.</summary>
    public static SearchExperiment Create(Options options)
    {
        SslTuner tuner = options.Tuner switch
        {
            "grid" => SslTuner.FromOptions(new GridTunerOptions { DefaultSteps = 6 }),
            "tpe" => SslTuner.Tpe,
            _ => throw new ArgumentException($"Unknown tuner {options.Tuner}."),
        };
        SslScheduler scheduler = options.Scheduler switch
        {
            "none" => SslScheduler.None,
            "asha" => SslScheduler.Asha(minEpochs: 1, maxEpochs: 9, reduction: 3),
            _ => throw new ArgumentException($"Unknown scheduler {options.Scheduler}."),
        };
        return new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithInteger("a", 0, 5).WithInteger("b", 0, 2).WithNumeric("c", 0, 1))
            .SetTuner(tuner)
            .SetScheduler(scheduler)
            .SetSeed(11)
            .SetMaxTrials(options.MaxTrials)
            .SetTrialRunner((request, token) => RunTrialAsync(options, request, token));
    }

    /// <summary>The metric: a smooth function of the configuration, better with more epochs.</summary>
    public static double Metric(Parameters parameters, int? fidelity) =>
        10 - Math.Pow(parameters.GetInt32("a") - 3.3, 2) - Math.Pow(parameters.GetInt32("b") - 1.2, 2) - parameters.GetDouble("c") + 0.1 * (fidelity ?? 0);

    private static async Task<double> RunTrialAsync(Options options, TrialRequest request, CancellationToken token)
    {
        string fidelity = request.Fidelity?.ToString(CultureInfo.InvariantCulture) ?? "full";
        string prefix = $"trial-{request.TrialId}-{fidelity}-";
        bool firstRun = !Directory.GetFiles(options.MarkerFolder, prefix + "*").Any();
        File.WriteAllText(Path.Combine(options.MarkerFolder, prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture)), "");
        await Task.Delay(request.TrialId == options.SlowTrial && firstRun ? options.SlowMs : options.DelayMs, token);
        return Metric(request.Parameters, request.Fidelity);
    }

    /// <summary>The child side: runs the worker, prints its leaderboard.</summary>
    public static int Run(IEnumerable<string> arguments)
    {
        Options options = Parse(arguments);
        if (options.StartTogether > 0)
        {
            File.WriteAllText(Path.Combine(options.MarkerFolder, $"ready-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}"), "");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (Directory.GetFiles(options.MarkerFolder, "ready-*").Length < options.StartTogether && clock.Elapsed < TimeSpan.FromMinutes(1))
                Thread.Sleep(50);
        }
        SearchResult result = Create(options).SetStorage(options.Storage).SetExperimentName(options.Name).SetCheckpoint(options.CheckpointFolder)
            .SetHeartbeatGracePeriod(TimeSpan.FromMilliseconds(options.GraceMs))
            .RunAsync().GetAwaiter().GetResult();
        Console.WriteLine(JsonSerializer.Serialize(result.Trials.Select(t => new { t.TrialId, Status = t.Status.ToString(), t.Metric })));
        return 0;
    }

    private static Options Parse(IEnumerable<string> arguments) => Options.Parse(arguments);
}
