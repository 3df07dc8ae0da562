using System.Text.Json;
using MlNetSsl.AutoML;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>Search spaces: attributes, unit-cube sampling, bounds, JSON round trips, binding, editing, subset hashes.</summary>
public sealed class SearchSpaceTests
{
    public enum Optimizer { Adam, Sgd, Lars }

    public sealed class HeadOptions
    {
        [Range(1, 64, logBase: true)]
        public int Width { get; set; } = 8;

        [BooleanChoice]
        public bool UseBias { get; set; } = true;
    }

    public sealed class TrainingOptions
    {
        [Range(1e-5, 1e-1, logBase: true)]
        public double LearningRate { get; set; } = 1e-3;

        [Range(0.0, 1.0)]
        public float Dropout { get; set; } = 0.1f;

        [Range(1, 100)]
        public int Epochs { get; set; } = 10;

        [Choice]
        public Optimizer Optimizer { get; set; } = Optimizer.Sgd;

        [Choice("small", "large")]
        public string Size { get; set; } = "small";

        [NestedOptions]
        public HeadOptions Head { get; set; } = new();

        public int NotSearched { get; set; } = 7;
    }

    public sealed class OutOfRangeDefault
    {
        [Range(1, 10)]
        public int Layers { get; set; }
    }

    [SkippableFact]
    public void AttributesBuildOrderedDimensionsWithInitialValuesAsDefaults()
    {
        var space = new SearchSpace<TrainingOptions>();

        Assert.Equal(
            new[]
            {
                new FeatureDimension("Dropout", FeatureKind.Continuous, 0),
                new FeatureDimension("Epochs", FeatureKind.Integer, 100),
                new FeatureDimension("Head.UseBias", FeatureKind.Categorical, 2),
                new FeatureDimension("Head.Width", FeatureKind.Integer, 64),
                new FeatureDimension("LearningRate", FeatureKind.Continuous, 0),
                new FeatureDimension("Optimizer", FeatureKind.Categorical, 3),
                new FeatureDimension("Size", FeatureKind.Categorical, 2),
            },
            space.FeatureDimensions);
        Assert.False(space.HasOption(nameof(TrainingOptions.NotSearched)));

        TrainingOptions defaults = space.Default.AsType<TrainingOptions>();
        Assert.Equal(1e-3, defaults.LearningRate);
        Assert.Equal(0.1f, defaults.Dropout);
        Assert.Equal(10, defaults.Epochs);
        Assert.Equal(Optimizer.Sgd, defaults.Optimizer);
        Assert.Equal("small", defaults.Size);
        Assert.Equal(8, defaults.Head.Width);
        Assert.True(defaults.Head.UseBias);
    }

    [SkippableFact]
    public void SamplesStayInBoundsAndFollowEachOptionsScale()
    {
        var space = new SearchSpace<TrainingOptions>();
        var random = new Random(3);
        var samples = new List<Parameters>
        {
            space.SampleFromFeatureSpace(new double[space.FeatureCount]),
            space.SampleFromFeatureSpace(Enumerable.Repeat(1.0, space.FeatureCount).ToArray()),
            space.SampleFromFeatureSpace(Enumerable.Repeat(1.7, space.FeatureCount).ToArray()), // clamped
        };
        for (int i = 0; i < 4000; i++)
            samples.Add(space.SampleFromFeatureSpace(Enumerable.Range(0, space.FeatureCount).Select(_ => random.NextDouble()).ToArray()));

        Assert.All(samples, p => Assert.True(space.Contains(p), $"{p} is outside the space"));
        Assert.All(samples, p => Assert.Equal(Math.Floor(p.GetDouble("Epochs")), p.GetDouble("Epochs")));
        Assert.Equal(1e-5, samples[0].GetDouble("LearningRate"), 12);
        Assert.Equal(1e-1, samples[1].GetDouble("LearningRate"), 12);
        Assert.Equal(1, samples[0].GetInt32("Epochs"));
        Assert.Equal(100, samples[1].GetInt32("Epochs"));

        var random4000 = samples.Skip(3).ToList();
        // Log scale: half the draws fall below the geometric midpoint 1e-3; linear scale: half below 0.5.
        Assert.InRange(random4000.Count(p => p.GetDouble("LearningRate") < 1e-3) / 4000.0, 0.46, 0.54);
        Assert.InRange(random4000.Count(p => p.GetDouble("Dropout") < 0.5) / 4000.0, 0.46, 0.54);
        // Integers: every value has an equal-width bin, including both ends.
        Assert.InRange(random4000.Count(p => p.GetInt32("Epochs") == 1), 20, 65);
        Assert.InRange(random4000.Count(p => p.GetInt32("Epochs") == 100), 20, 65);
        Assert.Equal(new[] { "Adam", "Lars", "Sgd" }, random4000.Select(p => p.GetString("Optimizer")).Distinct().Order());
        Assert.InRange(random4000.Count(p => p.GetString("Optimizer") == "Lars") / 4000.0, 0.30, 0.37);
    }

