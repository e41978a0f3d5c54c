#!/usr/bin/env bash
# Sets up grpc-node's own interop client (grpc-node/test/interop/interop_client.js) OUTSIDE the
# repository, for tests/integration/test_grpc_interop.py, and prints the variable that enables it:
#   tests/integration/grpc_node/upstream_interop.sh [DEST [GRPC_NODE_GIT_DIR]]
# DEST defaults to /tmp/grpc-node-interop. Without GRPC_NODE_GIT_DIR it clones grpc/grpc-node
# from GitHub (not reachable from CI: there the test skips). DEST gets the client, the files it
# loads (test/any_grpc.js, test/proto, test/data: the interop certificates) and, from npm,
# @grpc/grpc-js, @grpc/proto-loader and the client's own dependencies; packages/grpc-js and
# packages/proto-loader, where the client looks for them in grpc-node's tree, point at those.
set -euo pipefail
dest=${1:-/tmp/grpc-node-interop}
src=${2:-}
if [[ -z "$src" ]]; then
  src=$(mktemp -d)/grpc-node
  git clone --depth 1 https://github.com/grpc/grpc-node "$src"
fi
mkdir -p "$dest/packages"
git -C "$src" archive HEAD test/interop/interop_client.js test/any_grpc.js test/proto test/data |
  tar -x -C "$dest"
cd "$dest"
[[ -f package.json ]] || echo '{"name": "grpc-node-interop", "private": true}' >package.json
npm install --no-audit --no-fund --loglevel=error @grpc/grpc-js @grpc/proto-loader lodash minimist \
  google-auth-library
ln -sfn ../node_modules/@grpc/grpc-js packages/grpc-js
ln -sfn ../node_modules/@grpc/proto-loader packages/proto-loader
echo "export SY_GRPC_NODE_INTEROP=$dest/test/interop/interop_client.js"
