#!/usr/bin/env bash
# The AWS Lambda Runtime Interface Emulator for tests/calls/poller/test_interfaces.py: the binary that the
# aws-sam-cli wheel ships (no Docker needed), unpacked once into ~/.cache/callmcp-rie.
set -euo pipefail
CACHE=${CALLMCP_RIE_CACHE:-$HOME/.cache/callmcp-rie}
BIN="$CACHE/aws-lambda-rie-x86_64"
PY=${PY:-.venv/bin/python}
[[ -x "$BIN" ]] && exit 0
mkdir -p "$CACHE/dl"
"$PY" -m pip download --quiet --no-deps -d "$CACHE/dl" aws-sam-cli
"$PY" - "$CACHE" <<'PYTHON'
import glob, os, sys, zipfile
cache = sys.argv[1]
wheel = sorted(glob.glob(os.path.join(cache, "dl", "aws_sam_cli-*.whl")))[-1]
with zipfile.ZipFile(wheel) as archive:
    data = archive.read("samcli/local/rapid/aws-lambda-rie-x86_64")
target = os.path.join(cache, "aws-lambda-rie-x86_64")
with open(target, "wb") as out:
    out.write(data)
os.chmod(target, 0o755)
PYTHON
echo "Lambda Runtime Interface Emulator unpacked to $BIN"
