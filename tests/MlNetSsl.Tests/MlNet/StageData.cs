using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;

namespace MlNetSsl.Tests.MlNet;

/// <summary>An image row as a user would list it: a path relative to the image folder and a class name (empty: unlabeled).</summary>
public sealed class ImageRow
{
    public string ImagePath { get; set; } = "";
    public string Label { get; set; } = "";
}

/// <summary>A tabular row: the 28 HIGGS features and the label (NaN: unlabeled).</summary>
public sealed class HiggsRow
{
    [VectorType(28)]
    public float[] Features { get; set; } = [];
    public float Label { get; set; }
}

/// <summary>IDataViews over the shared real datasets, in the shapes the ML.NET stage reads.</summary>
internal static class StageData
{
    public static string CifarFolder => Path.Combine(SharedData.DataRoot, "cifar10");

    /// <summary>The first <paramref name="perClass"/> CIFAR-10 images of each class (classes in name order, grouped), paths relative to <see cref="CifarFolder"/>.</summary>
    public static ImageRow[] CifarRows(int perClass, string split = "train", int skipPerClass = 0) =>
        Directory.GetDirectories(Path.Combine(CifarFolder, split)).Order(StringComparer.Ordinal)
            .SelectMany(dir => Directory.GetFiles(dir, "*.jpg").Order(StringComparer.Ordinal).Skip(skipPerClass).Take(perClass)
                .Select(file => new ImageRow { ImagePath = Path.GetRelativePath(CifarFolder, file), Label = Path.GetFileName(dir) }))
            .ToArray();

    /// <summary>Image rows with an <c>Image</c> column of MLImage loaded from <paramref name="folder"/>.</summary>
    public static IDataView Images(MLContext ml, IEnumerable<ImageRow> rows, string? folder = null) =>
        ml.Transforms.LoadImages("Image", folder ?? CifarFolder, nameof(ImageRow.ImagePath))
            .Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));

    /// <summary>HIGGS rows of <paramref name="split"/> with raw (unstandardized) features.</summary>
    public static HiggsRow[] HiggsRows(string split, int count) =>
        SharedData.ReadHiggs(split, count).Select(r => new HiggsRow { Features = r.Features, Label = r.Label }).ToArray();

    /// <summary>Every row's value of a float vector column.</summary>
    public static float[][] Vectors(IDataView data, string column) => VectorData.ReadVectors(data, column);
}