    [SkippableFact]
    public void FeatureRoundTripReproducesConfigurations()
    {
        var space = new SearchSpace<TrainingOptions>();
        var random = new Random(5);
        for (int i = 0; i < 500; i++)
        {
            Parameters p = space.SampleFromFeatureSpace(Enumerable.Range(0, space.FeatureCount).Select(_ => random.NextDouble()).ToArray());
            double[] features = space.MapToFeatureSpace(p);
            Assert.All(features, f => Assert.InRange(f, 0.0, 1.0));
            Parameters back = space.SampleFromFeatureSpace(features);

            Assert.Equal(p.GetDouble("LearningRate"), back.GetDouble("LearningRate"), 1e-15);
            Assert.Equal(p.GetDouble("Dropout"), back.GetDouble("Dropout"), 1e-15);
            Assert.Equal(p.GetInt32("Epochs"), back.GetInt32("Epochs"));
            Assert.Equal(p.GetString("Optimizer"), back.GetString("Optimizer"));
            Assert.Equal(p.GetNested("Head"), back.GetNested("Head"));
        }
    }

    [SkippableFact]
    public void SpaceAndParametersRoundTripThroughJson()
    {
        var space = new SearchSpace<TrainingOptions>();
        space.WithChoice("Batch", 32, 64, 128.5, true);

        string json = space.ToJson(indented: true);
        SearchSpace restored = SearchSpace.FromJson(json);
        Assert.Equal(json, restored.ToJson(indented: true));
        Assert.Equal(space.ToJson(), JsonSerializer.Serialize<SearchSpace>(space));
        Assert.Equal(space.ToJson(), JsonSerializer.Deserialize<SearchSpace>(space.ToJson())!.ToJson());

        var random = new Random(9);
        for (int i = 0; i < 200; i++)
        {
            double[] features = Enumerable.Range(0, space.FeatureCount).Select(_ => random.NextDouble()).ToArray();
            Parameters p = space.SampleFromFeatureSpace(features);
            Assert.Equal(p, restored.SampleFromFeatureSpace(features));
            Parameters parsed = Parameters.FromJson(p.ToJson());
            Assert.Equal(p, parsed); // numbers compared exactly: the JSON form is lossless
            Assert.Equal(p, JsonSerializer.Deserialize<Parameters>(JsonSerializer.Serialize(p)));
            Assert.True(restored.Contains(parsed));
        }
    }

    [SkippableFact]
    public void ParametersBindToTypedOptionsAndBack()
    {
        var space = new SearchSpace<TrainingOptions>();
        // Coordinates in FeatureDimensions order: Dropout, Epochs, Head.UseBias, Head.Width, LearningRate, Optimizer, Size.
        Parameters p = space.SampleFromFeatureSpace([0.3, 0.77, 0.1, 0.01, 0.6, 0.5, 0.8]);

        TrainingOptions options = p.AsType<TrainingOptions>();

        Assert.Equal(p.GetDouble("LearningRate"), options.LearningRate);
        Assert.Equal((float)p.GetDouble("Dropout"), options.Dropout);
        Assert.Equal(p.GetInt32("Epochs"), options.Epochs);
        Assert.Equal(Optimizer.Sgd, options.Optimizer); // 0.5 is the middle bin of Adam, Sgd, Lars (declaration order)
        Assert.Equal("large", options.Size);
        Assert.False(options.Head.UseBias); // 0.1 is the first bin of [false, true]
        Assert.Equal(1, options.Head.Width);
        Assert.Equal(p.GetNested("Head").GetInt32("Width"), options.Head.Width);
        Assert.Equal(7, options.NotSearched);

        Parameters read = Parameters.FromObject(options);
        Assert.Equal(p.GetInt32("Epochs"), read.GetInt32("Epochs"));
        Assert.Equal(p.GetNested("Head"), read.GetNested("Head"));
        Assert.Equal(p.GetString("Optimizer"), read.GetString("Optimizer"));
    }

