#!/usr/bin/env bash
# Installs llama.cpp's prebuilt CPU library as shipped by the npm package node-llama-cpp (pinned),
# into the project-local, git-ignored folder .llamacpp/, for the opt-in llama.cpp checks
# (scripts/llamacpp_check.sh, scripts/bench_llamacpp.sh). Needs npm, the npm registry and git;
# nothing else in harpe uses it. Prints the folder to pass as -DHARPE_LLAMACPP_DIR; it holds
#   lib/      links to libllama / libggml* (the package's linux-x64 binaries; the CPU backends
#             libggml-cpu-*.so are loaded from the same folder at run time)
#   include/  links to llama.h and ggml*.h, from the llama.cpp source the package bundles (a git
#             bundle, checked out to .llamacpp/src)
#
#   scripts/llamacpp_setup.sh            # installs (or reuses) .llamacpp/, prints its path
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.22.1
DIR=$PWD/.llamacpp
PKG=$DIR/node_modules/node-llama-cpp
BIN=$DIR/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
installed() { node -p "require('$1/package.json').version" 2>/dev/null || true; }
if [[ "$(installed "$PKG")" != "$VERSION" || ! -d $BIN ]]; then
  mkdir -p "$DIR"
  [[ -f $DIR/package.json ]] || echo '{"name":"harpe-llamacpp","private":true}' >"$DIR/package.json"
  # Only the linux-x64 CPU binaries (the other optional platform packages are ~700 MB);
  # --ignore-scripts: nothing is compiled or downloaded by install scripts.
  (cd "$DIR" && npm install --no-save --no-audit --no-fund --ignore-scripts --omit=optional \
    "node-llama-cpp@$VERSION" "@node-llama-cpp/linux-x64@$VERSION" >&2)
fi
if [[ ! -f $DIR/src/include/llama.h ]]; then
  rm -rf "$DIR/src"
  git -c advice.detachedHead=false clone -q "$PKG/llama/gitRelease.bundle" "$DIR/src" >&2
fi
lib=$(find "$BIN" -maxdepth 1 -name 'libllama.*so' | head -1)
ggml=$(find "$BIN" -maxdepth 1 -name 'libggml.*so' | head -1)
[[ -f $lib && -f $ggml && -f $BIN/libggml-base.so ]] || {
  echo "llamacpp_setup: no libllama / libggml in $BIN" >&2
  exit 1
}
[[ -f $DIR/src/include/llama.h && -f $DIR/src/ggml/include/ggml.h ]] || {
  echo "llamacpp_setup: no llama.h / ggml.h in $DIR/src" >&2
  exit 1
}
rm -rf "$DIR/lib" "$DIR/include"
mkdir -p "$DIR/lib" "$DIR/include"
ln -s "$lib" "$DIR/lib/libllama.so"
ln -s "$ggml" "$DIR/lib/libggml.so"
ln -s "$BIN/libggml-base.so" "$DIR/lib/libggml-base.so"
ln -s "$DIR"/src/include/*.h "$DIR"/src/ggml/include/*.h "$DIR/include/"
echo "$DIR"
