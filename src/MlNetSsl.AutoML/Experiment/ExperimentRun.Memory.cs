using System.Runtime.InteropServices;

namespace MlNetSsl.AutoML;

// The memory watchdog: a trial that pushes the working set past the limit is cancelled, and one that does not stop is abandoned.
internal sealed partial class ExperimentRun
{
    private async Task<bool> WaitForTrialAsync(Task task, CancellationToken trialToken)
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (trialToken.Register(() => cancelled.TrySetResult()))
        {
            if (await Task.WhenAny(task, cancelled.Task).ConfigureAwait(false) == task) return true;
        }
        // Cancellation was requested: give the trial the grace period to stop, then stop waiting for it.
        return await Task.WhenAny(task, Task.Delay(TimerDelay(_settings.GracePeriod), CancellationToken.None)).ConfigureAwait(false) == task;
    }

    internal static async Task MonitorMemoryAsync(Task trial, CancellationTokenSource trialCancellation, long limitBytes, int trialId, MemoryWatch watch)
    {
        while (!trial.IsCompleted && !trialCancellation.IsCancellationRequested)
        {
            await Task.WhenAny(trial, Task.Delay(MemoryCheckInterval)).ConfigureAwait(false);
            if (trial.IsCompleted || Environment.WorkingSet <= limitBytes) continue;
            // Garbage waiting for collection is no reason to fail a trial: collect, then measure again.
            long used = WorkingSetAfterCollection(limitBytes);
            if (used <= limitBytes) continue;
            watch.Failure = MemoryMessage(trialId, used, limitBytes, beforeStart: false);
            trialCancellation.Cancel();
            return;
        }
    }

    private static long WorkingSetAfterCollection(long limitBytes)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long used = Environment.WorkingSet;
        // The library tunes glibc to keep freed native memory (tensors) resident for reuse, so after a cancelled trial
        // the working set stays at its peak and every later trial would fail its before-start check. What is free in the
        // heap is no reason to refuse a trial: hand it back to the kernel and read again. Only then, because the next
        // steps pay for the pages they fault in again.
        if (used > limitBytes && ReturnFreeNativeHeapMemory()) used = Environment.WorkingSet;
        return used;
    }

    private static bool ReturnFreeNativeHeapMemory()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return TrimNativeHeap(0) != 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc (musl has no malloc_trim): nothing to hand back this way
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int TrimNativeHeap(nuint bytesToKeep);

    private static string MemoryMessage(int trialId, long used, long limit, bool beforeStart) =>
        $"Trial {trialId} exceeded the memory limit: the process working set {(beforeStart ? "was" : "reached")} {used / (1024.0 * 1024.0):F0} MiB" +
        $"{(beforeStart ? " before the trial started" : "")}, above the limit of {limit / (1024.0 * 1024.0):F0} MiB (SetMaximumMemoryUsageInMegaByte).";

    internal sealed class MemoryWatch
    {
        public volatile string? Failure;
    }
}
