using System.Collections.Concurrent;
using MlNetSsl.AutoML;

namespace MlNetSsl.Tests.AutoML;

/// <summary>An <see cref="IProgress{T}"/> that calls back synchronously, on the experiment's own loop (unlike
/// <see cref="Progress{T}"/>, which posts to the thread pool), so tests can act at an exact point of a run.</summary>
internal sealed class SynchronousProgress<T> : IProgress<T>
{
    private readonly Action<T> _onReport;

    public SynchronousProgress(Action<T>? onReport = null) => _onReport = onReport ?? (_ => { });

    public List<T> Reports { get; } = new();

    public void Report(T value)
    {
        Reports.Add(value);
        _onReport(value);
    }
}

/// <summary>A tuner that proposes a fixed list of configurations in order (then nothing), recording its updates.</summary>
internal sealed class ScriptedTuner : ITuner
{
    private readonly IReadOnlyList<Parameters> _script;

    public ScriptedTuner(IReadOnlyList<Parameters> script) => _script = script;

    public List<TrialResult> Updates { get; } = new();

    public Parameters? Propose(TrialContext context) => context.TrialId < _script.Count ? _script[context.TrialId] : null;

    public void Update(TrialResult result) => Updates.Add(result);

    /// <summary>A space with one integer option "id" and a script proposing ids 0..count-1.</summary>
    public static (SearchSpace Space, SslTuner Tuner) ForIds(int count)
    {
        var space = new SearchSpace().WithInteger("id", 0, 1000);
        var script = Enumerable.Range(0, count).Select(i => new Parameters().With("id", i)).ToArray();
        return (space, SslTuner.Custom("ids", (_, _) => new ScriptedTuner(script)));
    }
}

/// <summary>
/// A trial runner for scheduler and resume tests: the metric comes from a function of the request, and the runner keeps
/// an "epochs trained" counter in the trial's state folder, so a test can check that a continuation resumed from the
/// state of the previous rung instead of restarting.
/// </summary>
internal sealed class LearningCurveRunner
{
    private readonly Func<TrialRequest, double> _metric;

    public LearningCurveRunner(Func<TrialRequest, double> metric) => _metric = metric;

    /// <summary>A runner whose metric depends on the "id" option and the fidelity.</summary>
    public LearningCurveRunner(Func<int, int?, double> metricOfId) : this(r => metricOfId(r.Parameters.GetInt32("id"), r.Fidelity))
    {
    }

    public ConcurrentQueue<(int TrialId, int? PreviousFidelity, int? Fidelity, int EpochsTrainedBefore)> Segments { get; } = new();

    /// <summary>Runs after the bookkeeping, before the metric is returned (to interrupt a trial mid-segment).</summary>
    public Func<TrialRequest, CancellationToken, Task>? Hook { get; set; }

    public async Task<double> RunAsync(TrialRequest request, CancellationToken cancellationToken)
    {
        string counter = Path.Combine(request.StateDirectory, "epochs.txt");
        int before = File.Exists(counter) ? int.Parse(File.ReadAllText(counter), System.Globalization.CultureInfo.InvariantCulture) : 0;
        Segments.Enqueue((request.TrialId, request.PreviousFidelity, request.Fidelity, before));
        if (Hook is not null) await Hook(request, cancellationToken);
        File.WriteAllText(counter, (request.Fidelity ?? 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return _metric(request);
    }
}

/// <summary>Synthetic objectives with a known optimum for tuner tests.</summary>
internal static class SyntheticObjectives
{
    /// <summary>x, y in [-5, 5] and a 4-way category; loss (x - 1.3)^2 + (y + 2.1)^2, plus 3 unless the category is "c".
    /// The optimum is 0 at (1.3, -2.1, "c").</summary>
    public static SearchSpace QuadraticSpace() => new SearchSpace()
        .WithNumeric("x", -5, 5)
        .WithNumeric("y", -5, 5)
        .WithChoice("category", "a", "b", "c", "d");

    public static double Quadratic(Parameters p)
    {
        double dx = p.GetDouble("x") - 1.3, dy = p.GetDouble("y") + 2.1;
        return dx * dx + dy * dy + (p.GetString("category") == "c" ? 0 : 3);
    }

    /// <summary>Branin on x1 in [-5, 10], x2 in [0, 15] (minimum 0.397887 at three points) plus a 3-way category
    /// adding 0 ("fast"), 5 or 10; and an integer option "depth" in [1, 8] adding 0.25 * |depth - 5|.</summary>
    public static SearchSpace BraninSpace() => new SearchSpace()
        .WithNumeric("x1", -5, 10)
        .WithNumeric("x2", 0, 15)
        .WithInteger("depth", 1, 8)
        .WithChoice("kernel", "slow", "medium", "fast");

    public const double BraninMinimum = 0.397887;

    public static double Branin(Parameters p)
    {
        double x1 = p.GetDouble("x1"), x2 = p.GetDouble("x2");
        const double b = 5.1 / (4 * Math.PI * Math.PI), c = 5 / Math.PI, t = 1 / (8 * Math.PI);
        double branin = Math.Pow(x2 - b * x1 * x1 + c * x1 - 6, 2) + 10 * (1 - t) * Math.Cos(x1) + 10;
        double kernel = p.GetString("kernel") switch { "fast" => 0, "medium" => 5, _ => 10 };
        return branin + kernel + 0.25 * Math.Abs(p.GetInt32("depth") - 5);
    }

    /// <summary>Runs a tuner directly (no experiment) until the loss is within <paramref name="tolerance"/> of the optimum;
    /// returns the number of evaluations, or <paramref name="cap"/> + 1 when it never got there.</summary>
    public static int EvaluationsToNearOptimum(ITuner tuner, Func<Parameters, double> loss, double optimum, double tolerance, int cap)
    {
        for (int trial = 0; trial < cap; trial++)
        {
            Parameters p = tuner.Propose(new TrialContext(trial)) ?? throw new InvalidOperationException("Tuner exhausted.");
            double value = loss(p);
            tuner.Update(new TrialResult(trial, p, TrialStatus.Completed, value, null, TimeSpan.Zero));
            if (value <= optimum + tolerance) return trial + 1;
        }
        return cap + 1;
    }
}
