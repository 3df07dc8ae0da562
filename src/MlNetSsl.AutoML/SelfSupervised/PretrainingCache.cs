using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;

namespace MlNetSsl.AutoML;

/// <summary>What one pretraining call did: the fitted stage, and how much of it was trained now versus reused.</summary>
/// <param name="Transformer">The fitted stage; the caller owns (and disposes) it.</param>
/// <param name="EpochsTrained">Epochs trained in this call.</param>
/// <param name="EpochsReused">Epochs restored from a snapshot or an interrupted run instead of trained again.</param>
/// <param name="Duration">Wall time of this call (reading rows included).</param>
/// <param name="TimeSaved">The recorded training time of the reused epochs: what this call did not spend again.</param>
internal sealed record PretrainingOutcome(SelfSupervisedTransformer Transformer, int EpochsTrained, int EpochsReused, TimeSpan Duration, TimeSpan TimeSaved);

/// <summary>
/// Pretraining shared between trials and rungs. Trials whose pretraining options agree get the same key
/// (<see cref="TrialRequest.GetCacheKey"/> of the <c>Pretraining</c> options) and one folder under the cache root:
/// <c>epoch-NNNN/</c> holds the stage's checkpoint after N epochs (a snapshot), <c>to-NNNN/</c> a run working towards N.
/// A request for N epochs starts from the largest snapshot at most N (or from its own interrupted run) and continues with
/// <see cref="SelfSupervisedOptions.CheckpointDirectory"/>; because every run of a key uses the same
/// <see cref="SelfSupervisedOptions.ScheduleEpochs"/> (the scheduler's maximum fidelity) and seed, the stage guarantees
/// the continued run equals a straight one. Snapshots are kept for later trials of the key. Workers sharing the cache
/// folder (several processes of a shared search, <see cref="SearchExperiment.SetStorage"/>) take a key's lease, an
/// exclusive lock on its <c>.lease</c> file, for the whole call: one worker pretrains a key at a time, and the next one
/// then finds its snapshot. The operating system drops the lock of a process that dies, so a dead worker never blocks a key.
/// </summary>
internal sealed class PretrainingCache
{
    private const string SnapshotPrefix = "epoch-";
    private const string WorkPrefix = "to-";

    private readonly string _root;

    public PretrainingCache(string root)
    {
        _root = root;
        Directory.CreateDirectory(root);
    }

    /// <summary>Fits the stage to <see cref="SelfSupervisedOptions.Epochs"/> epochs, reusing what the key already trained.</summary>
    /// <param name="ml">The context to fit in.</param>
    /// <param name="data">The pretraining rows (every row of the experiment).</param>
    /// <param name="options">The stage options; <see cref="SelfSupervisedOptions.CheckpointDirectory"/>,
    /// <see cref="SelfSupervisedOptions.Progress"/> and <see cref="SelfSupervisedOptions.CancellationToken"/> are set here.</param>
    /// <param name="key">The pretraining cache key.</param>
    /// <param name="cancellationToken">Stops pretraining within one step; the epochs done so far stay for the next call.</param>
    /// <param name="stopAfterEpoch">Asked after each epoch this call trains (before the last), with the epochs trained in this
    /// call and its time so far: true ends pretraining there, and the stage returned is the one of that epoch, published as
    /// its snapshot (the schedule stays <see cref="SelfSupervisedOptions.ScheduleEpochs"/>'s, so a later call continues it
    /// as a straight run would). Null: every epoch.</param>
    public PretrainingOutcome Pretrain(MLContext ml, IDataView data, SelfSupervisedOptions options, string key, CancellationToken cancellationToken,
        Func<int, TimeSpan, bool>? stopAfterEpoch = null)
    {
        var clock = Stopwatch.StartNew();
        int target = options.Epochs;
        string keyFolder = KeyFolder(key);
        string snapshot = Path.Combine(keyFolder, SnapshotPrefix + Epochs(target));
        string work = Path.Combine(keyFolder, WorkPrefix + Epochs(target));
        Directory.CreateDirectory(keyFolder);
        using FileStream lease = TakeLease(keyFolder, cancellationToken);

        var epochCounter = new EpochCounter();
        SelfSupervisedTransformer transformer;
        while (true)
        {
            string? seed = null;
            if (!Directory.Exists(work) || Directory.GetFiles(work).Length == 0)
            {
                Directory.CreateDirectory(work);
                // The nearest snapshot at or below the target: a promoted trial continues from its previous rung, a new trial
                // of an already trained key loads its rung outright.
                int epochs = LargestSnapshot(keyFolder, target);
                if (epochs > 0)
                {
                    seed = Path.Combine(keyFolder, SnapshotPrefix + Epochs(epochs));
                    // Copied atomically: a crash mid-copy leaves no partial checkpoint for the next trial of the key to trip on.
                    foreach (string file in Directory.GetFiles(seed))
                        AtomicFile.Copy(file, Path.Combine(work, Path.GetFileName(file)));
                }
            }

            SelfSupervisedOptions run = options.Clone();
            run.CheckpointDirectory = work;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            int? stoppedAt = null;
            epochCounter.AfterEpoch = stopAfterEpoch is null ? null : epoch =>
            {
                // The stage writes the epoch's checkpoint before it reports the epoch, so the work folder holds it now.
                if (epoch >= target || !stopAfterEpoch(epochCounter.Epochs, clock.Elapsed)) return;
                stoppedAt = epoch;
                stop.Cancel();
            };
            run.Progress = epochCounter;
            run.CancellationToken = stop.Token;
            try
            {
                transformer = ml.Transforms.SelfSupervised(run).Fit(data);
                break;
            }
            catch (Exception) when (stoppedAt is int reached && !cancellationToken.IsCancellationRequested)
            {
                // Stopped at an epoch's end: the work folder's checkpoint is that epoch's, on this run's schedule. Published
                // as its snapshot, the next pass loads it and trains nothing.
                target = reached;
                snapshot = Path.Combine(keyFolder, SnapshotPrefix + Epochs(target));
                if (Directory.Exists(snapshot)) Directory.Delete(work, recursive: true);
                else Directory.Move(work, snapshot);
                work = Path.Combine(keyFolder, WorkPrefix + Epochs(target));
                options = options.Clone();
                options.Epochs = target;
                stopAfterEpoch = null;
            }
            catch (Exception e) when (RefersToCheckpointIn(e, work) && epochCounter.Epochs == 0)
            {
                // The stage verifies the checkpoint when it reads it: damaged, truncated (an earlier version's copy cut short
                // by a crash) or from an incompatible run. Every later trial of the key would fail on it, so the work folder
                // goes, and so does the snapshot it was copied from (the copy is exact, so the snapshot is bad too); the next
                // attempt starts from an older snapshot or from scratch. Each attempt removes a folder, so this ends.
                Trace.TraceWarning($"MlNetSsl.AutoML: rebuilding the pretraining cache entry {work}: {e.Message}");
                Directory.Delete(work, recursive: true);
                if (seed is not null && Directory.Exists(seed)) Directory.Delete(seed, recursive: true);
            }
        }

        int trained = epochCounter.Epochs;
        int reused = Math.Max(0, transformer.History.Count - trained);
        var saved = TimeSpan.FromSeconds(transformer.History.Take(reused).Sum(h => h.Seconds));

        // Publish the result as the key's snapshot at the target (an atomic rename), unless one exists already.
        try
        {
            if (Directory.Exists(snapshot)) Directory.Delete(work, recursive: true);
            else Directory.Move(work, snapshot);
        }
        catch (IOException)
        {
            // Another process published the same snapshot first, or a file is busy; the next call can still use the work folder.
        }
        return new PretrainingOutcome(transformer, trained, reused, clock.Elapsed, saved);
    }

