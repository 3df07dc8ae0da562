using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MlNetSsl.AutoML;

/// <summary>
/// The search space of the self-supervised experiment for one input kind. It is an ordinary <see cref="SearchSpace"/>
/// (serializable with <see cref="SearchSpace.ToJson"/>, editable with the indexer and the <c>With*</c> methods) whose
/// options bind to <see cref="SslTrialParameters"/>; <see cref="For(IDataView, string, int)"/> fills it with defaults
/// that fit the input column, and the typed helpers below edit it with checks against that input kind.
/// </summary>
/// <remarks>
/// Options (dotted paths): <c>Features</c> (SelfSupervised or RawFeatures); <c>Pretraining.Method</c> (the methods
/// valid for the input kind), <c>Pretraining.Encoder</c>, <c>Pretraining.EncoderWidth</c> [0.5, 2] log,
/// <c>Pretraining.EmbeddingSize</c> {0, 64, 128, 256}, <c>Pretraining.LearningRate</c> [1e-4, 1e-2] log,
/// <c>Pretraining.BatchSize</c> {64, 128, 256}, <c>Pretraining.MethodScale</c> [1/4, 4] log,
/// <c>Pretraining.Augmentations</c> (Default, Light, Heavy), <c>Pretraining.AugmentationStrength</c> [0.25, 1],
/// <c>Pretraining.Epochs</c> [2, 50] log (dropped when a scheduler sets the epochs); <c>Downstream.Trainer</c>
/// (LinearProbe, LightGbm, FineTune, and NearestNeighbor for series), <c>Downstream.L1Regularization</c> and <c>Downstream.L2Regularization</c>
/// [1e-4, 10] log, <c>Downstream.LightGbmLeaves</c> [4, 64] log, <c>Downstream.LightGbmMinimumRowsPerLeaf</c> [2, 50] log,
/// <c>Downstream.LightGbmIterations</c> [50, 400] log, <c>Downstream.FineTuneEpochs</c> [10, 100] log,
/// <c>Downstream.FineTuneLearningRate</c> [3e-4, 3e-2] log, and the switches <c>Downstream.FreezeEncoder</c>,
/// <c>Downstream.SemiSupervised</c> (FixMatch) and <c>Downstream.Distill</c>. <c>Features</c> also offers
/// SupervisedFromScratch, the same encoder trained from random weights on the labeled rows. Every default is the
/// library's default, so the space's default configuration is what <c>ml.Transforms.SelfSupervised</c> does untuned.
/// To fix an option, replace it with a one-value choice; removing it fixes it at <see cref="SslTrialParameters"/>'s
/// initial value.
/// </remarks>
public sealed class SslSearchSpace : SearchSpace
{
    /// <summary>The top-level option choosing between pretrained embeddings and the alternatives without pretraining
    /// (raw features, supervised training from scratch).</summary>
    public const string FeaturesOption = nameof(SslTrialParameters.Features);

    /// <summary>The nested space of pretraining options; its hash is the pretraining cache key.</summary>
    public const string PretrainingOption = nameof(SslTrialParameters.Pretraining);

    /// <summary>The nested space of downstream-trainer options.</summary>
    public const string DownstreamOption = nameof(SslTrialParameters.Downstream);

    private SslSearchSpace(SslInputKind inputKind) => InputKind = inputKind;

    /// <summary>The input kind the space was made for.</summary>
    public SslInputKind InputKind { get; }

    /// <summary>The nested pretraining space (edit it in place).</summary>
    public SearchSpace Pretraining => (SearchSpace)this[PretrainingOption];

    /// <summary>The nested downstream space (edit it in place).</summary>
    public SearchSpace Downstream => (SearchSpace)this[DownstreamOption];

    /// <summary>The default space for the input column <paramref name="inputColumnName"/> of <paramref name="data"/>.</summary>
    /// <param name="data">The dataset (only its schema is read).</param>
    /// <param name="inputColumnName">An <c>MLImage</c> column or a known-size vector of Single.</param>
    /// <param name="seriesChannels">Above 0: the vector is a series of that many channels (as in
    /// <see cref="SelfSupervisedOptions.SeriesChannels"/>). Default 0: tabular.</param>
    /// <exception cref="ArgumentException">The column is missing or has another type.</exception>
    public static SslSearchSpace For(IDataView data, string inputColumnName, int seriesChannels = 0)
    {
        ArgumentNullException.ThrowIfNull(data);
        return For(InputShapeOf(data.Schema, inputColumnName, seriesChannels).Kind);
    }

