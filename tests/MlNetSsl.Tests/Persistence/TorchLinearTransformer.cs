using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MlNetSsl.MlNet.Persistence;
using MlNetSsl.Tests.Persistence;
using TorchSharp;
using static TorchSharp.torch;

[assembly: LoadableClass(typeof(TorchLinearTransformer), null, typeof(SignatureLoadModel),
    "Torch linear (test)", TorchLinearTransformer.LoaderSignature)]

namespace MlNetSsl.Tests.Persistence;

/// <summary>
/// The smallest transformer that proves the persistence plumbing: it holds a TorchSharp module (a linear layer with a
/// non-linearity) and maps a known-size float vector through it, saved and loaded through ML.NET's model zip.
/// </summary>
internal sealed class TorchLinearTransformer : RowToRowTransformerBase
{
    internal const string LoaderSignature = "MlNetSslTestTorchLinear";
    private const string WeightsStream = "Weights.bin";

    private readonly nn.Module<Tensor, Tensor> _module;
    private readonly object _moduleLock = new();
    internal string InputColumn { get; }
    internal string OutputColumn { get; }
    internal int InputSize { get; }
    internal int OutputSize { get; }

    internal TorchLinearTransformer(IHostEnvironment env, string outputColumn, string inputColumn, int inputSize, int outputSize, int seed)
        : base(env.Register(nameof(TorchLinearTransformer)))
    {
        SslEnvironment.EnsureInitialized();
        OutputColumn = outputColumn;
        InputColumn = inputColumn;
        InputSize = inputSize;
        OutputSize = outputSize;
        torch.manual_seed(seed);
        _module = BuildModule(inputSize, outputSize);
    }

    private static nn.Module<Tensor, Tensor> BuildModule(int inputSize, int outputSize)
    {
        var module = nn.Sequential(("linear", nn.Linear(inputSize, outputSize)), ("act", nn.Tanh()));
        module.eval();
        return module;
    }

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "MSSLTLIN",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(TorchLinearTransformer).Assembly.FullName);

    // Called by ML.NET through the LoadableClass registration above.
    private static TorchLinearTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        string output = ctx.LoadNonEmptyString();
        string input = ctx.LoadNonEmptyString();
        int inputSize = ctx.Reader.ReadInt32();
        int outputSize = ctx.Reader.ReadInt32();
        var transformer = new TorchLinearTransformer(env, output, input, inputSize, outputSize, seed: 0);
        byte[] weights = ModelStreams.LoadBlob(ctx, WeightsStream, "the test linear transformer");
        ModuleState.Load(transformer._module, weights, "the test linear transformer");
        return transformer;
    }

    public override void SaveModel(ModelSaveContext ctx)
    {
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.SaveNonEmptyString(OutputColumn);
        ctx.SaveNonEmptyString(InputColumn);
        ctx.Writer.Write(InputSize);
        ctx.Writer.Write(OutputSize);
        ModelStreams.SaveBlob(ctx, WeightsStream, ModuleState.ToBytes(_module));
    }

    public override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    internal float[] Forward(ReadOnlySpan<float> input)
    {
        lock (_moduleLock)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var x = torch.tensor(input.ToArray(), new long[] { 1, InputSize });
            return _module.forward(x).data<float>().ToArray();
        }
    }

    private sealed class Mapper : MapperBase
    {
        private readonly TorchLinearTransformer _owner;
        private readonly int _inputIndex;

        public Mapper(TorchLinearTransformer parent, DataViewSchema schema)
            : base(parent.Host.Register(nameof(Mapper)), schema, parent)
        {
            _owner = parent;
            if (!schema.TryGetColumnIndex(parent.InputColumn, out _inputIndex))
                throw new ArgumentOutOfRangeException(nameof(schema), $"Input column '{parent.InputColumn}' not found.");
        }

        public override DataViewSchema.DetachedColumn[] GetOutputColumnsCore() =>
            [new(_owner.OutputColumn, new VectorDataViewType(NumberDataViewType.Single, _owner.OutputSize))];

        public override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action disposer)
        {
            disposer = null!;
            var inputGetter = input.GetGetter<VBuffer<float>>(input.Schema[_inputIndex]);
            VBuffer<float> buffer = default;
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> dst) =>
            {
                inputGetter(ref buffer);
                float[] result = _owner.Forward(buffer.DenseValues().ToArray());
                var editor = VBufferEditor.Create(ref dst, result.Length);
                result.CopyTo(editor.Values);
                dst = editor.Commit();
            };
            return getter;
        }

        public override Func<int, bool> GetDependenciesCore(Func<int, bool> activeOutput) =>
            col => col == _inputIndex && activeOutput(0);

        public override void SaveModel(ModelSaveContext ctx) => _owner.SaveModel(ctx);
    }
}
