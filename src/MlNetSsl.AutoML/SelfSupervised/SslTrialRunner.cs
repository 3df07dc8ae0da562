using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.AutoML;

/// <summary>
/// Runs one segment of a self-supervised trial: pretrains (or continues pretraining) to the segment's fidelity through the
/// shared <see cref="PretrainingCache"/>, then scores the encoder with the experiment's objective (a probe on embeddings,
/// or fine-tuning). Raw-feature and from-scratch trials skip pretraining and score once. Every stage fitted here is disposed before the segment returns.
/// </summary>
internal sealed class SslTrialRunner : ITrialRunner
{
    // The metric of a trial that does not depend on the fidelity (raw features, training from scratch), kept in the
    // trial's state folder so later rungs and resumed sessions report it without training again.
    private const string MetricFile = "metric.txt";
    private static readonly JsonSerializerOptions MeasureJson = new() { WriteIndented = true };

    private readonly Settings _settings;
    private readonly PretrainingCache _cache;
    private readonly string _measuresFolder;
    private (IDataView Train, IDataView Test)[][]? _rawFolds;
    // The raw folds unstandardized, for the nearest neighbour on series (SslDownstream.ReadsUnscaled).
    private (IDataView Train, IDataView Test)[][]? _unscaledRawFolds;
    // The last measured run of each configuration without the epochs lengthening changes (SslSearchSpace.WithoutTrainingEpochs):
    // its epochs, seconds and pretraining seconds, to price its longer versions. Single-fidelity trials only; empty after a
    // resume (nothing is refused then). The pretraining seconds come from the trial's own pretraining call, by trial id.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Parameters, (int Epochs, double Seconds, double PretrainingSeconds)> _costs = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, double> _pretrainingSeconds = new();
    // First trials whose pretraining the budget ended at an epoch's end: the epochs reached and configured, by trial id.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, (int Reached, int Configured)> _stoppedByBudget = new();
    // Each raw-feature trial's held-out predictions (per repetition, per fold of the shared raw folds), by trial id, for
    // the ensemble selection after the search.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, IReadOnlyList<IReadOnlyList<FoldPredictions>>> _rawOutOfFold = new();
    // A pretraining's seconds per epoch trained, by its options without the epochs, and each pipeline's time past its
    // pretraining with its fine-tuning epochs, by its configuration without any epochs: together they price a version of a
    // pipeline with other pretraining epochs, which _costs keeps apart (see WhySiblingNotStarted).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (double SecondsPerEpoch, double OnceOffSeconds)> _pretrainingRates = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Parameters, (int FineTuneEpochs, double Seconds)> _downstreamCosts = new();
    // Portfolio entries with an encoder or a network that ran their whole configuration: their learned and measured seconds,
    // to price the entries not run yet (see WhyPortfolioEntryNotStarted).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Parameters, (double Learned, double Measured)> _portfolioRuns = new();
    // Each scheduled trial's last segment: the fidelities it went from and to and the seconds it took, to price its promotion.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, (int From, int To, double Seconds)> _segments = new();
    // What a priced trial was started on (its predicted seconds, margin included), by trial id, while it runs: a network on
    // that pace is not given up after a fold (see WhyFineTuneStopsAfterFold).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, double> _startPrices = new();
    // Every trial's measures, by trial and fidelity: read from the measures folder at the start (earlier sessions of a
    // resumed experiment), then kept as this runner writes them, for decisions during the search.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(int TrialId, int? Fidelity), SslTrialMeasures> _measures = new();

    private int _segmentsRun;

    /// <summary>The segments this runner started work on (declined ones left out): none when a resumed experiment only
    /// replayed its journal, as mlnet-ssl's keep-the-best pass after Ctrl+C does.</summary>
    public int SegmentsRun => Volatile.Read(ref _segmentsRun);

    public SslTrialRunner(Settings settings)
    {
        _settings = settings;
        _cache = new PretrainingCache(Path.Combine(settings.CacheRoot, "pretraining"));
        _measuresFolder = Path.Combine(settings.CacheRoot, "measures");
        Directory.CreateDirectory(_measuresFolder);
        foreach (SslTrialMeasures earlier in LoadMeasures()) _measures[(earlier.TrialId, earlier.Fidelity)] = earlier;
    }

    public PretrainingCache Cache => _cache;

    /// <summary>What a longer version of a pipeline is priced at, per epoch, against its shorter run's time per epoch.</summary>
    internal const double LengtheningCostMargin = 1.2;

    /// <summary>The time another version of a pipeline should take, with the margin: a longer one, the measured version's
    /// time per epoch times <paramref name="wanted"/> epochs (for a longer fine-tuning, of its time past pretraining: the
    /// encoder is cached); a shorter pretraining, its pretraining per epoch times <paramref name="wanted"/> and the rest
    /// (embedding and probe, which do not shrink with the epochs) as measured: the cache keeps an encoder per epoch count,
    /// so a 10-epoch version of a 20-epoch probe pretrains again from the start.</summary>
    internal static double PredictedSeconds((int Epochs, double Seconds, double PretrainingSeconds) shorter, int wanted, bool fineTuning)
    {
        double pastPretraining = Math.Max(0, shorter.Seconds - shorter.PretrainingSeconds);
        if (fineTuning) return LengtheningCostMargin * pastPretraining * wanted / shorter.Epochs;
        return wanted >= shorter.Epochs ? LengtheningCostMargin * shorter.Seconds * wanted / shorter.Epochs
            : LengtheningCostMargin * (shorter.PretrainingSeconds * wanted / shorter.Epochs + pastPretraining);
    }

    /// <summary>The shortest per-trial time cap applied; below it only the budget stops a trial.</summary>
    internal static readonly TimeSpan MinimumTimeCap = TimeSpan.FromSeconds(3);

    /// <summary>A segment's time cap: <paramref name="fraction"/> of the budget left, once the search has a metric. In the
    /// budget's last seconds a share of what is left would fail every trial as over its cap, so below
    /// <see cref="MinimumTimeCap"/> the budget alone stops a trial (reported as stopped, not failed).</summary>
    internal static TimeSpan? TimeCap(bool searchHasAMetric, TimeSpan? remainingBudget, double fraction) =>
        searchHasAMetric && remainingBudget is TimeSpan left && left * fraction >= MinimumTimeCap ? left * fraction : null;