    /// <summary>The default space for <paramref name="inputKind"/> inputs.</summary>
    /// <param name="inputKind">Images, tabular rows or series.</param>
    public static SslSearchSpace For(SslInputKind inputKind)
    {
        var space = new SslSearchSpace(inputKind);
        space.Add(FeaturesOption, new ChoiceOption(Enum.GetNames<SslFeatureSource>()));

        var pretraining = new SearchSpace();
        var defaults = new SslPretrainingParameters();
        SslMethod defaultMethod = inputKind == SslInputKind.Tabular ? SslMethod.Scarf : SslMethod.SimClr;
        // Built-in methods only: a method registered by the application joins a search through WithMethods, so registering
        // one never changes the default space (or the trials of a seeded search) behind the caller's back.
        pretraining.Add(nameof(SslPretrainingParameters.Method),
            new ChoiceOption(SslMethodFactory.MethodsFor(inputKind).Select(m => (object)m.ToString()), defaultMethod.ToString()));
        pretraining.Add(nameof(SslPretrainingParameters.Encoder), new ChoiceOption(DefaultEncoders(inputKind).Select(e => (object)e.ToString())));
        pretraining.Add(nameof(SslPretrainingParameters.EncoderWidth), new NumericRangeOption(0.5, 2, logBase: true, defaults.EncoderWidth));
        pretraining.Add(nameof(SslPretrainingParameters.EmbeddingSize), new ChoiceOption([0, 64, 128, 256], defaults.EmbeddingSize));
        pretraining.Add(nameof(SslPretrainingParameters.LearningRate), new NumericRangeOption(1e-4, 1e-2, logBase: true, defaults.LearningRate));
        pretraining.Add(nameof(SslPretrainingParameters.BatchSize), new ChoiceOption([64, 128, 256], defaults.BatchSize));
        pretraining.Add(nameof(SslPretrainingParameters.MethodScale), new NumericRangeOption(0.25, 4, logBase: true, defaults.MethodScale));
        pretraining.Add(nameof(SslPretrainingParameters.Augmentations),
            new ChoiceOption(Enum.GetNames<AugmentationTemplate>(), defaults.Augmentations.ToString()));
        pretraining.Add(nameof(SslPretrainingParameters.AugmentationStrength), new NumericRangeOption(0.25, 1, defaultValue: defaults.AugmentationStrength));
        pretraining.Add(nameof(SslPretrainingParameters.Epochs), new IntegerRangeOption(2, 50, logBase: true, defaults.Epochs));
        space.Add(PretrainingOption, pretraining);

        var downstream = new SearchSpace();
        var downstreamDefaults = new SslDownstreamParameters();
        // The nearest neighbour on series only (WithDownstreamTrainers adds it elsewhere): docs/automl.md, "The nearest neighbour".
        string[] trainers = [.. Enum.GetValues<DownstreamTrainer>()
            .Where(t => t != DownstreamTrainer.NearestNeighbor || inputKind == SslInputKind.Series).Select(t => t.ToString())];
        downstream.Add(nameof(SslDownstreamParameters.Trainer), new ChoiceOption(trainers, downstreamDefaults.Trainer.ToString()));
        downstream.Add(nameof(SslDownstreamParameters.L1Regularization), new NumericRangeOption(1e-4, 10, logBase: true, downstreamDefaults.L1Regularization));
        downstream.Add(nameof(SslDownstreamParameters.L2Regularization), new NumericRangeOption(1e-4, 10, logBase: true, downstreamDefaults.L2Regularization));
        downstream.Add(nameof(SslDownstreamParameters.LightGbmLeaves), new IntegerRangeOption(4, 64, logBase: true, downstreamDefaults.LightGbmLeaves));
        downstream.Add(nameof(SslDownstreamParameters.LightGbmMinimumRowsPerLeaf), new IntegerRangeOption(2, 50, logBase: true, downstreamDefaults.LightGbmMinimumRowsPerLeaf));
        downstream.Add(nameof(SslDownstreamParameters.LightGbmIterations), new IntegerRangeOption(50, 400, logBase: true, downstreamDefaults.LightGbmIterations));
        downstream.Add(nameof(SslDownstreamParameters.FineTuneEpochs), new IntegerRangeOption(10, 100, logBase: true, downstreamDefaults.FineTuneEpochs));
        downstream.Add(nameof(SslDownstreamParameters.FineTuneLearningRate), new NumericRangeOption(3e-4, 3e-2, logBase: true, downstreamDefaults.FineTuneLearningRate));
        downstream.Add(nameof(SslDownstreamParameters.FreezeEncoder), new ChoiceOption([false, true], downstreamDefaults.FreezeEncoder));
        downstream.Add(nameof(SslDownstreamParameters.SemiSupervised), new ChoiceOption([false, true], downstreamDefaults.SemiSupervised));
        downstream.Add(nameof(SslDownstreamParameters.Distill), new ChoiceOption([false, true], downstreamDefaults.Distill));
        space.Add(DownstreamOption, downstream);
        return space;
    }

