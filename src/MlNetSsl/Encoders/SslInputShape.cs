namespace MlNetSsl;

/// <summary>The shape of one input row as the engine sees it (batch dimension excluded).</summary>
/// <param name="Kind">Images, tabular vectors or series.</param>
/// <param name="Channels">Image or series channels; 1 for tabular rows.</param>
/// <param name="Height">Image height in pixels; 1 otherwise.</param>
/// <param name="Width">Image width in pixels; the feature count for tabular rows; the length for series.</param>
public sealed record SslInputShape(SslInputKind Kind, int Channels, int Height, int Width)
{
    /// <summary>An image of <paramref name="channels"/> x <paramref name="height"/> x <paramref name="width"/>.</summary>
    public static SslInputShape Image(int channels, int height, int width) => new(SslInputKind.Image, channels, height, width);

    /// <summary>A tabular row of <paramref name="features"/> values.</summary>
    public static SslInputShape Tabular(int features) => new(SslInputKind.Tabular, 1, 1, features);

    /// <summary>A series of <paramref name="channels"/> channels by <paramref name="length"/> steps.</summary>
    public static SslInputShape Series(int channels, int length) => new(SslInputKind.Series, channels, 1, length);

    /// <summary>Number of features of a tabular row (equal to <see cref="Width"/>).</summary>
    public int Features => Width;

    /// <summary>Number of time steps of a series (equal to <see cref="Width"/>).</summary>
    public int Length => Width;

    /// <summary>Values per row.</summary>
    public int Size => Channels * Height * Width;

    /// <summary>The shape in words for messages: "Image 3x32x32 (channels x height x width)", "Tabular, 28 features",
    /// "Series, 6 channel(s) x 100 steps".</summary>
    public override string ToString() => Kind switch
    {
        SslInputKind.Image => FormattableString.Invariant($"Image {Channels}x{Height}x{Width} (channels x height x width)"),
        SslInputKind.Tabular => FormattableString.Invariant($"Tabular, {Width} features"),
        SslInputKind.Series => FormattableString.Invariant($"Series, {Channels} channel(s) x {Width} steps"),
        _ => FormattableString.Invariant($"{Kind} {Channels}x{Height}x{Width}"),
    };

    /// <summary>The record's generated text ("SslInputShape { Kind = Image, Channels = 3, ... }"), which pretraining
    /// checkpoints hashed into their fingerprint before <see cref="ToString"/> said the shape in words: they keep resuming.</summary>
    internal string RecordText() => FormattableString.Invariant(
        $"SslInputShape {{ Kind = {Kind}, Channels = {Channels}, Height = {Height}, Width = {Width}, Features = {Features}, Length = {Length}, Size = {Size} }}");

    /// <summary>The tensor shape of a batch of <paramref name="batchSize"/> rows.</summary>
    public long[] BatchShape(long batchSize) => Kind switch
    {
        SslInputKind.Image => [batchSize, Channels, Height, Width],
        SslInputKind.Tabular => [batchSize, Width],
        SslInputKind.Series => [batchSize, Channels, Width],
        _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
    };
}
