#!/usr/bin/env bash
# Proves the CLI as users get it: packs MlNetSsl and the mlnet-ssl tool into a local folder feed, installs the tool with
# --tool-path (on an older-glibc Linux, TorchSharp loads only if the package holds the patched libLibTorchSharp.so),
# runs a short classification, then builds the generated <Name>.ConsoleApp and <Name>.WebApi against the same feed
# and checks that both predict what `mlnet-ssl predict` writes for the same rows.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data="$root/../shared/data/tabular/abalone.csv"
work=$(mktemp -d)
version="0.0.0-cli.$(date +%s)"
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
web_pid=""
cleanup() {
  if [ -n "$web_pid" ]; then kill "$web_pid" 2>/dev/null || true; fi
  rm -rf "$work" "$packages/mlnetssl/$version" "$packages/mlnetssl.cli/$version" "$packages"/mlnetssl.cli.*/"$version"
}
trap cleanup EXIT
start=$(date +%s)
step() { echo "-- $1 ($(( $(date +%s) - start )) s)"; }
command -v python3 >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq python3; }
command -v curl >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq curl; }

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) rid=linux-x64 ;;
  Darwin-arm64) rid=osx-arm64 ;;
  *) rid=win-x64 ;;
esac

step "pack MlNetSsl and MlNetSsl.Cli ($rid) $version"
dotnet pack "$root/src/MlNetSsl/MlNetSsl.csproj" -c Release -o "$work/feed" -p:Version="$version" --nologo -v quiet
dotnet pack "$root/src/MlNetSsl.Cli/MlNetSsl.Cli.csproj" -c Release -o "$work/feed" -p:Version="$version" \
  -p:ToolPackageRuntimeIdentifiers="$rid" --nologo -v quiet
ls -l "$work/feed"

step "install the tool with --tool-path"
dotnet tool install --tool-path "$work/tools" --add-source "$work/feed" MlNetSsl.Cli --version "$version"
tool="$work/tools/mlnet-ssl"
"$tool" --help
if [ "$(uname -s)" = Linux ]; then
  lib=$(find "$work/tools/.store" -name libLibTorchSharp.so | head -n 1)
  echo "installed copy: $(readelf -V -W "$lib" | grep 'Name: GLIBCXX_3.4.32' || echo 'no GLIBCXX_3.4.32 requirement')"
fi

# A small table with a text column, seven numbers, an age class as label and every third label left empty (unlabeled).
mkdir "$work/data"
awk -F, 'BEGIN { OFS = ","; print "sex,length,diameter,height,whole,shucked,viscera,shell,age" }
  NR <= 240 { age = ($9 < 8) ? "young" : (($9 < 11) ? "adult" : "old"); if (NR % 3 == 0) age = "";
              print $1, $2, $3, $4, $5, $6, $7, $8, age }' "$data" > "$work/data/abalone.csv"

step "mlnet-ssl classification"
"$tool" classification --dataset "$work/data/abalone.csv" --label-col age --has-header true \
  --train-time 30 --max-trials 2 --seed 1 --name Abalone -o "$work/out"
run="$work/out/Abalone"
for file in Abalone.zip run.json trials.jsonl leaderboard.csv report.html log.txt Abalone.ConsoleApp/Abalone.ConsoleApp.csproj Abalone.ConsoleApp/Abalone.consumption.cs \
            Abalone.ConsoleApp/Program.cs Abalone.WebApi/Abalone.WebApi.csproj Abalone.WebApi/Program.cs; do
  [ -f "$run/$file" ] || { echo "error: the run did not write $file" >&2; exit 1; }
done

step "mlnet-ssl predict"
"$tool" predict --model "$run/Abalone.zip" --dataset "$work/data/abalone.csv" --out "$work/predictions.csv"

# The generated projects restore from the local feed added to (not replacing) the machine's own package sources.
cat > "$work/out/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="mlnetssl-local" value="$work/feed" />
  </packageSources>
</configuration>
XML