    /// <summary>Restricts <c>Pretraining.Method</c> to <paramref name="methods"/> (the first is the default).</summary>
    /// <exception cref="ArgumentException">A method does not work on this input kind.</exception>
    public SslSearchSpace WithMethods(params SslMethod[] methods)
    {
        ArgumentNullException.ThrowIfNull(methods);
        return WithMethods(methods.Select(m => m.ToString()).ToArray());
    }

    /// <summary>Sets the methods <c>Pretraining.Method</c> chooses from by registered name (the first is the default):
    /// the way to search methods registered with <see cref="SslMethodRegistry.Register"/>, alone or next to built-in ones.</summary>
    /// <exception cref="ArgumentException">A method is not registered or does not work on this input kind.</exception>
    public SslSearchSpace WithMethods(params string[] methodNames)
    {
        ArgumentNullException.ThrowIfNull(methodNames);
        if (methodNames.Length == 0) throw new ArgumentException("Give at least one method.", nameof(methodNames));
        string[] names = methodNames.Select(name => CheckMethod(name, InputKind)).ToArray();
        Pretraining[nameof(SslPretrainingParameters.Method)] = new ChoiceOption(names.Select(m => (object)m));
        return this;
    }

    /// <summary>Sets the encoders <c>Pretraining.Encoder</c> chooses from (the first is the default), for example
    /// <c>WithEncoders(EncoderKind.ConvNet, EncoderKind.ResNet)</c> on a GPU.</summary>
    /// <exception cref="ArgumentException">An encoder does not accept this input kind.</exception>
    public SslSearchSpace WithEncoders(params EncoderKind[] encoders)
    {
        ArgumentNullException.ThrowIfNull(encoders);
        foreach (EncoderKind encoder in encoders) CheckEncoder(encoder, InputKind);
        Pretraining[nameof(SslPretrainingParameters.Encoder)] = new ChoiceOption(encoders.Select(e => (object)e.ToString()));
        return this;
    }

    /// <summary>Leaves the raw input out: the raw-feature baseline and raw + SSL features.</summary>
    public SslSearchSpace WithoutRawFeatures() =>
        WithoutFeatureSource(SslFeatureSource.RawFeatures).WithoutFeatureSource(SslFeatureSource.RawAndSelfSupervised);

    /// <summary>Leaves supervised training from scratch out (it trains a network per fold, so it costs about as much as a
    /// fine-tuning trial).</summary>
    public SslSearchSpace WithoutSupervisedFromScratch() => WithoutFeatureSource(SslFeatureSource.SupervisedFromScratch);

    /// <summary>Restricts <c>Downstream.Trainer</c> to <paramref name="trainers"/> (the first is the default), for example
    /// <c>WithDownstreamTrainers(DownstreamTrainer.LinearProbe)</c> for the cheapest search.</summary>
    public SslSearchSpace WithDownstreamTrainers(params DownstreamTrainer[] trainers)
    {
        ArgumentNullException.ThrowIfNull(trainers);
        Downstream[nameof(SslDownstreamParameters.Trainer)] = new ChoiceOption(trainers.Select(t => (object)t.ToString()));
        return this;
    }

    private SslSearchSpace WithoutFeatureSource(SslFeatureSource source)
    {
        this[FeaturesOption] = HasOption(FeaturesOption) && this[FeaturesOption] is ChoiceOption choice
            ? choice.Without(source.ToString(), nameof(SslFeatureSource.SelfSupervised))
            : new ChoiceOption(nameof(SslFeatureSource.SelfSupervised));
        return this;
    }

    /// <summary>How much longer <see cref="Lengthened"/> trains a configuration: 2.5 times first; when that does not fit
    /// in the budget left, 1.6 and then 1.25 times.</summary>
    internal static readonly double[] LengtheningFactors = [2.5, 1.6, 1.25];

    /// <summary>
    /// The same pipeline trained <paramref name="factor"/> times longer, within the space's range: more fine-tuning
    /// epochs for a fine-tuned or from-scratch network, otherwise more pretraining epochs for a trainer on embeddings
    /// (when the space searches them). Null for raw features, or when the epochs cannot grow (the space's maximum).
    /// </summary>
    internal static Parameters? Lengthened(SearchSpace space, Parameters configuration, double factor)
    {
        if (TrainingEpochsPath(configuration) is not (string outer, string inner)) return null;
        if (!space.HasOption(outer) || space[outer] is not SearchSpace nested || !nested.HasOption(inner)
            || nested[inner] is not IntegerRangeOption range || configuration[outer] is not Parameters options
            || !options.TryGetValue(inner, out object? value) || value is not double current)
            return null;
        int longer = Math.Min(range.Max, (int)Math.Round(current * factor));
        if (longer <= current) return null;
        Parameters lengthened = configuration.With(outer, options.With(inner, longer));
        return space.Contains(lengthened) ? lengthened : null;
    }

