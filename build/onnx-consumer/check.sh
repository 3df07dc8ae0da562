#!/usr/bin/env bash
# Proves the ONNX deployment path: the test assembly exports a pretrained MlNetSsl encoder to ONNX with the rows and
# embeddings TorchSharp gives, then an application outside the repository that references only Microsoft.ML,
# Microsoft.ML.OnnxTransformer and ONNX Runtime (no TorchSharp) loads the model, embeds the rows and compares.
# Needs the Release build of tests/MlNetSsl.Tests (CI's test step makes it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tests="$root/tests/MlNetSsl.Tests/bin/Release/net10.0/MlNetSsl.Tests.dll"
dotnet "$tests" export-onnx "$work/model.onnx" "$work/case.json"
mkdir "$work/app"
cp "$here/OnnxConsumer.csproj.template" "$work/app/OnnxConsumer.csproj"
cp "$here/Program.cs.template" "$work/app/Program.cs"
(cd "$work/app" && dotnet build -c Release --nologo -v quiet)
if find "$work/app/bin" -iname '*torch*' | grep -q .; then
  echo "error: the ONNX consumer's output holds TorchSharp or libtorch files" >&2
  exit 1
fi
(cd "$work/app" && dotnet run -c Release --no-build -- "$work/model.onnx" "$work/case.json")
echo "ONNX consumer check passed ($(du -sh "$work/app/bin/Release/net10.0" | cut -f1) deployed, no libtorch)"
