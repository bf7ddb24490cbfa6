#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Downloads the Node.js runtime the packaged app ships for its engine (daemon + CLI; see
# docs/architecture.md) and checks it against nodejs.org's SHASUMS256.txt. Needs internet, so it
# runs where packages are built, not on our CI machines.
#
#   scripts/fetch-node-runtime.sh <darwin|linux> <arm64|x64>   → build/node-runtime/<os>-<arch>/node
#
# The version follows Electron's Node major (Electron 38 → Node 22); any Node ≥ 20.19 runs the
# engine, and the FUSE addons are N-API, so they load in any of them.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_RUNTIME_VERSION=${NODE_RUNTIME_VERSION:-22.23.3}
os=${1:?usage: fetch-node-runtime.sh <darwin|linux> <arm64|x64>}
arch=${2:?usage: fetch-node-runtime.sh <darwin|linux> <arm64|x64>}
case "$os-$arch" in darwin-arm64 | darwin-x64 | linux-x64 | linux-arm64) ;; *)
	echo "fetch-node-runtime: unsupported target $os-$arch" >&2
	exit 2
	;;
esac

base="https://nodejs.org/dist/v$NODE_RUNTIME_VERSION"
name="node-v$NODE_RUNTIME_VERSION-$os-$arch"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl --fail --silent --show-error --location --output "$work/$name.tar.gz" "$base/$name.tar.gz"
curl --fail --silent --show-error --location --output "$work/SHASUMS256.txt" "$base/SHASUMS256.txt"
(cd "$work" && grep " $name.tar.gz\$" SHASUMS256.txt | sha256sum --check --status) || {
	echo "fetch-node-runtime: checksum mismatch for $name.tar.gz" >&2
	exit 1
}
tar -xzf "$work/$name.tar.gz" -C "$work" "$name/bin/node"
out="build/node-runtime/$os-$arch"
mkdir -p "$out"
install -m 0755 "$work/$name/bin/node" "$out/node"
echo "fetch-node-runtime: $out/node (Node.js $NODE_RUNTIME_VERSION, checksum verified)"
