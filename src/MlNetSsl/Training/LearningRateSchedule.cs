namespace MlNetSsl;

/// <summary>Linear warm-up followed by cosine decay, evaluated per step (as in SimCLR, BYOL and solo-learn).</summary>
internal static class LearningRateSchedule
{
    /// <summary>The learning rate at zero-based <paramref name="step"/> of <paramref name="totalSteps"/>.</summary>
    /// <param name="step">Zero-based step.</param>
    /// <param name="totalSteps">Steps in the run.</param>
    /// <param name="warmupSteps">Steps of linear warm-up from near zero to <paramref name="peak"/>.</param>
    /// <param name="peak">Peak learning rate.</param>
    /// <param name="finalFraction">Learning rate at the end, as a fraction of the peak.</param>
    public static double WarmupCosine(long step, long totalSteps, long warmupSteps, double peak, double finalFraction)
    {
        if (warmupSteps > 0 && step < warmupSteps)
            return peak * (step + 1) / warmupSteps;
        long decaySteps = Math.Max(1, totalSteps - warmupSteps);
        double progress = Math.Clamp((double)(step - warmupSteps) / decaySteps, 0, 1);
        double floor = peak * finalFraction;
        return floor + (peak - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
