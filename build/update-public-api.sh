#!/usr/bin/env bash
# Adds every public symbol the build reports as undeclared (RS0016) to the project's PublicAPI.Unshipped.txt, and removes
# entries for symbols that no longer exist (RS0017). Run it after a deliberate change to the public API, then review the
# diff of the PublicAPI files: that diff is the API change.
#   bash build/update-public-api.sh src/MlNetSsl/MlNetSsl.csproj
set -euo pipefail
project="$1"
dir="$(dirname "$project")"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
dotnet build "$project" -c Release --no-incremental -p:TreatWarningsAsErrors=false > "$log" 2>&1 || true
python3 - "$dir" "$log" <<'PY'
import re, sys
folder, log = sys.argv[1], sys.argv[2]
text = open(log, encoding="utf-8").read()
added = sorted(set(re.findall(r"RS0016: Symbol '(.+?)' is not part of the declared public API", text)))
removed = set(re.findall(r"RS0017: Symbol '(.+?)' is part of the declared API, but is either not public or could not be found", text))
path = f"{folder}/PublicAPI.Unshipped.txt"
lines = [l.rstrip("\n") for l in open(path, encoding="utf-8")]
header = [l for l in lines if l.startswith("#")]
body = sorted({l for l in lines if l and not l.startswith("#") and l not in removed} | set(added), key=lambda l: l.lstrip("~*"))
open(path, "w", encoding="utf-8").write("\n".join(header + body) + "\n")
print(f"{path}: +{len(added)} -{len(removed & set(lines))}")
PY
