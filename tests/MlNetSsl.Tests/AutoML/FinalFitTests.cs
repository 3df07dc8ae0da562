using MlNetSsl.AutoML;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>The final fit of an image FixMatch network with no longer scored version trains longer than it was scored,
/// within the budget left.</summary>
public sealed class FinalFitTests
{
    private static TrialRecord Trial(int id, Parameters parameters, double metric, int? fidelity = null) => new(id, parameters, TrialStatus.Completed,
        [new RungResult(fidelity, metric, TimeSpan.FromSeconds(1))], TimeSpan.FromSeconds(1), null);

    private static Parameters FixMatch(SslSearchSpace space, int epochs, bool semiSupervised = true, string features = "SelfSupervised") =>
        SslExperimentData.Configuration(space, ("Features", features), ("Pretraining.Epochs", 3), ("Downstream.Trainer", "FineTune"),
            ("Downstream.SemiSupervised", semiSupervised), ("Downstream.FineTuneEpochs", epochs));

    [SkippableFact]
    public void AnImageFixMatchNetworkWithNoLongerScoredVersionMayTrainLonger()
    {
        SslSearchSpace images = SslSearchSpace.For(SslInputKind.Image);
        // As in a 600 s CIFAR-10 search: FixMatch 10 epochs at 0.455, its lengthened version (12 epochs) at 0.500.
        TrialRecord ten = Trial(1, FixMatch(images, 10), 0.455), twelve = Trial(4, FixMatch(images, 12), 0.500);
        TrialRecord probe = Trial(0, SslExperimentData.Configuration(images, ("Pretraining.Epochs", 3)), 0.368);
        TrialRecord[] board = [twelve, ten, probe];
        SslExperiment.FinalFitEvidence paid = SslExperiment.LongerFinalFit(twelve, board, SslInputKind.Image, maximize: true)!;
        Assert.Same(ten, paid.Shorter);
        Assert.True(paid.LengtheningPaid);
        // The one-standard-error rule chooses the longest version within the error, so a chosen version that scored as
        // well as or worse than its shorter one is one the cross-validation cannot tell from it: the grids decide.
        TrialRecord worse = Trial(4, twelve.Parameters, 0.45);
        Assert.False(SslExperiment.LongerFinalFit(worse, [ten, worse], SslInputKind.Image, maximize: true)!.LengtheningPaid);
        Assert.False(SslExperiment.LongerFinalFit(Trial(4, twelve.Parameters, 0.455), [ten], SslInputKind.Image, maximize: true)!.LengtheningPaid);
        Assert.False(SslExperiment.LongerFinalFit(twelve, board, SslInputKind.Image, maximize: false)!.LengtheningPaid);
        // Evidence against: a longer scored version, which the rule would have chosen unless it scored worse beyond the error.
        Assert.Null(SslExperiment.LongerFinalFit(ten, board, SslInputKind.Image, maximize: true));
        TrialRecord sixteenWorse = Trial(6, FixMatch(images, 16), 0.40);
        Assert.Null(SslExperiment.LongerFinalFit(twelve, [twelve, ten, sixteenWorse], SslInputKind.Image, maximize: true));
        // Only image FixMatch networks from a pretrained encoder, scored without a scheduler's rungs.
        Assert.Null(SslExperiment.LongerFinalFit(Trial(4, FixMatch(images, 12, semiSupervised: false), 0.5),
            [Trial(1, FixMatch(images, 10, semiSupervised: false), 0.455)], SslInputKind.Image, maximize: true));
        Assert.Null(SslExperiment.LongerFinalFit(Trial(4, FixMatch(images, 12, features: "SupervisedFromScratch"), 0.5),
            [Trial(1, FixMatch(images, 10, features: "SupervisedFromScratch"), 0.455)], SslInputKind.Image, maximize: true));
        Assert.Null(SslExperiment.LongerFinalFit(Trial(4, twelve.Parameters, 0.5, fidelity: 8), [Trial(1, ten.Parameters, 0.455, fidelity: 8)],
            SslInputKind.Image, maximize: true));
        SslSearchSpace tables = SslSearchSpace.For(SslInputKind.Tabular);
        Assert.Null(SslExperiment.LongerFinalFit(Trial(4, FixMatch(tables, 12), 0.9), [Trial(1, FixMatch(tables, 10), 0.8)],
            SslInputKind.Tabular, maximize: true));
        Assert.Null(SslExperiment.LongerFinalFit(Trial(4, FixMatch(tables, 12), 0.9), [], SslInputKind.Tabular, maximize: true));
    }