    /// <summary>The epochs of the key's largest snapshot at most <paramref name="target"/> (what a call for
    /// <paramref name="target"/> epochs would start from); 0 when there is none.</summary>
    public int SnapshotEpochs(string key, int target) => LargestSnapshot(KeyFolder(key), target);

    private string KeyFolder(string key) => Path.Combine(_root, "pretraining-" + key[..Math.Min(16, key.Length)]);

    private static int LargestSnapshot(string keyFolder, int target)
    {
        if (!Directory.Exists(keyFolder)) return 0;
        return Directory.GetDirectories(keyFolder, SnapshotPrefix + "*")
            .Select(d => int.TryParse(Path.GetFileName(d)[SnapshotPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int e) ? e : -1)
            .Where(e => e >= 1 && e <= target)
            .DefaultIfEmpty(0).Max();
    }

    /// <summary>Waits for the key's lease (polling: the holder is pretraining, which takes seconds to minutes).</summary>
    internal static FileStream TakeLease(string keyFolder, CancellationToken cancellationToken)
    {
        string path = Path.Combine(keyFolder, LeaseFile);
        while (true)
        {
            try
            {
                // FileShare.None is an exclusive advisory lock (flock on Unix, a share mode on Windows) that other processes see.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Held by another worker (or another trial of this process).
                cancellationToken.WaitHandle.WaitOne(LeasePoll);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }

    private const string LeaseFile = ".lease";
    private static readonly TimeSpan LeasePoll = TimeSpan.FromMilliseconds(200);

    // The stage's checkpoint errors name the checkpoint's path; anything else (bad data, a NaN loss) is not the cache's to fix.
    private static bool RefersToCheckpointIn(Exception e, string work) =>
        e is InvalidDataException or InvalidOperationException && e.Message.Contains(work, StringComparison.Ordinal);

    private static string Epochs(int epochs) => epochs.ToString("D4", CultureInfo.InvariantCulture);

    /// <summary>Counts the epochs a fit actually trains (the stage reports a summary per trained epoch, none for restored ones).
    /// The stage reports synchronously from its loop, so a plain counter is enough.</summary>
    private sealed class EpochCounter : IProgress<SslProgress>
    {
        public int Epochs { get; private set; }

        /// <summary>Called with the stage's epoch after each trained epoch.</summary>
        public Action<int>? AfterEpoch { get; set; }

        public void Report(SslProgress value)
        {
            if (value.EpochSummary is null) return;
            Epochs++;
            AfterEpoch?.Invoke(value.Epoch);
        }
    }
}