# Passes when predictions.csv has a row holding the predicted label and every score (relative tolerance 1e-4);
# with a row number, only that data row counts. Format-agnostic: any column order, extra columns allowed.
compare() { # label, comma-separated scores, [data row number]
  python3 - "$work/predictions.csv" "$1" "$2" "${3:-}" <<'PY'
import csv, math, sys
path, label, scores, only = sys.argv[1], sys.argv[2], [float(s) for s in sys.argv[3].split(",")], sys.argv[4]
rows = list(csv.reader(open(path, newline="")))[1:]
if only: rows = [rows[int(only) - 1]]
def numbers(row):
    out = []
    for field in row:
        try: out.append(float(field))
        except ValueError: pass
    return out
def holds(row):
    values = numbers(row)
    return label in row and all(any(math.isclose(s, v, rel_tol=1e-4, abs_tol=1e-6) for v in values) for s in scores)
match = next((i for i, row in enumerate(rows) if holds(row)), None)
if match is None:
    sys.exit(f"error: no row of {path} predicts {label} with scores {scores}")
print(f"matches predictions.csv: {label} {scores}")
PY
}

step "build and run $run/Abalone.ConsoleApp"
(cd "$run/Abalone.ConsoleApp" && dotnet build -c Release --nologo -v quiet -p:TreatWarningsAsErrors=true -p:NoWarn=NU1603)
console=$(cd "$run/Abalone.ConsoleApp" && dotnet run -c Release --no-build)
echo "$console"
label=$(sed -n 's/^Predicted label: //p' <<<"$console")
scores=$(sed -n 's/^Scores, best first: //p' <<<"$console" | sed 's/[^,]*=//g; s/ //g')
compare "$label" "$scores"

step "build and start $run/Abalone.WebApi"
(cd "$run/Abalone.WebApi" && dotnet build -c Release --nologo -v quiet -p:TreatWarningsAsErrors=true -p:NoWarn=NU1603)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$run/Abalone.WebApi" && exec dotnet bin/Release/net10.0/Abalone.WebApi.dll --urls "http://127.0.0.1:$port") > "$work/webapi.log" 2>&1 &
web_pid=$!
for _ in $(seq 1 60); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  kill -0 "$web_pid" 2>/dev/null || { cat "$work/webapi.log"; echo "error: the Web API exited" >&2; exit 1; }
  sleep 1
done
# The first data row as JSON, by column name (the API binds property names case-insensitively).
body=$(python3 - "$work/data/abalone.csv" <<'PY'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
header, row = rows[0], rows[1]
print(json.dumps({name: (value if name == "sex" else float(value)) for name, value in zip(header, row) if name != "age"}))
PY
)
answer=$(curl -s -f -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/predict")
echo "POST /predict $body -> $answer"
web_label=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["predictedLabel"])' "$answer")
web_scores=$(python3 -c 'import json, sys; print(",".join(repr(s) for s in json.loads(sys.argv[1])["score"]))' "$answer")
compare "$web_label" "$web_scores" 1

# The README runs the tool from its source tree (dotnet run --project src/MlNetSsl.Cli): no feed holds an MlNetSsl
# package then, so the generated projects reference the tree's library project. They must build under warnings as
# errors without a NoWarn (NU1603 from this partial mirror stays a warning) and run, outside the repository.
step "source-tree tool: classification, then build and run the generated console app"
source_tool="$root/src/MlNetSsl.Cli/bin/Release/net10.0/mlnet-ssl.dll"
[ -f "$source_tool" ] || dotnet build "$root/src/MlNetSsl.Cli/MlNetSsl.Cli.csproj" -c Release --nologo -v quiet
dotnet "$source_tool" classification --dataset "$work/data/abalone.csv" --label-col age --has-header true \
  --train-time 10 --max-trials 1 --seed 1 --name FromSource -o "$work/source-out" -v q
grep -q '<ProjectReference Include="\.\./' "$work/source-out/FromSource/FromSource.ConsoleApp/FromSource.ConsoleApp.csproj" \
  || { echo "error: the source-tree tool did not reference the library project by a relative path" >&2; exit 1; }
(cd "$work/source-out/FromSource/FromSource.ConsoleApp" && dotnet build -c Release --nologo -v quiet -p:TreatWarningsAsErrors=true)
source_console=$(cd "$work/source-out/FromSource/FromSource.ConsoleApp" && dotnet run -c Release --no-build)
echo "$source_console"
grep -q '^Predicted label: ' <<<"$source_console" || { echo "error: the source-tree console app printed no prediction" >&2; exit 1; }

step "CLI consumer check passed"
