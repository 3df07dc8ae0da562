#!/usr/bin/env bash
# Proves the consumer path: pack MlNetSsl, build a console app outside the repository that references the packed
# package (from a local folder feed) plus TorchSharp-cpu, and run a TorchSharp op in it. On an older-glibc Linux
# this only works if the package's buildTransitive step patched the app's copy of libLibTorchSharp.so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
version="0.0.0-consumer.$(date +%s)"
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
cleanup() { rm -rf "$work" "$packages/mlnetssl/$version"; }
trap cleanup EXIT

dotnet pack "$root/src/MlNetSsl/MlNetSsl.csproj" -c Release -o "$work/feed" -p:Version="$version" --nologo -v quiet
mkdir "$work/app"
sed "s/@VERSION@/$version/" "$here/Consumer.csproj.template" > "$work/app/Consumer.csproj"
cp "$here/Program.cs.template" "$work/app/Program.cs"
# A local feed added to (not replacing) the machine's own package sources.
cat > "$work/app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="mlnetssl-local" value="$work/feed" />
  </packageSources>
</configuration>
XML
(cd "$work/app" && dotnet build -c Release --nologo -v quiet -p:NoWarn=NU1603)
output=$(cd "$work/app" && dotnet run -c Release --no-build)
echo "$output"
grep -q "consumer-ok" <<<"$output"
if [ "$(uname -s)" = Linux ]; then
  lib=$(find "$work/app/bin" -name libLibTorchSharp.so | head -n 1)
  echo "consumer copy: $(readelf -V -W "$lib" | grep 'Name: GLIBCXX_3.4.32' || echo 'no GLIBCXX_3.4.32 requirement')"
fi
echo "package consumer check passed"
