using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl;

/// <summary>How <see cref="ResampleSeriesCatalog.ResampleSeries(TransformsCatalog, string, string, int, int)"/> brings each
/// channel of a series to the fixed length.</summary>
public enum SeriesResampling
{
    /// <summary>Linear interpolation between the first and the last step: the whole series is stretched or squeezed
    /// to the target length (its shape is kept, its time scale is not). The default.</summary>
    Linear,

    /// <summary>Keeps the time scale: a shorter channel is padded at its end with its last value, a longer one is cut
    /// after the target length.</summary>
    PadOrTruncate,

    /// <summary>A longer channel is shrunk by averaging: each output step is the mean of the stretch of input steps it
    /// covers (steps cut by a boundary count by the part inside), so noise averages out instead of every k-th step being
    /// picked as <see cref="Linear"/> does. A channel of the target length is kept as it is, a shorter one is stretched as
    /// by <see cref="Linear"/>. For series far longer than the target (thousands of steps into hundreds).</summary>
    Mean,
}

/// <summary>Settings of the series resampling transform.</summary>
public sealed class ResampleSeriesOptions
{
    /// <summary>The column to add: a known-size vector of Single holding <see cref="Channels"/> x <see cref="Length"/>
    /// values, channel after channel. Required.</summary>
    public string OutputColumnName { get; set; } = "";

    /// <summary>The input column: a vector of Single (variable or known size) holding each row's channels one after the
    /// other (channel-major), every channel of a row the same length. Required.</summary>
    public string InputColumnName { get; set; } = "";

    /// <summary>Channels per row; each row's value count must be a multiple of it. Default 1.</summary>
    public int Channels { get; set; } = 1;

    /// <summary>Steps per channel after resampling. Default 128 (about the median length of common sensor archives;
    /// choose the typical length of your series to change them least).</summary>
    public int Length { get; set; } = 128;

    /// <summary>How each channel is brought to <see cref="Length"/>. Default <see cref="SeriesResampling.Linear"/>.</summary>
    public SeriesResampling Resampling { get; set; } = SeriesResampling.Linear;

    internal ResampleSeriesOptions Clone() => (ResampleSeriesOptions)MemberwiseClone();

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputColumnName)) throw new ArgumentException("Set OutputColumnName.", nameof(OutputColumnName));
        if (string.IsNullOrWhiteSpace(InputColumnName)) throw new ArgumentException("Set InputColumnName.", nameof(InputColumnName));
        if (Channels < 1) throw new ArgumentOutOfRangeException(nameof(Channels), Channels, "A series has at least one channel.");
        if (Length < 1) throw new ArgumentOutOfRangeException(nameof(Length), Length, "The target length is at least 1 step.");
        if (!Enum.IsDefined(Resampling)) throw new ArgumentOutOfRangeException(nameof(Resampling), Resampling, "Unknown resampling.");
    }
}

/// <summary>Catalog extension that turns variable-length series into fixed-length ones, so a series column of any
/// length can feed the self-supervised stage (which needs a known-size vector).</summary>
public static class ResampleSeriesCatalog
{
    /// <summary>
    /// Resamples every row's series (<paramref name="channels"/> channels, channel-major, any length) to
    /// <paramref name="length"/> steps per channel by linear interpolation, into a known-size vector column.
    /// A missing value (NaN) takes the value before it in its channel (the channel's first known value at its start).
    /// Saved and loaded with the model zip.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to add (channels x length Singles).</param>
    /// <param name="inputColumnName">A vector of Single column, variable or known size.</param>
    /// <param name="channels">Channels per row. Default 1.</param>
    /// <param name="length">Steps per channel after resampling. Default 128.</param>
    /// <example><code>
    /// var pipeline = ml.Transforms.ResampleSeries("Fixed", "Series", channels: 6, length: 100)
    ///     .Append(ml.Transforms.SelfSupervised("Features", "Fixed", SslMethod.SimClr, o => o.SeriesChannels = 6));
    /// </code></example>
    public static ResampleSeriesEstimator ResampleSeries(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        int channels = 1, int length = 128)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return ResampleSeries(catalog, new ResampleSeriesOptions
        {
            OutputColumnName = outputColumnName,
            InputColumnName = inputColumnName,
            Channels = channels,
            Length = length,
        });
    }

    /// <summary>Resamples series as <paramref name="options"/> describe (the estimator keeps a copy).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Every setting, column names included.</param>
    public static ResampleSeriesEstimator ResampleSeries(this TransformsCatalog catalog, ResampleSeriesOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        ResampleSeriesOptions copy = options.Clone();
        copy.Validate();
        return new ResampleSeriesEstimator(CatalogUtils.GetEnvironment(catalog), copy);
    }
}