    public Task<double> RunAsync(TrialRequest request, CancellationToken cancellationToken)
    {
        // Raw-feature trials can take less than the context's 50 ms poll, so several would start after ml.CancelExecution().
        _settings.ThrowIfCancelled?.Invoke();
        SslTrialParameters parameters = request.Parameters.AsType<SslTrialParameters>();
        // The time cap: a share of the budget left, so one slow configuration fails alone instead of ending the search. Until
        // some trial has a metric there is no model to fall back on, so the first result is never cut short (on a slow or
        // loaded machine a capped first trial would leave the search with nothing).
        // The portfolio's entries were learned to be worth their time, so only the budget itself stops them: a 50% cap
        // cut a 10-epoch pretraining on 5,000 images a few seconds before its end and wasted all of it.
        Parameters family = SslSearchSpace.WithoutEpochs(request.Parameters);
        bool uncapped = _settings.Uncapped?.Contains(family) == true;
        double fraction = uncapped ? 1.0 : _settings.TrialTimeCapFraction;
        TimeSpan? cap = TimeCap(request.SearchHasAMetric, request.RemainingBudget, fraction);
        int? epochs = request.Fidelity is null ? SslSearchSpace.TrainingEpochs(request.Parameters) : null;
        // A longer version of a pipeline that has run costs about its time per epoch times its epochs, and some more (a
        // FixMatch epoch gets dearer as more pseudo-labels pass the threshold: a 26-epoch version priced at 191 s from its
        // 16-epoch run did not finish in 217 s); one that would be cut by the budget is refused at once (the experiment
        // then tries a shorter one) instead of wasting what is left.
        // Only the epochs lengthening changes differ between the versions (a FixMatch run from a 3-epoch encoder is not
        // priced from one from a 10-epoch encoder); a longer fine-tuning reuses the cached encoder, so only the shorter
        // version's time past its pretraining scales.
        Parameters costKey = SslSearchSpace.WithoutTrainingEpochs(request.Parameters);
        // A capped one (the lengthened version of a TPE incumbent) is priced against its cap as well: unpriced, a 23-epoch
        // probe's 18 s led to 50-, 37- and 29-epoch versions cut at caps of 14, 7 and 4 s, 25 s of a 90 s budget for nothing.
        // A shorter version is priced too: on 600 images with 120 s, the default 10-epoch SimCLR probe started with 30 s left
        // after its 20-epoch version's 51 s, pretrained from the start and was cut by the budget.
        if (epochs is int wanted && _costs.TryGetValue(costKey, out var shorter) && wanted != shorter.Epochs
            && WhyNotStarted(request, parameters, shorter, wanted, uncapped ? null : cap) is string why)
            return Task.FromException<double>(new TrialNotStartedException(why));
        if (epochs is not null && !_costs.ContainsKey(costKey) && WhySiblingNotStarted(request, parameters, uncapped ? null : cap) is string whySibling)
            return Task.FromException<double>(new TrialNotStartedException(whySibling));
        // A portfolio entry that nothing measured here prices (its first network, say) is priced from the portfolio's learned
        // seconds: unpriced, the image portfolio's FixMatch entry took the rest of a 120 s budget in 6 of 7 runs and was cut
        // without a metric, and the cheaper entries after it never ran.
        (double Seconds, bool CachedEncoder) learned = default;
        bool portfolioEntry = request.Fidelity is null && parameters.Features != SslFeatureSource.RawFeatures
            && _settings.PortfolioSeconds?.TryGetValue(request.Parameters, out learned) == true;
        if (portfolioEntry && !_costs.ContainsKey(costKey) && !_downstreamCosts.ContainsKey(SslSearchSpace.WithoutEpochs(request.Parameters))
            && WhyPortfolioEntryNotStarted(request, parameters, learned.Seconds, learned.CachedEncoder, uncapped ? null : cap) is string whyEntry)
            return Task.FromException<double>(new TrialNotStartedException(whyEntry));
        // A raw-feature trial's later rungs read its stored metric (ScoreOnce) and cost nothing, so its promotion is not priced.
        if (parameters.Features != SslFeatureSource.RawFeatures
            && WhyPromotionNotStarted(request, _segments.TryGetValue(request.TrialId, out var lastSegment) ? lastSegment : null) is string notPromoted)
            return Task.FromException<double>(new TrialNotStartedException(notPromoted));
        Interlocked.Increment(ref _segmentsRun);
        using var capped = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (cap is TimeSpan limit) capped.CancelAfter(ExperimentRun.TimerDelay(limit)); // no timer past 49.7 days (it would throw)
        try
        {
            var clock = Stopwatch.StartNew();
            double metric = parameters.Features switch
            {
                SslFeatureSource.RawFeatures => RunRawFeatures(request, parameters, capped.Token),
                // A network is also given up after a fold when it cannot finish within its cap (a portfolio entry's cap is the
                // budget itself, which the give-up rule already prices with the refit).
                SslFeatureSource.SupervisedFromScratch => RunFromScratch(request, parameters, uncapped ? null : cap, capped.Token),
                _ => RunSelfSupervised(request, parameters, uncapped ? null : cap, capped.Token), // with or without the raw features beside
            };
            // Taken out on every segment, so a scheduled trial (no epochs to price) leaves no entry behind.
            double pretraining = _pretrainingSeconds.TryRemove(request.TrialId, out double seconds) ? seconds : 0;
            // A probe's epochs are its pretraining's: one the budget stopped is priced at the epochs it trained.
            if (epochs is int trained)
                RecordRun(request.Parameters, _stoppedByBudget.TryGetValue(request.TrialId, out var stopped) && !parameters.TrainsNetwork ? stopped.Reached : trained,
                    clock.Elapsed.TotalSeconds, pretraining);
            if (request.Fidelity is int reached) _segments[request.TrialId] = (request.PreviousFidelity ?? 0, reached, clock.Elapsed.TotalSeconds);
            // A first trial the budget stopped short ran less than its configuration, so its time prices nothing.
            // Seconds that left pretraining out where the portfolio was learned compare with this run's time past pretraining.
            if (portfolioEntry && !_stoppedByBudget.ContainsKey(request.TrialId))
                RecordPortfolioRun(request.Parameters, learned.Seconds, clock.Elapsed.TotalSeconds - (learned.CachedEncoder ? pretraining : 0));
            return Task.FromResult(metric);
        }
        catch (FineTuneStoppedException e)
        {
            // Given up after its first folds: what all of them would have taken prices the entries and versions after it, so
            // they are not started on the estimate this one proved too low.
            double pretraining = _pretrainingSeconds.TryRemove(request.TrialId, out double seconds) ? seconds : 0;
            double projected = pretraining + e.ProjectedSeconds;
            if (epochs is int trained) RecordRun(request.Parameters, trained, projected, pretraining);
            if (portfolioEntry) RecordPortfolioRun(request.Parameters, learned.Seconds, projected - (learned.CachedEncoder ? pretraining : 0));
            throw new TrialTimedOutException(e.Message, e);
        }
        catch (Exception e) when (capped.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TrialTimedOutException(string.Create(CultureInfo.InvariantCulture,
                $"Trial {request.TrialId} exceeded its time cap of {cap!.Value.TotalSeconds:0.#} s ({fraction:P0} of the " +
                $"{request.RemainingBudget!.Value.TotalSeconds:0.#} s of budget left when it started)."), e);
        }
        finally
        {
            _startPrices.TryRemove(request.TrialId, out _);
        }
    }

    /// <summary>
    /// Why a scheduler's promotion of a trial (its next rung, continued from its state) is not started: the epochs it adds,
    /// priced at its last segment's seconds per epoch, need more than the budget left. Null when it fits, when the trial
    /// has no measured segment at the fidelity it continues from (a resumed search), or without a budget. The last
    /// segment's time includes a downstream fit that the new one repeats once, not per epoch, so the price errs high.
    /// Unpriced, ASHA's 2-to-6-epoch promotion of a SimCLR trial on 20,000 images (79 s for its first 2 epochs) was started
    /// with 101 s left and cut by the budget, and the raw-pixel trials never ran.
    /// </summary>
    internal static string? WhyPromotionNotStarted(TrialRequest request, (int From, int To, double Seconds)? previous)
    {
        if (request.Fidelity is not int wanted || request.PreviousFidelity is not int reached || wanted <= reached
            || previous is not { } last || last.To != reached || last.To <= last.From || request.RemainingBudget is not TimeSpan left) return null;
        double predicted = last.Seconds * (wanted - reached) / (last.To - last.From);
        return predicted <= left.TotalSeconds ? null : string.Create(CultureInfo.InvariantCulture,
            $"Trial {request.TrialId} was not continued from {reached} to {wanted} epochs: that would need about {predicted:0} s " +
            $"({last.Seconds:0.#} s for epochs {last.From + 1} to {last.To}), more than the {left.TotalSeconds:0} s of budget left.");
    }

    /// <summary>
    /// Why a version of a pipeline with other pretraining epochs than one that has run (which <see cref="WhyNotStarted"/>
    /// does not price) is not started: its pretraining, at the seconds per epoch measured for those pretraining options,
    /// for the epochs the cache does not hold, plus the other version's time past pretraining (per fine-tuning epoch for a
    /// network), with the margin, then the refit, would need more than the budget left, or it alone more than its
    /// <paramref name="cap"/>. Null when it fits, when either part has not been measured, or without a budget. Unpriced, a
    /// SimCLR 10-epoch + FixMatch entry was started on 1,462 images with 120 s left after its 3-epoch version took 162 s,
    /// and cut by the budget 24 s later.
    /// </summary>
    internal string? WhySiblingNotStarted(TrialRequest request, SslTrialParameters parameters, TimeSpan? cap)
    {
        if (request.Fidelity is not null || request.RemainingBudget is null
            || parameters.Features is not (SslFeatureSource.SelfSupervised or SslFeatureSource.RawAndSelfSupervised)
            || !request.Parameters.ContainsKey(SslSearchSpace.PretrainingOption)
            || !_downstreamCosts.TryGetValue(SslSearchSpace.WithoutEpochs(request.Parameters), out var sibling)
            || !_pretrainingRates.TryGetValue(PretrainingFamily(request.Parameters), out var rate))
            return null;
        (double pretraining, int toPretrain) = PretrainingPrice(request, parameters, rate);
        double secondsPerEpoch = rate.SecondsPerEpoch;
        bool fineTuning = parameters.Downstream.Trainer == DownstreamTrainer.FineTune;
        double pastPretraining = sibling.Seconds * (fineTuning && sibling.FineTuneEpochs > 0 ? (double)parameters.Downstream.FineTuneEpochs / sibling.FineTuneEpochs : 1);
        double predicted = LengtheningCostMargin * (pretraining + pastPretraining);
        string need = string.Create(CultureInfo.InvariantCulture,
            $"Trial {request.TrialId} was not started: it would need about {predicted:0} s ({toPretrain} pretraining epochs at " +
            $"{secondsPerEpoch:0.#} s, then {pastPretraining:0} s as its version with other pretraining epochs took past its pretraining; " +
            $"{LengtheningCostMargin:0.##}x as margin)");
        return WhyNotFitting(request, parameters, predicted, pastPretraining, need, cap);
    }