    /// <summary>The epochs <see cref="Lengthened"/> changes, when the configuration sets them.</summary>
    internal static int? TrainingEpochs(Parameters configuration) =>
        TrainingEpochsPath(configuration) is (string outer, string inner) && configuration.TryGetPath($"{outer}.{inner}", out object? value)
            && value is double epochs ? (int)epochs : null;

    /// <summary>The feature source a configuration sets (self-supervised where it sets none), read without converting the
    /// whole configuration.</summary>
    internal static SslFeatureSource FeatureSource(Parameters configuration) =>
        configuration.TryGetValue(FeaturesOption, out object? source) ? Enum.Parse<SslFeatureSource>((string)source) : SslFeatureSource.SelfSupervised;

    // Fine-tuning epochs for a fine-tuned or from-scratch network, pretraining epochs for a trainer on embeddings,
    // nothing for raw features.
    private static (string Outer, string Inner)? TrainingEpochsPath(Parameters configuration)
    {
        var features = FeatureSource(configuration);
        if (features == SslFeatureSource.RawFeatures) return null;
        bool fineTunes = features == SslFeatureSource.SupervisedFromScratch
            || (configuration.TryGetPath($"{DownstreamOption}.{nameof(SslDownstreamParameters.Trainer)}", out object? trainer)
                && Equals(trainer, nameof(DownstreamTrainer.FineTune)));
        return fineTunes
            ? (DownstreamOption, nameof(SslDownstreamParameters.FineTuneEpochs))
            : (PretrainingOption, nameof(SslPretrainingParameters.Epochs));
    }

    /// <summary>Whether lengthening <paramref name="configuration"/> trains its fine-tuning longer (a fine-tuned or
    /// from-scratch network) rather than its pretraining.</summary>
    internal static bool LengthensFineTuning(Parameters configuration) => TrainingEpochsPath(configuration)?.Outer == DownstreamOption;

    /// <summary>A configuration without the epochs lengthening changes (<see cref="TrainingEpochs"/>): what it and its
    /// lengthened versions have in common, while a version with other pretraining epochs stays apart.</summary>
    internal static Parameters WithoutTrainingEpochs(Parameters configuration)
    {
        if (TrainingEpochsPath(configuration) is not (string outer, string inner)) return configuration;
        return new Parameters(configuration.Select(option => option.Key == outer && option.Value is Parameters nested
            ? new KeyValuePair<string, object>(option.Key, new Parameters(nested.Where(o => o.Key != inner)))
            : option));
    }

    /// <summary>A configuration without its epoch options (pretraining and fine-tuning): what a configuration and its
    /// lengthened versions (<see cref="Lengthened"/>) have in common.</summary>
    internal static Parameters WithoutEpochs(Parameters configuration)
    {
        var kept = new List<KeyValuePair<string, object>>();
        foreach ((string name, object value) in configuration)
        {
            string? epochs = name switch
            {
                PretrainingOption => nameof(SslPretrainingParameters.Epochs),
                DownstreamOption => nameof(SslDownstreamParameters.FineTuneEpochs),
                _ => null,
            };
            kept.Add(new(name, epochs is not null && value is Parameters nested ? new Parameters(nested.Where(o => o.Key != epochs)) : value));
        }
        return new Parameters(kept);
    }