    [SkippableFact]
    public void AnImageFixMatchNetworkWithNoOtherLengthScoredMayTrainLonger()
    {
        // As in a 600 s MNIST search: FixMatch 10 epochs led, and none of its longer versions fitted in the budget (not
        // started, or stopped by it: no metric). The grids are the evidence, so the final fit may train longer.
        SslSearchSpace images = SslSearchSpace.For(SslInputKind.Image);
        TrialRecord ten = Trial(1, FixMatch(images, 10), 0.91);
        TrialRecord refused = new(5, FixMatch(images, 25), TrialStatus.NotStarted, [], TimeSpan.Zero, null);
        TrialRecord otherEncoder = Trial(2, SslExperimentData.Configuration(images, ("Pretraining.Epochs", 10), ("Downstream.Trainer", "FineTune"),
            ("Downstream.SemiSupervised", true), ("Downstream.FineTuneEpochs", 16)), 0.89);
        FinalFitEvidenceAssert(SslExperiment.LongerFinalFit(ten, [ten, otherEncoder, refused], SslInputKind.Image, maximize: true));
        FinalFitEvidenceAssert(SslExperiment.LongerFinalFit(ten, [ten], SslInputKind.Image, maximize: true));
        // Plain fine-tuning alone gets none: no grid measured it rising.
        Assert.Null(SslExperiment.LongerFinalFit(Trial(1, FixMatch(images, 10, semiSupervised: false), 0.91), [], SslInputKind.Image, maximize: true));

        static void FinalFitEvidenceAssert(SslExperiment.FinalFitEvidence? evidence)
        {
            Assert.NotNull(evidence);
            Assert.Null(evidence.Shorter);
            Assert.False(evidence.LengtheningPaid);
        }
    }

    [SkippableFact]
    public void TheFinalFitTrainsAsManyEpochsAsTheBudgetLeftFitsUpToTheCap()
    {
        // The cap: 2.5 times the scored epochs, or 50 where that is more (FixMatch still gained from 25 to 50 epochs).
        Assert.Equal(50, SslExperiment.FinalFitEpochCap(10));
        Assert.Equal(50, SslExperiment.FinalFitEpochCap(16));
        Assert.Equal(62, SslExperiment.FinalFitEpochCap(25));
        // A 12-epoch refit priced at 112 s: 90% of the 223 s left (201 s) fit 21 epochs; 400 s fit 38; 1,000 s more than the cap.
        Assert.Equal(21, SslExperiment.FinalFitEpochs(12, refitSeconds: 112, secondsLeft: 223));
        Assert.Equal(38, SslExperiment.FinalFitEpochs(12, refitSeconds: 112, secondsLeft: 400));
        Assert.Equal(50, SslExperiment.FinalFitEpochs(12, refitSeconds: 112, secondsLeft: 1000));
        // A 600 s run on 5,000 other CIFAR-10 images: the 10-epoch leader's refit priced at 51 s, 415 s left: 50 epochs priced
        // at 255 s (they took 232 s), where 2.5 times alone allowed 25.
        Assert.Equal(50, SslExperiment.FinalFitEpochs(10, refitSeconds: 51, secondsLeft: 415));
        Assert.Equal(255, SslExperiment.FinalFitSeconds(10, 51, 50), 6);
        // The CIFAR-10 run that overran: 25 epochs priced at 137 s, 251 s left: 41 epochs (45 before, which took 262 s).
        Assert.Equal(41, SslExperiment.FinalFitEpochs(25, refitSeconds: 137, secondsLeft: 251));
        Assert.Equal(62, SslExperiment.FinalFitEpochs(25, refitSeconds: 120, secondsLeft: 2000));
        // Never fewer than the search's epochs: too little time left, no price, or no budget left at all.
        Assert.Equal(12, SslExperiment.FinalFitEpochs(12, refitSeconds: 112, secondsLeft: 120));
        Assert.Equal(12, SslExperiment.FinalFitEpochs(12, refitSeconds: 112, secondsLeft: 100));
        Assert.Equal(12, SslExperiment.FinalFitEpochs(12, refitSeconds: 0, secondsLeft: 500));
        Assert.Equal(12, SslExperiment.FinalFitEpochs(12, refitSeconds: 112, secondsLeft: -5));
        Assert.Equal(12, SslExperiment.FinalFitEpochs(12, refitSeconds: 112, secondsLeft: double.NaN));
    }

    [SkippableFact]
    public void TheTimeKeptBackForALongerFinalFitAffordsItsCap()
    {
        foreach ((int scored, double refitSeconds) in new[] { (10, 48.0), (16, 90.0), (25, 137.0) })
        {
            double reserve = SslExperiment.LongerFinalFitReserve(TimeSpan.FromSeconds(refitSeconds), scored).TotalSeconds;
            int cap = SslExperiment.FinalFitEpochCap(scored);
            // The cap's epochs at the refit's pace, at 90% of what is kept: a 10-epoch leader priced at 48 s keeps about 267 s.
            Assert.Equal(SslExperiment.FinalFitSeconds(scored, refitSeconds, cap) / SslExperiment.FinalFitShareOfWhatIsLeft, reserve, 6);
            Assert.Equal(cap, SslExperiment.FinalFitEpochs(scored, refitSeconds, reserve + 0.5));
        }
        Assert.Equal(266.7, SslExperiment.LongerFinalFitReserve(TimeSpan.FromSeconds(48), 10).TotalSeconds, 1);
    }
}
