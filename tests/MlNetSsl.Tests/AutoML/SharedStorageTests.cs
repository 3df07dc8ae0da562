using System.Diagnostics;
using System.Runtime.InteropServices;
using MlNetSsl.AutoML;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>
/// Several worker processes sharing one search through a store (<see cref="SearchExperiment.SetStorage"/>): SQLite always,
/// PostgreSQL when <c>MLNETSSL_TEST_POSTGRES</c> holds a connection string (.ci/run starts a throw-away server). Workers
/// are this test assembly started as <see cref="SharedSearchWorker"/>; trials are a synthetic objective that sleeps, so
/// the tests decide which trial is slow and which process dies. After each test the store is read back and checked:
/// every trial in exactly one terminal state, no trial id or configuration twice, one result per rung, best = the
/// maximum over the completed trials. Every wait is bounded.
/// </summary>
public sealed class SharedStorageTests : IDisposable
{
    private const string PostgresVariable = "MLNETSSL_TEST_POSTGRES";
    private static readonly TimeSpan WorkerTimeout = TimeSpan.FromSeconds(150);

    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-shared-test-").FullName;
    private readonly List<WorkerProcess> _workers = new();
    // Searches with a store and no checkpoint folder keep their files in a per-host folder under the temporary folder,
    // which outlives the search by design (docs/distributed.md); the tests that make one remove it.
    private readonly List<string> _sharedFolders = new();

    /// <summary>The stores every test runs against.</summary>
    public static TheoryData<string> Backends => new() { "sqlite", "postgres" };