    /// <summary>
    /// <paramref name="configuration"/> reduced to the options its trial reads, or null when it cannot run (raw features
    /// with the fine-tuning trainer, which needs an encoder). Left out: the settings of the downstream trainers not chosen;
    /// for raw features every pretraining option; for training from scratch the trainer choice, the encoder freeze (it
    /// always fine-tunes the whole encoder) and the pretraining options only pretraining reads (learning rate, method
    /// scale, epochs). The experiment treats configurations with equal reductions as one trial, and a leaderboard shows
    /// these options, not settings the pipeline never used (a frozen encoder on a network trained from scratch).
    /// </summary>
    /// <param name="configuration">A trial's configuration (<see cref="TrialRecord.Parameters"/>) of this kind of space.</param>
    public static Parameters? EffectiveConfiguration(Parameters configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var features = configuration.TryGetValue(FeaturesOption, out object? source)
            ? Enum.Parse<SslFeatureSource>((string)source) : SslFeatureSource.SelfSupervised;
        var trainer = configuration.TryGetPath($"{DownstreamOption}.{nameof(SslDownstreamParameters.Trainer)}", out object? chosen)
            ? Enum.Parse<DownstreamTrainer>((string)chosen) : new SslDownstreamParameters().Trainer;
        if (features is SslFeatureSource.RawFeatures or SslFeatureSource.RawAndSelfSupervised && trainer == DownstreamTrainer.FineTune) return null;

        string[] probe = [nameof(SslDownstreamParameters.L1Regularization), nameof(SslDownstreamParameters.L2Regularization)];
        string[] lightGbm = [nameof(SslDownstreamParameters.LightGbmLeaves), nameof(SslDownstreamParameters.LightGbmMinimumRowsPerLeaf),
            nameof(SslDownstreamParameters.LightGbmIterations)];
        string[] fineTune = [nameof(SslDownstreamParameters.FineTuneEpochs), nameof(SslDownstreamParameters.FineTuneLearningRate),
            nameof(SslDownstreamParameters.FreezeEncoder), nameof(SslDownstreamParameters.SemiSupervised), nameof(SslDownstreamParameters.Distill)];
        string[] unreadDownstream = features == SslFeatureSource.SupervisedFromScratch
            ? [nameof(SslDownstreamParameters.Trainer), nameof(SslDownstreamParameters.FreezeEncoder), .. probe, .. lightGbm]
            : trainer switch
            {
                DownstreamTrainer.LinearProbe => [.. lightGbm, .. fineTune],
                DownstreamTrainer.LightGbm => [.. probe, .. fineTune],
                DownstreamTrainer.NearestNeighbor => [.. probe, .. lightGbm, .. fineTune],
                _ => [.. probe, .. lightGbm],
            };
        string[]? unreadPretraining = features switch
        {
            SslFeatureSource.RawFeatures => null, // all of it
            SslFeatureSource.SupervisedFromScratch => [nameof(SslPretrainingParameters.LearningRate),
                nameof(SslPretrainingParameters.MethodScale), nameof(SslPretrainingParameters.Epochs)],
            _ => [],
        };

        var reduced = new List<KeyValuePair<string, object>>();
        foreach ((string name, object value) in configuration)
        {
            if (name == DownstreamOption && value is Parameters downstream)
                reduced.Add(new(name, new Parameters(downstream.Where(option => !unreadDownstream.Contains(option.Key)))));
            else if (name == PretrainingOption && value is Parameters pretraining)
            {
                if (unreadPretraining is not null)
                    reduced.Add(new(name, new Parameters(pretraining.Where(option => !unreadPretraining.Contains(option.Key)))));
            }
            else reduced.Add(new(name, value));
        }
        return new Parameters(reduced);
    }

    /// <summary>Takes <paramref name="value"/> out of the choice option <paramref name="name"/> of <paramref name="space"/>
    /// (see <see cref="ChoiceOption.Without"/>); false when there is no such choice or it does not hold the value.</summary>
    internal static bool RemoveChoice(SearchSpace space, string name, object value, object fallback)
    {
        if (!space.HasOption(name) || space[name] is not ChoiceOption choice || choice.IndexOf(value) < 0) return false;
        space[name] = choice.Without(value, fallback);
        return true;
    }

    /// <summary>The encoders the default space offers: all that accept the input kind, except ResNet, which is about 25
    /// times slower than the ConvNet on a CPU (add it with <see cref="WithEncoders"/> on a GPU).</summary>
    public static IReadOnlyList<EncoderKind> DefaultEncoders(SslInputKind inputKind) =>
        EncoderOptions.KindsFor(inputKind).Where(e => e != EncoderKind.ResNet).ToArray();

