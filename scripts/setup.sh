#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine (as root) or a developer checkout:
# system packages, `npm ci`, build. Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every Debian package the app, its helpers and the tests use.
PACKAGES=(
	build-essential python3 pkg-config fuse3
	libfuse3-dev libfuse-dev                              # our FUSE addon (libfuse 3); @cocalc/fuse-native (libfuse 2)
	qemu-utils libvmdk-utils                              # peers: qemu-img / qemu-io, vmdkmount
	libdeflate-dev                                        # our codec addon (native/codec): grains, SEEK_DATA
	util-linux fdisk gdisk                                # blkid, losetup, sfdisk, sgdisk
	e2fsprogs fuse2fs dosfstools fusefat exfatprogs exfat-fuse ntfs-3g
	xfsprogs btrfs-progs lvm2 cryptsetup-bin genisoimage udftools apfsprogs
	mtools procps psmisc time                             # mcopy for FAT fixtures; fuser/ps; /usr/bin/time in bench
	chromium                                              # the app's window in e2e tests, benches and the demo
	librsvg2-bin icnsutils                                # resources/make-icons.sh: rsvg-convert, png2icns
)

if [ "$(uname -s)" = Linux ] && command -v apt-get >/dev/null; then
	missing=()
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if ((${#missing[@]})); then
		echo "setup: installing ${missing[*]}"
		SUDO=""
		[ "$(id -u)" = 0 ] || SUDO=sudo
		$SUDO apt-get update
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
	fi
elif [ "$(uname -s)" = Darwin ]; then
	echo "setup: on macOS install macFUSE (or FUSE-T) and, for ext/NTFS, fuse-ext2 and ntfs-3g; see README"
	# fuse-native (libfuse 2) finds macFUSE through fuse.pc; with FUSE-T alone, point it at FUSE-T
	# (node-gyp turns npm_config_* into gyp variables). Not tried here: docs/macos.md.
	if ! pkg-config --exists fuse 2>/dev/null && [ -f /usr/local/lib/libfuse-t.dylib ]; then
		headers=/Library/Frameworks/fuse_t.framework/Versions/Current/Headers
		[ -d "$headers" ] || headers=/usr/local/include/fuse
		export npm_config_fuse__include_dirs="$headers"
		export npm_config_fuse__libraries="-L/usr/local/lib -lfuse-t"
	fi
fi

# The Electron binary cannot be downloaded everywhere; the CLI and daemon do not need it.
export ELECTRON_SKIP_BINARY_DOWNLOAD=1
stamp=node_modules/.package-lock.sha256
want=$( (command -v sha256sum >/dev/null && sha256sum || shasum -a 256) <package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	npm ci
	echo "$want" > "$stamp"
fi

npm run --silent build

# Our libdeflate addon (native/codec): fast grain (de)compression and SEEK_DATA for raw inputs.
# Where it cannot build (no libdeflate) the engine uses Node's zlib and reads holes.
codec=native/codec/build/Release/vmdk_codec.node
if [ ! -f "$codec" ] || [ -n "$(find native/codec/vmdk_codec.c native/codec/binding.gyp -newer "$codec")" ]; then
	if pkg-config --exists libdeflate 2>/dev/null; then
		npx --no-install node-gyp rebuild --loglevel=warn --directory native/codec >/dev/null
	else
		echo "setup: libdeflate not found; compressed grains use Node's zlib (slower)"
	fi
fi

# Our libfuse 3 addon (native/fuse3): rebuilt when its sources are newer than the build. Where
# it cannot build (no libfuse 3, e.g. macOS with macFUSE) the daemon falls back to fuse-native.
addon=native/fuse3/build/Release/vmdk_fuse3.node
if [ ! -f "$addon" ] || [ -n "$(find native/fuse3/vmdk_fuse3.c native/fuse3/binding.gyp -newer "$addon")" ]; then
	# macFUSE 4.10+ has libfuse 3 even where pkg-config is missing (binding.gyp falls back to its paths).
	if pkg-config --exists fuse3 2>/dev/null || [ -f /usr/local/include/fuse3/fuse_lowlevel.h ]; then
		npx --no-install node-gyp rebuild --loglevel=warn --directory native/fuse3 >/dev/null
	else
		echo "setup: libfuse 3 not found; the FUSE export uses @cocalc/fuse-native (slower sequential reads)"
	fi
fi