    public void Dispose()
    {
        foreach (WorkerProcess worker in _workers) worker.Dispose();
        foreach (string folder in _sharedFolders.Append(_folder))
        {
            try
            {
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // A killed worker's file may still be closing; the temporary folder is only disk space.
            }
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task Three_workers_share_one_search_with_the_single_process_leaderboard(string backend)
    {
        SharedSearchWorker.Options options = NewOptions(backend, maxTrials: 9, tuner: "grid", scheduler: "none", delayMs: 300) with { StartTogether = 3 };
        SearchResult reference = await SharedSearchWorker.Create(options with { DelayMs = 0 }).RunAsync();

        for (int i = 0; i < 3; i++) Start(options);
        WaitForAll();

        (SearchResult shared, var log) = await ReadBackAsync(options);
        CheckInvariants(shared, log, options.MaxTrials);
        Assert.Equal(Describe(reference), Describe(shared));
        Assert.True(log.Select(e => e.Worker).Distinct().Count() >= 2, "the trials were not shared between the workers");
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task A_killed_workers_trial_is_requeued_and_finished_by_another(string backend)
    {
        SharedSearchWorker.Options options = NewOptions(backend, maxTrials: 6, tuner: "grid", scheduler: "none", delayMs: 100) with { SlowTrial = 1 };
        WorkerProcess victimCandidate = Start(options), other = Start(options);
        int victim = WaitForMarker(options, trialId: 1);
        WorkerProcess killed = new[] { victimCandidate, other }.Single(w => w.Id == victim);
        killed.Kill();
        WaitForAll(except: killed);

        (SearchResult shared, var log) = await ReadBackAsync(options);
        CheckInvariants(shared, log, options.MaxTrials);
        Assert.Contains(log, e => e.Event.Event.Type == JournalEventType.Requeued && e.Event.Event.TrialId == 1);
        var result = Assert.Single(log, e => e.Event.Event.Type == JournalEventType.Result && e.Event.Event.TrialId == 1);
        Assert.DoesNotContain($"/{victim}/", result.Worker, StringComparison.Ordinal);
        Assert.Equal(TrialStatus.Completed, shared.Trials.Single(t => t.TrialId == 1).Status);
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task A_stopped_workers_late_result_is_not_counted(string backend)
    {
        Skip.IfNot(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "SIGSTOP and SIGCONT are POSIX signals");
        SharedSearchWorker.Options options = NewOptions(backend, maxTrials: 5, tuner: "grid", scheduler: "none", delayMs: 100)
            with { SlowTrial = 2, SlowMs = 2500, GraceMs = 1500 };
        WorkerProcess first = Start(options), second = Start(options);
        int victimId = WaitForMarker(options, trialId: 2);
        WorkerProcess victim = new[] { first, second }.Single(w => w.Id == victimId);
        victim.Signal(Signals.Stop);
        // Stopped past the grace period: the other worker re-queues the trial and finishes it.
        WaitUntil(() => ReadLog(options).Any(e => e.Event.Event.Type == JournalEventType.Result && e.Event.Event.TrialId == 2),
            "another worker to finish the stopped worker's trial");
        victim.Signal(Signals.Continue);
        WaitForAll();

        (SearchResult shared, var log) = await ReadBackAsync(options);
        CheckInvariants(shared, log, options.MaxTrials);
        var result = Assert.Single(log, e => e.Event.Event.Type == JournalEventType.Result && e.Event.Event.TrialId == 2);
        Assert.DoesNotContain($"/{victimId}/", result.Worker, StringComparison.Ordinal);
        Assert.Equal(0, victim.ExitCode);
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task Every_process_killed_then_one_restarted_continues_from_the_store(string backend)
    {
        SharedSearchWorker.Options options = NewOptions(backend, maxTrials: 8, tuner: "grid", scheduler: "none", delayMs: 400);
        SearchResult reference = await SharedSearchWorker.Create(options with { DelayMs = 0 }).RunAsync();
        WorkerProcess first = Start(options), second = Start(options);
        WaitUntil(() => ReadLog(options).Count(e => e.Event.Event.Type == JournalEventType.Result) >= 3, "three results before the kill");
        first.Kill();
        second.Kill();

        Start(options);
        WaitForAll(except: null);

        (SearchResult shared, var log) = await ReadBackAsync(options);
        CheckInvariants(shared, log, options.MaxTrials);
        Assert.Equal(Describe(reference), Describe(shared));
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task Concurrent_asks_never_reuse_a_trial_id_or_a_configuration(string backend)
    {
        // No delay and ASHA: the workers contend for the lock at every ask, result and promotion.
        SharedSearchWorker.Options options = NewOptions(backend, maxTrials: 24, tuner: "tpe", scheduler: "asha", delayMs: 0) with { StartTogether = 3 };
        for (int i = 0; i < 3; i++) Start(options);
        WaitForAll();

        (SearchResult shared, var log) = await ReadBackAsync(options);
        CheckInvariants(shared, log, options.MaxTrials);
        Assert.Contains(shared.Trials, t => t.Status == TrialStatus.Pruned);
        Assert.Contains(log, e => e.Event.Event.Type == JournalEventType.Continued);
    }

    [SkippableFact]
    public async Task Workers_reconnect_after_PostgreSQL_restarts()
    {
        string? restart = Environment.GetEnvironmentVariable("MLNETSSL_TEST_POSTGRES_RESTART");
        Skip.If(string.IsNullOrEmpty(Environment.GetEnvironmentVariable(PostgresVariable)) || string.IsNullOrEmpty(restart),
            $"{PostgresVariable} and MLNETSSL_TEST_POSTGRES_RESTART (a command that restarts the server) are not set; .ci/run sets both");
        SharedSearchWorker.Options options = NewOptions("postgres", maxTrials: 8, tuner: "grid", scheduler: "none", delayMs: 400) with { GraceMs = 10_000 };
        Start(options);
        Start(options);
        WaitUntil(() => ReadLog(options).Count(e => e.Event.Event.Type == JournalEventType.Result) >= 2, "two results before the restart");
        using (Process server = Process.Start(new ProcessStartInfo("bash", ["-c", restart!]) { UseShellExecute = false })!)
        {
            Assert.True(server.WaitForExit(TimeSpan.FromSeconds(60)), "the restart command did not finish");
            Assert.Equal(0, server.ExitCode);
        }
        WaitForAll();

        (SearchResult shared, var log) = await ReadBackAsync(options);
        CheckInvariants(shared, log, options.MaxTrials);
    }

    [SkippableFact]
    public async Task A_store_is_refused_with_Hyperband_another_experiments_settings_or_a_malformed_connection_string()
    {
        Assert.Throws<ArgumentException>(() => new SearchExperiment().SetStorage("Server"));
        Assert.Throws<ArgumentException>(() => new SearchExperiment().SetStorage("Timeout=5"));
        Assert.Throws<ArgumentException>(() => new SearchExperiment().SetStorage("Data Source=:memory:"));
        Assert.True(ExperimentStore.IsPostgres("Host=db;Database=ssl;Username=u;Password=p"));
        Assert.False(ExperimentStore.IsPostgres("Data Source=search.db"));

        SharedSearchWorker.Options options = NewOptions("sqlite", maxTrials: 2, tuner: "grid", scheduler: "none", delayMs: 0);
        var hyperband = SharedSearchWorker.Create(options).SetScheduler(SslScheduler.Hyperband(1, 9)).SetStorage(options.Storage).SetCheckpoint(options.CheckpointFolder);
        Assert.Contains("SslScheduler.Asha", (await Assert.ThrowsAsync<InvalidOperationException>(() => hyperband.RunAsync())).Message, StringComparison.Ordinal);

        SearchResult first = await SharedSearchWorker.Create(options).SetStorage(options.Storage).SetExperimentName(options.Name).SetCheckpoint(options.CheckpointFolder).RunAsync();
        Assert.Equal(2, first.Trials.Count);
        var otherSeed = SharedSearchWorker.Create(options).SetSeed(12).SetStorage(options.Storage).SetExperimentName(options.Name).SetCheckpoint(options.CheckpointFolder);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => otherSeed.RunAsync());
        Assert.Contains("seed: checkpoint 11, now 12", refused.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_trial_over_the_memory_limit_fails_in_a_shared_search()
    {
        // 1 MB is below any process's working set, so the watchdog's first check fails the trial while it waits.
        SharedSearchWorker.Options options = NewOptions("sqlite", maxTrials: 1, tuner: "grid", scheduler: "none", delayMs: 30_000);
        SearchResult result = await SharedSearchWorker.Create(options).SetMaximumMemoryUsageInMegaByte(1)
            .SetStorage(options.Storage).SetExperimentName(options.Name).SetCheckpoint(options.CheckpointFolder).RunAsync();
        TrialRecord trial = Assert.Single(result.Trials);
        Assert.Equal(TrialStatus.Failed, trial.Status);
        Assert.Contains("exceeded the memory limit", trial.ErrorMessage, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Trials_their_runner_declines_or_times_out_keep_those_statuses_in_a_shared_search_and_read_back_so()
    {
        string storage = $"Data Source={Path.Combine(_folder, "declined.db")}";
        SearchExperiment Experiment()
        {
            var (space, tuner) = ScriptedTuner.ForIds(4);
            return new SearchExperiment().SetSearchSpace(space).SetTuner(tuner).SetMaxTrials(4)
                .SetTrialRunner((request, _) => request.Parameters.GetInt32("id") switch
                {
                    1 => throw new TrialNotStartedException("Trial 1 was not started: no room left."),
                    2 => throw new TrialTimedOutException("Trial 2 exceeded its time cap of 1 s."),
                    _ => Task.FromResult(0.5),
                })
                .SetStorage(storage).SetExperimentName("declined");
        }
        _sharedFolders.Add(Experiment().SharedFolder!);

        SearchResult result = await Experiment().RunAsync();
        TrialRecord declined = result.Trials.Single(t => t.TrialId == 1);
        Assert.Equal(TrialStatus.NotStarted, declined.Status);
        Assert.Equal("Trial 1 was not started: no room left.", declined.ErrorMessage);
        TrialRecord timedOut = result.Trials.Single(t => t.TrialId == 2);
        Assert.Equal(TrialStatus.TimedOut, timedOut.Status);
        Assert.Equal("Trial 2 exceeded its time cap of 1 s.", timedOut.ErrorMessage);
        Assert.Equal(2, result.Trials.Count(t => t.Status == TrialStatus.Completed));
        // A process joining the finished search reads the same outcome from the store.
        SearchResult joined = await Experiment().RunAsync();
        Assert.Equal(result.Trials.Select(t => (t.TrialId, t.Status, t.ErrorMessage)), joined.Trials.Select(t => (t.TrialId, t.Status, t.ErrorMessage)));
    }

    [SkippableFact]
    public async Task A_trial_the_budget_stops_in_a_shared_search_says_so_and_goes_back_to_the_queue()
    {
        string storage = $"Data Source={Path.Combine(_folder, "stopped.db")}";
        SearchExperiment Experiment(TimeSpan budget)
        {
            var (space, tuner) = ScriptedTuner.ForIds(2);
            return new SearchExperiment().SetSearchSpace(space).SetTuner(tuner).SetMaxTrials(2)
                .SetTrialRunner(async (request, token) =>
                {
                    // Trial 1 would wait a minute in the first process; only the budget's cancellation ends it there.
                    if (request.Parameters.GetInt32("id") == 1 && budget < TimeSpan.FromSeconds(30)) await Task.Delay(TimeSpan.FromSeconds(60), token);
                    return 0.5;
                })
                .SetStorage(storage).SetExperimentName("stopped").SetTrainingTime(budget);
        }
        _sharedFolders.Add(Experiment(TimeSpan.FromSeconds(60)).SharedFolder!);

        // 10 s leave room for trial 0 (instant, apart from the store) on a loaded machine, so trial 1 starts.
        SearchResult stoppedRun = await Experiment(TimeSpan.FromSeconds(10)).RunAsync();
        Assert.Equal(SearchStopReason.TimeBudget, stoppedRun.StopReason);
        TrialRecord stopped = stoppedRun.Trials.Single(t => t.TrialId == 1);
        Assert.Equal(TrialStatus.Cancelled, stopped.Status);
        Assert.Matches(@"^Stopped \d+(\.\d)? s into its run by the end of the time budget; it has no metric\. Its segment is queued again in the store for any worker\.$",
            stopped.ErrorMessage);
        Assert.True(stopped.Duration > TimeSpan.Zero, "the stopped trial's duration is zero");
        Assert.Null(stoppedRun.Trials.Single(t => t.TrialId == 0).ErrorMessage);

        // Another process with time to spare claims the queued segment and finishes it.
        SearchResult finished = await Experiment(TimeSpan.FromSeconds(60)).RunAsync();
        TrialRecord done = finished.Trials.Single(t => t.TrialId == 1);
        Assert.Equal(TrialStatus.Completed, done.Status);
        Assert.Null(done.ErrorMessage);
    }

    private SharedSearchWorker.Options NewOptions(string backend, int maxTrials, string tuner, string scheduler, int delayMs)
    {
        string storage;
        if (backend == "sqlite")
        {
            storage = $"Data Source={Path.Combine(_folder, "store.db")}";
        }
        else
        {
            string? postgres = Environment.GetEnvironmentVariable(PostgresVariable);
            Skip.If(string.IsNullOrEmpty(postgres), $"{PostgresVariable} is not set (.ci/run starts a throw-away PostgreSQL server and sets it)");
            storage = postgres!;
        }
        string name = "test-" + Guid.NewGuid().ToString("N")[..12];
        string markers = Path.Combine(_folder, "markers-" + name);
        Directory.CreateDirectory(markers);
        return new SharedSearchWorker.Options(storage, name, maxTrials, tuner, scheduler, delayMs, markers);
    }

    private WorkerProcess Start(SharedSearchWorker.Options options)
    {
        var worker = new WorkerProcess(options.Arguments());
        _workers.Add(worker);
        return worker;
    }

    private void WaitForAll(WorkerProcess? except = null)
    {
        foreach (WorkerProcess worker in _workers.Where(w => w != except && !w.Killed))
        {
            worker.WaitForExit(WorkerTimeout);
            Assert.True(worker.ExitCode == 0, $"worker {worker.Id} exited with {worker.ExitCode}: {worker.Output}");
        }
    }

    /// <summary>The process that first ran <paramref name="trialId"/>, from its marker file.</summary>
    private static int WaitForMarker(SharedSearchWorker.Options options, int trialId)
    {
        string? marker = null;
        WaitUntil(() => (marker = Directory.GetFiles(options.MarkerFolder, $"trial-{trialId}-*").FirstOrDefault()) is not null, $"trial {trialId} to start");
        return int.Parse(Path.GetFileName(marker!).Split('-')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > WorkerTimeout) throw new TimeoutException($"Timed out waiting for {what}.");
            Thread.Sleep(100);
        }
    }

    private static List<(StoredEvent Event, string? Worker)> ReadLog(SharedSearchWorker.Options options) =>
        ExperimentStore.ReadLogAsync(options.Storage, options.Name, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>The leaderboard as a fresh process sees it (it joins, finds nothing left to run, and returns) and the log.</summary>
    private static async Task<(SearchResult Result, List<(StoredEvent Event, string? Worker)> Log)> ReadBackAsync(SharedSearchWorker.Options options)
    {
        SearchResult result = await SharedSearchWorker.Create(options).SetStorage(options.Storage).SetExperimentName(options.Name).SetCheckpoint(options.CheckpointFolder)
            .SetHeartbeatGracePeriod(TimeSpan.FromMilliseconds(options.GraceMs)).RunAsync();
        return (result, ReadLog(options));
    }

    private static void CheckInvariants(SearchResult result, List<(StoredEvent Event, string? Worker)> log, int maxTrials)
    {
        Assert.Equal(Enumerable.Range(0, maxTrials), result.Trials.Select(t => t.TrialId).Order());
        Assert.All(result.Trials, t => Assert.Contains(t.Status, new[] { TrialStatus.Completed, TrialStatus.Pruned, TrialStatus.Failed }));
        Assert.Equal(maxTrials, result.Trials.Select(t => t.Parameters).Distinct().Count());

        var events = log.Select(e => e.Event.Event).ToList();
        Assert.Equal(Enumerable.Range(0, maxTrials), events.Where(e => e.Type == JournalEventType.Started).Select(e => e.TrialId));
        Assert.All(events.Where(e => e.Type == JournalEventType.Result).GroupBy(e => (e.TrialId, e.Fidelity)), g => Assert.Single(g));
        Assert.All(events.Where(e => e.Type == JournalEventType.Failed).GroupBy(e => e.TrialId), g => Assert.Single(g));
        foreach (TrialRecord trial in result.Trials)
        {
            bool failed = events.Any(e => e.Type == JournalEventType.Failed && e.TrialId == trial.TrialId);
            Assert.Equal(failed, trial.Status == TrialStatus.Failed);
        }

        double best = result.Trials.Where(t => t.Status == TrialStatus.Completed).Max(t => t.Metric!.Value);
        Assert.Equal(best, result.BestTrial!.Metric);
    }

    private static List<string> Describe(SearchResult result) =>
        result.Trials.OrderBy(t => t.TrialId).Select(t => $"{t.TrialId} {t.Status} {t.Metric:R} {t.Parameters}").ToList();

    private static class Signals
    {
        // Linux numbering; macOS uses 17 and 19.
        public static int Stop => OperatingSystem.IsMacOS() ? 17 : 19;

        public static int Continue => OperatingSystem.IsMacOS() ? 19 : 18;
    }

    /// <summary>A worker child process; its output is collected as it runs.</summary>
    private sealed class WorkerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _output = new();

        public WorkerProcess(string[] arguments)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add(typeof(SharedStorageTests).Assembly.Location);
            foreach (string argument in arguments) info.ArgumentList.Add(argument);
            _process = Process.Start(info) ?? throw new InvalidOperationException("Could not start dotnet.");
            _process.OutputDataReceived += (_, e) => Append(e.Data);
            _process.ErrorDataReceived += (_, e) => Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int Id => _process.Id;

        public bool Killed { get; private set; }

        public int ExitCode => _process.ExitCode;

        public string Output
        {
            get
            {
                lock (_output) return _output.ToString();
            }
        }

        public void Kill()
        {
            Killed = true;
            _process.Kill(); // SIGKILL: no cleanup, no lease released
            _process.WaitForExit();
        }

        public void Signal(int signal)
        {
            if (SendSignal(_process.Id, signal) != 0) throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}.");
        }

        public void WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout))
                throw new TimeoutException($"Worker {_process.Id} did not finish in {timeout}: {Output}");
            _process.WaitForExit(); // drains the output
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                SendSignal(_process.Id, Signals.Continue);
                _process.Kill();
            }
            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is null) return;
            lock (_output) _output.AppendLine(line);
        }

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static extern int SendSignal(int pid, int signal);
    }
}
