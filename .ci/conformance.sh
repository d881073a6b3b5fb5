#!/usr/bin/env bash
# Official MCP conformance suite (@modelcontextprotocol/conformance) against a running MCP endpoint.
#
#   usage: bash .ci/conformance.sh URL OUTDIR
#
# Three runs, each writing <OUTDIR>/<run>/server-<scenario>-<timestamp>/checks.json and <OUTDIR>/<run>.log:
#   v0.1.16-active          conformance 0.1.16, active suite: every scenario must pass
#   v0.2.0-alpha.12-2025-11-25  conformance 0.2.0-alpha.12 --requirements 2025-11-25 (frozen legacy set)
#   v0.2.0-alpha.12-2026-07-28  conformance 0.2.0-alpha.12 --requirements 2026-07-28 (frozen modern set)
# A requirement run fails when a scored scenario fails, or an extension scenario (the tasks-* ones of the
# io.modelcontextprotocol/tasks extension, which this server implements) fails; the other scenarios the
# suite reports under "Not scored for <rev>" (pending, added-after-release) are shown but never fail it.
#
# Node >= 22 is required by the suite; Node 22 and both suite versions come from the npm registry and
# are cached (idempotent) under ${CONFORMANCE_HOME:-$HOME/.cache/callmcp-conformance}. Needs `npm` on
# PATH only for the first install. CONFORMANCE_TIMEOUT_MS sets alpha.12's per-scenario timeout.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: bash $0 URL OUTDIR" >&2
  exit 2
fi
URL=$1
OUTDIR=$2

CONF_HOME=${CONFORMANCE_HOME:-$HOME/.cache/callmcp-conformance}
# Node 22 (NODE_BIN, ensure_node22, npm_install_into) comes from the script the interop tests use.
source "$(dirname "${BASH_SOURCE[0]}")/../tests/interop/node.sh"
V_LEGACY=0.1.16
V_ALPHA=0.2.0-alpha.12
TIMEOUT_MS=${CONFORMANCE_TIMEOUT_MS:-30000}

mkdir -p "$CONF_HOME" "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

# ---------------------------------------------------------------- install (cached, idempotent)
install_all() {
  ensure_node22
  local v dir have
  for v in "$V_LEGACY" "$V_ALPHA"; do
    dir="$CONF_HOME/conformance-$v"
    have=$("$NODE_BIN/node" -p "require('$dir/node_modules/@modelcontextprotocol/conformance/package.json').version" 2>/dev/null || true)
    if [[ "$have" != "$v" ]]; then
      echo "== installing @modelcontextprotocol/conformance@$v into $dir"
      npm_install_into "$dir" "@modelcontextprotocol/conformance@$v"
    fi
  done
}

exec 9>"$CONF_HOME/.install.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
install_all
flock -u 9 2>/dev/null || true
exec 9>&-

export PATH="$NODE_BIN:$PATH"
echo "== node $(node --version); conformance $V_LEGACY and $V_ALPHA; target $URL"

# ---------------------------------------------------------------- summary of one run
# Reads the suite's own "=== SUMMARY ===" / "Not scored for" sections from the log (so a scenario that
# crashed without writing checks.json still counts) and the failing checks from checks.json.
SUMMARIZE_JS='
const fs = require("fs"), path = require("path");
const [log, dir, label] = process.argv.slice(1);
const text = fs.readFileSync(log, "utf8");
const lines = text.split("\n");
const start = lines.lastIndexOf("=== SUMMARY ===");
const rows = [], unscored = new Map();
let inUnscored = false;
for (const l of start < 0 ? [] : lines.slice(start + 1)) {
  let m = l.match(/^([✓✗]) (\S+): (\d+) passed, (\d+) failed$/u);
  if (m) { rows.push({ name: m[2], passed: +m[3], failed: +m[4] }); continue; }
  if (/^Not scored for /.test(l)) { inUnscored = true; continue; }
  m = inUnscored && l.match(/^\s+[✓✗] (\S+) \(([^)]*)\)/u);
  if (m) unscored.set(m[1], m[2]);
}
const checksFor = (name) => {
  const prefix = "server-" + name + "-";
  let entries = [];
  try { entries = fs.readdirSync(dir).filter((d) => d.startsWith(prefix) && /^\d{4}-\d\d-\d\dT/.test(d.slice(prefix.length))); } catch {}
  entries.sort();
  for (const d of entries.reverse()) {
    try { return JSON.parse(fs.readFileSync(path.join(dir, d, "checks.json"), "utf8")); } catch {}
  }
  return null;
};
const oneLine = (s, n = 400) => { s = String(s).replace(/\s+/g, " ").trim(); return s.length > n ? s.slice(0, n) + "…" : s; };
const scored = rows.filter((r) => !unscored.has(r.name)), extra = rows.filter((r) => unscored.has(r.name));
const failedScored = scored.filter((r) => r.failed > 0), failedExtra = extra.filter((r) => r.failed > 0);
const warn = [];
console.log(`-- ${label}: scored scenarios ${scored.length - failedScored.length}/${scored.length} passed` +
  ` (checks ${scored.reduce((a, r) => a + r.passed, 0)} passed, ${scored.reduce((a, r) => a + r.failed, 0)} failed)` +
  (extra.length ? `; not scored: ${extra.length - failedExtra.length}/${extra.length} passed` : ""));