    /// <summary>
    /// Why a portfolio entry with an encoder or a network that no run here prices (<see cref="WhyNotStarted"/>,
    /// <see cref="WhySiblingNotStarted"/>) is not started: the seconds it took where the portfolio was learned, scaled by
    /// how long the entries of that kind already run here took against their learned seconds (this host's speed and this
    /// data's size), plus, when those seconds left out its pretraining (<paramref name="learnedWithCachedEncoder"/>) and
    /// the cache here does not hold that encoder, its pretraining at the seconds per epoch measured for those options,
    /// then the refit, would need more than the budget left, or it alone more than its
    /// <paramref name="cap"/>. Null when it fits, when no such entry has run (the first is never refused), or without a
    /// budget. Raw-feature entries neither set the scale (their seconds are mostly fixed costs, such as loading LightGBM)
    /// nor are priced (they take seconds).
    /// </summary>
    internal string? WhyPortfolioEntryNotStarted(TrialRequest request, SslTrialParameters parameters, double learnedSeconds, bool learnedWithCachedEncoder,
        TimeSpan? cap)
    {
        if (request.RemainingBudget is null || learnedSeconds <= 0) return null;
        // A network is priced by its optimizer steps, whose count does not follow the rows as the entries run before it do:
        // on 600 CIFAR-10 images (60 labeled) the probe took 0.43x its learned seconds, which priced the FixMatch entry at
        // 43 s; its 5 folds of 10 epochs of at least 10 steps ran at 19.2 s a fold, 96 s in all.
        if (NetworkPrice(request, parameters) is { } network)
        {
            (double networkPretraining, int networkEpochs) = PretrainingPrice(request, parameters, network.Rate);
            string networkPretrainingText = PretrainingText(networkEpochs, network.Rate.SecondsPerEpoch);
            string networkNeed = string.Create(CultureInfo.InvariantCulture,
                $"Trial {request.TrialId} was not started: this portfolio entry would need about {networkPretraining + network.Seconds:0} s " +
                $"({networkPretrainingText}{network.Folds} network(s) of {parameters.Downstream.FineTuneEpochs} epochs x {network.StepsPerEpoch} steps " +
                $"at about {network.StepSeconds:0.###} s a step, priced from the {1000 * network.SecondsPerPretrainingRow:0.##} ms per row that " +
                $"pretraining with these options took here)");
            return WhyNotFitting(request, parameters, networkPretraining + network.Seconds, network.Seconds, networkNeed, cap);
        }
        if (_portfolioRuns.IsEmpty) return null;
        var runs = _portfolioRuns.Values.ToArray();
        double learnedTotal = runs.Sum(r => r.Learned);
        if (learnedTotal <= 0) return null;
        double scale = runs.Sum(r => r.Measured) / learnedTotal;
        // Where the portfolio was learned an earlier entry had pretrained this encoder; here one may not have (an entry left
        // out for this data's size, or not started): the SSL + LightGBM entry's 3.8 s hid a 10-epoch pretraining of 50 s.
        double pretraining = 0;
        string pretrainingText = "";
        if (learnedWithCachedEncoder && request.Parameters.ContainsKey(SslSearchSpace.PretrainingOption)
            && _pretrainingRates.TryGetValue(PretrainingFamily(request.Parameters), out var rate))
        {
            (pretraining, int toPretrain) = PretrainingPrice(request, parameters, rate);
            pretrainingText = PretrainingText(toPretrain, rate.SecondsPerEpoch);
        }
        double pastPretraining = learnedSeconds * scale;
        // No margin on top: the scaled learned seconds already err high (on the 5,000-image CIFAR-10 search the probe's 37 s
        // against its learned 21.7 s would price the FixMatch entry at 158 s; it took 77 s).
        double predicted = pretraining + pastPretraining;
        string need = string.Create(CultureInfo.InvariantCulture,
            $"Trial {request.TrialId} was not started: this portfolio entry would need about {predicted:0} s ({pretrainingText}" +
            $"{learnedSeconds:0.#} s where the portfolio was learned, and the {runs.Length} entr{(runs.Length == 1 ? "y" : "ies")} with an encoder or a network " +
            $"run here took {scale:0.##}x their learned seconds)");
        // Seconds learned with the pretraining in them are priced whole for the refit, an upper bound (the refit loads the encoder).
        return WhyNotFitting(request, parameters, predicted, pastPretraining, need, cap);
    }

