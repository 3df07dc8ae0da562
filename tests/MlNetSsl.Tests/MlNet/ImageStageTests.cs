using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.Tests.Infrastructure;
using MlNetSsl.Tests.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.MlNet;

/// <summary>One short SimCLR pretraining on 400 real CIFAR-10 images, shared by the image stage tests.</summary>
public sealed class CifarStageFixture : IDisposable
{
    // Built on first use, inside a test: without the shared data each test then reports skipped, where a fixture that
    // threw in its constructor would fail them all.
    private readonly Lazy<(MLContext Ml, ImageRow[] Rows, IDataView Data, SelfSupervisedTransformer Model)> _state;
    private readonly List<SslProgress> _reports = [];
    private readonly List<string> _log = [];

    public CifarStageFixture() => _state = new(() =>
    {
        var ml = new MLContext(seed: 1);
        ImageRow[] rows = StageData.CifarRows(40);
        IDataView data = StageData.Images(ml, rows);
        ml.Log += (_, e) => { if (e.Source.Contains("SelfSupervised", StringComparison.Ordinal)) _log.Add(e.Message); };
        SelfSupervisedTransformer model = ml.Transforms.SelfSupervised("Features", "Image", SslMethod.SimClr, o =>
        {
            o.Epochs = 2;
            o.BatchSize = 100;
            o.Seed = 3;
            o.MonitorLabelColumnName = "Label";
            o.Progress = new SyncProgress(_reports.Add);
        }).Fit(data);
        return (ml, rows, data, model);
    });

    public MLContext Ml => _state.Value.Ml;
    public ImageRow[] Rows => _state.Value.Rows;
    public IDataView Data => _state.Value.Data;
    public SelfSupervisedTransformer Model => _state.Value.Model;
    // The pretraining's progress reports and log lines (read after it ran).
    public List<SslProgress> Reports { get { _ = _state.Value; return _reports; } }
    public List<string> Log { get { _ = _state.Value; return _log; } }

    public void Dispose()
    {
        if (_state.IsValueCreated) _state.Value.Model.Dispose();
    }
}

/// <summary>The ML.NET stage on images: schema, batched transform, fidelity to the encoder, history and progress.</summary>
public sealed class ImageStageTests(CifarStageFixture fixture, ITestOutputHelper output) : IClassFixture<CifarStageFixture>
{
    [SkippableFact]
    public void TransformAddsAKnownSizeVectorAndPassesOtherColumnsThrough()
    {
        var output = fixture.Model.Transform(fixture.Data);

        var column = output.Schema["Features"];
        var type = Assert.IsType<VectorDataViewType>(column.Type);
        Assert.Equal(fixture.Model.EmbeddingSize, type.Size);
        Assert.Equal(256, fixture.Model.EmbeddingSize); // the ConvNet's natural width
        Assert.Equal(fixture.Rows.Select(r => r.ImagePath), output.GetColumn<string>("ImagePath"));
        Assert.Equal(fixture.Rows.Select(r => r.Label), output.GetColumn<string>("Label"));
        float[][] vectors = StageData.Vectors(output, "Features");
        Assert.Equal(fixture.Rows.Length, vectors.Length);
        Assert.All(vectors, v => Assert.True(v.All(float.IsFinite)));
        Assert.True(vectors.Select(v => v[0]).Distinct().Count() > 300, "rows should get their own embeddings");
    }