    [SkippableFact]
    public void SpacesAreEditableInCode()
    {
        var space = new SearchSpace<TrainingOptions>()
            .WithNumeric("LearningRate", 0.01, 0.02)
            .Without("Size")
            .WithChoice("Activation", "relu", "gelu");
        ((SearchSpace)space["Head"]).WithInteger("Width", 16, 17);
        var handBuilt = new SearchSpace
        {
            { "lr", new NumericRangeOption(1e-4, 1e-2, logBase: true, defaultValue: 1e-3) },
            { "layers", new IntegerRangeOption(1, 4) },
            { "method", new ChoiceOption(new object[] { "SimClr", "Byol" }, "Byol") },
        };

        var random = new Random(2);
        for (int i = 0; i < 200; i++)
        {
            Parameters p = space.SampleFromFeatureSpace(Enumerable.Range(0, space.FeatureCount).Select(_ => random.NextDouble()).ToArray());
            Assert.InRange(p.GetDouble("LearningRate"), 0.01, 0.02);
            Assert.False(p.ContainsKey("Size"));
            Assert.Contains(p.GetString("Activation"), new[] { "relu", "gelu" });
            Assert.InRange(p.GetNested("Head").GetInt32("Width"), 16, 17);
        }
        // An option the options class does not have cannot be bound, and the message says which.
        var error = Assert.Throws<InvalidOperationException>(() => space.Default.AsType<TrainingOptions>());
        Assert.Contains("Activation", error.Message);

        Assert.Equal(1e-3, handBuilt.Default.GetDouble("lr"));
        Assert.Equal("Byol", handBuilt.Default.GetString("method"));
        Assert.Equal(3, handBuilt.FeatureCount);
    }

    [SkippableFact]
    public void InvalidDefinitionsAndValuesAreRejectedWithTheirName()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NumericRangeOption(0, 1, logBase: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NumericRangeOption(1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NumericRangeOption(0, 1, defaultValue: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new IntegerRangeOption(0, 8, logBase: true));
        Assert.Throws<ArgumentException>(() => new ChoiceOption("a", "a"));
        Assert.Throws<ArgumentException>(() => new SearchSpace().WithNumeric("a.b", 0, 1));
        var cyclic = new SearchSpace();
        Assert.Throws<ArgumentException>(() => cyclic.WithNested("self", cyclic));

        var error = Assert.Throws<InvalidOperationException>(() => new SearchSpace<OutOfRangeDefault>());
        Assert.Contains("OutOfRangeDefault.Layers", error.Message);

        var space = SyntheticObjectives.QuadraticSpace();
        var outside = Assert.Throws<ArgumentException>(() => space.MapToFeatureSpace(new Parameters().With("x", 9).With("y", 0).With("category", "a")));
        Assert.Contains("'x'", outside.Message);
        var unknown = Assert.Throws<ArgumentException>(() => space.Validate(space.Default.With("z", 1)));
        Assert.Contains("'z'", unknown.Message);
        var badJson = Assert.Throws<JsonException>(() => SearchSpace.FromJson("""{"lr":{"type":"numeric","min":1,"max":0}}"""));
        Assert.Contains("'lr'", badJson.Message);
        Assert.Throws<JsonException>(() => SearchSpace.FromJson("""{"lr":{"type":"gaussian"}}"""));
    }

    [SkippableFact]
    public void SubsetHashDependsOnlyOnTheNamedParameters()
    {
        var a = Parameters.FromJson("""{"pretraining":{"method":"SimClr","epochs":20},"trainer":"Lbfgs","l2":0.1}""");
        var b = Parameters.FromJson("""{"l2":3,"trainer":"Sdca","pretraining":{"epochs":20,"method":"SimClr"}}""");
        var c = Parameters.FromJson("""{"pretraining":{"method":"Byol","epochs":20},"trainer":"Lbfgs","l2":0.1}""");

        Assert.Equal(a.ComputeSubsetHash("pretraining"), b.ComputeSubsetHash("pretraining"));
        Assert.NotEqual(a.ComputeSubsetHash("pretraining"), c.ComputeSubsetHash("pretraining"));
        Assert.Equal(a.ComputeSubsetHash("pretraining.epochs", "trainer"), c.ComputeSubsetHash("trainer", "pretraining.epochs"));
        Assert.NotEqual(a.ComputeSubsetHash("l2"), b.ComputeSubsetHash("l2"));
        Assert.Equal(64, a.ComputeSubsetHash("l2").Length);
        Assert.Throws<KeyNotFoundException>(() => a.ComputeSubsetHash("pretraining.width"));
    }
}