if (start < 0) console.log("   (no SUMMARY in the suite output; see " + log + ")");
const show = (r, tag) => {
  console.log(`   FAIL ${r.name}${tag}: ${r.passed} passed, ${r.failed} failed`);
  const checks = checksFor(r.name);
  if (!checks) {
    const m = text.match(new RegExp("Failed to run scenario " + r.name.replace(/[-/]/g, "\\$&") + ":(.*)"));
    console.log("      (no checks.json" + (m ? "; suite error:" + oneLine(m[1]) : "") + ")");
    return;
  }
  for (const c of checks.filter((c) => c.status === "FAILURE")) {
    console.log(`      - ${c.id}${c.name && c.name !== c.id ? " [" + c.name + "]" : ""}: ${oneLine(c.errorMessage || c.description || "")}`);
  }
};
for (const r of failedScored) show(r, "");
// Extension scenarios (tasks-*) must pass too; pending/added-after-release ones are shown in full detail only.
const extension = extra.filter((r) => unscored.get(r.name) === "extension");
const ext = failedExtra.filter((r) => unscored.get(r.name) === "extension");
if (extension.length) console.log(`   extension scenarios ${extension.length - ext.length}/${extension.length} passed`);
for (const r of ext) show(r, " (extension)");
for (const r of failedExtra.filter((r) => !ext.includes(r))) show(r, ` (not scored: ${unscored.get(r.name)})`);
for (const r of scored) {
  const checks = checksFor(r.name) || [];
  for (const c of checks.filter((c) => c.status === "WARNING")) warn.push(`${r.name}/${c.id}: ${oneLine(c.errorMessage || c.description || "", 200)}`);
}
if (warn.length) { console.log(`   warnings (${warn.length}):`); for (const w of warn) console.log("      ~ " + w); }
process.exit(start < 0 || failedScored.length > 0 || ext.length > 0 ? 1 : 0);
'

# ---------------------------------------------------------------- runs
FAILED_RUNS=()
run_suite() { # label version [extra args...]
  local label=$1 version=$2
  shift 2
  local dir="$OUTDIR/$label" log="$OUTDIR/$label.log" rc=0 t0 t1 secs
  rm -rf "$dir"
  mkdir -p "$dir"
  echo
  echo "== $label: conformance@$version server --url $URL $*"
  t0=$(date +%s.%N)
  (cd "$CONF_HOME/conformance-$version" &&
    npx --no conformance server --url "$URL" -o "$dir" "$@") >"$log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  local src=0
  node -e "$SUMMARIZE_JS" "$log" "$dir" "$label" || src=$?
  echo "   suite exit code $rc, ${secs}s; log $log; results $dir"
  if [[ $rc -ne 0 || $src -ne 0 ]]; then
    FAILED_RUNS+=("$label")
  fi
}

run_suite "v$V_LEGACY-active" "$V_LEGACY"
run_suite "v$V_ALPHA-2025-11-25" "$V_ALPHA" --requirements 2025-11-25 --timeout "$TIMEOUT_MS"
run_suite "v$V_ALPHA-2026-07-28" "$V_ALPHA" --requirements 2026-07-28 --timeout "$TIMEOUT_MS"

echo
if [[ ${#FAILED_RUNS[@]} -gt 0 ]]; then
  echo "== conformance FAILED: ${FAILED_RUNS[*]}"
  exit 1
fi
echo "== conformance passed: all three runs"
