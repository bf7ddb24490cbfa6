#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the app packages on a machine with internet (the Electron binary and fpm/AppImage tools
# are downloaded by electron-builder):
#
#   scripts/package.sh mac   [arm64|x64]   on a Mac   → out/*.dmg, out/*.zip
#   scripts/package.sh linux [x64|arm64]   on Linux   → out/*.AppImage, out/*.deb
#
# Steps: build (TypeScript, preload bundle, the renderer; the FUSE addon on Linux), fetch and
# check the Node.js runtime, stage the engine, validate the configuration, run electron-builder.
# Signing and notarisation on macOS use electron-builder's usual variables (CSC_LINK, APPLE_ID …).
set -euo pipefail
cd "$(dirname "$0")/.."
platform=${1:?usage: package.sh <mac|linux> [arch]}
arch=${2:-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')}
case $platform in
mac) os=darwin builder_os=mac ;;
linux) os=linux builder_os=linux ;;
*)
	echo "package.sh: platform must be mac or linux" >&2
	exit 2
	;;
esac

npm run build
if [ ! -f dist/renderer/index.html ]; then
	echo "package.sh: dist/renderer/index.html is missing: the window's page was not built" >&2
	exit 1
fi
if [ "$os" = linux ]; then npm run build:native; fi
bash scripts/fetch-node-runtime.sh "$os" "$arch"
node scripts/stage-engine.mjs --out "build/engine/$builder_os-$arch" --node "build/node-runtime/$os-$arch/node"
npm run package:check
npx electron-builder "--$builder_os" "--$arch" --publish never