    /// <summary>The start of a price's reason for its pretraining ("10 pretraining epochs at 1.6 s, then "); empty with none.</summary>
    private static string PretrainingText(int epochs, double secondsPerEpoch) => epochs > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{epochs} pretraining epochs at {secondsPerEpoch:0.#} s, then ")
        : "";

    /// <summary>A plain fine-tuning step's cost per labeled row of its batch, in rows of pretraining the same encoder (a
    /// pretraining row is two augmented views forward and backward through encoder and projector; a fine-tuning row is one
    /// weak view forward and backward). Measured: on 45 labeled CIFAR-10 images of 5 classes (300 unlabeled), 500 steps of 36
    /// rows took 23 s against 5.5 ms a pretraining row, 0.23 a labeled row.</summary>
    internal const double FineTuneStepRowsPerLabeledRow = 0.3;

    /// <summary>A FixMatch step's cost per labeled row of its batch, in rows of pretraining the same encoder: the labeled
    /// row (0.5), the weak views of its three unlabeled rows forward without gradients (0.5), and the strong views of those
    /// whose pseudo-label passes the threshold forward and backward (1.5 when all pass; a third here), by the plain step's
    /// 0.5 of two views' 1 (measured lower: see <see cref="FineTuneStepRowsPerLabeledRow"/>). Measured, the
    /// steps of 64 labeled and 192 unlabeled rows of 20 epochs on 4,000 CIFAR-10 images cost 1.34 pretraining rows per
    /// labeled row (docs/benchmarks.md, "FixMatch fine-tuning": 150 ms a step against 1.75 ms a SimCLR row), and those of
    /// 10 epochs on 600 images (60 labeled) 1.27.</summary>
    internal const double FixMatchStepRowsPerLabeledRow = 1.5;

    /// <summary>What a fine-tuning step costs besides its rows (optimizer, batch assembly, scheduling): it dominates the
    /// steps of a few labeled series (plain fine-tuning on GunPoint's 8 labels: 8 ms a step of 6 rows).</summary>
    internal const double FineTuneStepOverheadSeconds = 0.005;

    /// <summary>What the networks of a fine-tuning trial from a pretrained encoder should take past its pretraining: one
    /// network per fine-tuning fold, each epoch the fine-tuner's optimizer steps (a pass over the fold's labeled rows, at
    /// least <see cref="FineTuneOptions.MinimumAutomaticStepsPerEpoch"/>, and with FixMatch at least a pass over the
    /// unlabeled rows), each step its batch's rows at the seconds per row that pretraining with the trial's options took
    /// here, with that pretraining rate. Null without such a pretraining measured here, or for distillation and networks
    /// trained from scratch.</summary>
    private (double Seconds, int Folds, long StepsPerEpoch, double StepSeconds, double SecondsPerPretrainingRow,
        (double SecondsPerEpoch, double OnceOffSeconds) Rate)? NetworkPrice(
        TrialRequest request, SslTrialParameters parameters)
    {
        SslDownstreamParameters downstream = parameters.Downstream;
        if (parameters.Features != SslFeatureSource.SelfSupervised || downstream.Trainer != DownstreamTrainer.FineTune || downstream.Distill
            || !_pretrainingRates.TryGetValue(PretrainingFamily(request.Parameters), out var rate))
            return null;
        long rows = _settings.Dataset.RowCount;
        int labeled = _settings.Dataset.LabeledCount;
        // The pretrainer drops an epoch's last partial batch.
        long pretrainingBatch = Math.Clamp(parameters.Pretraining.BatchSize, 1, Math.Max(1, rows));
        long rowsPerEpoch = rows / pretrainingBatch * pretrainingBatch;
        if (rowsPerEpoch <= 0 || labeled <= 0 || rate.SecondsPerEpoch <= 0) return null;
        double secondsPerRow = rate.SecondsPerEpoch / rowsPerEpoch;
        int foldCount = Math.Max(1, _settings.FoldCount);
        int folds = _settings.FineTuneFolds > 0 ? Math.Min(_settings.FineTuneFolds, foldCount) : foldCount;
        // A fold trains on the other folds' labels; its own are left out altogether, not kept as unlabeled rows.
        long trainLabeled = foldCount < 2 ? labeled : Math.Max(1, (long)Math.Ceiling(labeled * (foldCount - 1.0) / foldCount));
        var options = new FineTuneOptions();
        downstream.ApplyTo(options);
        long batch = Math.Max(1, Math.Min(options.BatchSize, trainLabeled));
        long stepsPerEpoch = Math.Max(FineTuneOptions.MinimumAutomaticStepsPerEpoch, (trainLabeled + batch - 1) / batch);
        double rowsPerLabeledRow = FineTuneStepRowsPerLabeledRow;
        if (options.SemiSupervised is { } semi)
        {
            long unlabeledBatch = Math.Max(1, semi.UnlabeledRatio * batch);
            stepsPerEpoch = Math.Max(stepsPerEpoch, (rows - labeled + unlabeledBatch - 1) / unlabeledBatch);
            rowsPerLabeledRow = FixMatchStepRowsPerLabeledRow;
        }
        double stepSeconds = FineTuneStepOverheadSeconds + batch * rowsPerLabeledRow * secondsPerRow;
        return ((double)folds * options.Epochs * stepsPerEpoch * stepSeconds, folds, stepsPerEpoch, stepSeconds, secondsPerRow, rate);
    }

    /// <summary>What a trial's pretraining should take: the epochs of its options that the cache does not hold, at the
    /// measured <paramref name="rate"/>, with the once-off part (reading the rows, building the model) when any are left;
    /// and how many epochs that is.</summary>
    private (double Seconds, int Epochs) PretrainingPrice(TrialRequest request, SslTrialParameters parameters, (double SecondsPerEpoch, double OnceOffSeconds) rate)
    {
        int wanted = parameters.Pretraining.Epochs;
        int toPretrain = Math.Max(0, wanted - _cache.SnapshotEpochs(CacheKey(request), wanted));
        return (toPretrain > 0 ? rate.OnceOffSeconds + rate.SecondsPerEpoch * toPretrain : 0, toPretrain);
    }

    /// <summary>Records a portfolio entry with an encoder or a network that ran its whole configuration in
    /// <paramref name="measuredSeconds"/>, against the <paramref name="learnedSeconds"/> it took where the portfolio was
    /// learned, to price the entries not run yet.</summary>
    internal void RecordPortfolioRun(Parameters configuration, double learnedSeconds, double measuredSeconds) =>
        _portfolioRuns[configuration] = (learnedSeconds, measuredSeconds);

    /// <summary>Records a single-fidelity run of <paramref name="configuration"/> (its lengthened epochs, seconds and the
    /// seconds of its own pretraining call), to price its longer versions and its versions with other pretraining epochs.</summary>
    internal void RecordRun(Parameters configuration, int epochs, double seconds, double pretrainingSeconds)
    {
        _costs[SslSearchSpace.WithoutTrainingEpochs(configuration)] = (epochs, seconds, pretrainingSeconds);
        _downstreamCosts[SslSearchSpace.WithoutEpochs(configuration)] =
            (configuration.AsType<SslTrialParameters>().Downstream.FineTuneEpochs, Math.Max(0, seconds - pretrainingSeconds));
    }

    /// <summary>Records a pretraining call that trained <paramref name="epochsTrained"/> epochs in
    /// <paramref name="epochSeconds"/> of its <paramref name="seconds"/> (the rest: reading the rows, building the model,
    /// restoring a snapshot); a call that trained none, or a configuration without pretraining options, records nothing.</summary>
    internal void RecordPretraining(Parameters configuration, int epochsTrained, double epochSeconds, double seconds)
    {
        if (epochsTrained > 0 && configuration.ContainsKey(SslSearchSpace.PretrainingOption))
            _pretrainingRates[PretrainingFamily(configuration)] = (epochSeconds / epochsTrained, Math.Max(0, seconds - epochSeconds));
    }

    /// <summary>Whether a trial here has pretrained an encoder with <paramref name="configuration"/>'s pretraining options
    /// (any epochs): the cache then holds one, so a trainer on it costs seconds where a new encoder costs its pretraining.</summary>
    internal bool HasPretrained(Parameters configuration) =>
        configuration.ContainsKey(SslSearchSpace.PretrainingOption) && _pretrainingRates.ContainsKey(PretrainingFamily(configuration));

    /// <summary>The pretraining options without their epochs: what pretrainings that differ only in length share.</summary>
    private static string PretrainingFamily(Parameters configuration) =>
        SslSearchSpace.WithoutEpochs(configuration).ComputeSubsetHash(SslSearchSpace.PretrainingOption);

    /// <summary>The price trial <paramref name="trialId"/> was started on (its predicted seconds, margin included) while it
    /// runs; null when it was not priced, or was refused.</summary>
    internal double? StartPrice(int trialId) => _startPrices.TryGetValue(trialId, out double price) ? price : null;

    /// <summary>Why a segment expected to take <paramref name="predicted"/> seconds (<paramref name="need"/> says so) is not
    /// started: more than its <paramref name="cap"/>, or, with its refit (its own from <paramref name="pastPretraining"/>,
    /// should it win, else the best so far's), more than the budget left. Null when it fits.</summary>
    private string? WhyNotFitting(TrialRequest request, SslTrialParameters parameters, double predicted, double pastPretraining, string need, TimeSpan? cap)
    {
        if (request.RemainingBudget is not TimeSpan searchLeft) return null;
        if (cap is TimeSpan limit && predicted > limit.TotalSeconds)
            return string.Create(CultureInfo.InvariantCulture, $"{need}, more than its time cap of {limit.TotalSeconds:0.#} s.");
        double ownRefit = RefitSeconds(parameters, pastPretraining);
        double kept = request.ReservedAfterSearch.TotalSeconds;
        double refit = Math.Max(ownRefit, kept);
        double left = (searchLeft + request.ReservedAfterSearch).TotalSeconds;
        if (predicted + refit <= left)
        {
            _startPrices[request.TrialId] = predicted;
            return null;
        }
        return string.Create(CultureInfo.InvariantCulture,
            $"{need}, then about {refit:0} s for the refit (its own, should it win: {ownRefit:0} s; the best so far's: {kept:0} s), " +
            $"more than the {left:0} s of budget left.");
    }

    /// <summary>Why a longer version of a pipeline, priced from its <paramref name="shorter"/> run, is not started: it and then
    /// the refit (its own should it win, else the best so far's) would need more than the budget left, or it alone more than
    /// its time <paramref name="cap"/>; null when they fit or there is no budget.</summary>
    internal string? WhyNotStarted(TrialRequest request, SslTrialParameters parameters, (int Epochs, double Seconds, double PretrainingSeconds) shorter,
        int wanted, TimeSpan? cap = null)
    {
        if (request.RemainingBudget is null) return null;
        bool fineTuning = SslSearchSpace.LengthensFineTuning(request.Parameters);
        double predicted = PredictedSeconds(shorter, wanted, fineTuning);
        string need = string.Create(CultureInfo.InvariantCulture,
            $"Trial {request.TrialId} was not started: at {wanted} epochs it would need about {predicted:0} s (its {shorter.Epochs}-epoch version " +
            $"took {shorter.Seconds:0.#} s, {shorter.PretrainingSeconds:0.#} s of it pretraining; {LengtheningCostMargin:0.##}x per epoch as margin)");
        double pastPretraining = Math.Max(0, shorter.Seconds - shorter.PretrainingSeconds) * (fineTuning ? (double)wanted / shorter.Epochs : 1);
        return WhyNotFitting(request, parameters, predicted, pastPretraining, need, cap);
    }

    /// <summary>
    /// What the refit of a trial is expected to take, from its time past pretraining (the refit loads the cached encoder):
    /// one network, or one trainer fit, of the several the cross-validation trained, on all labeled rows instead of a
    /// fold's share (a semi-supervised network's epochs follow its unlabeled rows, which do not grow), with the 20% margin of
    /// <see cref="LengtheningCostMargin"/>. Zero under the label-free objective, whose refit is one default trainer.
    /// </summary>
    internal double RefitSeconds(SslTrialParameters parameters, double secondsPastPretraining) =>
        _settings.Objective.Kind != SslObjectiveKind.CrossValidatedAccuracy ? 0
            : RefitSeconds(parameters, secondsPastPretraining, _settings.FoldCount, _settings.FineTuneFolds, _settings.Repetitions.Count);

    /// <summary><see cref="RefitSeconds(SslTrialParameters, double)"/> for a cross-validation of <paramref name="foldCount"/>
    /// folds, <paramref name="repetitions"/> times for trainers on vectors and on the first <paramref name="fineTuneFolds"/>
    /// folds (0: all) for networks.</summary>
    internal static double RefitSeconds(SslTrialParameters parameters, double secondsPastPretraining, int foldCount, int fineTuneFolds, int repetitions)
    {
        if (secondsPastPretraining <= 0) return 0;
        bool network = parameters.TrainsNetwork;
        int folds = Math.Max(1, foldCount);
        int fits = network ? (fineTuneFolds > 0 ? Math.Min(fineTuneFolds, folds) : folds) : folds * Math.Max(1, repetitions);
        double moreLabels = (network && parameters.Downstream.UsesUnlabeledRows) || folds < 2 ? 1 : folds / (folds - 1.0);
        return LengtheningCostMargin * secondsPastPretraining / fits * moreLabels;
    }

    /// <summary>The held-out predictions of raw-feature trial <paramref name="trialId"/> scored by this runner (per repetition
    /// of the cross-validation, per fold; every raw-feature trial's on the same folds), also an earlier session's of a
    /// checkpointed run and another worker's on this host; null for another trial, or one scored where this process cannot read.</summary>
    internal IReadOnlyList<IReadOnlyList<FoldPredictions>>? RawOutOfFold(int trialId)
    {
        if (_rawOutOfFold.TryGetValue(trialId, out var scored)) return scored;
        string path = OutOfFoldPath(trialId);
        if (!File.Exists(path)) return null;
        try
        {
            // Written atomically; an unreadable one (another version's) leaves the trial out of the selection.
            return JsonSerializer.Deserialize<FoldPredictions[][]>(File.ReadAllText(path)) is { Length: > 0 } stored ? _rawOutOfFold[trialId] = stored : null;
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>What the refit of <paramref name="trial"/> is expected to take (<see cref="RefitSeconds(SslTrialParameters, double)"/>
    /// of its scoring time past the pretraining, as its measures recorded it, also in an earlier session); zero for a
    /// trial without measures.</summary>
    public TimeSpan RefitTime(TrialRecord trial) => SslExperiment.MeasuresOf(Measures, trial) is { } measures
        ? TimeSpan.FromSeconds(RefitSeconds(trial.Parameters.AsType<SslTrialParameters>(), measures.EvaluationSeconds))
        : TimeSpan.Zero;

    /// <summary>Whether a pretraining that has trained <paramref name="trained"/> epochs in <paramref name="elapsed"/> (reading
    /// the rows included, so an epoch is priced high) stops before the next one: when that epoch would end past the
    /// <paramref name="budget"/> left.</summary>
    internal static bool StopsBeforeNextEpoch(TimeSpan elapsed, int trained, TimeSpan budget) =>
        trained >= 1 && elapsed + elapsed / trained > budget;

    /// <summary>First trials whose pretraining the budget ended at an epoch's end (see <see cref="StopsBeforeNextEpoch"/>):
    /// trial id, the epochs reached and the epochs configured.</summary>
    public IReadOnlyList<(int TrialId, int Reached, int Configured)> StoppedByBudget =>
        [.. _stoppedByBudget.OrderBy(p => p.Key).Select(p => (p.Key, p.Value.Reached, p.Value.Configured))];

    /// <summary>The stage options a finished trial's encoder was pretrained with, for the cache to load it again (the refit,
    /// a rescore): its fidelity's or configured epochs, or, for a first trial the budget stopped at an epoch's end (its
    /// measures hold fewer epochs than configured), the epochs it reached, on the schedule of the configured ones.</summary>
    public SelfSupervisedOptions TrainedPretrainingOptions(TrialRecord trial, int? maxFidelity)
    {
        SslPretrainingParameters pretraining = trial.Parameters.AsType<SslTrialParameters>().Pretraining;
        int epochs = trial.Fidelity ?? pretraining.Epochs;
        return EpochsReached(trial) is int reached
            ? PretrainingOptions(pretraining, reached, maxFidelity: epochs)
            : PretrainingOptions(pretraining, epochs, maxFidelity);
    }

    /// <summary>The epochs a first trial the budget stopped at an epoch's end reached (its measures hold fewer than its
    /// configured epochs, and it has no fidelity); null for every other trial.</summary>
    public int? EpochsReached(TrialRecord trial) =>
        trial.Fidelity is null && SslExperiment.MeasuresOf(Measures, trial) is { } measures
        && measures.PretrainingEpochsTrained + measures.PretrainingEpochsReused is int reached
        && reached >= 1 && reached < trial.Parameters.AsType<SslTrialParameters>().Pretraining.Epochs ? reached : null;

    /// <summary>Every trial's measures so far, this session's and a resumed experiment's earlier ones, without reading the
    /// measures folder again (<see cref="LoadMeasures"/> does).</summary>
    public IReadOnlyList<SslTrialMeasures> Measures => _measures.Values.ToArray();

    /// <summary>Fine-tuning epochs follow the fidelity: a segment at fidelity f of a maximum F trains
    /// round(epochs x f / F) epochs (at least 1), so a low rung of a fine-tuning or from-scratch trial costs what a low rung
    /// should and the scheduler can stop it early. Without a scheduler the configured epochs.</summary>
    internal static SslDownstreamParameters AtFidelity(SslDownstreamParameters downstream, int? fidelity, int? maxFidelity)
    {
        if (fidelity is not int f || maxFidelity is not int max || max <= 0 || f >= max) return downstream;
        var scaled = downstream.ForTrainingFromScratch(); // a copy; restore what that changes
        scaled.Trainer = downstream.Trainer;
        scaled.FreezeEncoder = downstream.FreezeEncoder;
        scaled.FineTuneEpochs = Math.Max(1, (int)Math.Round(downstream.FineTuneEpochs * (double)f / max));
        return scaled;
    }

    /// <summary>A stage holding the configuration's encoder at random (seeded) initial weights, with the input
    /// normalization of every row: where supervised training from scratch starts (<paramref name="seed"/>: other initial
    /// weights than the experiment's pretraining seed gives).</summary>
    public SelfSupervisedTransformer UntrainedStage(MLContext ml, SslPretrainingParameters parameters, int? seed = null)
    {
        SelfSupervisedOptions options = PretrainingOptions(parameters, epochs: 0, maxFidelity: null);
        if (seed is int weights) options.Seed = weights;
        return ml.Transforms.SelfSupervised(options).Fit(_settings.Dataset.Data);
    }

    /// <summary>The stage options of a configuration at <paramref name="epochs"/>, with the experiment's shared
    /// pretraining seed and schedule: every trial of a cache key must train the same run.</summary>
    public SelfSupervisedOptions PretrainingOptions(SslPretrainingParameters parameters, int epochs, int? maxFidelity)
    {
        SelfSupervisedOptions options = parameters.ToOptions(_settings.Dataset.Shape, _settings.Dataset.InputColumn, SslDataset.FeatureColumn);
        options.BatchSize = PoolBatchSize(parameters.BatchSize, _settings.Dataset.RowCount);
        options.Epochs = epochs;
        options.ScheduleEpochs = maxFidelity ?? epochs;
        options.Seed = _settings.PretrainingSeed;
        options.AllowCuda = _settings.AllowCuda;
        return options;
    }

    /// <summary>The pretraining batch on a pool of <paramref name="rows"/> rows: <paramref name="configured"/>, or a quarter of
    /// the rows (at least 16) where that is smaller, so an epoch is at least four steps. A step drops the last partial batch,
    /// so 400 images in batches of 256 trained one step an epoch: SimCLR for 10 epochs then tested 33.9% (4 seeds, a probe
    /// on 400 CIFAR-10 images, 1,000 test images) against 36.8% in batches of 100, at the same time per epoch; on
    /// GunPoint's 50 series 87.3% against 90.7% (batches of 16, 3 seeds); SCARF on 200 wine rows was unchanged. From
    /// 1,024 rows on nothing changes.</summary>
    internal static int PoolBatchSize(int configured, long rows) => (int)Math.Min(configured, Math.Max(16, rows / 4));

    /// <summary>The pretraining cache key of a configuration: the hash of its <c>Pretraining</c> options.</summary>
    public static string CacheKey(TrialRequest request) =>
        request.Parameters.ContainsKey(SslSearchSpace.PretrainingOption) ? request.GetCacheKey(SslSearchSpace.PretrainingOption) : "defaults";

    /// <summary>The pretraining cache key of a configuration outside a trial (the refit).</summary>
    public static string CacheKey(Parameters parameters) =>
        parameters.ContainsKey(SslSearchSpace.PretrainingOption) ? parameters.ComputeSubsetHash(SslSearchSpace.PretrainingOption) : "defaults";

    /// <summary>Every measure recorded so far (this session and, with a checkpoint folder, earlier ones), by trial and fidelity.</summary>
    public IReadOnlyList<SslTrialMeasures> LoadMeasures() => Directory.GetFiles(_measuresFolder, "trial-*.json")
        .Select(ReadMeasures).OfType<SslTrialMeasures>()
        .OrderBy(m => m.TrialId).ThenBy(m => m.Fidelity ?? 0).ToArray();

    // Measures are a report: a file an earlier version left torn is skipped (with a trace) instead of failing the experiment.
    private static SslTrialMeasures? ReadMeasures(string file)
    {
        try
        {
            return JsonSerializer.Deserialize<SslTrialMeasures>(File.ReadAllText(file), MeasureJson);
        }
        catch (JsonException e)
        {
            Trace.TraceWarning($"MlNetSsl.AutoML: skipped the unreadable trial measures {file} ({e.Message}).");
            return null;
        }
    }

    private double RunSelfSupervised(TrialRequest request, SslTrialParameters parameters, TimeSpan? cap, CancellationToken cancellationToken)
    {
        var trialClock = Stopwatch.StartNew();
        int epochs = request.Fidelity ?? parameters.Pretraining.Epochs;
        SelfSupervisedOptions options = PretrainingOptions(parameters.Pretraining, epochs, request.MaxFidelity);
        var ml = new MLContext(request.Seed);
        using CancellationTokenRegistration stop = CrossValidation.CancelWith(ml, cancellationToken);
        // The first trial is not cut short (without its result the search has no model), but it ends its pretraining at an
        // epoch's end when one more epoch would end past the budget: 3 SimCLR epochs on 10,000 CIFAR images took 134 s of a
        // 60 s budget on a busy 2-core host, and the run 153 s.
        Func<int, TimeSpan, bool>? stopAfterEpoch = !request.SearchHasAMetric && request.Fidelity is null && request.RemainingBudget is TimeSpan left
            ? (trained, elapsed) => StopsBeforeNextEpoch(elapsed, trained, left)
            : null;
        PretrainingOutcome outcome = _cache.Pretrain(ml, _settings.Dataset.Data, options, CacheKey(request), cancellationToken, stopAfterEpoch);
        if (outcome.Transformer.History.Count < epochs) _stoppedByBudget[request.TrialId] = (outcome.Transformer.History.Count, epochs);
        _pretrainingSeconds[request.TrialId] = outcome.Duration.TotalSeconds;
        if (request.Fidelity is null)
            RecordPretraining(request.Parameters, outcome.EpochsTrained,
                outcome.Transformer.History.Skip(outcome.EpochsReused).Sum(h => h.Seconds), outcome.Duration.TotalSeconds);
        using SelfSupervisedTransformer stage = outcome.Transformer;

        var evaluation = Stopwatch.StartNew();
        MetricEstimate? estimate = null;
        LabelFreeMeasures? labelFree = null;
        if (_settings.Objective.Kind == SslObjectiveKind.CrossValidatedAccuracy && parameters.Downstream.Trainer == DownstreamTrainer.FineTune)
        {
            estimate = EvaluateFineTune(ml, stage, AtFidelity(parameters.Downstream, request.Fidelity, request.MaxFidelity), request.Seed, cancellationToken,
                afterFold: GiveUpAfterFold(request, parameters, trialClock, cap));
        }
        else if (_settings.Objective.Kind == SslObjectiveKind.CrossValidatedAccuracy)
        {
            estimate = EvaluateVectors(ml, LabeledVectors(stage, parameters.Features), parameters.Downstream, cancellationToken);
        }
        if (_settings.Objective.Kind == SslObjectiveKind.LabelFree || _settings.RecordLabelFreeMeasures)
        {
            labelFree = MeasureLabelFree(stage, _settings.Dataset, request.Seed, withRotation: _settings.RecordLabelFreeMeasures, cancellationToken);
        }
        double metric = estimate?.Value ?? labelFree!.Score;
        WriteMeasures(WithEstimate(new SslTrialMeasures
        {
            TrialId = request.TrialId,
            Fidelity = request.Fidelity,
            FeatureSource = parameters.Features,
            Metric = metric,
            RankMe = labelFree?.RankMe,
            RankMeFraction = labelFree?.RankMeFraction,
            ViewRetrievalAccuracy = labelFree?.ViewRetrievalAccuracy,
            RotationPredictionAccuracy = labelFree?.RotationAccuracy,
            LabelFreeScore = labelFree?.Score,
            EmbeddingSize = stage.EmbeddingSize,
            PretrainingEpochsTrained = outcome.EpochsTrained,
            PretrainingEpochsReused = outcome.EpochsReused,
            PretrainingSeconds = outcome.Duration.TotalSeconds,
            PretrainingSecondsSaved = outcome.TimeSaved.TotalSeconds,
            EvaluationSeconds = evaluation.Elapsed.TotalSeconds,
        }, estimate));
        return metric;
    }

    private double RunFromScratch(TrialRequest request, SslTrialParameters parameters, TimeSpan? cap, CancellationToken cancellationToken) =>
        ScoreOnce(request, SslFeatureSource.SupervisedFromScratch, "Supervised training from scratch", cancellationToken, ml =>
        {
            using SelfSupervisedTransformer untrained = UntrainedStage(ml, parameters.Pretraining);
            MetricEstimate estimate = EvaluateFineTune(ml, untrained,
                AtFidelity(parameters.Downstream.ForTrainingFromScratch(), request.Fidelity, request.MaxFidelity), request.Seed, cancellationToken,
                afterFold: GiveUpAfterFold(request, parameters, Stopwatch.StartNew(), cap));
            return (estimate, untrained.EmbeddingSize);
        });

    private double RunRawFeatures(TrialRequest request, SslTrialParameters parameters, CancellationToken cancellationToken) =>
        ScoreOnce(request, SslFeatureSource.RawFeatures, "Raw features", cancellationToken, ml =>
        {
            // Kept for later trials, so built in a context of their own: the trial's context is cancelled with the trial.
            bool unscaled = SslDownstream.ReadsUnscaled(parameters.Downstream.Trainer, _settings.Dataset.Shape.Kind, SslFeatureSource.RawFeatures);
            (IDataView Train, IDataView Test)[][] rawFolds = unscaled
                ? _unscaledRawFolds ??= RawFolds(standardize: false)
                : _rawFolds ??= RawFolds(standardize: true);
            var repetitions = rawFolds.Select(folds => (IReadOnlyList<FoldPredictions>)CrossValidation.Predict(folds,
                () => Trainer(ml, parameters.Downstream), cancellationToken)).ToList();
            _rawOutOfFold[request.TrialId] = repetitions;
            // Beside the measures, so a resumed run (and a worker on this host) selects its ensemble from the same scores.
            // Best effort: the trial's metric does not depend on it, and a file it cannot write (a full disk, a file size
            // limit, which .NET reports as ArgumentOutOfRangeException) only leaves a resumed run without this candidate.
            try
            {
                AtomicFile.WriteAllText(OutOfFoldPath(request.TrialId), JsonSerializer.Serialize(repetitions));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
            {
            }
            return (Estimate(repetitions), null);
        });

    private (IDataView Train, IDataView Test)[][] RawFolds(bool standardize) => [.. _settings.Repetitions.Select(r => CrossValidation.BuildFolds(
        new MLContext(_settings.PretrainingSeed), _settings.Dataset.RawFeatures(), _settings.Dataset.LabeledKeys, _settings.Dataset.ClassCount,
        r.FoldOfRow, r.FoldCount, standardize))];

    private string OutOfFoldPath(int trialId) =>
        Path.Combine(_measuresFolder, $"out-of-fold-{trialId.ToString("D4", CultureInfo.InvariantCulture)}.json");

    /// <summary>The metric of a feature-vector trainer over every repetition of the cross-validation (or of
    /// <paramref name="assignments"/>).</summary>
    private MetricEstimate EvaluateVectors(MLContext ml, float[][] features, SslDownstreamParameters downstream, CancellationToken cancellationToken,
        IReadOnlyList<(int[] FoldOfRow, int FoldCount)>? assignments = null, bool rawFeatures = false)
    {
        bool standardize = !(rawFeatures && SslDownstream.ReadsUnscaled(downstream.Trainer, _settings.Dataset.Shape.Kind, SslFeatureSource.RawFeatures));
        var repetitions = new List<IReadOnlyList<FoldPredictions>>();
        foreach ((int[] foldOfRow, int foldCount) in assignments ?? _settings.Repetitions)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var folds = CrossValidation.BuildFolds(ml, features, _settings.Dataset.LabeledKeys, _settings.Dataset.ClassCount, foldOfRow, foldCount, standardize);
            repetitions.Add(CrossValidation.Predict(folds, () => Trainer(ml, downstream), cancellationToken));
        }
        return Estimate(repetitions);
    }

    /// <summary>The labeled rows' embeddings, after their raw features for <see cref="SslFeatureSource.RawAndSelfSupervised"/>
    /// (the refit's Concatenate order).</summary>
    private float[][] LabeledVectors(SelfSupervisedTransformer stage, SslFeatureSource features)
    {
        float[][] embeddings = stage.Transform(_settings.Dataset.LabeledView)
            .GetColumn<VBuffer<float>>(SslDataset.FeatureColumn).Select(v => v.DenseValues().ToArray()).ToArray();
        if (features != SslFeatureSource.RawAndSelfSupervised) return embeddings;
        float[][] raw = _settings.Dataset.RawFeatures();
        return embeddings.Select((e, row) => (float[])[.. raw[row], .. e]).ToArray();
    }

    /// <summary>
    /// Scores a finished trial's pipeline again on other fold assignments of the labeled rows, with the encoder its trial
    /// pretrained (from the cache: nothing is pretrained again), or, with <paramref name="freshDraw"/>, with its encoder
    /// pretrained once more from another seed (and a network's initial weights and fine-tuning drawn from other seeds): on
    /// few labels the search's draw of an encoder can fit the labeled rows by luck, which no fold assignment undoes. A
    /// network (fine-tuning, training from scratch) trains on the first assignment's first <see cref="Settings.FineTuneFolds"/>
    /// folds, as its trial did; a trainer on vectors on every fold of every assignment.
    /// </summary>
    internal MetricEstimate Rescore(TrialRecord trial, IReadOnlyList<(int[] FoldOfRow, int FoldCount)> assignments, int? maxFidelity,
        CancellationToken cancellationToken, bool freshDraw = false, TimeSpan? freshDrawDeadline = null)
    {
        SslTrialParameters parameters = trial.Parameters.AsType<SslTrialParameters>();
        int draw = freshDraw ? FreshDrawSeedOffset : 0;
        var ml = new MLContext(unchecked(_settings.PretrainingSeed + 7 * trial.TrialId + draw));
        using CancellationTokenRegistration stop = CrossValidation.CancelWith(ml, cancellationToken);
        int seed = unchecked(_settings.PretrainingSeed + 13 * trial.TrialId + draw);
        switch (parameters.Features)
        {
            case SslFeatureSource.RawFeatures:
                return EvaluateVectors(ml, _settings.Dataset.RawFeatures(), parameters.Downstream, cancellationToken, assignments, rawFeatures: true);
            case SslFeatureSource.SupervisedFromScratch:
            {
                using SelfSupervisedTransformer untrained = UntrainedStage(ml, parameters.Pretraining, freshDraw ? unchecked(_settings.PretrainingSeed + draw) : null);
                return EvaluateFineTune(ml, untrained, AtFidelity(parameters.Downstream.ForTrainingFromScratch(), trial.Fidelity, maxFidelity),
                    seed, cancellationToken, assignments[0]);
            }
            default:
            {
                SelfSupervisedOptions options = TrainedPretrainingOptions(trial, maxFidelity);
                using SelfSupervisedTransformer stage = freshDraw ? PretrainAgain(ml, options, trial.TrialId, freshDrawDeadline, cancellationToken)
                    : _cache.Pretrain(ml, _settings.Dataset.Data, options, CacheKey(trial.Parameters), cancellationToken).Transformer;
                return parameters.TrainsNetwork
                    ? EvaluateFineTune(ml, stage, AtFidelity(parameters.Downstream, trial.Fidelity, maxFidelity), seed, cancellationToken, assignments[0])
                    : EvaluateVectors(ml, LabeledVectors(stage, parameters.Features), parameters.Downstream, cancellationToken, assignments);
            }
        }
    }

    /// <summary>What a fresh draw (<see cref="Rescore"/>) adds to the experiment's seeds: the pretraining's, the network's
    /// initial weights' and the fine-tuning's. A prime, so it never lands on another trial's seeds (those step by 7 and 13).</summary>
    internal const int FreshDrawSeedOffset = 1_000_003;

    /// <summary>The trial's encoder pretrained once more, from the fresh draw's seed and outside the cache: the cache's
    /// snapshots are the search's draw, which the refit uses. Past <paramref name="deadline"/> (a busier host than the trial
    /// ran on) it stops with a <see cref="TimeoutException"/>, so the look cannot carry the experiment far past its budget.</summary>
    private SelfSupervisedTransformer PretrainAgain(MLContext ml, SelfSupervisedOptions options, int trialId, TimeSpan? deadline,
        CancellationToken cancellationToken)
    {
        SelfSupervisedOptions again = options.Clone();
        again.Seed = unchecked(_settings.PretrainingSeed + FreshDrawSeedOffset);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // A deadline already spent cancels now: a timer of zero fires on the thread pool, which a busy host may serve late.
        if (deadline is TimeSpan limit)
        {
            if (limit <= TimeSpan.Zero) stop.Cancel();
            else stop.CancelAfter(ExperimentRun.TimerDelay(limit));
        }
        again.CancellationToken = stop.Token;
        try
        {
            return ml.Transforms.SelfSupervised(again).Fit(_settings.Dataset.Data);
        }
        catch (Exception e) when (stop.IsCancellationRequested && !cancellationToken.IsCancellationRequested && deadline is TimeSpan late)
        {
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                $"pretraining trial {trialId}'s encoder again from another seed took more than {late.TotalSeconds:0.#} s, twice its priced time"), e);
        }
    }

    /// <summary>What <see cref="Rescore"/> of <paramref name="trial"/> on <paramref name="assignments"/> fold assignments should
    /// take: its trial's scoring time (past pretraining), per assignment for a trainer on vectors (a network trains one
    /// assignment's folds), plus, for a pretrained encoder, one epoch's time for reading the rows again as the cache
    /// restores it, or, for a fresh draw, the whole pretraining's time (its own epochs and those it reused); null for a
    /// trial without measures (in <paramref name="recorded"/>, or this runner's), and for a fresh draw of an encoder whose
    /// pretraining time is not known.</summary>
    internal double? RescoreSeconds(TrialRecord trial, int assignments, IReadOnlyList<SslTrialMeasures>? recorded = null, bool freshDraw = false)
    {
        if (SslExperiment.MeasuresOf(recorded ?? Measures, trial) is not { } measures) return null;
        SslTrialParameters parameters = trial.Parameters.AsType<SslTrialParameters>();
        bool network = parameters.TrainsNetwork;
        double perAssignment = measures.EvaluationSeconds / (network ? 1 : Math.Max(1, _settings.Repetitions.Count));
        bool encoder = parameters.Features is SslFeatureSource.SelfSupervised or SslFeatureSource.RawAndSelfSupervised;
        double pretraining = measures.PretrainingSeconds + measures.PretrainingSecondsSaved;
        if (freshDraw && encoder && !(pretraining > 0)) return null;
        double restore = !encoder ? 0
            : freshDraw ? pretraining
            : measures.PretrainingSeconds / Math.Max(1, measures.PretrainingEpochsTrained);
        return LengtheningCostMargin * (perAssignment * (network ? 1 : assignments) + restore);
    }

    /// <summary>The metric of fine-tuning. A network per fold is the cost of a whole trial, so fine-tuning runs the first
    /// repetition's folds only, and of those the first <see cref="Settings.FineTuneFolds"/>; its spread then comes from
    /// those folds (bootstrapped from their rows below 3 folds). <paramref name="folds"/> replaces that repetition.</summary>
    private MetricEstimate EvaluateFineTune(MLContext ml, SelfSupervisedTransformer stage, SslDownstreamParameters downstream, int seed,
        CancellationToken cancellationToken, (int[] FoldOfRow, int FoldCount)? folds = null, Func<int, int, double, string?>? afterFold = null)
    {
        (int[] foldOfRow, int foldCount) = folds ?? (_settings.FoldOfRow, _settings.FoldCount);
        return Estimate([FineTuneCrossValidation.Predict(ml, stage, _settings.Dataset, foldOfRow, foldCount, downstream, seed, cancellationToken,
            _settings.AllowCuda, _settings.FineTuneFolds, afterFold)], foldCount);
    }

    /// <summary>The check after each fold of a network's cross-validation (<see cref="WhyFineTuneStopsAfterFold"/>), for a
    /// single-fidelity trial with a budget once the search has a metric (the first trial is never cut short); null otherwise.
    /// <paramref name="trialClock"/> started with the trial, so the pretraining counts; <paramref name="cap"/> is the time cap
    /// that cancels the trial (RunAsync's), null without one.</summary>
    private Func<int, int, double, string?>? GiveUpAfterFold(TrialRequest request, SslTrialParameters parameters, Stopwatch trialClock, TimeSpan? cap)
    {
        if (request.Fidelity is not null || !request.SearchHasAMetric || request.RemainingBudget is not TimeSpan searchLeft) return null;
        double left = (searchLeft + request.ReservedAfterSearch).TotalSeconds, kept = request.ReservedAfterSearch.TotalSeconds;
        double before = -1;
        double? price = _startPrices.TryGetValue(request.TrialId, out double priced) ? priced : null;
        return (done, folds, foldSeconds) =>
        {
            if (before < 0) before = Math.Max(0, trialClock.Elapsed.TotalSeconds - foldSeconds);
            double refit = Math.Max(RefitSeconds(parameters, foldSeconds * folds / done), kept);
            return WhyFineTuneStopsAfterFold(request.TrialId, before, done, folds, foldSeconds, refit, left, cap?.TotalSeconds, price);
        };
    }

    /// <summary>
    /// Why a network's cross-validation is given up after <paramref name="done"/> of its <paramref name="folds"/> folds: the
    /// trial's time before them (<paramref name="secondsBefore"/>: its pretraining) and all its folds at the pace of those
    /// trained (<paramref name="foldSeconds"/> for <paramref name="done"/>), then the refit, would need more than the
    /// <paramref name="budgetLeft"/> when it started, or they alone more than its time cap (<paramref name="capSeconds"/>,
    /// which would cancel it without a metric: a TPE trial's cap is half the budget left, so a network projected at 70% of
    /// it went on after its first fold and was cut at 50%). Null when they fit. A network is priced before it starts from the
    /// entries run before it; on 600 images (200 labeled) a SimCLR probe's 7 s priced the FixMatch entry at 40 s, which
    /// then ran 113 s of a 120 s budget and was cut without a metric, and the raw-feature entries after it never ran.
    /// A trial started on a price (<paramref name="startPrice"/>: its predicted seconds, margin included, which with its
    /// refit fitted the budget) goes on while its projection stays within that price: re-estimating its refit from its own
    /// pace counted the margin twice, and a 25-epoch FixMatch version on 5,000 CIFAR-10 images, priced at 300 s and on
    /// pace at 299 s, was given up after its first fold, 150 s for nothing.
    /// </summary>
    internal static string? WhyFineTuneStopsAfterFold(int trialId, double secondsBefore, int done, int folds, double foldSeconds, double refitSeconds,
        double budgetLeft, double? capSeconds = null, double? startPrice = null)
    {
        if (done < 1 || done >= folds) return null;
        double projected = secondsBefore + foldSeconds * folds / done;
        string need = string.Create(CultureInfo.InvariantCulture,
            $"Trial {trialId} was given up after {done} of its {folds} fine-tuning folds: at {foldSeconds / done:0.#} s a fold it would need " +
            $"about {projected:0} s in all ({secondsBefore:0} s before its folds)");
        if (capSeconds is double cap && projected > cap)
            return string.Create(CultureInfo.InvariantCulture, $"{need}, more than its time cap of {cap:0.#} s.");
        if (startPrice is double price && projected <= price) return null;
        return projected + refitSeconds <= budgetLeft ? null : string.Create(CultureInfo.InvariantCulture,
            $"{need}, then about {refitSeconds:0} s for the refit, more than the {budgetLeft:0} s of budget left when it started.");
    }

    /// <summary>The estimate of <paramref name="repetitions"/>, whose splits have <paramref name="splitFolds"/> folds (0: every
    /// fold of each split is there).</summary>
    private MetricEstimate Estimate(IReadOnlyList<IReadOnlyList<FoldPredictions>> repetitions, int splitFolds = 0) =>
        MetricCalculator.Estimate(_settings.Metric, _settings.ClassWeights is { } weights
            ? [.. repetitions.Select(folds => (IReadOnlyList<FoldPredictions>)[.. folds.Select(f => MetricCalculator.Reweighted(f, weights))])]
            : repetitions, _settings.Dataset.ClassCount, _settings.PositiveKey, splitFolds);

    private SslTrialMeasures WithEstimate(SslTrialMeasures measures, MetricEstimate? estimate) => estimate is null ? measures : measures with
    {
        OptimizingMetric = _settings.Metric,
        CrossValidatedAccuracy = estimate.Accuracy,
        MetricStandardDeviation = estimate.StandardDeviation,
        MetricStandardError = estimate.StandardError,
        MetricFoldValues = estimate.FoldValues,
    };

    /// <summary>Scores a trial whose metric does not depend on the pretraining fidelity (raw features, training from
    /// scratch) once, and reports the stored metric at every later rung and in resumed sessions.</summary>
    private double ScoreOnce(TrialRequest request, SslFeatureSource source, string what, CancellationToken cancellationToken,
        Func<MLContext, (MetricEstimate Estimate, int? EmbeddingSize)> score)
    {
        // Training from scratch follows the fidelity (its epochs scale with it), so it is scored once per rung.
        string stateFile = Path.Combine(request.StateDirectory, source == SslFeatureSource.SupervisedFromScratch && request.Fidelity is int rung
            ? $"metric-{rung.ToString(CultureInfo.InvariantCulture)}.txt" : MetricFile);
        // Written atomically; an unreadable one (an earlier version's torn write) is scored again rather than failing the trial.
        if (File.Exists(stateFile) && double.TryParse(File.ReadAllText(stateFile), NumberStyles.Float, CultureInfo.InvariantCulture, out double stored)
            && double.IsFinite(stored))
            return stored;
        if (_settings.Objective.Kind != SslObjectiveKind.CrossValidatedAccuracy)
            throw new InvalidOperationException($"{what} cannot be scored by a label-free objective; leave it out of the search space.");

        var evaluation = Stopwatch.StartNew();
        var ml = new MLContext(request.Seed);
        using CancellationTokenRegistration stop = CrossValidation.CancelWith(ml, cancellationToken);
        (MetricEstimate estimate, int? embeddingSize) = score(ml);
        AtomicFile.WriteAllText(stateFile, estimate.Value.ToString("R", CultureInfo.InvariantCulture));
        WriteMeasures(WithEstimate(new SslTrialMeasures
        {
            TrialId = request.TrialId,
            Fidelity = request.Fidelity,
            FeatureSource = source,
            Metric = estimate.Value,
            EmbeddingSize = embeddingSize,
            EvaluationSeconds = evaluation.Elapsed.TotalSeconds,
        }, estimate));
        return estimate.Value;
    }

    private static IEstimator<ITransformer> Trainer(MLContext ml, SslDownstreamParameters downstream) =>
        SslDownstream.CreateTrainer(ml, downstream, CrossValidationTrialRunner.LabelColumn, CrossValidationTrialRunner.FeatureColumn);

    /// <summary>The label-free measures of a stage: RankMe for every input and view retrieval (images), plus rotation
    /// prediction for images when <paramref name="withRotation"/> (recorded for studies; it costs four embeddings of
    /// every sampled image and a classifier). The score is view retrieval for images and RankMe over its maximum
    /// otherwise: over three studies on the shared CIFAR-10 and MNIST images, view retrieval and RankMe ranked encoders
    /// best at 2 to 5 labels per class, rotation prediction worst of the three (docs/automl-benchmarks.md, "Label-free
    /// ranking"), and view retrieval, unlike RankMe's fraction, does not depend on the embedding size the search varies.</summary>
    internal static LabelFreeMeasures MeasureLabelFree(SelfSupervisedTransformer stage, SslDataset dataset, int seed, bool withRotation,
        CancellationToken cancellationToken = default)
    {
        double rankMe = LabelFreeEvaluation.RankMe(stage, dataset.Data, LabelFreeEvaluation.DefaultRankMeRows, cancellationToken);
        double maximum = Math.Min(Math.Min(dataset.RowCount, LabelFreeEvaluation.DefaultRankMeRows), stage.EmbeddingSize);
        double fraction = rankMe / maximum;
        bool image = dataset.Shape.Kind == SslInputKind.Image;
        double? retrieval = image
            ? LabelFreeEvaluation.ViewRetrievalAccuracy(stage, dataset.Data, LabelFreeEvaluation.DefaultViewRetrievalRows, seed, cancellationToken)
            : null;
        double? rotation = image && withRotation
            ? LabelFreeEvaluation.RotationPredictionAccuracy(stage, dataset.Data, LabelFreeEvaluation.DefaultRotationImages, seed, cancellationToken)
            : null;
        return new LabelFreeMeasures(rankMe, fraction, retrieval, rotation, retrieval ?? fraction);
    }

    private void WriteMeasures(SslTrialMeasures measures)
    {
        string name = $"trial-{measures.TrialId.ToString("D4", CultureInfo.InvariantCulture)}-" +
            $"{(measures.Fidelity is int f ? f.ToString("D4", CultureInfo.InvariantCulture) : "full")}.json";
        AtomicFile.WriteAllText(Path.Combine(_measuresFolder, name), JsonSerializer.Serialize(measures, MeasureJson));
        _measures[(measures.TrialId, measures.Fidelity)] = measures;
    }

    internal sealed record LabelFreeMeasures(double RankMe, double RankMeFraction, double? ViewRetrievalAccuracy, double? RotationAccuracy, double Score);

    /// <summary>What every segment shares.</summary>
    /// <param name="Dataset">The data.</param>
    /// <param name="Objective">The objective in force (never Auto: resolved before the search).</param>
    /// <param name="FoldOfRow">The fold of each labeled row (cross-validated objective), first repetition.</param>
    /// <param name="FoldCount">The number of folds.</param>
    /// <param name="PretrainingSeed">The seed of every pretraining run (shared, so trials of a key share their run).</param>
    /// <param name="CacheRoot">The folder for pretraining snapshots and measures.</param>
    /// <param name="RecordLabelFreeMeasures">Also measure the label-free scores under the cross-validated objective.</param>
    internal sealed record Settings(SslDataset Dataset, SslObjective Objective, int[] FoldOfRow, int FoldCount, int PretrainingSeed,
        string CacheRoot, bool RecordLabelFreeMeasures)
    {
        /// <summary>The metric the cross-validated objective computes. Default accuracy.</summary>
        public SslMetric Metric { get; init; } = SslMetric.Accuracy;

        /// <summary>The folds of the first repetition a fine-tuning trial trains (the first ones); 0: all of them.</summary>
        public int FineTuneFolds { get; init; }

        /// <summary>Configurations only the budget itself caps (the portfolio's entries, and their lengthened versions), as
        /// <see cref="SslSearchSpace.WithoutEpochs"/> gives them; null: none.</summary>
        public IReadOnlySet<Parameters>? Uncapped { get; init; }

        /// <summary>The seconds each portfolio entry took in the run that learned the portfolio, by its configuration, and
        /// whether they leave its pretraining out (an earlier entry of that run had the same), to price an entry before it
        /// first runs (<see cref="WhyPortfolioEntryNotStarted"/>); null: no such prices.</summary>
        public IReadOnlyDictionary<Parameters, (double Seconds, bool CachedEncoder)>? PortfolioSeconds { get; init; }

        /// <summary>With a time budget, the share of the budget left that caps each segment.</summary>
        public double TrialTimeCapFraction { get; init; } = 0.5;

        /// <summary>Whether pretraining and fine-tuning may use a CUDA device (<see cref="SslExperiment.SetDevice"/>).</summary>
        public bool AllowCuda { get; init; } = true;

        /// <summary>The positive class key of two-class metrics.</summary>
        public uint PositiveKey { get; init; } = 2;

        /// <summary>Class weights of the decisions scored (the predicted class maximizes probability times weight, as the
        /// final model's <c>ReweightClassScores</c> step decides); null: the most likely class.</summary>
        public IReadOnlyList<double>? ClassWeights { get; init; }

        /// <summary>Fold assignments of the repeated cross-validation, the first being (<see cref="FoldOfRow"/>,
        /// <see cref="FoldCount"/>); null: that one only.</summary>
        public IReadOnlyList<(int[] FoldOfRow, int FoldCount)>? RepeatedFolds { get; init; }

        /// <summary>Throws if the experiment's context was cancelled, looking at it now rather than at its next poll (see
        /// <see cref="MLContextCancellationLink.ThrowIfCancellationRequested"/>); null: the token alone stops trials.</summary>
        public Action? ThrowIfCancelled { get; init; }

        /// <summary>Every repetition's fold assignment.</summary>
        public IReadOnlyList<(int[] FoldOfRow, int FoldCount)> Repetitions => RepeatedFolds ?? [(FoldOfRow, FoldCount)];
    }
}
