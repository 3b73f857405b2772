#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or older than package-lock.json, so that
# `npm start` and `npm test` work on a fresh clone. On Linux they include Node 24 LTS
# (node_modules/.bin/node), which npm scripts and npx then run Eddy on; the Node checked here only
# has to run npm. Everything else (Kafka jars, nats-server)
# is installed on demand by deploy/local/ when the local stack first starts.
set -euo pipefail
cd "$(dirname "$0")/../.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "eddy: Node.js 20 or newer is required to run npm (found $(node --version 2>/dev/null || echo none)); install Node.js 20 or newer." >&2
  exit 1
fi

marker=node_modules/.package-lock.json
if [ ! -f "$marker" ] || [ package-lock.json -nt "$marker" ]; then
  echo "eddy: installing npm dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
