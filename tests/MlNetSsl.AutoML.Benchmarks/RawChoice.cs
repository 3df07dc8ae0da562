using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl;
using MlNetSsl.AutoML;

/// <summary>
/// How the one-standard-error rule should choose among the portfolio's untuned raw-feature pipelines (L-BFGS with its
/// defaults, L-BFGS with ML.NET's L1, LightGBM with small leaves, LightGBM), measured without the search around it: on many
/// random splits of each dataset (30% test rows, 10% of the rest labeled, at least 2 per class, 4 for series), each
/// pipeline is cross-validated on the labeled rows with the experiment's parts (<see cref="StratifiedFolds.Assign"/> for 5
/// folds, ceil(200 / labels) repetitions up to 5, the pipeline's standardization by the labeled count,
/// <see cref="MetricCalculator.Estimate"/>'s value and standard error), refitted on them and scored on the test rows. Two
/// rules then choose: the best-scoring pipeline within one standard error of the best (the linear model first on an exact
/// tie, then the portfolio's order, as the rule does), and the first pipeline within it in the portfolio's order. Three
/// ensembles are scored beside them: the mean class probabilities of all the candidates, of the best-scoring linear and
/// tree candidates, and ensemble selection on the out-of-fold probabilities of the same cross-validation, with the
/// experiment's own code (<see cref="EnsembleSelection"/>: 10 greedy rounds with replacement, the best-scoring rounds kept). The floor is the tables benchmark's "best raw baseline": the better of ML.NET's LightGBM and of its L-BFGS after
/// NormalizeMeanVariance, with their defaults, on the same labeled rows. A second table compares three standard errors
/// (the shipped corrected one and two simpler ones) by the same rules and by their calibration against the spread of
/// cross-validated minus test accuracy over the splits.
/// </summary>
internal static class RawChoiceBenchmark
{
    public static int Run(string dataRoot, IReadOnlyList<string> tables, string? csvFolder, int splits)
    {
        Console.WriteLine($"Mean test accuracy over {splits} random splits per dataset (30% test, 10% of the rest labeled); " +
            "in brackets, the splits where the rule's choice tests more than 0.5 point below the floor.");
        Console.WriteLine();
        Console.WriteLine("| data | kind | labeled rows | floor: best of ML.NET's raw LightGBM and L-BFGS | best-scoring within the error | first in the portfolio's order within the error | mean probabilities of all | mean probabilities of the best linear and best tree | ensemble selection on out-of-fold probabilities | 1-NN alone (where the portfolio has it) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        var sources = new List<(string Name, SslInputKind Kind, float[][] Features, float[] Labels)>();
        foreach (string name in tables.Where(t => t.Length > 0))
        {
            var table = TablesBenchmark.Table.Load(dataRoot, name, 0.1);
            (float[][] features, float[] labels) = table.AllRows();
            sources.Add((name, table.SeriesChannels > 0 ? SslInputKind.Series : SslInputKind.Tabular, features, labels));
        }
        if (csvFolder is not null)
            foreach (string file in Directory.GetFiles(csvFolder, "*.csv").Order(StringComparer.Ordinal))
                sources.Add(ReadCsv(file));
        var errorRows = new List<string>();
        foreach (var (name, kind, features, labels) in sources)
            errorRows.Add(Evaluate(name, kind, features, labels, splits));
        Console.WriteLine();
        Console.WriteLine("Standard error variants (k folds, r repetitions, J = k r fold values of standard deviation s): s / sqrt(J) (shipped " +
            "before 2026-12-07), s / sqrt(k) (repetitions do not shrink it), s sqrt(1/J + 1/(k - 1)) (Nadeau and Bengio's corrected " +
            "resampled variance). Per variant: the rules' mean test accuracy (splits more than 0.5 point below the floor), and the " +
            "calibration ratio: the spread over splits and candidates of (cross-validated metric - test accuracy), less the test rows' " +
            "binomial noise, over the root mean square of the reported error (1 = calibrated; above 1 = the error understates).");
        Console.WriteLine();
        Console.WriteLine("| data | repetitions | s/sqrt(J): best-scoring, in order, ratio | s/sqrt(k): best-scoring, in order, ratio | corrected: best-scoring, in order, ratio |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (string row in errorRows) Console.WriteLine(row);
        return 0;
    }

    /// <summary>A headerless CSV with the label in the last column; a cell that is not a number is a missing value.</summary>
    private static (string, SslInputKind, float[][], float[]) ReadCsv(string path)
    {
        string[][] rows = File.ReadLines(path).Where(l => l.Trim().Length > 0).Select(l => l.Split(',')).ToArray();
        string[] classes = rows.Select(r => r[^1].Trim()).Distinct().Order(StringComparer.Ordinal).ToArray();
        float[][] features = rows.Select(r => r[..^1].Select(v => float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out float x) ? x : float.NaN)
            .ToArray()).ToArray();
        return (Path.GetFileNameWithoutExtension(path), SslInputKind.Tabular, features, rows.Select(r => (float)Array.IndexOf(classes, r[^1].Trim())).ToArray());
    }

    /// <summary>The standard error of a k-fold mean repeated r times from the fold values' deviation, by <paramref name="variant"/>:
    /// 0 divides by the square root of every fold value, 1 by that of the folds of one repetition, 2 is Nadeau and Bengio's
    /// corrected resampled variance, (1/J + n_test/n_train) s^2 with n_test/n_train = 1/(k - 1).</summary>
    private static double ErrorVariant(int variant, double deviation, int folds, int values) => variant switch
    {
        0 => deviation / Math.Sqrt(values),
        1 => deviation / Math.Sqrt(folds),
        _ => deviation * Math.Sqrt(1.0 / values + 1.0 / Math.Max(1, folds - 1)),
    };

    private static string Evaluate(string name, SslInputKind kind, float[][] allFeatures, float[] labels, int splits)
    {
        const int Variants = 3;
        var variantPicks = Enumerable.Range(0, Variants).Select(_ => new List<(double Floor, double BestScoring, double InOrder)>()).ToArray();
        var gaps = new List<(int Candidate, double Gap)>();   // cross-validated metric - test accuracy, every candidate of every split
        var testNoise = new List<double>();     // the test accuracy's binomial variance
        var reported = Enumerable.Range(0, Variants).Select(_ => new List<double>()).ToArray();
        var repetitionCounts = new List<int>();
        int width = allFeatures.Min(f => f.Length);
        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(TablesBenchmark.TableRow));
        schema[nameof(TablesBenchmark.TableRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        SslSearchSpace space = SslSearchSpace.For(kind);
        var scored = new List<(double Floor, double BestScoring, double InOrder, double BlendAll, double BlendTwo, double Caruana)>();
        var nearestAlone = new List<double>();
        var labeledCounts = new List<int>();
        for (int split = 0; split < splits; split++)
        {
            var random = new Random(7919 * split + 13);
            var test = new List<int>();
            var train = new List<int>();
            foreach (var byClass in Enumerable.Range(0, labels.Length).OrderBy(_ => random.Next()).GroupBy(i => labels[i]))
            {
                int[] rows = byClass.ToArray();
                int testCount = (int)Math.Round(rows.Length * 0.3);
                test.AddRange(rows.Take(testCount));
                train.AddRange(rows.Skip(testCount));
            }
            int perClass = kind == SslInputKind.Series ? 4 : 2;
            var labeled = new List<int>();
            foreach (var byClass in train.GroupBy(i => labels[i])) labeled.AddRange(byClass.Take(Math.Min(perClass, byClass.Count())));
            foreach (int row in train.OrderBy(_ => random.Next()))
            {
                if (labeled.Count >= Math.Max(1, train.Count / 10)) break;
                if (!labeled.Contains(row)) labeled.Add(row);
            }
            labeledCounts.Add(labeled.Count);
            // Missing numbers get the training rows' column mean, as the tool fills them (the experiment refuses them).
            float[] means = Enumerable.Range(0, width).Select(c =>
            {
                float[] known = train.Select(r => allFeatures[r][c]).Where(v => !float.IsNaN(v)).ToArray();
                return known.Length > 0 ? known.Average() : 0f;
            }).ToArray();
            TablesBenchmark.TableRow Row(int r) => new()
            {
                Features = [.. allFeatures[r].Take(width).Select((v, c) => float.IsNaN(v) ? means[c] : v)],
                Label = labels[r],
            };
            IDataView View(IEnumerable<int> rows) => ml.Data.LoadFromEnumerable(rows.Select(Row).ToArray(), schema);
            IDataView testView = View(test);

            var portfolio = SslPortfolio.For(space, kind, train.Count, labeled.Count)
                .Where(p => p.Configuration.AsType<SslTrialParameters>().Features == SslFeatureSource.RawFeatures).ToArray();
            uint[] keys = labeled.Select(r => (uint)labels[r]).ToArray();
            var classes = keys.Distinct().Order().ToArray();
            // As the experiment: 5 folds asked, fewer when the rarest class with 2 labels or more has fewer.
            int repeats = Math.Clamp((200 + labeled.Count - 1) / labeled.Count, 1, 5);
            var assignments = Enumerable.Range(0, repeats).Select(r => StratifiedFolds.Assign(keys, 5, 1000 + r)).ToArray();
            var candidates = new List<(double Metric, double Error, double Test, bool Linear, DownstreamTrainer Trainer)>();
            var candidateErrors = new List<double[]>();
            repetitionCounts.Add(assignments.Length);
            var testScores = new List<float[][]>();
            var outOfFold = new List<float[][][]>();
            float[] globalClasses = labeled.Select(r => labels[r]).Distinct().ToArray();   // MapValueToKey: order of first occurrence
            foreach (var entry in portfolio)
            {
                SslDownstreamParameters downstream = entry.Configuration.AsType<SslTrialParameters>().Downstream;
                // Folds are scaled as the refit is, by the labeled count (as the experiment's cross-validation does).
                // The nearest neighbour reads raw series unstandardized, as the experiment's folds and refit do.
                IEstimator<ITransformer> Pipeline() => ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
                    .Append(SslDownstream.StandardizedTrainer(ml, downstream, "LabelKey", "Features", labeled.Count, kind, SslFeatureSource.RawFeatures))
                    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
                // Out-of-fold class probabilities per repetition, in the order of globalClasses, for the ensemble selection.
                var oof = assignments.Select(_ => new float[labeled.Count][]).ToArray();
                var repetitions = assignments.Select((a, rep) => (IReadOnlyList<FoldPredictions>)Enumerable.Range(0, a.FoldCount).Select(f =>
                {
                    int[] fit = labeled.Where((_, i) => a.FoldOfRow[i] != f).ToArray(), held = labeled.Where((_, i) => a.FoldOfRow[i] == f).ToArray();
                    IDataView heldOut = Pipeline().Fit(View(fit)).Transform(View(held));
                    float[] predicted = heldOut.GetColumn<float>("PredictedLabelValue").ToArray();
                    float[] foldClasses = fit.Select(r => labels[r]).Distinct().ToArray();   // the fold's key order
                    float[][] foldScores = heldOut.GetColumn<float[]>("Score").ToArray();
                    int[] positions = Enumerable.Range(0, labeled.Count).Where(i => a.FoldOfRow[i] == f).ToArray();
                    for (int h = 0; h < positions.Length; h++)
                    {
                        var full = new float[globalClasses.Length];
                        for (int k = 0; k < foldClasses.Length; k++) full[Array.IndexOf(globalClasses, foldClasses[k])] = foldScores[h][k];
                        oof[rep][positions[h]] = full;
                    }
                    return new FoldPredictions(held.Select(r => (uint)labels[r] + 1).ToArray(), predicted.Select(p => (uint)p + 1).ToArray(),
                        held.Select(_ => Array.Empty<float>()).ToArray());
                }).ToArray()).ToArray();
                MetricEstimate estimate = MetricCalculator.Estimate(SslMetric.Accuracy, repetitions, classes.Length, 0);
                outOfFold.Add(oof);
                IDataView refitted = Pipeline().Fit(View(labeled)).Transform(testView);
                testScores.Add(refitted.GetColumn<float[]>("Score").ToArray());
                double[] errors = [.. Enumerable.Range(0, Variants).Select(v => estimate.FoldValues.Length < 3 ? estimate.StandardError
                    : ErrorVariant(v, estimate.StandardDeviation, assignments[0].FoldCount, estimate.FoldValues.Length))];
                candidateErrors.Add(errors);
                double testAccuracy = Accuracy(refitted);
                gaps.Add((candidates.Count, estimate.Value - testAccuracy));
                testNoise.Add(testAccuracy * (1 - testAccuracy) / test.Count);
                for (int v = 0; v < Variants; v++) reported[v].Add(errors[v]);
                candidates.Add((estimate.Value, estimate.StandardError, Accuracy(refitted),
                    downstream.Trainer == DownstreamTrainer.LinearProbe, downstream.Trainer));
            }
            int top = Enumerable.Range(0, candidates.Count).MaxBy(i => candidates[i].Metric);
            double threshold = candidates[top].Metric - candidates[top].Error;
            int[] within = [.. Enumerable.Range(0, candidates.Count).Where(i => candidates[i].Metric >= threshold)];
            int bestScoring = within.OrderByDescending(i => candidates[i].Metric).ThenBy(i => candidates[i].Linear ? 0 : 1).ThenBy(i => i).First();
            int inOrder = within.Min();
            IDataView labeledView = View(labeled);
            IEstimator<ITransformer> Plain(IEstimator<ITransformer> trainer) => ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Append(trainer)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
            double floor = Math.Max(
                Accuracy(Plain(ml.MulticlassClassification.Trainers.LightGbm("LabelKey")).Fit(labeledView).Transform(testView)),
                Accuracy(Plain(ml.Transforms.NormalizeMeanVariance("Features").Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey")))
                    .Fit(labeledView).Transform(testView)));
            // The mean of the candidates' class probabilities (every pipeline refitted on the same labeled rows, so one class order).
            float[] testLabels = testView.GetColumn<float>("Label").ToArray();
            float[] keyValues = globalClasses;
            double Blend(IReadOnlyList<int> members) => Enumerable.Range(0, testLabels.Length).Count(r =>
            {
                int classes = testScores[members[0]][r].Length;
                int argmax = Enumerable.Range(0, classes).MaxBy(c => members.Sum(m => testScores[m][r][c]));
                return keyValues[argmax] == testLabels[r];
            }) / (double)testLabels.Length;
            double all = Blend([.. Enumerable.Range(0, candidates.Count)]);
            int linear = Enumerable.Range(0, candidates.Count).Where(i => candidates[i].Linear).MaxBy(i => candidates[i].Metric);
            int tree = Enumerable.Range(0, candidates.Count).Where(i => candidates[i].Trainer == DownstreamTrainer.LightGbm).MaxBy(i => candidates[i].Metric);
            int nearest = candidates.FindIndex(c => c.Trainer == DownstreamTrainer.NearestNeighbor);
            if (nearest >= 0) nearestAlone.Add(candidates[nearest].Test);
            // Ensemble selection on the out-of-fold probabilities, as the experiment runs it (EnsembleSelection): each
            // repetition's held-out rows as one pooled fold, keys in the order of globalClasses.
            uint[] actualKeys = [.. labeled.Select(r => (uint)Array.IndexOf(globalClasses, labels[r]) + 1)];
            var heldOutScores = outOfFold.Select(candidate => (IReadOnlyList<IReadOnlyList<FoldPredictions>>)[.. candidate.Select(rep =>
                (IReadOnlyList<FoldPredictions>)[new FoldPredictions(actualKeys,
                    [.. rep.Select(row => (uint)Enumerable.Range(0, row.Length).MaxBy(c => row[c]) + 1)], rep)])]).ToList();
            int[] chosen = EnsembleSelection.Select(heldOutScores, SslMetric.Accuracy, globalClasses.Length, 0);
            scored.Add((floor, candidates[bestScoring].Test, candidates[inOrder].Test, all, Blend([linear, tree]), Blend(chosen)));
            for (int v = 0; v < Variants; v++)
            {
                double bar = candidates[top].Metric - candidateErrors[top][v];
                int[] inside = [.. Enumerable.Range(0, candidates.Count).Where(i => candidates[i].Metric >= bar)];
                int scoring = inside.OrderByDescending(i => candidates[i].Metric).ThenBy(i => candidates[i].Linear ? 0 : 1).ThenBy(i => i).First();
                variantPicks[v].Add((floor, candidates[scoring].Test, candidates[inside.Min()].Test));
            }
        }
        string Cell(Func<(double Floor, double BestScoring, double InOrder, double BlendAll, double BlendTwo, double Caruana), double> rule) => string.Create(CultureInfo.InvariantCulture,
            $"{100 * scored.Average(rule):0.0} ({scored.Count(s => rule(s) < s.Floor - 0.005)})");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {kind} | {(labeledCounts.Min() == labeledCounts.Max() ? $"{labeledCounts[0]}" : $"{labeledCounts.Min()}-{labeledCounts.Max()}")} | {100 * scored.Average(s => s.Floor):0.0} | {Cell(s => s.BestScoring)} | {Cell(s => s.InOrder)} | {Cell(s => s.BlendAll)} | {Cell(s => s.BlendTwo)} | {Cell(s => s.Caruana)} | {(nearestAlone.Count == 0 ? "-" : $"{100 * nearestAlone.Average():0.0}")} |"));

        // Pooled within each candidate (a pipeline's own bias between cross-validation and test is no noise).
        var byCandidate = gaps.GroupBy(g => g.Candidate).Where(g => g.Count() > 1).ToArray();
        double pooledVariance = byCandidate.Sum(g => { double m = g.Average(x => x.Gap); return g.Sum(x => (x.Gap - m) * (x.Gap - m)); })
            / Math.Max(1, byCandidate.Sum(g => g.Count() - 1));
        double spread = Math.Sqrt(Math.Max(0, pooledVariance - testNoise.Average()));
        string VariantCell(int v)
        {
            var picks = variantPicks[v];
            double rms = Math.Sqrt(reported[v].Average(e => e * e));
            return string.Create(CultureInfo.InvariantCulture,
                $"{100 * picks.Average(p => p.BestScoring):0.0} ({picks.Count(p => p.BestScoring < p.Floor - 0.005)}), " +
                $"{100 * picks.Average(p => p.InOrder):0.0} ({picks.Count(p => p.InOrder < p.Floor - 0.005)}), {spread / rms:0.00}");
        }
        return $"| {name} | {repetitionCounts.Min()}-{repetitionCounts.Max()} | {VariantCell(0)} | {VariantCell(1)} | {VariantCell(2)} |";

        double Accuracy(IDataView predictions)
        {
            float[] predicted = predictions.GetColumn<float>("PredictedLabelValue").ToArray();
            float[] actual = predictions.GetColumn<float>("Label").ToArray();
            return predicted.Zip(actual).Count(p => p.First == p.Second) / (double)actual.Length;
        }
    }
}