    /// <summary>The shape the stage reads from a column: images resized to <paramref name="imageWidth"/> x
    /// <paramref name="imageHeight"/> (RGB), tabular rows, or series of <paramref name="seriesChannels"/> channels.</summary>
    /// <param name="schema">The data's schema.</param>
    /// <param name="inputColumnName">The column.</param>
    /// <param name="seriesChannels">Above 0: the vector is a series with that many channels.</param>
    /// <param name="imageWidth">The stage's image width. Default 32.</param>
    /// <param name="imageHeight">The stage's image height. Default 32.</param>
    /// <exception cref="ArgumentException">The column is missing, has another type, or does not split into the channels.</exception>
    public static SslInputShape InputShapeOf(DataViewSchema schema, string inputColumnName, int seriesChannels = 0, int imageWidth = 32, int imageHeight = 32)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentException.ThrowIfNullOrWhiteSpace(inputColumnName);
        ArgumentOutOfRangeException.ThrowIfNegative(seriesChannels);
        DataViewSchema.Column column = schema.GetColumnOrNull(inputColumnName) ?? throw MissingColumn(schema, inputColumnName);
        if (column.Type is ImageDataViewType)
        {
            // As the stage: set for an image column, it was ignored without a word.
            if (seriesChannels > 0)
                throw new ArgumentException($"Column '{inputColumnName}' holds images, but seriesChannels is {seriesChannels}: it is for a vector column " +
                    "of series (C*T values, channel after channel). Leave it 0 for images, or give the series column as the input.", nameof(seriesChannels));
            return SslInputShape.Image(3, imageHeight, imageWidth);
        }
        if (column.Type is VectorDataViewType { ItemType: NumberDataViewType item, IsKnownSize: true } vector && item == NumberDataViewType.Single)
        {
            if (seriesChannels == 0) return SslInputShape.Tabular(vector.Size);
            if (vector.Size % seriesChannels != 0)
                throw new ArgumentException($"Column '{inputColumnName}' holds {vector.Size} values per row, not a whole number of steps of {seriesChannels} channels.");
            return SslInputShape.Series(seriesChannels, vector.Size / seriesChannels);
        }
        // Text (a category such as "M"/"F", or free text) is the usual surprise in a table: say how ML.NET turns it into numbers.
        string advice = (column.Type is VectorDataViewType v ? v.ItemType : column.Type) is TextDataViewType
            ? "; for text columns, Transforms.Categorical.OneHotEncoding (categories) or Transforms.Text.FeaturizeText (free text) first, " +
              "then Transforms.Concatenate with the numeric columns into one vector"
            // Series of different lengths are the usual variable-size vector: ResampleSeries gives them one length.
            : column.Type is VectorDataViewType { ItemType: NumberDataViewType, IsKnownSize: false } && seriesChannels > 0
                ? $" (series of different lengths: Transforms.ResampleSeries(\"{inputColumnName}Fixed\", \"{inputColumnName}\", channels: {seriesChannels}, length: ...) first)"
            // Without seriesChannels a variable-size vector is a loader without a size or series read without saying so
            // (LoadFromTsFile on a file of unequal lengths); joining or converting columns would not give it a size.
            : column.Type is VectorDataViewType { ItemType: NumberDataViewType, IsKnownSize: false }
                ? " (its rows differ in length: give the loader a fixed size, such as [LoadColumn(0, 27)], TextLoader ranges or " +
                  "[VectorType(28)] on a class for LoadFromEnumerable; for series of different lengths, " +
                  $"Transforms.ResampleSeries(\"{inputColumnName}Fixed\", \"{inputColumnName}\", channels: C, length: ...) first, then " +
                  $"SetInputColumn(\"{inputColumnName}Fixed\", seriesChannels: C))"
            : column.Type == NumberDataViewType.Single
                ? " (one number per row: join the numeric columns into one vector with Transforms.Concatenate)"
            : " (convert numbers to Single with Transforms.Conversion.ConvertType and join the columns into one vector with Transforms.Concatenate)";
        throw new ArgumentException($"Column '{inputColumnName}' is {column.Type}; the self-supervised experiment reads an MLImage column " +
            $"(from LoadImages) or a known-size vector of Single{advice}.");
    }

    // A table loaded one value per column (the usual shape of a CSV class) has no vector yet: say how to make one.
    private static ArgumentException MissingColumn(DataViewSchema schema, string inputColumnName)
    {
        var visible = schema.Where(c => !c.IsHidden).ToList();
        var numeric = visible.Where(c => c.Type is NumberDataViewType && !string.Equals(c.Name, "Label", StringComparison.OrdinalIgnoreCase)).Select(c => c.Name).ToList();
        string advice = numeric.Count > 1
            ? $" To use separate numeric columns as the input, put them into one vector first: " +
              $"mlContext.Transforms.Concatenate(\"{inputColumnName}\", {string.Join(", ", numeric.Take(4).Select(n => $"\"{n}\""))}{(numeric.Count > 4 ? ", ..." : "")}).Fit(data).Transform(data)."
            // ML.NET's Data.Cache and Data.ShuffleRows drop image columns without a word, leaving the paths and labels.
            : !visible.Any(c => c.Type is ImageDataViewType or VectorDataViewType) && visible.Any(c => c.Type is TextDataViewType)
                ? $" If '{inputColumnName}' held images from LoadImages, an ml.Data.Cache or ml.Data.ShuffleRows step after it dropped them " +
                  "(neither keeps an image column): give the experiment LoadImages' view itself (it preloads the images for its trials)."
            : "";
        return new ArgumentException($"The dataset has no column '{inputColumnName}'; it has: {string.Join(", ", visible.Select(c => c.Name))}.{advice}");
    }

    /// <summary>The registered name of <paramref name="method"/> when it works on <paramref name="kind"/> rows.</summary>
    internal static string CheckMethod(string method, SslInputKind kind)
    {
        SslMethodRegistration registration = SslMethodRegistry.Get(method);
        if (!registration.Supports(kind))
            throw new ArgumentException($"SSL method {registration.Name} does not work on {kind} inputs; use one of: {string.Join(", ", SslMethodRegistry.NamesFor(kind))}.");
        return registration.Name;
    }

    internal static void CheckEncoder(EncoderKind encoder, SslInputKind kind)
    {
        if (encoder != EncoderKind.Auto && !EncoderOptions.KindsFor(kind).Contains(encoder))
            throw new ArgumentException($"Encoder {encoder} does not accept {kind} inputs; use Auto or one of: {string.Join(", ", EncoderOptions.KindsFor(kind))}.");
    }

    /// <summary>
    /// Checks a (possibly edited or deserialized) space against the input kind before any trial runs: its options must
    /// bind to <see cref="SslTrialParameters"/>, and every method, encoder and range must be usable.
    /// </summary>
    internal static void Validate(SearchSpace space, SslInputKind kind)
    {
        try
        {
            _ = space.Default.AsType<SslTrialParameters>();
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException($"The search space does not fit the self-supervised experiment: {e.Message}", nameof(space), e);
        }
        foreach (object value in ChoicesAt(space, PretrainingOption, nameof(SslPretrainingParameters.Method)))
            CheckMethod(value as string ?? throw new ArgumentException(
                $"Option Pretraining.{nameof(SslPretrainingParameters.Method)} holds '{value}', which is not a method name."), kind);
        foreach (object value in ChoicesAt(space, PretrainingOption, nameof(SslPretrainingParameters.Encoder)))
            CheckEncoder(ParseChoice<EncoderKind>(value, nameof(SslPretrainingParameters.Encoder)), kind);
        CheckRange(space, PretrainingOption, nameof(SslPretrainingParameters.EncoderWidth), 0.125, 8);
        CheckRange(space, PretrainingOption, nameof(SslPretrainingParameters.AugmentationStrength), 0, 1);
        CheckRange(space, PretrainingOption, nameof(SslPretrainingParameters.LearningRate), double.Epsilon, 10, "(0, 10]");
        CheckRange(space, PretrainingOption, nameof(SslPretrainingParameters.MethodScale), double.Epsilon, 1e3, "(0, 1000]");
        CheckMethodScale(space);
        CheckRange(space, PretrainingOption, nameof(SslPretrainingParameters.BatchSize), 2, int.MaxValue);
        CheckRange(space, PretrainingOption, nameof(SslPretrainingParameters.EmbeddingSize), 0, 1 << 16);
        CheckRange(space, PretrainingOption, nameof(SslPretrainingParameters.Epochs), 1, 10_000);
        // The downstream trainers refuse these (the fine-tuner, L-BFGS, LightGBM's num_leaves > 1) trial after trial in their
        // own words ("Epochs must be at least 1", not naming Downstream.FineTuneEpochs), and LightGBM at 0 iterations scores
        // the class prior without a word.
        CheckRange(space, DownstreamOption, nameof(SslDownstreamParameters.L1Regularization), 0, double.MaxValue, "[0, infinity)");
        CheckRange(space, DownstreamOption, nameof(SslDownstreamParameters.L2Regularization), 0, double.MaxValue, "[0, infinity)");
        CheckRange(space, DownstreamOption, nameof(SslDownstreamParameters.LightGbmLeaves), 2, 131_072);
        CheckRange(space, DownstreamOption, nameof(SslDownstreamParameters.LightGbmMinimumRowsPerLeaf), 1, int.MaxValue);
        CheckRange(space, DownstreamOption, nameof(SslDownstreamParameters.LightGbmIterations), 1, 100_000);
        CheckRange(space, DownstreamOption, nameof(SslDownstreamParameters.FineTuneEpochs), 1, 10_000);
        CheckRange(space, DownstreamOption, nameof(SslDownstreamParameters.FineTuneLearningRate), double.Epsilon, 10, "(0, 10]");
    }

    /// <summary>Throws when <c>Pretraining.MethodScale</c> reaches outside the scales a method of <c>Pretraining.Method</c>
    /// accepts (<see cref="SslMethodRegistration.MinSearchScale"/>, <see cref="SslMethodRegistration.MaxSearchScale"/>):
    /// otherwise every trial that draws such a scale for that method fails in the method's own words (a temperature below
    /// 0.001), which do not name the option.</summary>
    private static void CheckMethodScale(SearchSpace space)
    {
        if (!space.HasOption(PretrainingOption) || space[PretrainingOption] is not SearchSpace options
            || !options.HasOption(nameof(SslPretrainingParameters.MethodScale))) return;
        (double low, double high) = options[nameof(SslPretrainingParameters.MethodScale)] switch
        {
            NumericRangeOption range => (range.Min, range.Max),
            IntegerRangeOption range => (range.Min, range.Max),
            ChoiceOption choice => (choice.Choices.Cast<double>().Min(), choice.Choices.Cast<double>().Max()),
            _ => (1.0, 1.0),
        };
        // Without a Method option every trial runs the default method.
        IEnumerable<string> methods = options.HasOption(nameof(SslPretrainingParameters.Method))
            ? ChoicesAt(space, PretrainingOption, nameof(SslPretrainingParameters.Method)).Cast<string>()
            : [space.Default.AsType<SslTrialParameters>().Pretraining.Method];
        SslMethodRegistration[] registrations = methods.Select(SslMethodRegistry.Get).Distinct().ToArray();
        SslMethodRegistration[] tooLow = registrations.Where(r => low < r.MinSearchScale).ToArray();
        SslMethodRegistration[] tooHigh = registrations.Where(r => high > r.MaxSearchScale).ToArray();
        if (tooLow.Length == 0 && tooHigh.Length == 0) return;
        var needs = tooLow.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Name} needs at least {r.MinSearchScale}"))
            .Concat(tooHigh.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Name} needs at most {r.MaxSearchScale}")));
        var fixes = new List<string>();
        if (tooLow.Length > 0) fixes.Add(string.Create(CultureInfo.InvariantCulture, $"a lower end of at least {tooLow.Max(r => r.MinSearchScale)}"));
        if (tooHigh.Length > 0) fixes.Add(string.Create(CultureInfo.InvariantCulture, $"an upper end of at most {tooHigh.Min(r => r.MaxSearchScale)}"));
        throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
            $"Option {PretrainingOption}.{nameof(SslPretrainingParameters.MethodScale)} spans [{low}, {high}], but {string.Join("; ", needs)} ") +
            "(the scale multiplies each method's key hyperparameter, such as a temperature that must be at least 0.001). " +
            $"Give the range {string.Join(" and ", fixes)}, or leave {string.Join(", ", tooLow.Concat(tooHigh).Select(r => r.Name).Distinct())} " +
            $"out of {PretrainingOption}.{nameof(SslPretrainingParameters.Method)}.");
    }

    private static TEnum ParseChoice<TEnum>(object value, string option) where TEnum : struct, Enum =>
        value is string text && Enum.TryParse(text, ignoreCase: false, out TEnum parsed) && Enum.IsDefined(parsed) ? parsed
            : throw new ArgumentException($"Option {PretrainingOption}.{option} offers {value}, which is not one of: {string.Join(", ", Enum.GetNames<TEnum>())}.");

    private static IEnumerable<object> ChoicesAt(SearchSpace space, string nested, string name) =>
        space.HasOption(nested) && space[nested] is SearchSpace inner && inner.HasOption(name) && inner[name] is ChoiceOption choice
            ? choice.Choices : [];

    /// <summary>Throws when option <paramref name="nested"/>.<paramref name="name"/> of <paramref name="space"/> (where it has
    /// one) offers values outside [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <param name="space">The search space.</param>
    /// <param name="nested">The nested space: Pretraining or Downstream.</param>
    /// <param name="name">The option.</param>
    /// <param name="min">The smallest value allowed.</param>
    /// <param name="max">The largest value allowed.</param>
    /// <param name="allowed">The allowed range in words, where [<paramref name="min"/>, <paramref name="max"/>] would read badly.</param>
    private static void CheckRange(SearchSpace space, string nested, string name, double min, double max, string? allowed = null)
    {
        if (!space.HasOption(nested) || space[nested] is not SearchSpace options || !options.HasOption(name)) return;
        (double low, double high) = options[name] switch
        {
            NumericRangeOption range => (range.Min, range.Max),
            IntegerRangeOption range => (range.Min, range.Max),
            ChoiceOption choice when choice.Choices.All(c => c is double) => (choice.Choices.Cast<double>().Min(), choice.Choices.Cast<double>().Max()),
            _ => throw new ArgumentException($"Option {nested}.{name} must be numeric."),
        };
        if (!(low >= min && high <= max))
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Option {nested}.{name} spans [{low}, {high}]; it must stay within {allowed ?? string.Create(CultureInfo.InvariantCulture, $"[{min}, {max}]")}."));
    }
}
