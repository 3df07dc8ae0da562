using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl.AutoML;

/// <summary>
/// AutoML for few labels: searches self-supervised pretraining (method, augmentations, encoder, embedding size, learning
/// rate, batch size, the method's key hyperparameter, epochs as the fidelity) together with the downstream trainer, and
/// the honest alternatives without pretraining (the same trainer on raw features, or on raw and SSL features together;
/// the encoder trained from scratch). A portfolio of cheap strong baselines runs before the tuner's proposals. Every row of
/// the dataset pretrains; rows with a label score the trials (the cross-validated metric of <see cref="SetOptimizingMetric"/>,
/// with its standard error) unless labels are too few, when a label-free measure of the embeddings does; the final choice
/// is the cheapest trial within one standard error of the best. Created with <c>mlContext.SelfSupervisedExperiment()</c>; built on <see cref="SearchExperiment"/>,
/// so tuners, schedulers, time budget, memory limit, cancellation and checkpoint/resume work as there.
/// </summary>
/// <example><code>
/// SslExperimentResult result = await ml.SelfSupervisedExperiment()
///     .SetDataset(data, labelColumnName: "Label")       // rows without a label are the unlabeled pool
///     .SetInputColumn("Image")
///     .SetSearchSpace(SslSearchSpace.For(data, "Image"))
///     .SetObjective(SslObjective.Auto)
///     .SetOptimizingMetric(SslMetric.MacroAccuracy)    // default Accuracy; LogLoss is minimized
///     .SetScheduler(SslScheduler.Asha(minEpochs: 2, maxEpochs: 30, reduction: 3))
///     .SetTrainingTimeInSeconds(600).SetMaxTrials(40)
///     .SetCheckpoint("experiment-folder")
///     .RunAsync(cancellationToken);
/// ml.Model.Save(result.BestTrial.Model, data.Schema, "model.zip");
/// </code></example>
public sealed class SslExperiment
{
    private readonly MLContext _mlContext;
    // Waits for trials the budget abandoned: the refit uses the pretraining cache they train against.
    private readonly SearchExperiment _search = new SearchExperiment()
        .SetEffectiveConfiguration(SslSearchSpace.EffectiveConfiguration).WaitForAbandonedTrials();

    /// <summary>More classes than this in a numeric label read as a quantity (wine quality's 3..9 and similar scores do not).</summary>
    internal const int MaxNumericClassesWithoutNote = 20;

    /// <summary>A note when a numeric label holds many distinct values, like a quantity to regress: the experiment
    /// classifies, so each value becomes a class and a near miss counts as an error. Null otherwise.</summary>
    internal static string? QuantityLikeLabel(DataViewType labelType, SslDataset dataset)
    {
        if (labelType is not NumberDataViewType || dataset.ClassCount <= MaxNumericClassesWithoutNote) return null;
        int single = dataset.LabeledKeys.GroupBy(k => k).Count(g => g.Count() == 1);
        return string.Create(CultureInfo.InvariantCulture,
            $"The label holds {dataset.ClassCount} distinct numbers among {dataset.LabeledCount} labeled rows{(single > 0 ? $" ({single} of them on a single row)" : "")}, like a quantity to predict. ") +
            "The experiment classifies: every distinct value is a class of its own and a near miss counts as an error. For a regression-like target, " +
            "bin the values into a few ranges first (for example with ml.Transforms.NormalizeBinning, or by hand), or use ML.NET's regression trainers on the stage's embeddings.";
    }

