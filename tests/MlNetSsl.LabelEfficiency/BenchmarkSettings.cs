using System.Globalization;

namespace MlNetSsl.LabelEfficiency;

/// <summary>Command-line settings of one benchmark invocation; see docs/label-efficiency.md for the full protocol.</summary>
public sealed class BenchmarkSettings
{
    /// <summary>Datasets to run: cifar, mnist, higgs, basicmotions (or all).</summary>
    public IReadOnlyList<string> Datasets { get; init; } = ["all"];

    /// <summary>Label fractions of the pool.</summary>
    public IReadOnlyList<double> Fractions { get; init; } = [0.01, 0.1, 1.0];

    /// <summary>Seeds of the label draws (and of every fine-tuning run).</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [1, 2, 3];

    /// <summary>Pool size; null means the protocol's (CIFAR 20,000, MNIST 8,000, HIGGS 7,000, BasicMotions 40).</summary>
    public int? Pool { get; init; }

    /// <summary>Test size; null means the protocol's (CIFAR 5,000, MNIST 2,000, HIGGS 500, BasicMotions 40).</summary>
    public int? Test { get; init; }

    /// <summary>Wall-clock cap of pretraining in minutes (stops at the first epoch boundary past it); null means the
    /// protocol's budget (CIFAR 30, MNIST 15, HIGGS 5, BasicMotions 2).</summary>
    public double? PretrainMinutes { get; init; }

    /// <summary>Pretraining epochs (the learning-rate schedule's length); null means 200 for images, 100 otherwise.</summary>
    public int? PretrainEpochs { get; init; }

    /// <summary>Epochs of each fine-tuning run (also of supervised-from-scratch). Default 50 (the library default).</summary>
    public int FineTuneEpochs { get; init; } = 50;

    /// <summary>Fine-tuning steps per epoch; 0 means the library's automatic epoch. Default 0.</summary>
    public int StepsPerEpoch { get; init; }

    /// <summary>Epochs of supervised training from scratch; null means twice <see cref="FineTuneEpochs"/>. The scratch encoder
    /// starts from random weights, so it gets the longer budget that made it the strong baseline in the issue's own probe
    /// (100 epochs on 300 labels), rather than the budget tuned for starting from a pretrained encoder.</summary>
    public int? ScratchEpochs { get; init; }

    /// <summary>Epochs of the distillation stage. Default 10.</summary>
    public int DistillEpochs { get; init; } = 10;

    /// <summary>CPU threads for TorchSharp. Default 2.</summary>
    public int Threads { get; init; } = 2;

    /// <summary>Folder for the Markdown result files.</summary>
    public string Out { get; init; } = Path.Combine("docs", "label-efficiency-results");

    /// <summary>Folder for the PNG plots.</summary>
    public string Plots { get; init; } = Path.Combine("docs", "plots");

    /// <summary>The shared data folder; default ../shared/data relative to the working directory.</summary>
    public string Data { get; init; } = Path.Combine("..", "shared", "data");

    /// <summary>Parses <c>--name value</c> pairs.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <exception cref="ArgumentException">An unknown option or a missing value.</exception>
    public static BenchmarkSettings Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"Expected '--option value' pairs; got '{args[i]}'.");
            values[args[i][2..]] = args[++i];
        }
        string[] known = ["dataset", "fractions", "seeds", "pool", "test", "pretrain-minutes", "pretrain-epochs", "finetune-epochs",
            "scratch-epochs", "steps-per-epoch", "distill-epochs", "threads", "out", "plots", "data"];
        if (values.Keys.FirstOrDefault(k => !known.Contains(k, StringComparer.OrdinalIgnoreCase)) is { } unknown)
            throw new ArgumentException($"Unknown option --{unknown}. Known: {string.Join(", ", known.Select(k => "--" + k))}.");
        string? Get(string name) => values.TryGetValue(name, out string? v) ? v : null;
        static string[] List(string v) => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var defaults = new BenchmarkSettings();
        return new BenchmarkSettings
        {
            Datasets = Get("dataset") is { } d ? List(d.ToLowerInvariant()) : defaults.Datasets,
            Fractions = Get("fractions") is { } f ? List(f).Select(ParseFraction).ToArray() : defaults.Fractions,
            Seeds = Get("seeds") is { } s ? List(s).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray() : defaults.Seeds,
            Pool = Get("pool") is { } p ? int.Parse(p, CultureInfo.InvariantCulture) : null,
            Test = Get("test") is { } t ? int.Parse(t, CultureInfo.InvariantCulture) : null,
            PretrainMinutes = Get("pretrain-minutes") is { } m ? double.Parse(m, CultureInfo.InvariantCulture) : null,
            PretrainEpochs = Get("pretrain-epochs") is { } e ? int.Parse(e, CultureInfo.InvariantCulture) : null,
            FineTuneEpochs = Get("finetune-epochs") is { } fe ? int.Parse(fe, CultureInfo.InvariantCulture) : defaults.FineTuneEpochs,
            ScratchEpochs = Get("scratch-epochs") is { } se ? int.Parse(se, CultureInfo.InvariantCulture) : null,
            StepsPerEpoch = Get("steps-per-epoch") is { } sp ? int.Parse(sp, CultureInfo.InvariantCulture) : defaults.StepsPerEpoch,
            DistillEpochs = Get("distill-epochs") is { } de ? int.Parse(de, CultureInfo.InvariantCulture) : defaults.DistillEpochs,
            Threads = Get("threads") is { } th ? int.Parse(th, CultureInfo.InvariantCulture) : defaults.Threads,
            Out = Get("out") ?? defaults.Out,
            Plots = Get("plots") ?? defaults.Plots,
            Data = Get("data") ?? defaults.Data,
        };
    }

    // "1%" and "0.01" both mean one percent.
    private static double ParseFraction(string text) => text.EndsWith('%')
        ? double.Parse(text[..^1], CultureInfo.InvariantCulture) / 100
        : double.Parse(text, CultureInfo.InvariantCulture);
}
