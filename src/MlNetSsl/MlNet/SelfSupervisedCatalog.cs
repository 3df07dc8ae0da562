using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetSsl;

/// <summary>Catalog extension methods that add self-supervised pretraining to ML.NET pipelines.</summary>
public static class SelfSupervisedCatalog
{
    /// <summary>
    /// Pretrains an encoder with <paramref name="method"/> on every row of the input column (labels are not needed)
    /// and adds its embeddings as a known-size float vector column.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Name of the embedding column to add.</param>
    /// <param name="inputColumnName">An <c>MLImage</c> column (from <c>LoadImages</c>) or a known-size vector of Single.</param>
    /// <param name="method">The SSL method. Default SimCLR.</param>
    /// <param name="configure">Changes further settings of a <see cref="SelfSupervisedOptions"/> with the names above already set.</param>
    /// <example><code>
    /// var pipeline = ml.Transforms.LoadImages("Image", imageFolder, "ImagePath")
    ///     .Append(ml.Transforms.SelfSupervised("Features", "Image", SslMethod.SimClr, o => o.Epochs = 20))
    ///     .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
    ///     .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features"));
    /// </code></example>
    public static SelfSupervisedEstimator SelfSupervised(this TransformsCatalog catalog, string outputColumnName,
        string inputColumnName, SslMethod method = SslMethod.SimClr, Action<SelfSupervisedOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var options = new SelfSupervisedOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Method = method };
        configure?.Invoke(options);
        return new SelfSupervisedEstimator(CatalogUtils.GetEnvironment(catalog), options);
    }

    /// <summary>
    /// Pretrains an encoder with the registered method <paramref name="methodName"/> (a method of your own registered with
    /// <see cref="SslMethodRegistry.Register"/>, or a built-in one by name) and adds its embeddings as a column.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Name of the embedding column to add.</param>
    /// <param name="inputColumnName">An <c>MLImage</c> column (from <c>LoadImages</c>) or a known-size vector of Single.</param>
    /// <param name="methodName">The registered method's name.</param>
    /// <param name="configure">Changes further settings of a <see cref="SelfSupervisedOptions"/> with the names above already set.</param>
    /// <exception cref="ArgumentException">No method with that name is registered.</exception>
    public static SelfSupervisedEstimator SelfSupervised(this TransformsCatalog catalog, string outputColumnName,
        string inputColumnName, string methodName, Action<SelfSupervisedOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var options = new SelfSupervisedOptions
        {
            OutputColumnName = outputColumnName,
            InputColumnName = inputColumnName,
            MethodName = SslMethodRegistry.Get(methodName).Name,
        };
        configure?.Invoke(options);
        return new SelfSupervisedEstimator(CatalogUtils.GetEnvironment(catalog), options);
    }

    /// <summary>Pretrains an encoder as <paramref name="options"/> describe and adds its embeddings as a column.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Every setting, column names included; the estimator keeps a copy.</param>
    public static SelfSupervisedEstimator SelfSupervised(this TransformsCatalog catalog, SelfSupervisedOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new SelfSupervisedEstimator(CatalogUtils.GetEnvironment(catalog), options.Clone());
    }

    /// <summary>
    /// Decodes every image of <paramref name="imageColumnName"/> once and holds it in memory at the size a
    /// <c>SelfSupervised</c> stage with <see cref="SelfSupervisedOptions.ImageWidth"/> x <see cref="SelfSupervisedOptions.ImageHeight"/>
    /// of <paramref name="imageWidth"/> x <paramref name="imageHeight"/> reads it, so repeated fits and transforms of such
    /// stages (a search, cross-validation) do not decode the files again: a 2-megapixel JPEG takes tens of milliseconds to
    /// decode, the stage then keeps a few kilobytes of it. The stage reads the same pixels from this view as from
    /// <paramref name="data"/> (EXIF orientation included), and a model fitted on it scores the original images alike.
    /// Other image transforms (<c>ResizeImages</c>, <c>ExtractPixels</c>) would see the smaller images: give them
    /// <paramref name="data"/>. Rows are held in order and not shuffled.
    /// </summary>
    /// <param name="catalog">The data catalog.</param>
    /// <param name="data">Rows with an <c>MLImage</c> column (from <c>LoadImages</c>).</param>
    /// <param name="imageColumnName">The image column.</param>
    /// <param name="imageWidth">The stage's image width.</param>
    /// <param name="imageHeight">The stage's image height.</param>
    /// <param name="cancellationToken">Stops the decoding between images.</param>
    /// <returns>A view with the same schema and rows as <paramref name="data"/>.</returns>
    /// <exception cref="InvalidDataException">An image cannot be loaded; the message names its row.</exception>
    public static IDataView PreloadImages(this DataOperationsCatalog catalog, IDataView data, string imageColumnName, int imageWidth, int imageHeight,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageHeight);
        return MlNet.Data.DecodedImageView.Create(data, imageColumnName, imageWidth, imageHeight, cancellationToken);
    }
}