    /// <summary>
    /// A note when a text label's class is spelled like a missing-value marker ("NA", "N/A", "?", "null", "NaN"), as
    /// CSV exports write a missing label: <c>MapValueToKey</c> makes it a class of its own, learned and predicted, where
    /// the rows were meant to be unlabeled (only an empty text is a missing label). Null otherwise.
    /// </summary>
    internal static string? MarkerClassNote(DataViewType labelType, SslDataset dataset)
    {
        if (labelType is not TextDataViewType || ClassNames(dataset) is not { } classes) return null;
        // The mlnet-ssl tool's missing markers; "-" and "none" are real classes in some tables (UCI credit approval, lenses).
        var markers = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "NA", "N/A", "?", "null", "NaN" };
        var found = classes.Select((name, i) => (Name: name, Key: (uint)(i + 1))).Where(c => markers.Contains(c.Name.Trim()))
            .Select(c => (c.Name, Rows: dataset.LabeledKeys.Count(k => k == c.Key))).ToList();
        if (found.Count == 0) return null;
        string classNames = string.Join(", ", found.Select(c => FormattableString.Invariant($"'{c.Name}' ({c.Rows} rows)")));
        return $"The label column '{dataset.LabelColumn}' has the class(es) {classNames}, spelled like a missing-value marker: they are learned and " +
            "predicted as a class of their own. If they mark rows without a label, make those labels empty text (or read them with a " +
            "missing-value rule) so that the rows count as unlabeled.";
    }

    /// <summary>
    /// A note when classes of a text label are one class but for blanks around them, letter case or Unicode form (" yes"
    /// beside "yes" and "Yes"; "Zürich" written with a combining diaeresis beside the composed one): <c>MapValueToKey</c>
    /// keeps each spelling as a class of its own, so the model splits one class's rows between them and predicts whichever
    /// spelling. The mlnet-ssl tool trims its cells and composes them; through the API nothing said so. Not remapped, as two
    /// classes may differ in case. Null otherwise.
    /// </summary>
    internal static string? SpellingVariantClassNote(DataViewType labelType, SslDataset dataset)
    {
        if (labelType is not TextDataViewType || ClassNames(dataset) is not { } classes) return null;
        var rows = dataset.LabeledKeys.GroupBy(k => k).ToDictionary(g => g.Key, g => g.Count());
        var groups = classes.Select((name, i) => (Name: name, Rows: rows.GetValueOrDefault((uint)(i + 1))))
            .Where(c => c.Rows > 0)
            .GroupBy(c => Canonical(c.Name), StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .Select(g => g.OrderByDescending(c => c.Rows).ToList())
            .ToList();
        if (groups.Count == 0) return null;
        string list = string.Join("; ", groups.Take(5).Select(g => string.Join(", ",
            g.Select(c => string.Create(CultureInfo.InvariantCulture, $"'{c.Name}' ({c.Rows:N0} rows)")))));
        return $"The label column '{dataset.LabelColumn}' has classes that are one class but for blanks around them, letter case or Unicode form: " +
            $"{list}{(groups.Count > 5 ? $"; and {groups.Count - 5} more such groups" : "")}. Through MapValueToKey each spelling is learned and predicted " +
            "as a class of its own; if they are one class, write them one way (trim them, one letter case, String.Normalize()) before the experiment.";

        static string Canonical(string name)
        {
            string trimmed = name.Trim();
            try
            {
                trimmed = trimmed.Normalize(System.Text.NormalizationForm.FormC);
            }
            catch (ArgumentException)
            {
                // Not valid Unicode (a lone surrogate): compared as written.
            }
            return trimmed.ToUpperInvariant();
        }
    }

    /// <summary>
    /// A note when -1 is a class of three or more and labels more rows than any other class: scikit-learn (its
    /// semi-supervised estimators, LabelSpreading and SelfTrainingClassifier) marks unlabeled rows with -1, so a user who
    /// follows it gets -1 learned and predicted as a class. MNIST images labeled so (2,695 of 3,000 rows -1) gave a model
    /// that predicted -1 for 957 of 1,000 test images (3.9% test accuracy), and the only note spoke of empty cells. Null
    /// otherwise; two classes -1 and 1 are a common binary coding and are left alone.
    /// </summary>
    internal static string? MinusOneClassNote(DataViewType labelType, SslDataset dataset)
    {
        if (dataset.ClassCount < 3) return null;
        int minusOne = labelType is TextDataViewType
            ? Array.FindIndex(ClassNames(dataset) ?? [], n => n.Trim() == "-1")
            : labelType is NumberDataViewType ? Array.IndexOf(NumericClassValues(dataset) ?? [], -1.0) : -1;
        if (minusOne < 0) return null;
        var counts = dataset.LabeledKeys.GroupBy(k => k).ToDictionary(g => g.Key, g => g.Count());
        int rows = counts.GetValueOrDefault((uint)(minusOne + 1));
        if (counts.Any(c => c.Key != minusOne + 1 && c.Value >= rows)) return null;
        return string.Create(CultureInfo.InvariantCulture,
            $"The label column '{dataset.LabelColumn}' has the class -1 on {rows:N0} of its {dataset.LabeledCount:N0} labeled rows, more than any other class: ") +
            "scikit-learn marks unlabeled rows with -1, but here -1 is learned and predicted as a class of its own. If those rows have no label, " +
            "give them NaN (a Single or Double label) or an empty text label, so that they count as unlabeled.";
    }

    /// <summary>A number label's classes in key order, as doubles; null when the map keeps no values.</summary>
    private static double[]? NumericClassValues(SslDataset dataset)
    {
        DataViewSchema.Column key = dataset.LabelToKey.GetOutputSchema(dataset.Data.Schema)[dataset.LabelColumn];
        // HasKeyValues() asks for text values; a number label's map keeps numbers.
        if (key.Annotations.Schema.GetColumnOrNull("KeyValues")?.Type is not VectorDataViewType { ItemType: var itemType }) return null;
        double[] Values<T>(Func<T, double> toDouble)
        {
            VBuffer<T> values = default;
            key.GetKeyValues(ref values);
            return [.. values.DenseValues().Select(toDouble)];
        }
        return itemType.RawType switch
        {
            Type t when t == typeof(float) => Values<float>(v => v),
            Type t when t == typeof(double) => Values<double>(v => v),
            Type t when t == typeof(int) => Values<int>(v => v),
            Type t when t == typeof(long) => Values<long>(v => v),
            Type t when t == typeof(short) => Values<short>(v => v),
            Type t when t == typeof(sbyte) => Values<sbyte>(v => v),
            _ => null,
        };
    }

    /// <summary>The label's classes in key order (key k is element k - 1), as the label-to-key map names them; null when the
    /// map keeps no names.</summary>
    private static string[]? ClassNames(SslDataset dataset)
    {
        DataViewSchema.Column key = dataset.LabelToKey.GetOutputSchema(dataset.Data.Schema)[dataset.LabelColumn];
        if (!key.HasKeyValues()) return null;
        VBuffer<ReadOnlyMemory<char>> names = default;
        key.GetKeyValues(ref names);
        return [.. names.DenseValues().Select(v => v.ToString())];
    }

    /// <summary>A class key's label as the user wrote it (text, or a number), or "key k" where the map keeps no values.</summary>
    internal static string ClassValue(SslDataset dataset, uint key) =>
        ClassNames(dataset) is { } names && key >= 1 && key <= names.Length ? names[key - 1]
        : NumericClassValues(dataset) is { } values && key >= 1 && key <= values.Length ? values[key - 1].ToString("R", CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"key {key}");

    /// <summary>"key 2 ('forged')", or "key 2" when the label's classes have no names.</summary>
    internal static string DescribeKey(SslDataset dataset, uint key) =>
        ClassNames(dataset) is { } names && key >= 1 && key <= names.Length
            ? string.Create(CultureInfo.InvariantCulture, $"key {key} ('{names[key - 1]}')")
            : string.Create(CultureInfo.InvariantCulture, $"key {key}");

    /// <summary>A note when the search ran well past its budget (half as long again, and by more than half a second):
    /// the first trial is never cut short, since a search without a result returns no model, so on a slow or shared host,
    /// or a large pool, it alone can take several budgets (a SimCLR trial on 20,000 images took 644 s of 180 beside four
    /// other jobs) and the user should hear why. Null otherwise.</summary>
    internal static string? OverranNote(TimeSpan? budget, SearchResult search)
    {
        if (budget is not TimeSpan planned || search.Elapsed <= planned * 1.5 || search.Elapsed - planned <= TimeSpan.FromSeconds(0.5)) return null;
        TrialRecord longest = search.Trials.MaxBy(t => t.Duration)!;
        return string.Create(CultureInfo.InvariantCulture,
            $"The search took {search.Elapsed.TotalSeconds:0.#} s of a {planned.TotalSeconds:0.#} s budget: trial {longest.TrialId} ran {longest.Duration.TotalSeconds:0.#} s, ") +
            "and the first result is never cut short (without one there would be no model). On a slower or shared host, or with more rows, " +
            "give a larger budget or fewer rows.";
    }

    /// <summary>The note for a first trial whose pretraining the budget ended at an epoch's end: its pipeline still names
    /// the configured epochs.</summary>
    internal static string StoppedByBudgetNote(int trialId, int reached, int configured) => string.Create(CultureInfo.InvariantCulture,
        $"The first trial stopped pretraining after {reached} of its {configured} epochs (trial {trialId}): one more epoch would have ended past the time budget. ") +
        "It was scored, and is refitted, with that encoder; a first trial always ends an epoch it has begun, so that the search has a model. A larger budget trains every epoch.";

    /// <summary>The underlying search (for tests of its settings).</summary>
    internal SearchExperiment Search => _search;

    private IDataView? _data;
    private string _labelColumnName = "Label";
    private string? _inputColumnName;
    private int _seriesChannels;
    private int _imageWidth = 32;
    private int _imageHeight = 32;
    private SearchSpace? _searchSpace;
    private SslObjective _objective = SslObjective.Auto;
    // The objective the running experiment resolved, read by progress reports on the search's threads.
    private volatile bool _scoringLabelFree;
    // The running experiment's rows, read by progress reports: a small pool pretrains in smaller batches than configured.
    private long _poolRows;
    private SslScheduler _scheduler = SslScheduler.None;
    private string? _checkpointFolder;
    private int _seed;
    private bool _recordLabelFreeMeasures;
    private SslMetric _metric = SslMetric.Accuracy;
    private int _crossValidationRepeats;
    private int _fineTuneFolds;
    private SslTuner? _tuner;
    private bool? _portfolio;
    private bool _oneStandardErrorRule = true;
    private bool _ensembleSelection = true;
    private double _trialTimeCapFraction = 0.5;
    private string _device = "auto";

    internal SslExperiment(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>Sets the data (required): every row pretrains; rows whose label is missing (NaN, empty text) form the
    /// unlabeled pool, the others train and score the downstream model.</summary>
    /// <param name="data">All rows, with the input column and the label column.</param>
    /// <param name="labelColumnName">The label column (any type <c>MapValueToKey</c> accepts). Default "Label".</param>
    public SslExperiment SetDataset(IDataView data, string labelColumnName = "Label")
    {
        _data = data ?? throw new ArgumentNullException(nameof(data));
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumnName);
        _labelColumnName = labelColumnName;
        return this;
    }

    /// <summary>Sets the input column (required): an <c>MLImage</c> column (from <c>LoadImages</c>), a known-size vector of
    /// Single (tabular), or such a vector holding a series of <paramref name="seriesChannels"/> channels.</summary>
    /// <param name="inputColumnName">The column.</param>
    /// <param name="seriesChannels">Above 0: the vector is a series of that many channels, channel after channel. Default 0.</param>
    public SslExperiment SetInputColumn(string inputColumnName, int seriesChannels = 0)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(inputColumnName);
        ArgumentOutOfRangeException.ThrowIfNegative(seriesChannels);
        _inputColumnName = inputColumnName;
        _seriesChannels = seriesChannels;
        return this;
    }

    /// <summary>Sets the size images are resized to before the encoder (and for the raw-pixel baseline): 8 to
    /// <see cref="SelfSupervisedOptions.MaxImageSide"/> pixels a side. Default 32 x 32. Inputs other than images ignore it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A side below 8 or above <see cref="SelfSupervisedOptions.MaxImageSide"/>.</exception>
    public SslExperiment SetImageSize(int width, int height)
    {
        // Checked here, not by every trial's stage: a size the stage refuses would fail each trial until the budget ends.
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 8);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 8);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, SelfSupervisedOptions.MaxImageSide);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(height, SelfSupervisedOptions.MaxImageSide);
        _imageWidth = width;
        _imageHeight = height;
        return this;
    }

    /// <summary>Sets the search space; its options must bind to <see cref="SslTrialParameters"/> and fit the input kind
    /// (checked when the experiment runs). Default: <see cref="SslSearchSpace.For(IDataView, string, int)"/> for the input column.
    /// With a scheduler, <c>Pretraining.Epochs</c> is left out (the fidelity sets the epochs).</summary>
    public SslExperiment SetSearchSpace(SearchSpace searchSpace)
    {
        _searchSpace = searchSpace ?? throw new ArgumentNullException(nameof(searchSpace));
        return this;
    }

    /// <summary>Sets the objective. Default: <see cref="SslObjective.Auto"/> (cross-validation; label-free for images below
    /// 5 labels per class, and wherever most classes have a single label).</summary>
    public SslExperiment SetObjective(SslObjective objective)
    {
        _objective = objective ?? throw new ArgumentNullException(nameof(objective));
        return this;
    }

    /// <summary>Sets the metric the cross-validated objective computes and the search optimizes. Default
    /// <see cref="SslMetric.Accuracy"/>. <see cref="SslMetric.LogLoss"/> is minimized, every other metric maximized
    /// (<see cref="SslMetrics.IsMaximized"/>): the tuner, the scheduler and the leaderboard rank in that direction.
    /// <see cref="SslMetric.AreaUnderRocCurve"/> and <see cref="SslMetric.F1Score"/> need two classes (checked when the
    /// experiment runs); their positive class is the rarer one among the labeled rows. A label-free objective ignores it.</summary>
    /// <param name="metric">The metric.</param>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="SslMetric"/>.</exception>
    public SslExperiment SetOptimizingMetric(SslMetric metric)
    {
        if (!Enum.IsDefined(metric)) throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown metric.");
        _metric = metric;
        return this;
    }

    /// <summary>Sets how many times the cross-validation is repeated with other stratified folds (each repetition reshuffles
    /// the rows; the metric is the mean over repetitions and its standard error comes from every fold, corrected for the rows
    /// the folds and repetitions share, so repetitions steady the metric without shrinking its error towards zero). Fine-tuning trials
    /// use the first repetition only (a network per fold is their whole cost). Default 0: automatic, ceil(200 / labeled
    /// rows) between 1 and 5, so few labels get the repetitions that make their noisy metric comparable.</summary>
    /// <param name="repeats">1 to 10, or 0 for automatic.</param>
    public SslExperiment SetCrossValidationRepeats(int repeats)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(repeats);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(repeats, 10);
        _crossValidationRepeats = repeats;
        return this;
    }

    /// <summary>Sets how many folds of the cross-validation a fine-tuning trial (SSL fine-tuning, FixMatch, distillation or
    /// training from scratch) trains a network for; each held-out fold is predicted by a network trained with its labels
    /// hidden. A network per fold is the whole cost of such a trial, so by default (0, automatic) they run just enough of
    /// the first repetition's folds to hold out at least 200 labels (all folds below 200 labels): with 500 labels and 5
    /// folds, 2 networks instead of 5. Fewer folds than the cross-validation's widen the metric's standard error (with
    /// fewer than 3 fold values it is bootstrapped from the held-out rows), which the one-standard-error rule then weighs.</summary>
    /// <param name="folds">1 to the objective's fold count (larger values mean all folds), or 0 for automatic.</param>
    public SslExperiment SetFineTuneFolds(int folds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(folds);
        _fineTuneFolds = folds;
        return this;
    }

    /// <summary>Sets the tuner. Default: the portfolio of cheap strong baselines (see <see cref="SetPortfolio"/>: raw-feature
    /// LightGBM and L-BFGS, a short SSL run with a linear probe, raw + SSL features, the default configuration...), then
    /// TPE. Setting a tuner turns the portfolio off unless <see cref="SetPortfolio"/> turns it on again; add
    /// <see cref="SslTuner.WithDefaultFirst"/> to Random or TPE to start from the default configuration.</summary>
    public SslExperiment SetTuner(SslTuner tuner)
    {
        _tuner = tuner ?? throw new ArgumentNullException(nameof(tuner));
        return this;
    }

    /// <summary>Whether the portfolio of cheap strong baselines for the input kind and data size (an embedded data file,
    /// documented in docs/automl.md) runs before the tuner's proposals, in order of expected value per second, so the
    /// plain baselines are never left untried by a budget spent on slow SSL trials. Default: on with the default tuner,
    /// off once <see cref="SetTuner"/> is called (call this after it to keep the portfolio).</summary>
    public SslExperiment SetPortfolio(bool enabled = true)
    {
        _portfolio = enabled;
        return this;
    }

    /// <summary>How the final configuration is chosen. True (the default): the one-standard-error rule, the simplest trial
    /// (raw features, then a trainer on embeddings, then a trained network; ties: the cheapest, trial time plus the
    /// pretraining time it reused from the cache) whose metric is within one standard error (<see cref="SslTrialResult.MetricStandardError"/>)
    /// of the leaderboard's best, among trials measured at the best's fidelity or whose metric does not depend on it; so a
    /// difference smaller than the cross-validation's noise does not buy a slower pipeline. When the rule chooses a
    /// pipeline with an encoder, a second look follows: that pipeline and the raw-feature pipeline the rule prefers among
    /// the raw ones are scored again on fold assignments the search did not use (the chosen pipeline's encoder pretrained
    /// again from another seed where that fits, else from the cache; within a tenth of the time budget, which the search
    /// keeps for it), and the raw one is chosen if its score there is within one
    /// standard error, so a trial the search's folds happened to favour does not win on that luck alone
    /// (<see cref="SslExperimentResult.SelectionExplanation"/> gives both scores). False: the top of the leaderboard.</summary>
    public SslExperiment SetOneStandardErrorRule(bool enabled = true)
    {
        _oneStandardErrorRule = enabled;
        return this;
    }

    /// <summary>Whether a raw-feature choice may become an ensemble. True (the default): when the final choice is a
    /// raw-feature pipeline, ensemble selection (Caruana et al., 2004; <see cref="EnsembleSelectionRounds"/> rounds, with
    /// replacement) runs on the held-out class scores of the cross-validation of the portfolio's raw-feature pipelines and
    /// the choice; when it picks two pipelines or more, each is refitted on all labeled rows and the model averages their
    /// class probabilities (<see cref="ClassScoreAverageCatalog.AverageClassScores"/>, saved and exported to ONNX with the
    /// model), weighted by how often each was picked. Over 140 splits of 14 tables and series it left fewer splits below the
    /// best of ML.NET's raw LightGBM and L-BFGS (docs/automl.md, "Ensembles of raw-feature pipelines").
    /// <see cref="SslExperimentResult.Ensemble"/> lists the members. False: the model is the chosen pipeline alone.</summary>
    public SslExperiment SetEnsembleSelection(bool enabled = true)
    {
        _ensembleSelection = enabled;
        return this;
    }

    /// <summary>The rounds of the ensemble selection (<see cref="SetEnsembleSelection"/>): a member picked k times weighs
    /// k divided by this.</summary>
    public const int EnsembleSelectionRounds = EnsembleSelection.Rounds;

    /// <summary>Caps every trial segment's time, with a time budget, at <paramref name="fractionOfRemainingBudget"/> of the
    /// budget left when it starts: a segment over its cap is stopped, recorded as <see cref="TrialStatus.TimedOut"/> (its
    /// runner throws a <see cref="TimeoutException"/>) and the search goes on,
    /// so one slow configuration cannot take the rest of the budget. The portfolio's entries (<see cref="SetPortfolio"/>),
    /// learned to be worth their time, are stopped only by the budget itself, and so is every segment once the cap would be
    /// under 3 s (in the budget's last seconds). Default 0.5; 1 caps only at the budget itself.</summary>
    /// <param name="fractionOfRemainingBudget">In (0, 1].</param>
    public SslExperiment SetTrialTimeCap(double fractionOfRemainingBudget)
    {
        if (!(fractionOfRemainingBudget > 0 && fractionOfRemainingBudget <= 1))
            throw new ArgumentOutOfRangeException(nameof(fractionOfRemainingBudget), fractionOfRemainingBudget, "The fraction must be in (0, 1].");
        _trialTimeCapFraction = fractionOfRemainingBudget;
        return this;
    }

    /// <summary>Sets the scheduler; the fidelity is the number of pretraining epochs, and every pretraining run's schedule
    /// spans the scheduler's maximum so a promoted trial continues from its checkpoint. Default: <see cref="SslScheduler.None"/>
    /// (each trial pretrains <c>Pretraining.Epochs</c> epochs).</summary>
    public SslExperiment SetScheduler(SslScheduler scheduler)
    {
        _scheduler = scheduler ?? throw new ArgumentNullException(nameof(scheduler));
        return this;
    }

    /// <summary>Sets the time budget of the experiment, the refit of the best configuration included: the search stops (and
    /// cuts a running trial) early enough to leave the time that refit is expected to take, estimated from the chosen trial's
    /// own time (one of the networks or trainer fits its cross-validation trained, on all labels, with a 20% margin), and a
    /// longer version of a pipeline is started only when it and its refit fit. The refit of a fine-tuned network is the
    /// largest share (FixMatch on 5,000 images: about half of its trial's time); a trainer on embeddings or raw features
    /// refits in seconds. See also <see cref="SearchExperiment.SetTrainingTimeInSeconds"/>.</summary>
    public SslExperiment SetTrainingTimeInSeconds(uint seconds)
    {
        _search.SetTrainingTimeInSeconds(seconds);
        return this;
    }

    /// <summary>Sets the time budget with sub-second precision, the refit included as for
    /// <see cref="SetTrainingTimeInSeconds"/>; see <see cref="SearchExperiment.SetTrainingTime"/>.</summary>
    public SslExperiment SetTrainingTime(TimeSpan budget)
    {
        _search.SetTrainingTime(budget);
        return this;
    }

    /// <summary>Sets the maximum number of trials started.</summary>
    public SslExperiment SetMaxTrials(int maxTrials)
    {
        _search.SetMaxTrials(maxTrials);
        return this;
    }

    /// <summary>Sets the memory limit; see <see cref="SearchExperiment.SetMaximumMemoryUsageInMegaByte"/>.</summary>
    public SslExperiment SetMaximumMemoryUsageInMegaByte(double megabytes)
    {
        _search.SetMaximumMemoryUsageInMegaByte(megabytes);
        return this;
    }

    /// <summary>Sets a checkpoint folder: the search journal, trial states and the shared pretraining snapshots live there,
    /// and running the same experiment with the same folder resumes it (after a crash, or a pause by cancellation).</summary>
    public SslExperiment SetCheckpoint(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        _search.SetCheckpoint(folder);
        _checkpointFolder = Path.GetFullPath(folder);
        return this;
    }

    /// <summary>Sets where the trials and the refit train: "auto" (the default: a CUDA GPU when the CUDA TorchSharp backend is
    /// referenced and one is visible, else the CPU), "cpu", or "cuda" (fails when no GPU is visible). TorchSharp trains
    /// on the process's first visible GPU; for one worker per GPU (<see cref="SetStorage"/>), start each process with
    /// <c>CUDA_VISIBLE_DEVICES=N</c> and "cuda" (docs/distributed.md).</summary>
    /// <exception cref="ArgumentException">Another value.</exception>
    public SslExperiment SetDevice(string device)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(device);
        string normalized = device.Trim().ToLowerInvariant();
        if (normalized is not ("auto" or "cpu" or "cuda"))
            throw new ArgumentException(normalized.StartsWith("cuda:", StringComparison.Ordinal)
                ? $"SetDevice(\"{device}\"): TorchSharp trains on the process's first visible GPU, so choose the GPU when the process starts " +
                  "(CUDA_VISIBLE_DEVICES=N) and use \"cuda\"; mlnet-ssl's --device cuda:N does that for you."
                : $"SetDevice(\"{device}\"): use \"auto\", \"cpu\" or \"cuda\".", nameof(device));
        _device = normalized;
        return this;
    }

    private bool AllowCuda => _device != "cpu";

    /// <summary>Shares the experiment through a database, so processes on any number of machines that run it with the same
    /// settings and <see cref="SetExperimentName"/> share one search (see <see cref="SearchExperiment.SetStorage"/>): PostgreSQL
    /// (<c>Host=...</c>) across machines, SQLite (<c>Data Source=...</c>) on one host. Each process refits the best configuration
    /// once the shared search is done. The pretraining cache lives in <see cref="SetCheckpoint"/>'s folder (a shared file
    /// system for several machines; each key is pretrained by one worker at a time), else in a per-host folder under the
    /// temporary folder. See docs/distributed.md.</summary>
    public SslExperiment SetStorage(string connectionString)
    {
        _search.SetStorage(connectionString);
        return this;
    }

    /// <summary>Names the experiment in the store of <see cref="SetStorage"/>. Default: "default".</summary>
    public SslExperiment SetExperimentName(string name)
    {
        _search.SetExperimentName(name);
        return this;
    }

    /// <summary>With <see cref="SetStorage"/>: how long a worker may go without a heartbeat before its trial is re-queued;
    /// see <see cref="SearchExperiment.SetHeartbeatGracePeriod"/>. Default: 60 s.</summary>
    public SslExperiment SetHeartbeatGracePeriod(TimeSpan gracePeriod)
    {
        _search.SetHeartbeatGracePeriod(gracePeriod);
        return this;
    }

    /// <summary>Sets the seed of the tuner, the folds, the trainers and pretraining (every pretraining run uses seed + 1,
    /// so seed 0, the default, pretrains like the stage's default seed).</summary>
    public SslExperiment SetSeed(int seed)
    {
        _seed = seed;
        _search.SetSeed(seed);
        return this;
    }

    /// <summary>Receives progress reports (running, rung completed, completed, pruned, failed, stopped, with the best so far).</summary>
    public SslExperiment SetProgress(IProgress<SslTrialReport> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        // Each report carries the pipeline in words, so Console.WriteLine of a report reads like the CLI's progress line
        // (the trial's parameters as JSON were some 800 characters a line). The scheduler is read at report time, as
        // SetScheduler may follow.
        _search.SetProgress(new DescribingProgress(progress, this));
        return this;
    }

    private sealed class DescribingProgress(IProgress<SslTrialReport> inner, SslExperiment experiment) : IProgress<SslTrialReport>
    {
        public void Report(SslTrialReport value)
        {
            string? description = null;
            try
            {
                description = Describe(value.Trial.Parameters.AsType<SslTrialParameters>(), value.Fidelity ?? value.Trial.Fidelity,
                    experiment._scheduler.CreateScheduler().MaxFidelity, experiment._scoringLabelFree, poolRows: Interlocked.Read(ref experiment._poolRows));
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or System.Text.Json.JsonException)
            {
                // Parameters of a custom search space that are not an SSL trial's: the report goes on without words.
            }
            bool labelFree = experiment._scoringLabelFree;
            inner.Report(description is null && !labelFree ? value : value.WithDescription(description, labelFree));
        }
    }

    /// <summary>Also measures the label-free scores (RankMe; view retrieval and rotation prediction for images) of every pretrained trial under the
    /// cross-validated objective, in <see cref="SslExperimentResult.TrialMeasures"/>, for example to see how well they rank
    /// configurations on your data. Costs a few seconds per segment. Default: false.</summary>
    public SslExperiment SetRecordLabelFreeMeasures(bool record = true)
    {
        _recordLabelFreeMeasures = record;
        return this;
    }

    /// <summary>
    /// <see cref="RunAsync"/> for callers that are not asynchronous (a console app's <c>Main</c>, a notebook cell), as
    /// ML.NET's <c>AutoMLExperiment.Run()</c> is for its <c>RunAsync</c>. The search runs on the thread pool, so calling
    /// this from a thread with a synchronization context (a UI thread) does not deadlock; it blocks that thread until done.
    /// </summary>
    /// <param name="cancellationToken">Stops the search early (a pause with a checkpoint folder set).</param>
    /// <returns>The result of <see cref="RunAsync"/>; its exceptions are thrown as they are, not wrapped.</returns>
    public SslExperimentResult Run(CancellationToken cancellationToken = default) =>
        Task.Run(() => RunAsync(cancellationToken), CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// Runs (or resumes) the search, then refits the best configuration into one pipeline: <c>MapValueToKey(label)</c>, the
    /// featurizer (the self-supervised stage, pretrained on every row, or the raw-feature transforms), a mean-variance
    /// normalizer and the trainer fitted on the labeled rows, and <c>MapKeyToValue(PredictedLabel)</c>, so predictions are
    /// the original label values. A fine-tuned winner (SSL fine-tuning or training from scratch) refits instead as
    /// <c>MapValueToKey(label)</c>, <c>SelfSupervisedFineTune</c> (which reads the input column and owns its encoder) and
    /// <c>MapKeyToValue(PredictedLabel)</c>, with no separate stage.
    /// </summary>
    /// <exception cref="InvalidOperationException">Missing settings, TorchSharp's native backend cannot be loaded, or no trial produced a metric.</exception>
    /// <exception cref="ArgumentException">Unusable columns or search space; the message names them.</exception>
    /// <exception cref="OperationCanceledException">Cancelled through the token or the experiment's <c>MLContext</c>
    /// (<c>CancelExecution</c>, noticed as each trial starts and within 50 ms during one), also after trials produced metrics: the search pauses and no model
    /// is refitted (with a checkpoint folder, running the same experiment again continues from the finished trials).</exception>
    /// <exception cref="InvalidDataException">A tabular or series input holds an infinity (missing values, NaN, are imputed).</exception>
    /// <exception cref="IOException">The folder given to <see cref="SetCheckpoint"/> cannot be made; the message names it.</exception>
    public async Task<SslExperimentResult> RunAsync(CancellationToken cancellationToken = default)
    {
        if (_data is null) throw new InvalidOperationException("Set the data with SetDataset before running.");
        if (_inputColumnName is null) throw new InvalidOperationException("Set the input column with SetInputColumn before running.");
        // Trials run in contexts of their own, so ml.CancelExecution() on the user's context must reach them through the token.
        using MLContextCancellationLink link = _mlContext.WatchCancellation(cancellationToken);
        try
        {
            return await RunWatchedAsync(link.Token, link.ThrowIfCancellationRequested).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested && e.CancellationToken != cancellationToken)
        {
            throw new OperationCanceledException(e.Message, e, cancellationToken);
        }
    }

    private async Task<SslExperimentResult> RunWatchedAsync(CancellationToken cancellationToken, Action throwIfCancelled)
    {
        if (_data is null || _inputColumnName is null) throw new InvalidOperationException("Set the data and the input column before running.");
        if (_checkpointFolder is not null)
        {
            // Made here, before the data is read: a path under a file failed later with a DirectoryNotFoundException that
            // named only the cache folder inside it.
            try
            {
                Directory.CreateDirectory(_checkpointFolder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IOException($"SetCheckpoint(\"{_checkpointFolder}\"): the folder cannot be made ({e.Message}); give a folder you can write to.", e);
            }
        }
        // A backend that cannot load fails here with what to do, not in each of thousands of trials until the budget ends.
        SslEnvironment.EnsureInitialized();
        if (_device == "cuda" && SslEnvironment.SelectDevice(allowCuda: true).type != TorchSharp.DeviceType.CUDA)
            throw new InvalidOperationException("SetDevice(\"cuda\"): no CUDA GPU is visible to TorchSharp (reference the TorchSharp-cuda backend " +
                "package instead of TorchSharp-cpu, and check CUDA_VISIBLE_DEVICES and the driver); use \"auto\" or \"cpu\".");
        SslInputShape shape = SslSearchSpace.InputShapeOf(_data.Schema, _inputColumnName, _seriesChannels, _imageWidth, _imageHeight);
        // Encoders need numbers where a loader read a missing value: each missing value becomes its slot's mean over the
        // rows, and the model applies the same replacement to the rows it scores (ML.NET AutoML's way). The model gets the
        // replacement also when the training rows have no missing value, so a row to score with one is handled the same
        // whichever pipeline won (a raw-feature trainer would predict NaN for it, an encoder refuse it).
        IDataView data = _data;
        ITransformer? imputer = null;
        string? imputation = null;
        if (_data.Schema[_inputColumnName].Type is VectorDataViewType)
        {
            imputer = _mlContext.Transforms.ReplaceMissingValues(_inputColumnName, replacementMode: Microsoft.ML.Transforms.MissingValueReplacingEstimator.ReplacementMode.Mean).Fit(_data);
            if (SslDataset.CountMissing(_data, _inputColumnName) is { Rows: > 0 } missing)
            {
                data = imputer.Transform(_data);
                imputation = string.Create(CultureInfo.InvariantCulture, $"{missing.Rows} row(s) of column '{_inputColumnName}' hold missing values " +
                    $"(NaN; the first is row {missing.FirstRow}): each is replaced by its slot's mean, in the trials and in the returned model.");
            }
        }
        SslDataset dataset = SslDataset.Read(_mlContext, data, _inputColumnName, _labelColumnName, shape);
        Interlocked.Exchange(ref _poolRows, dataset.RowCount);
        // Said as such: "no row has a label (0 rows, all unlabeled)" sent users looking for a label problem.
        if (dataset.RowCount == 0)
            throw new InvalidOperationException("The data given to SetDataset has no rows; give it the rows to pretrain and train on " +
                "(a filter that kept none, or a loader that read an empty file or folder, leaves none).");
        if (dataset.LabeledCount == 0)
            throw new InvalidOperationException(
                $"No row has a label in column '{_labelColumnName}' ({dataset.RowCount} rows, all unlabeled: a missing value, NaN or " +
                "empty text, marks a row unlabeled). The experiment ends in a classifier, so label some rows of at least two classes; " +
                "with only a few labels per class, SslObjective.LabelFree (or Auto, the default) chooses the pretraining without " +
                "using them. To pretrain on unlabeled rows alone, fit ml.Transforms.SelfSupervised(...) directly.");
        if (dataset.ClassCount < 2)
            throw new InvalidOperationException($"Label column '{_labelColumnName}' has a single class among its {dataset.LabeledCount} labeled " +
                "rows; a classifier needs labeled rows of at least two classes. Label some rows of another class (rows with a " +
                "missing value, NaN or empty text, are unlabeled).");

        _metric.CheckClassCount(dataset.ClassCount);
        dataset.CheckFiniteInputs();
        dataset.CheckImagesLoad(cancellationToken);

        var notes = new List<string>();
        if (imputation is not null) notes.Add(imputation);
        bool constantInput = SslDataset.IsConstantInput(dataset.Data, _inputColumnName);
        if (constantInput)
            notes.Add($"Every row of column '{_inputColumnName}' holds the same values ({dataset.RowCount} rows), so no pipeline can tell the classes " +
                "apart and every model predicts one class for all rows. Check that the input column holds the features meant and that the " +
                "loader read them (a wrong separator or column range can leave every value 0 or missing).");
        // On the rows as given, before imputation: a slot missing in every labeled row is imputed to one value there.
        if (shape.Kind == SslInputKind.Tabular && !constantInput) notes.AddRange(InputSlotChecks.Notes(_data, _inputColumnName, dataset.AllKeys, key => ClassValue(dataset, key)));
        if (QuantityLikeLabel(_data.Schema[_labelColumnName].Type, dataset) is { } quantity) notes.Add(quantity);
        if (MarkerClassNote(_data.Schema[_labelColumnName].Type, dataset) is { } marker) notes.Add(marker);
        if (SpellingVariantClassNote(_data.Schema[_labelColumnName].Type, dataset) is { } variants) notes.Add(variants);
        if (MinusOneClassNote(_data.Schema[_labelColumnName].Type, dataset) is { } minusOne) notes.Add(minusOne);
        if (shape.Kind == SslInputKind.Series && shape.Length > LongSeriesSteps)
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"Series of {shape.Length} steps per channel: the Conv1d encoder's time and memory grow with the length, and a pretraining step is never cut short, so trials run long and can outlast the budget. ml.Transforms.ResampleSeries(..., length: {LongSeriesSteps}) with SeriesResampling.Mean before the experiment averages them down (the mlnet-ssl tool does so by default)."));
        (SslObjective objective, string objectiveExplanation) = ResolveObjective(dataset);
        _scoringLabelFree = objective.Kind == SslObjectiveKind.LabelFree;
        if (_scoringLabelFree && _metric != SslMetric.Accuracy)
            objectiveExplanation += $" SetOptimizingMetric({_metric}) is not used: the label-free objective scores the embeddings without labels, and the leaderboard shows its score.";
        int[] foldOfRow = new int[dataset.LabeledCount];
        int foldCount = 0, fineTuneFolds = 0;
        var repetitions = new List<(int[] FoldOfRow, int FoldCount)>();
        uint positiveKey = MetricCalculator.PositiveKey(dataset.LabeledKeys);
        // Macro accuracy is scored, and the model decides, on class probabilities divided by the class shares (none where
        // every class has as many labeled rows: the factors would all be 1).
        double[]? classWeights = objective.Kind == SslObjectiveKind.CrossValidatedAccuracy && _metric == SslMetric.MacroAccuracy
            && MetricCalculator.BalancingWeights(dataset.LabeledKeys, dataset.ClassCount) is { } balancing && balancing.Max() > balancing.Min() * (1 + 1e-9)
            ? balancing : null;
        if (objective.Kind == SslObjectiveKind.CrossValidatedAccuracy)
        {
            (foldOfRow, foldCount) = StratifiedFolds.Assign(dataset.LabeledKeys, objective.Folds, _seed);
            int repeats = CrossValidationRepeats(dataset.LabeledCount);
            repetitions.Add((foldOfRow, foldCount));
            for (int r = 1; r < repeats; r++) repetitions.Add(StratifiedFolds.Assign(dataset.LabeledKeys, objective.Folds, unchecked(_seed + 7919 * r)));
            fineTuneFolds = FineTuneFolds(dataset.LabeledCount, foldCount);
            int heldOut = foldOfRow.Count(f => f < fineTuneFolds);
            // StratifiedFolds cuts the folds to the rarest class of 2 labels or more: a single-label class does not cut them.
            int? cutting = dataset.LabeledKeys.GroupBy(k => k).Select(g => g.Count()).Where(n => n >= 2).Select(n => (int?)n).Min();
            string fewerFolds = cutting is int rarest
                ? $"the rarest class of 2 labels or more has {rarest} labels, one per fold at least"
                : "no class has 2 labels or more";
            objectiveExplanation += string.Create(CultureInfo.InvariantCulture,
                $" Metric: {_metric} ({(_metric.IsMaximized() ? "maximized" : "minimized")}{(_metric.RequiresTwoClasses() ? $", positive class: {DescribeKey(dataset, positiveKey)}, the rarer" : "")}), " +
                $"{foldCount}-fold cross-validation{(foldCount < objective.Folds ? $" (fewer than the objective's {objective.Folds} folds: {fewerFolds})" : "")} repeated {repeats} time(s)");
            objectiveExplanation += fineTuneFolds < foldCount
                ? $"; fine-tuning trials train {fineTuneFolds} of the {foldCount} folds ({heldOut} held-out labels), a network per fold being their whole cost."
                : ".";
        }
        bool maximize = objective.Kind == SslObjectiveKind.LabelFree || _metric.IsMaximized();

        SearchSpace space = PrepareSpace(shape.Kind, objective, notes);
        FitSpaceToLabels(space, dataset, foldOfRow, foldCount, notes);
        SslTuner tuner = _tuner ?? SslTuner.Tpe;
        HashSet<Parameters>? portfolioConfigurations = null;
        Dictionary<Parameters, (double Seconds, bool CachedEncoder)>? portfolioSeconds = null;
        SslRawPreference? rawPreference = null;
        Parameters[] rawEntries = [];
        if (_portfolio ?? _tuner is null)
        {
            var portfolio = SslPortfolio.For(space, shape.Kind, dataset.RowCount, dataset.LabeledCount);
            tuner = tuner.WithPortfolioFirst($"{shape.Kind},{SslPortfolio.Version},{portfolio.Count}", portfolio.Select(p => p.Configuration).ToArray());
            // Lengthened versions of the portfolio's entries share their exemption from the time cap.
            portfolioConfigurations = portfolio.Select(p => SslSearchSpace.WithoutEpochs(p.Configuration)).ToHashSet();
            portfolioSeconds = portfolio.Where(p => p.LearnedSeconds is > 0).ToDictionary(p => p.Configuration, p => (p.LearnedSeconds!.Value, p.LearnedWithCachedEncoder));
            rawEntries = [.. portfolio.Where(p => SslSearchSpace.FeatureSource(p.Configuration) == SslFeatureSource.RawFeatures)
                .Select(p => SslSearchSpace.EffectiveConfiguration(p.Configuration)).OfType<Parameters>()];
            // Before the scores on tables only, where it was measured on 21 tables; on series the measurements disagreed
            // (docs/automl.md, "Final choice"), so there it only breaks exact ties.
            // On images raw pixels come after every pipeline with an encoder inside the error: in the image benchmarks they
            // never tested best (CIFAR-10 pools of 1,000 to 5,000: 23.6-25.2% against 28.0-39.4% for a 3-epoch SSL probe;
            // 600 images, 60 labels: 19.7% against 28.3-33.0%), and the one-standard-error rule and its second look handed
            // the choice to them on folds of 6 labels a class.
            rawPreference = new SslRawPreference([.. portfolio.Select(p => SslSearchSpace.WithoutEpochs(p.Configuration))], shape.Kind == SslInputKind.Tabular,
                RawFirst: shape.Kind != SslInputKind.Image);
            notes.Add($"Portfolio first ({portfolio.Count} configurations, then {(_tuner ?? SslTuner.Tpe).Name}): {string.Join("; ", portfolio.Select(p => p.Name))}.");
            // Once every kind of pipeline the learning run found worth its time has been measured, the spare budget goes
            // first to the best of them trained longer (a scheduler's rungs stop at its maximum fidelity; this goes past it).
            int scaleAfter = portfolio.TakeWhile(p => p.Gainful).Count();
            SearchSpace frozen = space;
            string factors = string.Join(", ", SslSearchSpace.LengtheningFactors.Select(f => f.ToString(CultureInfo.InvariantCulture)));
            tuner = tuner.WithIncumbentScaleUp($"epochs x{factors}", scaleAfter, SslSearchSpace.LengtheningFactors, (c, f) => SslSearchSpace.Lengthened(frozen, c, f));
            notes.Add($"After the first {scaleAfter} portfolio entries, the best pipeline so far is trained {SslSearchSpace.LengtheningFactors[0]
                .ToString(CultureInfo.InvariantCulture)} times longer (fine-tuning epochs, or pretraining epochs when the search sets them; " +
                $"x{factors} in turn when a longer version would not fit in the budget left) while the longer version keeps winning.");
        }
        _search.SetTuner(tuner);
        IReadOnlyList<object> sources = Choices(space, SslSearchSpace.FeaturesOption);
        bool searchesRawFeatures = sources.Contains(nameof(SslFeatureSource.RawFeatures)) || sources.Contains(nameof(SslFeatureSource.RawAndSelfSupervised));
        // Read once now: a bad value fails here, not in every trial. Pixels are always finite (and CheckImagesLoad loaded every
        // image), so images wait for the first raw-pixel trial: decoding the files again costs seconds outside the budget.
        if (searchesRawFeatures && shape.Kind != SslInputKind.Image) _ = dataset.RawFeatures();

        // With a store the cache is shared by the workers (SearchExperiment.SharedFolder), so it outlives this run.
        string? sharedFolder = _search.SharedFolder;
        string? temporaryRoot = sharedFolder is null ? Directory.CreateTempSubdirectory("mlnetssl-ssl-").FullName : null;
        try
        {
            string cacheRoot = sharedFolder is not null ? Path.Combine(sharedFolder, "cache") : temporaryRoot!;
            int pretrainingSeed = unchecked(_seed + 1);
            var runner = new SslTrialRunner(new SslTrialRunner.Settings(dataset, objective, foldOfRow, foldCount, pretrainingSeed,
                cacheRoot, _recordLabelFreeMeasures)
            {
                Metric = _metric,
                PositiveKey = positiveKey,
                ClassWeights = classWeights,
                RepeatedFolds = repetitions.Count > 0 ? repetitions : null,
                TrialTimeCapFraction = _trialTimeCapFraction,
                FineTuneFolds = fineTuneFolds,
                ThrowIfCancelled = throwIfCancelled,
                Uncapped = portfolioConfigurations,
                PortfolioSeconds = portfolioSeconds,
                AllowCuda = AllowCuda,
            });
            string metricDescription = objective.Kind == SslObjectiveKind.LabelFree ? "" : $"metric={_metric}{(classWeights is null ? "" : " (balanced decisions)")},repeats={repetitions.Count},";
            // The last part: scores from before the small-pool rules (SslTrialRunner.PoolBatchSize,
            // WideRowLightGbmEstimator.RowsPerLeaf) would mix with ones after them, so such a checkpoint is refused, naming it.
            string description = string.Create(CultureInfo.InvariantCulture,
                $"SelfSupervised(input={_inputColumnName},{CheckpointText(shape)},label={_labelColumnName},{objective.Name},{metricDescription}folds used={foldCount},fine-tune folds={fineTuneFolds}," +
                $"rows={dataset.RowCount},labeled={dataset.LabeledCount},data={dataset.ContentHash()},pretraining seed={pretrainingSeed},standardize=centred," +
                $"small pools=batch and LightGBM leaf at most a quarter of the rows)");

            // The budget covers the second look and the refit: the search leaves the time they should take for the trial it
            // would choose now.
            bool oneStandardError = _oneStandardErrorRule && objective.Kind == SslObjectiveKind.CrossValidatedAccuracy;
            IReadOnlyList<(int[] FoldOfRow, int FoldCount)> secondLookFolds = oneStandardError
                ? SslSecondLook.Assignments(dataset.LabeledKeys, objective.Folds, _seed, repetitions.Count) : [];
            double secondLookShare = _search.TimeBudget is TimeSpan budget ? SslSecondLook.BudgetShare * budget.TotalSeconds : double.PositiveInfinity;
            _search.SetTimeAfterSearch(leaderboard =>
            {
                if (leaderboard.Count == 0 || leaderboard[0].Metric is null) return TimeSpan.Zero;
                if (!oneStandardError) return runner.RefitTime(leaderboard[0]);
                IReadOnlyList<SslTrialMeasures> now = runner.Measures;
                TrialRecord choice = SelectWithinOneStandardError(leaderboard, now, maximize, portfolioConfigurations, rawPreference).Trial;
                TimeSpan secondLook = SslSecondLook.Pair(choice, leaderboard, now, maximize, portfolioConfigurations,
                    (trial, assignments, freshDraw) => runner.RescoreSeconds(trial, assignments, now, freshDraw), secondLookFolds.Count, secondLookShare, out _, rawPreference) is { } pair
                    ? TimeSpan.FromSeconds(pair.Seconds)
                    : TimeSpan.Zero;
                // An image FixMatch network with no longer scored version gets a longer final fit: the search stops early enough for it.
                TimeSpan refit = runner.RefitTime(choice);
                if (LongerFinalFit(choice, leaderboard, shape.Kind, maximize) is not null)
                    refit = LongerFinalFitReserve(refit, choice.Parameters.AsType<SslTrialParameters>().Downstream.FineTuneEpochs);
                // A raw-feature choice may become an ensemble of the raw candidates: leave time for all their refits, or a search
                // that runs to its budget never has room for one. Not for a choice with an encoder, whose search should not
                // give up time for raw refits (a raw-pixel LightGBM's can be long) on the chance that the second look flips it.
                if (_ensembleSelection && choice.Parameters.AsType<SslTrialParameters>().Features == SslFeatureSource.RawFeatures
                    && EnsembleRefitReserve(leaderboard, choice, portfolioConfigurations, maximize, runner.RefitTime) is var ensemble && ensemble > refit)
                    refit = ensemble;
                return refit + secondLook;
            });
            // A raw-feature portfolio entry that has not run may fit where no trial measured so far does: raw pixels come last
            // in the image order (they raise no CIFAR-10 pool's best) and take seconds on small images, and a 180 s search on
            // 3,443 Fashion-MNIST images stopped with 48 s left without them, below the raw-pixel fit the CLI then compared.
            // The search goes on for them; the runner declines the entries before them that it prices as too long.
            _search.SetUnmeasuredMayFit(rawEntries.Length == 0 ? null : leaderboard =>
            {
                var ran = leaderboard.Select(t => SslSearchSpace.EffectiveConfiguration(t.Parameters)).OfType<Parameters>().ToHashSet();
                return rawEntries.Any(entry => !ran.Contains(entry));
            });
            // A raw-feature model, or a trainer on an encoder already pretrained, takes seconds where a new encoder or a network
            // takes minutes: the stop rule compares what is left with the shortest trial of the proposal's own kind (a 10 s
            // LightGBM on a cached encoder let three new encoders start in a 600 s image search's last minute, all cut).
            _search.SetSegmentKind(configuration =>
                SslSearchSpace.FeatureSource(configuration) == SslFeatureSource.RawFeatures ? "raw"
                : SslSearchSpace.LengthensFineTuning(configuration) ? "network" // fine-tuned or from scratch
                : runner.HasPretrained(configuration) ? "pretrained encoder" : "new encoder");
            SearchResult search = await _search
                .SetSearchSpace(space)
                .SetScheduler(_scheduler)
                .SetIsMaximize(maximize)
                .SetTrialRunner(runner)
                .SetRunnerDescription(description)
                .RunAsync(cancellationToken).ConfigureAwait(false);

            TrialRecord top = search.BestTrial ?? throw search.NoMetric(cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            // A session that only replayed its journal (no time left) overran nothing: earlier sessions spent the time.
            if (runner.SegmentsRun > 0 && OverranNote(_search.TimeBudget, search) is { } overran) notes.Add(overran);
            foreach (var (trialId, reached, configured) in runner.StoppedByBudget) notes.Add(StoppedByBudgetNote(trialId, reached, configured));
            IReadOnlyList<SslTrialMeasures> measures = runner.LoadMeasures();
            var afterSearch = Stopwatch.StartNew();
            (TrialRecord best, string selection) = oneStandardError
                ? ChooseWithSecondLook(search, runner, measures, maximize, portfolioConfigurations, rawPreference, secondLookFolds, notes, cancellationToken)
                : (top, $"The top of the leaderboard, trial {top.TrialId}." + LabelFreeSpread(objective.Kind, top, search.Trials, measures, dataset.RowCount,
                    _objective.Kind == SslObjectiveKind.Auto ? _objective.MinimumLabelsPerClass : null));
            SslTrialParameters parameters = best.Parameters.AsType<SslTrialParameters>();
            // The label-free search leaves the downstream trainer out (nothing to tune it with); its refit uses settings for few labels.
            if (objective.Kind == SslObjectiveKind.LabelFree) parameters.Downstream = SslDownstream.LabelFreeDefaults;
            if (_search.TimeBudget is TimeSpan timeBudget && objective.Kind == SslObjectiveKind.CrossValidatedAccuracy
                && LongerFinalFit(best, search.Trials, shape.Kind, maximize) is { } evidence)
            {
                int scored = parameters.Downstream.FineTuneEpochs;
                double refitSeconds = runner.RefitTime(best).TotalSeconds;
                double secondsLeft = (timeBudget - search.Elapsed - afterSearch.Elapsed).TotalSeconds;
                int epochs = FinalFitEpochs(scored, refitSeconds, secondsLeft);
                if (epochs > scored)
                {
                    parameters.Downstream.FineTuneEpochs = epochs;
                    const string Grids = "FixMatch's test accuracy rose with its epochs on the CIFAR-10 and MNIST grids";
                    string why = evidence.Shorter is not { } shorter
                        ? $"no other length of it was scored (none fitted in the budget), and {Grids}"
                        : (evidence.LengtheningPaid ? "its lengthening still paid in the search" : "its lengthening scored within the error in the search")
                          + string.Create(CultureInfo.InvariantCulture,
                              $" (trial {shorter.TrialId}, {SslSearchSpace.TrainingEpochs(shorter.Parameters)} epochs, {shorter.Metric:0.####}; trial {best.TrialId}, " +
                              $"{scored} epochs, {best.Metric:0.####})")
                          + (evidence.LengtheningPaid ? "" : $", which cannot tell them apart, and {Grids}");
                    selection += string.Create(CultureInfo.InvariantCulture,
                        $" Final fit: {epochs} fine-tuning epochs, not the {scored} the trial was scored with (about {FinalFitSeconds(scored, refitSeconds, epochs):0} s " +
                        $"of fitting, within {FinalFitShareOfWhatIsLeft:P0} of the {secondsLeft:0} s of the budget left; the metric above is the " +
                        $"{scored}-epoch network's): {why}.");
                }
            }
            ITransformer? model = null;
            IReadOnlyList<SslEnsembleMember> ensemble = [];
            string? ensembleDescription = null;
            if (_ensembleSelection && objective.Kind == SslObjectiveKind.CrossValidatedAccuracy && parameters.Features == SslFeatureSource.RawFeatures
                && SelectEnsemble(runner, search.Trials, best, portfolioConfigurations, dataset, positiveKey, classWeights) is { } choice)
            {
                var members = choice.Members;
                TimeSpan refits = members.Aggregate(TimeSpan.Zero, (sum, m) => sum + runner.RefitTime(m.Trial));
                TimeSpan? left = _search.TimeBudget is TimeSpan total ? total - search.Elapsed - afterSearch.Elapsed : null;
                string weights = choice.Picked;
                if (left is TimeSpan room && !EnsembleRefitsFit(refits, room, runner.RefitTime(best)))
                {
                    notes.Add(string.Create(CultureInfo.InvariantCulture, $"Ensemble selection picked {weights}, but their refits take about " +
                        $"{refits.TotalSeconds:0.0} s against {Math.Max(0, room.TotalSeconds):0.0} s left of the budget; the model is trial {best.TrialId} alone."));
                }
                else
                {
                    try
                    {
                        model = RefitEnsemble(dataset, members, classWeights, cancellationToken);
                        ensemble = [.. members.Select(m => new SslEnsembleMember(m.Trial.TrialId, m.Weight,
                            Describe(m.Trial.Parameters.AsType<SslTrialParameters>(), m.Trial.Fidelity, search.MaxFidelity)))];
                        ensembleDescription = "Ensemble, the weighted mean of the class probabilities of: " +
                            string.Join("; ", ensemble.Select(m => FormattableString.Invariant($"{m.Weight:0.##} x {m.Description}")));
                        selection += " " + choice.Why;
                    }
                    catch (Exception e) when (e is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
                    {
                        notes.Add($"The ensemble of {weights} could not be refitted ({e.GetType().Name}: {FirstLine(e.Message)}); the model is trial {best.TrialId} alone.");
                    }
                }
            }
            try
            {
                model ??= Refit(dataset, runner, best, parameters, search.MaxFidelity, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // A refit that fails (a NaN loss on all the labeled rows where the folds trained fine, a trainer that finds no
                // usable row) must not cost the whole search: the next pipeline takes its place, and the result says so.
                TimeSpan? left = _search.TimeBudget is TimeSpan total ? total - search.Elapsed - afterSearch.Elapsed : null;
                string which;
                (best, parameters, model, which) = RefitAnother(dataset, runner, search, best, e, maximize, objective.Kind, left, notes, cancellationToken);
                selection += $" The refit of that choice failed ({e.GetType().Name}: {FirstLine(e.Message)}); the model is trial {best.TrialId}'s instead, {which}.";
            }
            // An ensemble's average holds the factors already.
            if (classWeights is not null && ensemble.Count == 0)
            {
                ITransformer balancingStep = _mlContext.Transforms.ReweightClassScores(classWeights, "Score", _labelColumnName)
                    .Append(_mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
                    .Fit(model.Transform(dataset.DataFor(parameters.Features)));
                // Flat, so the model still starts with its label-to-key map (callers take it off to predict without labels).
                model = new TransformerChain<ITransformer>([.. model is IEnumerable<ITransformer> parts ? parts : [model], balancingStep]);
                selection += " " + BalancedDecisionsExplanation(dataset, classWeights);
            }
            else if (classWeights is not null)
            {
                selection += " " + BalancedDecisionsExplanation(dataset, classWeights);
            }
            // One flat chain, so the stages are where they are without the imputer (model.OfType<...>() finds them), and the
            // imputer after the label-to-key map the model starts with (callers take that map off to predict without labels).
            if (imputer is not null)
            {
                ITransformer[] parts = model is IEnumerable<ITransformer> chain ? [.. chain] : [model];
                model = new TransformerChain<ITransformer>(parts is [Microsoft.ML.Transforms.ValueToKeyMappingTransformer labelMap, .. var rest]
                    ? [labelMap, imputer, .. rest] : [imputer, .. parts]);
            }
            SslTrialMeasures? bestMeasures = MeasuresOf(measures, best);
            var bestResult = new SslTrialResult(best, model)
            {
                MetricStandardError = bestMeasures?.MetricStandardError,
                MetricStandardDeviation = bestMeasures?.MetricStandardDeviation,
            };
            return new SslExperimentResult(bestResult, search.Trials, search.StopReason, search.Elapsed)
            {
                OptimizingMetric = objective.Kind == SslObjectiveKind.LabelFree ? null : _metric,
                SelectionExplanation = selection,
                IsMetricMaximized = maximize,
                Objective = objective,
                ObjectiveExplanation = objectiveExplanation,
                BestFeatureSource = parameters.Features,
                BestPipelineDescription = ensembleDescription ?? Describe(parameters, best.Fidelity, search.MaxFidelity, epochsReached: runner.EpochsReached(best),
                    poolRows: dataset.RowCount),
                Ensemble = ensemble,
                BestDownstream = parameters.Downstream,
                TrialMeasures = measures,
                PretrainingReuse = new PretrainingReuseSummary(measures),
                Notes = notes,
            };
        }
        finally
        {
            if (temporaryRoot is not null) TryDeleteDirectory(temporaryRoot);
        }
    }

    /// <summary>
    /// The one-standard-error rule, then, when it chose a pipeline with an encoder (or a raw-feature one with tuned settings),
    /// a second look (<see cref="SslSecondLook"/>) on as many of <paramref name="folds"/> as fit (at least one) between that
    /// pipeline and the raw-feature one the rule prefers among the raw ones (among the portfolio's untuned ones, for a tuned
    /// raw choice; in <paramref name="rawPreference"/>'s order where it comes first), within the share of the budget the
    /// search kept for it (none when the search ran past its budget); a look that moves the choice to a raw-feature pipeline
    /// with tuned settings is followed by that pipeline's own look (<see cref="SslSecondLook.Choose"/>). A second look that
    /// does not fit leaves the rule's choice, and the explanation says so; one that fails leaves it with a note.
    /// </summary>
    private (TrialRecord Trial, string Explanation) ChooseWithSecondLook(SearchResult search, SslTrialRunner runner, IReadOnlyList<SslTrialMeasures> measures,
        bool maximize, IReadOnlySet<Parameters>? portfolio, SslRawPreference? rawPreference, IReadOnlyList<(int[] FoldOfRow, int FoldCount)> folds,
        List<string> notes, CancellationToken cancellationToken)
    {
        (TrialRecord Trial, string Explanation) rule = SelectWithinOneStandardError(search.Trials, measures, maximize, portfolio, rawPreference);
        // The search kept the look's time for the leader it had when it stopped; a last trial that took the lead changes the
        // pair, so the look may use its whole share (a tenth of the budget at most past it) unless the budget is spent.
        double allowance = _search.TimeBudget is TimeSpan budget
            ? (search.Elapsed < budget ? SslSecondLook.BudgetShare * budget.TotalSeconds : 0)
            : double.PositiveInfinity;
        // The measures read back from the cache folder: with shared storage, other workers ran some of the trials.
        (TrialRecord Trial, string Explanation) chosen = SslSecondLook.Choose(rule, search.Trials, measures, maximize, portfolio,
            (trial, assignments, freshDraw) => runner.RescoreSeconds(trial, assignments, measures, freshDraw),
            // A fresh draw may take twice its price before it is given up (then the look fails and the rule's choice stands).
            (trial, assignments, freshDraw) => runner.Rescore(trial, [.. folds.Take(assignments)], search.MaxFidelity, cancellationToken, freshDraw,
                freshDraw && runner.RescoreSeconds(trial, assignments, measures, freshDraw: true) is double price ? TimeSpan.FromSeconds(2 * price) : null),
            folds.Count, allowance, rawPreference, out string? failure, cancellationToken,
            // Without a time budget the look has all the time it needs, but pretraining an encoder again (minutes for images)
            // after a search of a few trials is no second look: a fresh draw must fit a tenth of the search's own time.
            freshDrawAllowanceSeconds: _search.TimeBudget is null ? SslSecondLook.BudgetShare * search.Elapsed.TotalSeconds : double.PositiveInfinity);
        if (failure is not null) notes.Add(failure);
        return chosen;
    }

    /// <summary>The fine-tuning epochs a lengthened final fit may reach however short its scored version
    /// (<see cref="FinalFitEpochCap"/>): FixMatch still gained from 25 to 50 epochs on every grid that went that far (5,000
    /// CIFAR-10 images, 3-epoch encoder: 53.4 to 55.3%; 5,000 others, 56.3% at 50 where the search's 35-epoch final fit
    /// tested 55.3%), and 50 is the fine-tuner's own default.</summary>
    internal const int FinalFitEpochReach = 50;

    /// <summary>The most fine-tuning epochs a final fit of a network scored with <paramref name="scoredEpochs"/> may train
    /// (<see cref="LongerFinalFit"/>): the search's first lengthening factor times them, or <see cref="FinalFitEpochReach"/>
    /// where that is more. At 2.5 times alone, a 600 s CIFAR-10 search spent 250 s scoring the 25-epoch version of its
    /// 10-epoch FixMatch leader to earn a final fit of 35 to 38 epochs, where that time would have fitted 50.</summary>
    internal static int FinalFitEpochCap(int scoredEpochs) =>
        Math.Max((int)Math.Floor(scoredEpochs * SslSearchSpace.LengtheningFactors[0]), FinalFitEpochReach);

    /// <summary>Why a final fit may train longer than its trial was scored (<see cref="LongerFinalFit"/>).</summary>
    /// <param name="Shorter">The longest shorter scored version of the trial's configuration; null when no other length of
    /// it was scored.</param>
    /// <param name="LengtheningPaid">Whether the trial scored better than <paramref name="Shorter"/>.</param>
    internal sealed record FinalFitEvidence(TrialRecord? Shorter, bool LengtheningPaid);

    /// <summary>
    /// For an image FixMatch network from a pretrained encoder, scored without a scheduler's rungs, with no longer scored
    /// version of its configuration (only the fine-tuning epochs differ): why its final fit may train longer than it was
    /// scored (<see cref="FinalFitEpochs"/>); null otherwise, and for every other pipeline. On the CIFAR-10 grid FixMatch's
    /// test accuracy rose with every lengthening up to 50 epochs (52.4, 53.4 and 55.3% at 10, 25 and 50 epochs from one
    /// encoder), on MNIST from 10 to 25 epochs (94.3 to 96.5%; docs/automl-benchmarks.md), and scoring a longer version
    /// costs a network per fold where the final fit costs one. The measured evidence against is a longer version that
    /// scored worse by more than the one-standard-error rule's error: the rule chooses the longest version within it
    /// (<see cref="SelectWithinOneStandardError"/>), so a chosen trial with a longer scored version is exactly that case.
    /// </summary>
    internal static FinalFitEvidence? LongerFinalFit(TrialRecord trial, IReadOnlyList<TrialRecord> leaderboard, SslInputKind kind, bool maximize)
    {
        SslTrialParameters parameters = trial.Parameters.AsType<SslTrialParameters>();
        if (kind != SslInputKind.Image || parameters.Features != SslFeatureSource.SelfSupervised || !parameters.TrainsNetwork
            || !parameters.Downstream.SemiSupervised || trial.Fidelity is not null || trial.Metric is not double metric
            || SslSearchSpace.TrainingEpochs(trial.Parameters) is not int epochs) return null;
        Parameters configuration = SslSearchSpace.WithoutTrainingEpochs(trial.Parameters);
        var versions = leaderboard
            .Where(t => t.TrialId != trial.TrialId && t.Fidelity is null && t.Metric is double
                && SslSearchSpace.TrainingEpochs(t.Parameters) is int other && other != epochs
                && configuration.Equals(SslSearchSpace.WithoutTrainingEpochs(t.Parameters)))
            .ToList();
        if (versions.Any(t => SslSearchSpace.TrainingEpochs(t.Parameters) > epochs)) return null;
        TrialRecord? shorter = versions.OrderByDescending(t => SslSearchSpace.TrainingEpochs(t.Parameters)).FirstOrDefault();
        return new FinalFitEvidence(shorter, shorter?.Metric is double m && (maximize ? metric > m : metric < m));
    }

    /// <summary>The share of the budget left that a lengthened final fit is sized to. A final fit is never cut (that would
    /// lose it all), and the pace of its added epochs varied by more than the refit price's 20% margin: on 5,000 CIFAR-10
    /// images a 45-epoch FixMatch fit sized to the 251 s left took 262 s (a run before, 39 epochs took 189 s of 253 s).</summary>
    internal const double FinalFitShareOfWhatIsLeft = 0.9;

    /// <summary>The priced seconds of a final fit of <paramref name="epochs"/> for a network whose <paramref name="scoredEpochs"/>
    /// refit at <paramref name="refitSeconds"/> (with its 20% margin), at that pace. A FixMatch epoch gets dearer as more
    /// pseudo-labels pass the threshold, but on the idle host the margin covered it: on 5,000 CIFAR-10 images 50 epochs
    /// priced at 255 s from a 10-epoch network took 232 s, and 35 to 45 epochs priced from 25-epoch networks took 0.86 to
    /// 1.06 times their price; a 49-epoch fit that took 291 s of 222 s priced ran beside another job's builds (load 2 to 7).</summary>
    internal static double FinalFitSeconds(int scoredEpochs, double refitSeconds, int epochs) => refitSeconds * epochs / Math.Max(1, scoredEpochs);

    /// <summary>What the search keeps back for the final fit of a network that may train longer, priced at
    /// <paramref name="refit"/> for its <paramref name="scoredEpochs"/>: enough that <see cref="FinalFitEpochs"/> reaches
    /// <see cref="FinalFitEpochCap"/> within its share of what is left.</summary>
    internal static TimeSpan LongerFinalFitReserve(TimeSpan refit, int scoredEpochs) =>
        TimeSpan.FromSeconds(FinalFitSeconds(scoredEpochs, refit.TotalSeconds, FinalFitEpochCap(Math.Max(1, scoredEpochs))) / FinalFitShareOfWhatIsLeft);

    /// <summary>The fine-tuning epochs of a final fit that may train longer: as many as <see cref="FinalFitShareOfWhatIsLeft"/>
    /// of <paramref name="secondsLeft"/> fits (<see cref="FinalFitSeconds"/>, from <paramref name="refitSeconds"/>, the refit's
    /// priced time for <paramref name="epochs"/>), at most <see cref="FinalFitEpochCap"/> of them, never fewer than
    /// <paramref name="epochs"/>.</summary>
    internal static int FinalFitEpochs(int epochs, double refitSeconds, double secondsLeft) =>
        refitSeconds <= 0 || epochs <= 0 || !(secondsLeft * FinalFitShareOfWhatIsLeft > refitSeconds) ? epochs
            : Math.Max(epochs, Math.Min(FinalFitEpochCap(epochs), (int)Math.Floor(epochs * (secondsLeft * FinalFitShareOfWhatIsLeft / refitSeconds))));

    /// <summary>The folds a fine-tuning trial trains: as set (at most all of them), or the fewest that hold out 200 labels.</summary>
    private int FineTuneFolds(int labeledCount, int foldCount) =>
        _fineTuneFolds > 0 ? Math.Min(_fineTuneFolds, foldCount) : AutomaticFineTuneFolds(labeledCount, foldCount);

    /// <summary>The fewest of <paramref name="foldCount"/> stratified folds of <paramref name="labeledCount"/> labels that
    /// hold out at least 200 of them (all folds when there are fewer).</summary>
    internal static int AutomaticFineTuneFolds(int labeledCount, int foldCount) =>
        Math.Clamp((int)Math.Ceiling(200.0 * foldCount / Math.Max(1, labeledCount)), 1, foldCount);

    /// <summary>Steps per channel above which the result's notes suggest averaging series down: the mlnet-ssl tool's
    /// default length limit (on 3 channels x 3,000 steps a SimCLR epoch over 300 rows took 14.7 s and 6.9 GB against
    /// 3.2 s and 1.3 GB at 500 steps).</summary>
    internal const int LongSeriesSteps = 512;

    /// <summary>The repetitions of the cross-validation: as set, or ceil(200 / labeled rows) between 1 and 5.</summary>
    private int CrossValidationRepeats(int labeledCount) =>
        _crossValidationRepeats > 0 ? _crossValidationRepeats : Math.Clamp((200 + labeledCount - 1) / Math.Max(1, labeledCount), 1, 5);

    /// <summary>The rule's rank of a raw-feature pipeline on images: after a trainer on embeddings (1) and a network (2).</summary>
    private const int RawPixelsComplexity = 3;

    /// <summary>
    /// The one-standard-error rule: among the trials comparable with the leaderboard's best (measured at its fidelity, or
    /// with a metric that does not depend on the fidelity), those within one standard error of the best's metric are
    /// equally good as far as the cross-validation can tell, and the simplest of them is chosen: raw features (no encoder;
    /// of the portfolio's untuned ones in <paramref name="portfolio"/>, the first in the order of <paramref name="rawPreference"/>
    /// when it comes before the scores, else the best-scoring; then the best-scoring of the tuned ones; on an exact tie the
    /// linear model, then the earlier in the portfolio's order) before a
    /// trainer on embeddings before a fine-tuned or from-scratch network (a
    /// semi-supervised network before a supervised one, as cross-validation underrates FixMatch); where
    /// <see cref="SslRawPreference.RawFirst"/> is false (images) raw features come after the networks instead; then the cheapest (trial time plus the
    /// pretraining time it reused from the cache), then leaderboard order. Versions of one configuration that differ only in
    /// epochs count as one pipeline, represented by the longest-trained of them within the error. With a zero standard error (every fold
    /// scored the same) the trials that tie with the best are ordered the same way; without one the best stands.
    /// </summary>
    internal static (TrialRecord Trial, string Explanation) SelectWithinOneStandardError(IReadOnlyList<TrialRecord> leaderboard,
        IReadOnlyList<SslTrialMeasures> measures, bool maximize, IReadOnlySet<Parameters>? portfolio = null, SslRawPreference? rawPreference = null)
    {
        TrialRecord best = leaderboard[0];
        // Each trial's measures by id: scanning every measure for each of many candidates (and in every sort key) was
        // quadratic in the trials.
        ILookup<int, SslTrialMeasures> byTrial = measures.ToLookup(m => m.TrialId);
        SslTrialMeasures? Of(TrialRecord trial) => MeasuresOf([.. byTrial[trial.TrialId]], trial);
        double? error = Of(best)?.MetricStandardError;
        // A zero error (every fold scored the same, as when every held-out row is right) still lets the exact ties with
        // the best be told apart by simplicity.
        if (error is not double se || !(se >= 0) || best.Metric is not double top)
            return (best, $"The top of the leaderboard, trial {best.TrialId} (no standard error to apply the one-standard-error rule).");
        double threshold = maximize ? top - se : top + se;
        var candidates = leaderboard
            .Select((trial, rank) => (trial, rank))
            .Where(c => c.trial.Metric is double m && (maximize ? m >= threshold : m <= threshold)
                && (c.trial.Fidelity == best.Fidelity || Of(c.trial)?.FeatureSource is SslFeatureSource.RawFeatures))
            .ToList();
        int within = candidates.Count;
        // A pipeline trained for more epochs is the same pipeline, not a more complex one, and training longer seldom
        // hurts it: of the versions of one configuration that differ only in epochs (the lengthened incumbent) and that
        // the cross-validation cannot tell apart, the longest-trained stands for them all.
        // Grouped once: comparing every pair (each building both configurations without epochs) took 1 s of a search's
        // time at 300 trials within the error and 6 s at 1,000, and the search asks for this choice before every trial.
        var longest = new Dictionary<Parameters, (int Epochs, int Rank)>();
        foreach (var c in candidates)
        {
            Parameters version = SslSearchSpace.WithoutEpochs(c.trial.Parameters);
            int epochs = Epochs(c.trial);
            if (!longest.TryGetValue(version, out var kept) || epochs > kept.Epochs || (epochs == kept.Epochs && c.rank < kept.Rank))
                longest[version] = (epochs, c.rank);
        }
        var representatives = longest.Values.Select(v => v.Rank).ToHashSet();
        candidates = candidates
            .Where(c => representatives.Contains(c.rank))
            .OrderBy(c => Complexity(c.trial)).ThenBy(c => IsSemiSupervisedNetwork(c.trial) ? 0 : 1)
            .ThenBy(c => Raw(c.trial) && !IsUntuned(c.trial) ? 1 : 0)
            .ThenBy(c => Raw(c.trial) && rawPreference?.BeforeScores == true ? PlaceInPortfolio(c.trial) : 0)
            .ThenBy(c => Raw(c.trial) ? (maximize ? -c.trial.Metric!.Value : c.trial.Metric!.Value) : 0)
            .ThenBy(c => Raw(c.trial) && !IsLinear(c.trial) ? 1 : 0)
            .ThenBy(c => Raw(c.trial) ? PlaceInPortfolio(c.trial) : 0)
            .ThenBy(c => Raw(c.trial) ? c.rank : 0).ThenBy(c => Cost(c.trial)).ThenBy(c => c.rank)
            .ToList();
        TrialRecord chosen = candidates.Count > 0 ? candidates[0].trial : best;
        // What the chosen one was weighed against: the best's pipeline as the rule keeps it (its longest-trained version
        // within the error), not the best itself when that is a shorter version; comparing with the 3-epoch best (2.2 s)
        // called a 4.8 s pipeline "the cheapest" where the 10-epoch version it beat took 5.0 s.
        TrialRecord bestKept = candidates.Select(c => c.trial)
            .FirstOrDefault(t => SslSearchSpace.WithoutEpochs(t.Parameters).Equals(SslSearchSpace.WithoutEpochs(best.Parameters))) ?? best;
        string Against() => bestKept == best ? FormattableString.Invariant($"{Cost(best):0.#} s")
            : FormattableString.Invariant($"{Cost(bestKept):0.#} s for trial {bestKept.TrialId}, the longest-trained version of the best's pipeline");
        // A raw trial with tuned settings that ranked above the chosen untuned one: the reason the rule took a lower score.
        TrialRecord? tunedAbove = candidates.Count == 0 ? null : candidates
            .Where(c => c.rank < candidates[0].rank && Raw(c.trial) && !IsUntuned(c.trial)).Select(c => c.trial).FirstOrDefault();
        // Cross-validation is biased against FixMatch: its networks train on fewer labels than the refit, and FixMatch's
        // lead over plain fine-tuning grows with labels (none at 250 CIFAR-10 labels, +7 points at 500; docs/automl.md,
        // "Final choice"). So among networks the cross-validation cannot tell apart, the semi-supervised one stands.
        bool IsSemiSupervisedNetwork(TrialRecord trial) => Complexity(trial) == 2
            && trial.Parameters.TryGetPath($"{SslSearchSpace.DownstreamOption}.{nameof(SslDownstreamParameters.SemiSupervised)}", out object? semi)
            && Equals(semi, true);
        static int Epochs(TrialRecord trial) => SslSearchSpace.TrainingEpochs(trial.Parameters) ?? 0;
        // Raw pipelines that score exactly the same: the linear model before the trees, as it has fewer ways to fit the
        // folds by chance (ItalyPowerDemand, 76 labels: raw L-BFGS and raw LightGBM tied at 0.9868 in cross-validation;
        // LightGBM was kept and tested 0.9422 against 0.9574 on 329 test series).
        static bool IsLinear(TrialRecord trial) =>
            trial.Parameters.TryGetPath($"{SslSearchSpace.DownstreamOption}.{nameof(SslDownstreamParameters.Trainer)}", out object? trainer)
            && Equals(trainer, nameof(DownstreamTrainer.LinearProbe));
        // A raw trainer with the portfolio's settings against the same trainer with settings the tuner found: the tuned
        // one's lead inside the error is the search's luck (its best of many noisy scores), and defaults chosen before
        // seeing the data do not carry it. On an 8,000-row, 108-feature one-hot table with 800 labels, a tuned LightGBM
        // led the default one by 1 of 800 rows in cross-validation (0.6925 against 0.6913) and tested 2 points lower
        // (63.8% against 65.8% on 500 rows).
        bool IsUntuned(TrialRecord trial) => HasPortfolioSettings(trial, portfolio);
        // Untuned raw pipelines within the error, in the portfolio's order rather than by their scores (tables):
        // at 10% labels, picking the best-scoring of the portfolio's raw L-BFGS and LightGBM tested lower on the mean of
        // random splits than taking the first in the order within the error (docs/automl.md, "Final choice"). The order is
        // the prior learned from benchmark runs; the cross-validation's few labels do not outweigh it. On every kind it
        // breaks exact ties, where the leaderboard's order says nothing.
        int PlaceInPortfolio(TrialRecord trial)
        {
            if (rawPreference is null || !IsUntuned(trial)) return int.MaxValue;
            Parameters configuration = SslSearchSpace.WithoutEpochs(trial.Parameters);
            int place = 0;
            foreach (Parameters entry in rawPreference.PortfolioOrder)
            {
                if (entry.Equals(configuration)) return place;
                place++;
            }
            return int.MaxValue;
        }
        // What the pipeline cost to build: a trial that reused another's pretrained encoder is only as cheap as that encoder.
        double Cost(TrialRecord trial) => trial.Duration.TotalSeconds + byTrial[trial.TrialId].Sum(m => m.PretrainingSecondsSaved);
        bool Raw(TrialRecord trial) => Of(trial)?.FeatureSource == SslFeatureSource.RawFeatures;
        // The simplest pipeline first: raw features (no encoder), then a trainer on embeddings, then a trained network.
        // Raw pipelines are equally simple and all cheap (seconds, much of it noise such as LightGBM loading its native
        // library), so among them the best-scoring stands; a PLAID series run took raw L-BFGS (30.0% CV, 0.3 s) over raw
        // LightGBM (31.5%, 1.6 s), 29.6% against 37.8% on the test series. Among SSL pipelines cost is training length.
        int Complexity(TrialRecord trial)
        {
            SslFeatureSource? source = Of(trial)?.FeatureSource;
            bool fineTunes = trial.Parameters.TryGetPath($"{SslSearchSpace.DownstreamOption}.{nameof(SslDownstreamParameters.Trainer)}", out object? trainer)
                && Equals(trainer, nameof(DownstreamTrainer.FineTune));
            return source switch
            {
                SslFeatureSource.RawFeatures => rawPreference?.RawFirst == false ? RawPixelsComplexity : 0,
                SslFeatureSource.SupervisedFromScratch => 2,
                _ => fineTunes ? 2 : 1,
            };
        }
        // The best-scoring untuned raw trial within the error, when it scored higher than the chosen one: the portfolio's
        // order put it behind.
        TrialRecord? higherUntuned = rawPreference?.BeforeScores != true || !Raw(chosen) || !IsUntuned(chosen) ? null : candidates
            .Select(c => c.trial).Where(t => Raw(t) && IsUntuned(t) && (maximize ? t.Metric > chosen.Metric : t.Metric < chosen.Metric))
            .OrderBy(t => maximize ? -t.Metric!.Value : t.Metric!.Value).FirstOrDefault();
        string rawName = higherUntuned is null ? "the best-scoring pipeline on raw features" : "the first pipeline on raw features in the portfolio's order";
        string orderWhy = higherUntuned is null ? ""
            : FormattableString.Invariant($"; trial {higherUntuned.TrialId}'s {(maximize ? "higher" : "lower")} {higherUntuned.Metric:0.####} is inside the error, where the portfolio's order comes first");
        string explanation = FormattableString.Invariant(
            $"One-standard-error rule: the best metric is {top:0.####} +/- {se:0.####} (trial {best.TrialId}); {within} trial(s) within one standard error") +
            // Versions of one pipeline that differ only in epochs are one candidate; the leaderboard lists them all.
            (within != candidates.Count ? FormattableString.Invariant($", {candidates.Count} pipeline(s) once versions of one pipeline (differing in epochs at most) count as one; ") : "; ")
            + (chosen == best ? FormattableString.Invariant($"the rule keeps the best, trial {best.TrialId}: {KeptBecause()}")
                : SslSearchSpace.WithoutEpochs(chosen.Parameters).Equals(SslSearchSpace.WithoutEpochs(best.Parameters))
                    ? FormattableString.Invariant($"chose the longest-trained version of the best's pipeline, trial {chosen.TrialId} ({chosen.Metric:0.####}, {Epochs(chosen)} epochs against {Epochs(best)}).")
                    : IsSemiSupervisedNetwork(chosen) && !IsSemiSupervisedNetwork(best)
                        ? FormattableString.Invariant($"chose the semi-supervised (FixMatch) network, trial {chosen.TrialId} ({chosen.Metric:0.####}): cross-validation trains on fewer labels than the refit and underrates FixMatch, whose lead grows with labels.")
                        : Raw(chosen) && IsUntuned(chosen) && tunedAbove is not null
                            ? FormattableString.Invariant($"chose the simplest, {rawName} with the portfolio's untuned settings, trial {chosen.TrialId} ({chosen.Metric:0.####}): the lead of tuned settings inside the error (trial {tunedAbove.TrialId}, {tunedAbove.Metric:0.####}) is the search's luck{orderWhy}.")
                        : Raw(chosen)
                            ? FormattableString.Invariant($"chose the simplest, {rawName}, trial {chosen.TrialId} ({chosen.Metric:0.####}, {Cost(chosen):0.#} s to build against {Against()}, pretraining reused from the cache included){orderWhy}.")
                        : Complexity(best) == RawPixelsComplexity
                            ? FormattableString.Invariant($"chose a pipeline with an encoder, trial {chosen.TrialId} ({chosen.Metric:0.####}): on images, raw pixels come after those inside the error, as in the image benchmarks they never tested best (docs/automl.md, \"Final choice\").")
                            : FormattableString.Invariant($"chose the {SimplerOrCheaper()}, trial {chosen.TrialId} ({chosen.Metric:0.####}, {Cost(chosen):0.#} s to build against {Against()}, pretraining reused from the cache included)."));
        // Why the best stands when other pipelines are within the band: no simpler one is, and the rule's order among the
        // equally simple ones put it first (on tables the portfolio's order of raw pipelines, which may keep a slower one).
        string KeptBecause() => candidates.Count <= 1 ? "no simpler or cheaper trial is within that band."
            : "no simpler trial is within that band, and it is " + (Raw(best)
                ? rawPreference?.BeforeScores == true && IsUntuned(best) ? "the first in the portfolio's order among those on raw features."
                    : "the best-scoring of those on raw features."
                : IsSemiSupervisedNetwork(best) ? "the semi-supervised network among the equally simple ones." : "the cheapest of the equally simple ones.");
        // A simpler kind of pipeline (a probe on embeddings rather than a network) can cost more than the best; say only
        // what holds, not "simplest and cheapest" beside a higher build time.
        string SimplerOrCheaper()
        {
            bool simpler = Complexity(chosen) < Complexity(best), cheaper = Cost(chosen) <= Cost(bestKept);
            return simpler && cheaper ? "simplest and cheapest" : simpler ? "simplest (a simpler kind of pipeline, though slower to build)" : "cheapest";
        }
        return (chosen, explanation);
    }

    /// <summary>For a choice by view retrieval (images under the label-free objective), the score's binomial standard error
    /// over the rows it was measured on and the trials within it; empty otherwise. On 400 images scores of 0.0275 to 0.04
    /// (11 to 16 images) ranked three encoders, and an untrained one scored 0.0475: differences of that size are noise,
    /// which the leaderboard alone does not say. Under the cross-validated objective (the one-standard-error rule off) a
    /// trial's view retrieval is only recorded (<see cref="SetRecordLabelFreeMeasures"/>): the leaderboard's metrics are
    /// cross-validated, not comparable with its error, so nothing is said.</summary>
    /// <param name="objective">The objective the search ran under.</param>
    /// <param name="top">The leaderboard's top trial.</param>
    /// <param name="trials">Every trial.</param>
    /// <param name="measures">The trials' measures.</param>
    /// <param name="rowCount">The rows of the pool, of which view retrieval embeds at most <see cref="LabelFreeEvaluation.DefaultViewRetrievalRows"/>.</param>
    /// <param name="autoThreshold">The labels per class from which <see cref="SslObjectiveKind.Auto"/> cross-validates; null
    /// when the objective was set (more labels would not change it).</param>
    internal static string LabelFreeSpread(SslObjectiveKind objective, TrialRecord top, IReadOnlyList<TrialRecord> trials,
        IReadOnlyList<SslTrialMeasures> measures, long rowCount, double? autoThreshold)
    {
        if (objective != SslObjectiveKind.LabelFree || MeasuresOf(measures, top)?.ViewRetrievalAccuracy is not double score) return "";
        long rows = Math.Min(rowCount, LabelFreeEvaluation.DefaultViewRetrievalRows);
        double error = Math.Sqrt(score * (1 - score) / rows);
        int[] close = [.. trials.Where(t => t.TrialId != top.TrialId && t.Metric is double m && score - m <= error).Select(t => t.TrialId)];
        string moreLabels = autoThreshold is double threshold
            ? string.Create(CultureInfo.InvariantCulture, $" With more labels ({threshold:0.##} per class on average) the search cross-validates instead.")
            : "";
        return string.Create(CultureInfo.InvariantCulture, $" Its view-retrieval score is {score:0.####} +/- {error:0.####} (binomial standard error over {rows} rows)") +
            (close.Length == 0 ? "." : string.Create(CultureInfo.InvariantCulture,
                $"; trial(s) {string.Join(", ", close)} score within that error, so their order is the measure's noise.{moreLabels}"));
    }

    /// <summary>Whether <paramref name="trial"/> runs one of <paramref name="portfolio"/>'s configurations (any length of it):
    /// settings chosen before seeing the data, not found by the tuner.</summary>
    internal static bool HasPortfolioSettings(TrialRecord trial, IReadOnlySet<Parameters>? portfolio) =>
        portfolio?.Contains(SslSearchSpace.WithoutEpochs(trial.Parameters)) == true;

    /// <summary>The measures of a trial's last scored segment (its fidelity; a fidelity-independent trial's only one).</summary>
    internal static SslTrialMeasures? MeasuresOf(IReadOnlyList<SslTrialMeasures> measures, TrialRecord trial) =>
        measures.Where(m => m.TrialId == trial.TrialId && (m.Fidelity == trial.Fidelity
                || m.FeatureSource is SslFeatureSource.RawFeatures))
            .OrderByDescending(m => m.Fidelity ?? 0).FirstOrDefault();

    private (SslObjective Objective, string Explanation) ResolveObjective(SslDataset dataset)
    {
        string counts = string.Create(CultureInfo.InvariantCulture,
            $"{dataset.LabeledCount} labeled rows of {dataset.RowCount}, {dataset.ClassCount} classes, {dataset.LabelsPerClass:0.##} labels per class on average, {dataset.RarestClassCount} in the rarest");
        switch (_objective.Kind)
        {
            case SslObjectiveKind.LabelFree:
                return (_objective, $"Label-free objective, as set ({counts}).");
            case SslObjectiveKind.CrossValidatedAccuracy:
                return (_objective, _metric == SslMetric.Accuracy
                    ? $"Cross-validated accuracy, as set ({counts})."
                    : $"Cross-validation (of {_metric}), as set ({counts}).");
            default:
                // The label-free measures ranked image encoders better than cross-validation on few labels, and tabular ones
                // no better than it (docs/automl-benchmarks.md, "Label-free ranking"), so only images fall back to them.
                bool image = dataset.Shape.Kind == SslInputKind.Image;
                bool tooFew = image && dataset.LabelsPerClass < _objective.MinimumLabelsPerClass;
                int singletons = dataset.LabeledKeys.GroupBy(k => k).Count(g => g.Count() == 1);
                // One stray single-label class among well-labeled ones leaves cross-validation its signal (that class is
                // scored only where it is held out); when most classes have one label there is nothing left to rank by.
                bool mostlySingletons = 2 * singletons > dataset.ClassCount || dataset.ClassCount - singletons < 2;
                if (tooFew || mostlySingletons)
                    return (SslObjective.LabelFree, string.Create(CultureInfo.InvariantCulture,
                        $"Auto chose the label-free objective: {counts}; {(tooFew ? $"images below the threshold of {_objective.MinimumLabelsPerClass} labels per class" : $"{singletons} of the {dataset.ClassCount} classes {(singletons == 1 ? "has" : "have")} a single label, so cross-validation cannot score {(dataset.ClassCount - singletons < 2 ? "any class against another" : "them")}")}.")
                        + " SslObjective.CrossValidatedAccuracy() keeps cross-validation; labeling more rows makes it the choice.");
                string why = image
                    ? string.Create(CultureInfo.InvariantCulture, $"at least {_objective.MinimumLabelsPerClass} labels per class")
                    : $"{(singletons == 0 ? "every class has 2 labels or more" : "most classes have 2 labels or more")}, and for {dataset.Shape.Kind.ToString().ToLowerInvariant()} rows no label-free measure was found to rank encoders better than cross-validation";
                if (singletons > 0)
                    why += $"; {singletons} class(es) with a single label are scored only in the fold that holds them out (label more rows of them to score them fully)";
                // The objective is named for accuracy; the metric it cross-validates is the one SetOptimizingMetric set.
                string scored = _metric == SslMetric.Accuracy ? "cross-validated accuracy" : $"cross-validation (of {_metric})";
                // No fold count here: the rarest class may cut it, and the sentence after this one (RunAsync) names the count used.
                return (SslObjective.CrossValidatedAccuracy(_objective.Folds), $"Auto chose {scored}: {counts}; {why}.");
        }
    }

    private SearchSpace PrepareSpace(SslInputKind kind, SslObjective objective, List<string> notes)
    {
        SearchSpace space = (_searchSpace ?? SslSearchSpace.For(kind)).Clone();
        SslSearchSpace.Validate(space, kind);
        if (_scheduler != SslScheduler.None && space.HasOption(SslSearchSpace.PretrainingOption)
            && space[SslSearchSpace.PretrainingOption] is SearchSpace pretraining && pretraining.Remove(nameof(SslPretrainingParameters.Epochs)))
            notes.Add($"The scheduler sets the pretraining epochs ({_scheduler.Name}), so Pretraining.Epochs was left out of the search.");
        if (objective.Kind == SslObjectiveKind.LabelFree)
        {
            // Without labels neither the raw features nor the downstream options can be scored, so searching them is noise.
            IReadOnlyList<object> sources = Choices(space, SslSearchSpace.FeaturesOption);
            if (sources.Any(s => !Equals(s, nameof(SslFeatureSource.SelfSupervised))))
            {
                space[SslSearchSpace.FeaturesOption] = new ChoiceOption(nameof(SslFeatureSource.SelfSupervised));
                notes.Add("The label-free objective scores pretrained embeddings only, so the other feature sources " +
                    $"({string.Join(", ", sources.Where(s => !Equals(s, nameof(SslFeatureSource.SelfSupervised))))}) were left out of the search.");
            }
            if (space.Remove(SslSearchSpace.DownstreamOption))
                notes.Add("The label-free objective does not depend on the downstream trainer, so its options were left out of the search; " +
                    "the final trainer is " + SslDownstream.Describe(SslDownstream.LabelFreeDefaults) + " (no L1, which on a few labeled rows zeroes every weight).");
        }
        return space;
    }

    /// <summary>Leaves out the fine-tuning choices the labels cannot support, with a note: FixMatch when every row is
    /// labeled (cross-validation would score it on the hidden folds, but the refit would have no unlabeled rows), and
    /// fine-tuning and training from scratch when some fold's training rows hold fewer than 2 labels of a class (the
    /// fine-tuner's minimum).</summary>
    internal static void FitSpaceToLabels(SearchSpace space, SslDataset dataset, int[] foldOfRow, int foldCount, List<string> notes)
    {
        if (!space.HasOption(SslSearchSpace.DownstreamOption) || space[SslSearchSpace.DownstreamOption] is not SearchSpace downstream) return;
        const string semi = nameof(SslDownstreamParameters.SemiSupervised);
        if (dataset.LabeledCount == dataset.RowCount && SslSearchSpace.RemoveChoice(downstream, semi, true, false))
        {
            // The hint on empty cells concerns a number label only: a text label's empty cells are already missing. And only
            // one with a class 0, which is what the text loader makes of empty cells (labels 1 to 4 of a series file are not).
            bool numberLabel = dataset.Data.Schema.GetColumnOrNull(dataset.LabelColumn)?.Type is NumberDataViewType
                && (NumericClassValues(dataset) is not { } classes || classes.Contains(0.0));
            notes.Add("Every row is labeled, so the final model would have no unlabeled rows for FixMatch: Downstream.SemiSupervised " +
                "was fixed at false." + (numberLabel ? " If empty label cells were meant as unlabeled rows: ML.NET's text loader reads an empty numeric " +
                "cell as 0 unless TextLoader.Options.MissingRealsAsNaNs is true (or read the label as text)." : ""));
        }

        int fewest = foldCount < 2 ? dataset.RarestClassCount : Enumerable.Range(0, foldCount).Min(fold => dataset.LabeledKeys
            .Where((_, row) => foldOfRow[row] != fold).GroupBy(k => k).Select(g => g.Count()).DefaultIfEmpty(0).Min());
        if (fewest >= 2) return;
        var removed = new List<string>();
        const string trainer = nameof(SslDownstreamParameters.Trainer);
        if (SslSearchSpace.RemoveChoice(downstream, trainer, nameof(DownstreamTrainer.FineTune), nameof(DownstreamTrainer.LinearProbe)))
            removed.Add("Downstream.Trainer FineTune");
        if (SslSearchSpace.RemoveChoice(space, SslSearchSpace.FeaturesOption, nameof(SslFeatureSource.SupervisedFromScratch),
                nameof(SslFeatureSource.SelfSupervised)))
            removed.Add("SupervisedFromScratch");
        if (removed.Count > 0)
            notes.Add($"Some cross-validation fold trains on only {fewest} label(s) of a class, and fine-tuning needs at least 2 per class, " +
                $"so {string.Join(" and ", removed)} were left out of the search; label more rows of the rarest class to search them.");
    }

    /// <summary>
    /// After the chosen trial's refit failed with <paramref name="failure"/>: the best completed raw-feature trial (cheap,
    /// and the comparison every result reports), then the other completed trials in leaderboard order, refitted in turn
    /// until one succeeds; at most three, and a pipeline with an encoder only while its recorded refit time fits in what
    /// is left of the budget (<paramref name="left"/>).
    /// </summary>
    private (TrialRecord Trial, SslTrialParameters Parameters, ITransformer Model, string Which) RefitAnother(SslDataset dataset, SslTrialRunner runner,
        SearchResult search, TrialRecord failed, Exception failure, bool maximize, SslObjectiveKind objective, TimeSpan? left, List<string> notes,
        CancellationToken cancellationToken)
    {
        var completed = search.Trials.Where(t => t.Status == TrialStatus.Completed && t.Metric is double && t.TrialId != failed.TrialId)
            .OrderBy(t => maximize ? -t.Metric!.Value : t.Metric!.Value).ThenBy(t => t.TrialId).ToList();
        TrialRecord? bestRaw = completed.FirstOrDefault(IsRawFeatures);
        var candidates = (bestRaw is null ? completed : [bestRaw, .. completed.Where(t => t != bestRaw)]).Take(3).ToList();
        notes.Add($"The refit of trial {failed.TrialId} failed: {failure.GetType().Name}: {FirstLine(failure.Message)}");
        var clock = Stopwatch.StartNew();
        Exception last = failure;
        foreach (TrialRecord candidate in candidates)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!IsRawFeatures(candidate) && left is TimeSpan budget && runner.RefitTime(candidate) > budget - clock.Elapsed)
            {
                notes.Add($"Trial {candidate.TrialId} was not refitted in its place: its refit takes about {runner.RefitTime(candidate).TotalSeconds:0} s, " +
                    "more than the budget has left.");
                continue;
            }
            SslTrialParameters parameters = candidate.Parameters.AsType<SslTrialParameters>();
            // As for the choice: a label-free search tuned no trainer, and its refit uses the settings for few labels.
            if (objective == SslObjectiveKind.LabelFree) parameters.Downstream = SslDownstream.LabelFreeDefaults;
            try
            {
                ITransformer model = Refit(dataset, runner, candidate, parameters, search.MaxFidelity, cancellationToken);
                string which = candidate == bestRaw ? "the best pipeline on raw features"
                    : $"number {completed.IndexOf(candidate) + 1} of the other completed trials by metric";
                return (candidate, parameters, model, which);
            }
            catch (Exception e) when (e is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                notes.Add($"The refit of trial {candidate.TrialId} failed too: {e.GetType().Name}: {FirstLine(e.Message)}");
                last = e;
            }
        }
        throw new InvalidOperationException($"No pipeline of the search could be refitted on all the labeled rows (the chosen trial {failed.TrialId} and " +
            $"{candidates.Count} other(s) tried); the last error: {FirstLine(last.Message)}", last);
    }

    // Native errors carry a multi-line backtrace; a note, an explanation or a report line keeps the first line.
    internal static string FirstLine(string message) => message.Split('\n', 2)[0].TrimEnd();

    /// <summary>Tests: an exception to throw at the start of a trial's refit, or of an ensemble's (with its first member;
    /// null: refit normally).</summary>
    internal Func<TrialRecord, Exception?>? RefitFault { get; set; }

    /// <summary>How far past the budget an ensemble's refits may run beyond the chosen pipeline's own refit: one second.</summary>
    internal static readonly TimeSpan EnsembleOverrunAllowance = TimeSpan.FromSeconds(1);

    /// <summary>Whether an ensemble whose refits take <paramref name="refits"/> is built with <paramref name="left"/> of the
    /// budget left (negative when the search ended late). The chosen pipeline's refit is made even with no budget left, so
    /// the ensemble may run over by as much (estimates are rough, and the second look can overrun what the search kept for
    /// it), and by <see cref="EnsembleOverrunAllowance"/> more: a search that ended a fraction of a second late dropped an
    /// ensemble of sub-second refits ("about 0 s against 0 s left").</summary>
    internal static bool EnsembleRefitsFit(TimeSpan refits, TimeSpan left, TimeSpan choiceRefit) =>
        refits <= left + choiceRefit + EnsembleOverrunAllowance;

    private ITransformer Refit(SslDataset dataset, SslTrialRunner runner, TrialRecord best, SslTrialParameters parameters, int? maxFidelity,
        CancellationToken cancellationToken)
    {
        if (RefitFault?.Invoke(best) is { } fault) throw fault;
        ITransformer model = RefitCore(dataset, runner, best, parameters, maxFidelity, cancellationToken);
        try
        {
            ThrowIfScoresAreNotFinite(_mlContext, model, dataset.DataFor(parameters.Features));
            return model;
        }
        catch
        {
            (model as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>Scores the first rows (up to 256) with the refitted model and throws when a score is NaN or infinite: a
    /// network whose weights or BatchNorm statistics overflowed in the refit predicts one class for every row, and the
    /// refit's fallback (another pipeline) is better than returning it.</summary>
    internal static void ThrowIfScoresAreNotFinite(MLContext ml, ITransformer model, IDataView data)
    {
        IDataView scored = model.Transform(ml.Data.TakeRows(data, 256));
        if (scored.Schema.GetColumnOrNull("Score") is null) return;
        long row = 0;
        foreach (VBuffer<float> scores in scored.GetColumn<VBuffer<float>>("Score"))
        {
            foreach (float value in scores.DenseValues())
                if (!float.IsFinite(value))
                    throw new InvalidOperationException($"The refitted model scores row {row} as {value}: its weights or statistics are not finite.");
            row++;
        }
    }

    /// <summary>An ensemble the selection picked.</summary>
    /// <param name="Members">The members with their weights.</param>
    /// <param name="Picked">The members in words: "trial 0 (0.4), trial 1 (0.6)".</param>
    /// <param name="Why">How the selection ran and what it kept, for the selection explanation.</param>
    private sealed record EnsembleChoice(IReadOnlyList<(TrialRecord Trial, double Weight)> Members, string Picked, string Why);

    /// <summary>
    /// Ensemble selection (<see cref="EnsembleSelection"/>) for a raw-feature <paramref name="choice"/>, on the held-out class
    /// scores of the candidates the raw-choice benchmark measured: the portfolio's raw-feature pipelines (untuned; the four
    /// best-scoring raw-feature trials without a portfolio) and the choice, one trial per configuration. Null when a
    /// candidate's scores are not at hand (read back from an earlier session), fewer than two are, or the selection keeps
    /// one pipeline (the choice then stands, as the one-standard-error rule made it).
    /// </summary>
    private EnsembleChoice? SelectEnsemble(SslTrialRunner runner, IReadOnlyList<TrialRecord> trials, TrialRecord choice, IReadOnlySet<Parameters>? portfolio,
        SslDataset dataset, uint positiveKey, IReadOnlyList<double>? classWeights)
    {
        if (runner.RawOutOfFold(choice.TrialId) is null) return null;
        bool maximize = _metric.IsMaximized();
        List<TrialRecord> candidates = EnsembleCandidates(trials.Where(t => runner.RawOutOfFold(t.TrialId) is not null).ToList(), choice, portfolio, maximize);
        if (candidates.Count < 2) return null;
        var scores = candidates.Select(t => runner.RawOutOfFold(t.TrialId)!).ToList();
        int[] picks = EnsembleSelection.Select(scores, _metric, dataset.ClassCount, positiveKey, classWeights: classWeights);
        var members = picks.GroupBy(i => i).OrderBy(g => g.Key).Select(g => (Trial: candidates[g.Key], Weight: g.Count() / (double)picks.Length)).ToList();
        if (members.Count < 2) return null;
        double together = EnsembleSelection.Value(_metric, EnsembleSelection.Blend(scores, picks, dataset.ClassCount, classWeights), dataset.ClassCount, positiveKey);
        double alone = EnsembleSelection.Value(_metric, EnsembleSelection.Blend([runner.RawOutOfFold(choice.TrialId)!], [0], dataset.ClassCount, classWeights),
            dataset.ClassCount, positiveKey);
        string picked = string.Join(", ", members.Select(m => FormattableString.Invariant($"trial {m.Trial.TrialId} ({m.Weight:0.##})")));
        string why = string.Create(CultureInfo.InvariantCulture,
            $"Ensemble selection on the cross-validation's held-out class scores of {candidates.Count} raw-feature pipelines (trials " +
            $"{string.Join(", ", candidates.Select(t => t.TrialId))}; {EnsembleSelection.Rounds} rounds, with replacement) kept {picked}: " +
            $"{_metric} {together:0.####} on those rows against {alone:0.####} for trial {choice.TrialId} alone (the selection saw those rows, so " +
            $"the first is optimistic). Each member was refitted on all labeled rows, and the model averages their class probabilities.");
        return new EnsembleChoice(members, picked, why);
    }

    /// <summary>Whether a trial's pipeline is a model on the raw features (no encoder), read without converting its whole
    /// configuration.</summary>
    private static bool IsRawFeatures(TrialRecord trial) => SslSearchSpace.FeatureSource(trial.Parameters) == SslFeatureSource.RawFeatures;

    /// <summary>The candidates of <see cref="SelectEnsemble"/> among <paramref name="trials"/>: the scored raw-feature trials of the
    /// portfolio (the four best-scoring without one) and <paramref name="choice"/> when it is a raw-feature trial, one trial per
    /// configuration, in trial order.</summary>
    internal static List<TrialRecord> EnsembleCandidates(IReadOnlyList<TrialRecord> trials, TrialRecord choice, IReadOnlySet<Parameters>? portfolio, bool maximize)
    {
        var raw = trials.Where(t => t.Metric is double && IsRawFeatures(t)).ToList();
        IEnumerable<TrialRecord> pool = portfolio is not null
            ? raw.Where(t => portfolio.Contains(SslSearchSpace.WithoutEpochs(t.Parameters)))
            : raw.OrderBy(t => maximize ? -t.Metric!.Value : t.Metric!.Value).ThenBy(t => t.TrialId).Take(4);
        if (IsRawFeatures(choice)) pool = pool.Append(choice);
        return [.. pool.DistinctBy(t => SslSearchSpace.WithoutEpochs(t.Parameters)).OrderBy(t => t.TrialId)];
    }

    /// <summary>The time the refits of every ensemble candidate (<see cref="EnsembleCandidates"/>) take together, what the
    /// search leaves for an ensemble; zero when fewer than two candidates make no ensemble.</summary>
    internal static TimeSpan EnsembleRefitReserve(IReadOnlyList<TrialRecord> trials, TrialRecord choice, IReadOnlySet<Parameters>? portfolio, bool maximize,
        Func<TrialRecord, TimeSpan> refitTime) => EnsembleCandidates(trials, choice, portfolio, maximize) is { Count: >= 2 } candidates
            ? candidates.Aggregate(TimeSpan.Zero, (sum, t) => sum + refitTime(t))
            : TimeSpan.Zero;

    /// <summary>The label and the featurizer's feature column of the labeled <paramref name="rows"/>, cached: trainers pass
    /// over their data many times, and so the rows are decoded and embedded once.</summary>
    private IDataView LabeledFeatures(ITransformer featurizer, IDataView rows)
    {
        IDataView featurized = featurizer.Transform(rows);
        return _mlContext.Data.Cache(_mlContext.Transforms.SelectColumns(_labelColumnName, SslDataset.FeatureColumn).Fit(featurized).Transform(featurized));
    }

    /// <summary>The sentence of the selection's explanation that says the model's decisions are balanced, with the factors.</summary>
    private static string BalancedDecisionsExplanation(SslDataset dataset, IReadOnlyList<double> classWeights) =>
        "For macro accuracy, the model divides its class probabilities by the classes' shares of the labeled rows and normalizes them " +
        $"(factors {string.Join(", ", Enumerable.Range(0, classWeights.Count).Select(k => FormattableString.Invariant($"{DescribeKey(dataset, (uint)k + 1)} {classWeights[k]:0.##}")))}), " +
        "so it predicts the class most likely under equal class frequencies; the cross-validation scored the same decisions.";

    /// <summary>The ensemble refit: <c>MapValueToKey(label)</c>, the raw featurizer, each member's standardization and
    /// trainer on a column of its own with its <c>Score</c> copied aside, <c>AverageClassScores</c> with the members'
    /// weights (and <paramref name="classWeights"/>), and <c>MapKeyToValue(PredictedLabel)</c>.</summary>
    private ITransformer RefitEnsemble(SslDataset dataset, IReadOnlyList<(TrialRecord Trial, double Weight)> members, IReadOnlyList<double>? classWeights,
        CancellationToken cancellationToken)
    {
        if (RefitFault?.Invoke(members[0].Trial) is { } fault) throw fault;
        ITransformer featurizer = dataset.RawFeaturizer(_mlContext).Fit(dataset.SourceData);
        try
        {
            IDataView labeled = LabeledFeatures(featurizer, dataset.LabeledViewFor(SslFeatureSource.RawFeatures));
            var chain = new EstimatorChain<ITransformer>();
            var scoreColumns = new List<string>();
            for (int i = 0; i < members.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string features = $"Ssl_Ensemble{i}.Features", score = $"Ssl_Ensemble{i}.Score";
                SslDownstreamParameters downstream = members[i].Trial.Parameters.AsType<SslTrialParameters>().Downstream;
                chain = chain.Append<ITransformer>(_mlContext.Transforms.CopyColumns(features, SslDataset.FeatureColumn))
                    .Append<ITransformer>(SslDownstream.StandardizedTrainer(_mlContext, downstream, _labelColumnName, features, dataset.LabeledCount,
                        dataset.Shape.Kind, SslFeatureSource.RawFeatures))
                    .Append<ITransformer>(_mlContext.Transforms.CopyColumns(score, "Score"));
                scoreColumns.Add(score);
            }
            ITransformer trainer = chain
                .Append<ITransformer>(_mlContext.Transforms.AverageClassScores(scoreColumns, [.. members.Select(m => m.Weight)], _labelColumnName, classWeights))
                .Append<ITransformer>(_mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
                .Fit(labeled);
            ITransformer model = dataset.LabelToKey.Append(featurizer).Append(trainer);
            ThrowIfScoresAreNotFinite(_mlContext, model, dataset.DataFor(SslFeatureSource.RawFeatures));
            return model;
        }
        catch
        {
            (featurizer as IDisposable)?.Dispose();
            throw;
        }
    }

    private ITransformer RefitCore(SslDataset dataset, SslTrialRunner runner, TrialRecord best, SslTrialParameters parameters, int? maxFidelity,
        CancellationToken cancellationToken)
    {
        ITransformer featurizer;
        if (parameters.TrainsNetwork)
        {
            return RefitFineTune(dataset, runner, best, parameters, maxFidelity, cancellationToken);
        }
        if (parameters.Features is SslFeatureSource.SelfSupervised or SslFeatureSource.RawAndSelfSupervised)
        {
            // The trials pretrained on every row already; the cache holds the best trial's encoder at its fidelity.
            SelfSupervisedOptions options = runner.TrainedPretrainingOptions(best, maxFidelity);
            featurizer = runner.Cache.Pretrain(_mlContext, dataset.Data, options, SslTrialRunner.CacheKey(best.Parameters), cancellationToken).Transformer;
            if (parameters.Features == SslFeatureSource.RawAndSelfSupervised)
            {
                // Raw columns first, then the embedding, as the trials concatenated them.
                IDataView embedded = featurizer.Transform(dataset.SourceData);
                ITransformer rawBeside = dataset.RawFeaturizer(_mlContext, SslDataset.RawFeatureColumn)
                    .Append(_mlContext.Transforms.Concatenate(SslDataset.FeatureColumn, SslDataset.RawFeatureColumn, SslDataset.FeatureColumn))
                    .Fit(embedded);
                featurizer = new TransformerChain<ITransformer>(featurizer, rawBeside);
            }
        }
        else
        {
            featurizer = dataset.RawFeaturizer(_mlContext).Fit(dataset.SourceData);
        }
        try
        {
            IDataView labeled = LabeledFeatures(featurizer, dataset.LabeledViewFor(parameters.Features));
            ITransformer trainer = SslDownstream.StandardizedTrainer(_mlContext, parameters.Downstream, _labelColumnName, SslDataset.FeatureColumn,
                    dataset.LabeledCount, dataset.Shape.Kind, parameters.Features)
                .Append(_mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
                .Fit(labeled);
            return dataset.LabelToKey.Append(featurizer).Append(trainer);
        }
        catch
        {
            (featurizer as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>The fine-tuning refit: <c>MapValueToKey(label)</c>, <c>SelfSupervisedFineTune</c> trained from the pretrained
    /// (or untrained) stage on the labeled rows (and the unlabeled ones for FixMatch or distillation), and
    /// <c>MapKeyToValue(PredictedLabel)</c>. The fine-tuned transformer owns a copy of the encoder, so the stage is disposed.</summary>
    private ITransformer RefitFineTune(SslDataset dataset, SslTrialRunner runner, TrialRecord best, SslTrialParameters parameters, int? maxFidelity,
        CancellationToken cancellationToken)
    {
        using SelfSupervisedTransformer stage = parameters.Features == SslFeatureSource.SupervisedFromScratch
            ? runner.UntrainedStage(_mlContext, parameters.Pretraining)
            : runner.Cache.Pretrain(_mlContext, dataset.Data, runner.TrainedPretrainingOptions(best, maxFidelity),
                SslTrialRunner.CacheKey(best.Parameters), cancellationToken).Transformer;
        // The epochs the trial was scored with: fine-tuning epochs follow the fidelity reached.
        SslDownstreamParameters downstream = SslTrialRunner.AtFidelity(parameters.Features == SslFeatureSource.SupervisedFromScratch
            ? parameters.Downstream.ForTrainingFromScratch()
            : parameters.Downstream, best.Fidelity, maxFidelity);
        IDataView training = downstream.UsesUnlabeledRows ? dataset.KeyedData : dataset.LabeledView;
        SelfSupervisedFineTuneTransformer fineTuned = FineTuneCrossValidation
            .CreateTrainer(_mlContext, stage, _labelColumnName, downstream, _seed, cancellationToken, AllowCuda).Fit(training);
        try
        {
            ITransformer toValue = _mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(fineTuned.Transform(dataset.LabeledView));
            return dataset.LabelToKey.Append(fineTuned).Append(toValue);
        }
        catch
        {
            fineTuned.Dispose();
            throw;
        }
    }

    /// <summary>A pipeline in words; <paramref name="poolRows"/>: the rows pretraining reads, whose pool may take smaller
    /// batches than configured (<see cref="SslTrialRunner.PoolBatchSize"/>), so the batch said is the one trained.</summary>
    private static string Describe(SslTrialParameters parameters, int? fidelity, int? maxFidelity, bool scoredLabelFree = false, int? epochsReached = null,
        long poolRows = 0)
    {
        // Fine-tuning epochs follow the fidelity, as the trial trained them and the refit does.
        SslDownstreamParameters scored = SslTrialRunner.AtFidelity(parameters.Downstream, fidelity, maxFidelity);
        // A label-free score leaves the trial's trainer out: naming it would describe a model nobody scored or fits.
        string downstream = scoredLabelFree ? "label-free score" : SslDownstream.Describe(scored);
        if (parameters.Features == SslFeatureSource.RawFeatures) return $"RawFeatures -> {downstream}";
        SslPretrainingParameters p = parameters.Pretraining;
        if (parameters.Features == SslFeatureSource.SupervisedFromScratch)
            return string.Create(CultureInfo.InvariantCulture,
                $"SupervisedFromScratch(encoder {p.Encoder} width {p.EncoderWidth:0.##}, no pretraining) -> {SslDownstream.DescribeFineTune(scored.ForTrainingFromScratch())}");
        string pretrained = string.Create(CultureInfo.InvariantCulture,
            $"SelfSupervised({p.Method}, encoder {p.Encoder} width {p.EncoderWidth:0.##}, embedding {(p.EmbeddingSize == 0 ? "natural" : p.EmbeddingSize.ToString(CultureInfo.InvariantCulture))}, " +
            $"{epochsReached ?? fidelity ?? p.Epochs} epochs, lr {p.LearningRate:G3}, batch {(poolRows > 0 ? SslTrialRunner.PoolBatchSize(p.BatchSize, poolRows) : p.BatchSize)}, method scale {p.MethodScale:0.##}, " +
            $"augmentations {p.Augmentations} at {p.AugmentationStrength:0.##})");
        return parameters.Features == SslFeatureSource.RawAndSelfSupervised
            ? $"RawAndSelfSupervised(raw input + {pretrained}) -> {downstream}"
            : $"{pretrained} -> {downstream}";
    }

    /// <summary>The shape as the record's generated text ("SslInputShape { Kind = Image, Channels = 3, ... }"), which
    /// checkpoints recorded in the experiment's description before the shape's ToString said it in words: they keep resuming.</summary>
    internal static string CheckpointText(SslInputShape shape) => FormattableString.Invariant(
        $"SslInputShape {{ Kind = {shape.Kind}, Channels = {shape.Channels}, Height = {shape.Height}, Width = {shape.Width}, Features = {shape.Features}, Length = {shape.Length}, Size = {shape.Size} }}");

    private static IReadOnlyList<object> Choices(SearchSpace space, string name) =>
        space.HasOption(name) && space[name] is ChoiceOption choice ? choice.Choices : [];

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temporary cache that cannot be removed now only costs disk space.
        }
    }
}

/// <summary>The portfolio's order (its configurations without epochs; learned, with hand-added entries noted in its data
/// file) as a preference among the untuned raw-feature pipelines the one-standard-error rule weighs: before their scores
/// when <paramref name="BeforeScores"/>, otherwise only between exact ties. <paramref name="RawFirst"/>: whether raw-feature
/// pipelines are the simplest (tables and series); on images they come last inside the error, and no second look hands
/// the choice to them.</summary>
internal sealed record SslRawPreference(IReadOnlyList<Parameters> PortfolioOrder, bool BeforeScores, bool RawFirst = true);
