// PLACEHOLDER so this branch compiles: the code generator comes from the codegen branch, whose file replaces this one at merge.
namespace MlNetSsl.Cli.CodeGen;

/// <summary>Generates &lt;Name&gt;.ConsoleApp and &lt;Name&gt;.WebApi for a trained model (placeholder).</summary>
internal static class ConsumptionCodeGenerator
{
    public static void Generate(string runFolder, string name, ModelInputSchema schema) => throw new NotImplementedException();
}