    [SkippableFact]
    public void TransformMatchesADirectBatchedForwardOfTheEncoderOnTheSamePixels()
    {
        // The reference decodes the JPEGs independently (SkiaSharp, RGB planes in [0, 1]) and runs the encoder directly.
        var (images, _) = RealData.CifarImages(40);
        using var dataset = new SslTensorDataset(images, SslInputShape.Image(3, 32, 32));
        using var expected = fixture.Model.Encoder.EmbedAll(dataset, batchSize: 64);

        float[][] actual = StageData.Vectors(fixture.Model.Transform(fixture.Data), "Features");

        // The stage batches rows its own way, so kernels (and float rounding) may differ from EmbedAll's batches of 64:
        // each row must match relative to its norm. Other pixels (another decoder, channel order or scaling) differ by far more.
        Assert.Equal(new long[] { fixture.Rows.Length, fixture.Model.EmbeddingSize }, expected.shape);
        output.WriteLine($"worst row: {Close.WorstRowDifference(actual, Close.Rows(expected)):G3} of its norm");
        Close.RowsEqual(Close.Rows(expected), actual);
    }

    [SkippableFact]
    public void FitRecordsHistoryMonitorAccuracyProgressAndLogsToTheMlContext()
    {
        var model = fixture.Model;
        Assert.Equal(2, model.History.Count);
        foreach (var h in model.History) output.WriteLine($"epoch {h.Epoch}: kNN monitor accuracy {h.MonitorAccuracy:P1}");
        // 10 classes: chance is 10% (+- 1.5 points on 400 rows). A random ConvNet's features already reach about 25%
        // (measured 25.5% and 27%); a monitor that scored, say, shuffled labels or the wrong column would sit at chance.
        Assert.All(model.History, h => Assert.True(h.MonitorAccuracy > 0.15, $"epoch {h.Epoch}: kNN accuracy {h.MonitorAccuracy:P1} is near chance (10%)"));
        Assert.All(model.History, h => Assert.True(h.EffectiveRank > 1));
        Assert.Equal(400, model.PretrainingRows);
        Assert.True(model.PretrainingDuration > TimeSpan.Zero);
        Assert.Equal(nameof(SslMethod.SimClr), model.Method);
        Assert.Equal(SslInputShape.Image(3, 32, 32), model.InputShape);
        Assert.NotEmpty(model.Augmentations.Steps);

        Assert.Equal(2 * 4, fixture.Reports.Count(r => r.EpochSummary is null)); // 400 rows / 100 per step, 2 epochs
        Assert.Equal(2, fixture.Reports.Count(r => r.EpochSummary is not null));
        Assert.Contains(fixture.Log, m => m.Contains("epoch 2", StringComparison.Ordinal) && m.Contains("kNN", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void CursorReadsAheadInBatchesButYieldsRowsOneByOne()
    {
        // A cursor that only asks for a pass-through column never runs the encoder, and one that asks for the
        // embedding sees exactly the rows of the input in order.
        var output = fixture.Model.Transform(fixture.Data);
        using (var cursor = output.GetRowCursor(new[] { output.Schema["Label"] }))
        {
            Assert.False(cursor.IsColumnActive(output.Schema["Features"]));
            int count = 0;
            while (cursor.MoveNext()) count++;
            Assert.Equal(400, count);
        }
        using (var cursor = output.GetRowCursor(output.Schema))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(output.Schema["Features"]);
            var path = cursor.GetGetter<ReadOnlyMemory<char>>(output.Schema["ImagePath"]);
            VBuffer<float> value = default;
            ReadOnlyMemory<char> text = default;
            for (int i = 0; i < 150 && cursor.MoveNext(); i++)
            {
                getter(ref value);
                path(ref text);
                Assert.Equal(fixture.Rows[i].ImagePath, text.ToString());
                Assert.Equal(i, cursor.Position);
            }
        }
        Assert.False(output.CanShuffle);
        Assert.Equal(fixture.Data.GetRowCount(), output.GetRowCount());
    }

    [SkippableFact]
    public void PredictionEngineGivesTheSameEmbeddingAsTransformOnSeveralThreads()
    {
        float[][] batched = StageData.Vectors(fixture.Model.Transform(fixture.Data), "Features");
        var loader = fixture.Ml.Transforms.LoadImages("Image", StageData.CifarFolder, nameof(ImageRow.ImagePath))
            .Fit(fixture.Ml.Data.LoadFromEnumerable(fixture.Rows));
        var chain = new TransformerChain<ITransformer>(loader, fixture.Model);

        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, worker =>
        {
            // Engines share one model here, so none may dispose it (ML.NET's default is that an engine owns its model).
            using var engine = fixture.Ml.Model.CreatePredictionEngine<ImageRow, EmbeddingRow>(chain, new PredictionEngineOptions { OwnsTransformer = false });
            for (int i = worker; i < 80; i += 4)
            {
                float[] single = engine.Predict(fixture.Rows[i]).Features;
                // One row at a time runs other kernels than a batch: compare relative to the embedding's norm.
                double diff = Close.RelativeDifference(single, batched[i]);
                if (diff > Close.AcrossKernels) failures.Add($"row {i}: {diff:G3} of its norm");
            }
        });
        Assert.Empty(failures);
    }

    [SkippableFact]
    public void AnEngineThatOwnsItsModelDisposesItAndLaterUseSaysWhy()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mlnetssl-owned-{Guid.NewGuid():N}.zip");
        try
        {
            fixture.Ml.Model.Save(fixture.Model, fixture.Data.Schema, path);
            var loaded = (SelfSupervisedTransformer)fixture.Ml.Model.Load(path, out _);
            var engine = fixture.Ml.Model.CreatePredictionEngine<ImageRow, EmbeddingRow>(
                new TransformerChain<ITransformer>(fixture.Ml.Transforms.LoadImages("Image", StageData.CifarFolder, nameof(ImageRow.ImagePath))
                    .Fit(fixture.Ml.Data.LoadFromEnumerable(fixture.Rows)), loaded));
            Assert.Equal(256, engine.Predict(fixture.Rows[0]).Features.Length);
            engine.Dispose();

            var error = Assert.Throws<ObjectDisposedException>(() => loaded.Transform(fixture.Data));
            Assert.Contains("OwnsTransformer", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SkippableFact]
    public void GreyRgbaAndOddSizedImagesAreResizedAndReadAsRgb()
    {
        string folder = Directory.CreateTempSubdirectory("mlnetssl-img-").FullName;
        try
        {
            ImageFiles.Write(Path.Combine(folder, "grey.png"), 50, 40, (x, y) => ((byte)(x * 5), (byte)(x * 5), (byte)(x * 5), 255), grey: true);
            ImageFiles.Write(Path.Combine(folder, "rgb.png"), 50, 40, (x, y) => ((byte)(x * 5), (byte)(x * 5), (byte)(x * 5), 255));
            ImageFiles.Write(Path.Combine(folder, "rgba.png"), 64, 20, (x, y) => ((byte)(y * 12), 30, (byte)x, 128));
            var rows = new[] { "grey.png", "rgb.png", "rgba.png" }.Select(p => new ImageRow { ImagePath = p }).ToArray();

            float[][] vectors = StageData.Vectors(fixture.Model.Transform(StageData.Images(fixture.Ml, rows, folder)), "Features");

            Assert.All(vectors, v => Assert.True(v.Length == 256 && v.All(float.IsFinite)));
            // A grey image is read as three equal channels, so it embeds exactly like the same picture saved as RGB.
            double greyVsRgb = Close.RelativeDifference(vectors[0], vectors[1]), greyVsOther = Close.RelativeDifference(vectors[0], vectors[2]);
            output.WriteLine($"grey vs RGB {greyVsRgb:G3}, grey vs another picture {greyVsOther:G3} of the norm");
            Assert.True(greyVsRgb <= Close.AcrossKernels, $"grey and RGB copies differ by {greyVsRgb:G3} of the norm");
            Assert.True(greyVsOther > 0.01, $"different pictures differ by only {greyVsOther:G3} of the norm");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    public sealed class EmbeddingRow
    {
        [VectorType(256)]
        public float[] Features { get; set; } = [];
    }
}
