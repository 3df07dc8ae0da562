using Microsoft.ML;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.MlNet;

namespace MlNetSsl.Tests.AutoML;

/// <summary>Small real slices for the self-supervised experiment tests: HIGGS rows and CIFAR-10 images with most labels hidden.</summary>
internal static class SslExperimentData
{
    /// <summary>The first <paramref name="count"/> HIGGS training rows; all but every <paramref name="labeledEvery"/>-th label is NaN.</summary>
    public static HiggsRow[] HiggsWithHiddenLabels(int count, int labeledEvery)
    {
        HiggsRow[] rows = StageData.HiggsRows("train", count);
        for (int i = 0; i < rows.Length; i++)
            if (i % labeledEvery != 0) rows[i].Label = float.NaN;
        return rows;
    }

    /// <summary>An experiment on the first <paramref name="rows"/> HIGGS rows (every <paramref name="labeledEvery"/>-th labeled)
    /// that runs one trial: a SCARF probe pretrained <paramref name="epochs"/> epochs (<paramref name="probe"/>), with the
    /// space's other defaults.</summary>
    public static SslExperiment OneScarfProbe(MLContext ml, int rows, int labeledEvery, int epochs, out Parameters probe)
    {
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular).WithMethods(SslMethod.Scarf);
        probe = Configuration(space, ("Features", "SelfSupervised"), ("Pretraining.Epochs", epochs), ("Downstream.Trainer", "LinearProbe"));
        return ml.SelfSupervisedExperiment()
            .SetDataset(ml.Data.LoadFromEnumerable(HiggsWithHiddenLabels(rows, labeledEvery))).SetInputColumn("Features").SetSearchSpace(space)
            .SetTuner(Scripted($"one-probe-{epochs}-epochs", probe)).SetMaxTrials(1);
    }

    /// <summary>A trial runner on 120 HIGGS rows (every third labeled), 5 stratified folds, pretraining seed 2, with its state
    /// under <paramref name="root"/>: the setup of the runner-level tests.</summary>
    public static SslTrialRunner HiggsRunner(MLContext ml, string root)
    {
        SslDataset dataset = SslDataset.Read(ml, ml.Data.LoadFromEnumerable(HiggsWithHiddenLabels(120, labeledEvery: 3)),
            "Features", "Label", SslInputShape.Tabular(28));
        var (foldOfRow, foldCount) = StratifiedFolds.Assign(dataset.LabeledKeys, 5, seed: 1);
        return new SslTrialRunner(new SslTrialRunner.Settings(dataset, SslObjective.CrossValidatedAccuracy(5), foldOfRow, foldCount,
            PretrainingSeed: 2, root, RecordLabelFreeMeasures: false));
    }

    /// <summary><paramref name="perClass"/> CIFAR-10 training images per class, interleaved by class (so every
    /// <paramref name="labeledEvery"/>-th row keeps its label and each class keeps some); the rest have an empty label.</summary>
    public static ImageRow[] CifarWithHiddenLabels(int perClass, int labeledEvery)
    {
        ImageRow[] grouped = StageData.CifarRows(perClass);
        int classes = grouped.Length / perClass;
        var rows = Enumerable.Range(0, grouped.Length).Select(i => grouped[(i % classes) * perClass + i / classes]).ToArray();
        return rows.Select((r, i) => new ImageRow { ImagePath = r.ImagePath, Label = (i / classes) % labeledEvery == 0 ? r.Label : "" }).ToArray();
    }

    /// <summary>Rows of <paramref name="rows"/> with an <c>Image</c> column loaded from the CIFAR folder.</summary>
    public static IDataView Images(MLContext ml, IEnumerable<ImageRow> rows) => StageData.Images(ml, rows);

    /// <summary>The default space for <paramref name="kind"/> as an experiment with a scheduler runs it (no
    /// <c>Pretraining.Epochs</c>), pretraining restricted to one method and the mildest settings for speed.</summary>
    public static SslSearchSpace FastSpace(SslInputKind kind, SslMethod method)
    {
        SslSearchSpace space = SslSearchSpace.For(kind).WithMethods(method);
        space.Pretraining.Remove(nameof(SslPretrainingParameters.Epochs));
        return space;
    }

    /// <summary>A configuration of <paramref name="space"/>: its defaults with the given changes (dotted paths).</summary>
    public static Parameters Configuration(SearchSpace space, params (string Path, object Value)[] changes)
    {
        Parameters result = space.Default;
        foreach (var (path, value) in changes)
        {
            string[] parts = path.Split('.');
            result = parts.Length == 1 ? result.With(path, value)
                : result.With(parts[0], result.GetNested(parts[0]).With(parts[1], value));
        }
        space.Validate(result);
        return result;
    }

    /// <summary>A tuner that proposes <paramref name="script"/> in order, then nothing.</summary>
    public static SslTuner Scripted(string name, params Parameters[] script) => SslTuner.Custom(name, (_, _) => new ScriptedTuner(script));
}
