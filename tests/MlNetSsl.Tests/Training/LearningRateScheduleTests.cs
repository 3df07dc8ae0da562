using Xunit;

namespace MlNetSsl.Tests.Training;

public sealed class LearningRateScheduleTests
{
    [SkippableFact]
    public void WarmsUpLinearlyThenDecaysByCosineToTheFloor()
    {
        // 10 warm-up steps to 0.1, then 90 cosine steps down to 0.1 * 0.01.
        Assert.Equal(0.01, LearningRateSchedule.WarmupCosine(0, 100, 10, 0.1, 0.01), 12);
        Assert.Equal(0.1, LearningRateSchedule.WarmupCosine(9, 100, 10, 0.1, 0.01), 12);
        Assert.Equal(0.1, LearningRateSchedule.WarmupCosine(10, 100, 10, 0.1, 0.01), 12);
        // Half-way through the decay the cosine term is 0.5: 0.001 + 0.099 * 0.5.
        Assert.Equal(0.0505, LearningRateSchedule.WarmupCosine(55, 100, 10, 0.1, 0.01), 12);
        Assert.Equal(0.001, LearningRateSchedule.WarmupCosine(100, 100, 10, 0.1, 0.01), 12);
        Assert.Equal(0.1, LearningRateSchedule.WarmupCosine(0, 100, 0, 0.1, 0.01), 12);
    }
}
