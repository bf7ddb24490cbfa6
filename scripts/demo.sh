#!/usr/bin/env bash
# The main job, for a newcomer on a fresh machine: set up, then open the app where Electron can
# run; otherwise make a sample VMDK, mount it through the CLI, list its files and unmount, then
# render the app's window for that disk in Chromium and save a screenshot of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ -x node_modules/electron/dist/electron ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -f dist/main/main.js ]; then
	exec node_modules/electron/dist/electron .
fi

work=$(mktemp -d /tmp/vmdk-demo.XXXXXX)
cli="node bin/vmdk-mounter.js"
# A private daemon for the demo, which exits two seconds after its last mount is gone.
export VMDK_MOUNTER_RUNTIME_DIR="$work/run" VMDK_MOUNTER_STATE_DIR="$work/state" VMDK_MOUNTER_MOUNT_ROOT="$work/mounts"
export VMDK_MOUNTER_IDLE_EXIT_MS=2000
cleanup() {
	$cli unmount --all >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== Making a sample disk: 64 MiB, MBR, one ext4 partition with two files"
raw="$work/sample.raw"
truncate -s 64M "$raw"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$raw"
part="$work/part.img"
truncate -s $((64 * 1024 * 1024 - 2048 * 512)) "$part"
mkdir -p "$work/content"
echo "Hello from inside a VMDK" > "$work/content/hello.txt"
head -c 300000 /dev/urandom > "$work/content/random.bin"
mkfs.ext4 -q -L sample -d "$work/content" "$part"
dd if="$part" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none
qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse "$raw" "$work/sample.vmdk"

echo "== vmdk-mounter info"
$cli info "$work/sample.vmdk"
echo "== vmdk-mounter mount"
$cli mount "$work/sample.vmdk"
echo "== vmdk-mounter list"
$cli list
mnt=$($cli list --json | node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); const v=j.disks[0].volumes.find(v=>v.mountpoint); console.log(v.mountpoint)')
echo "== files in $mnt"
ls -l "$mnt"
cat "$mnt/hello.txt"
echo "== vmdk-mounter unmount"
$cli unmount --all
echo "Done: the sample disk was mounted read-only, listed and unmounted."

# Electron cannot run here: show the app's window anyway — the same renderer and IPC handlers,
# in Debian's Chromium through the e2e test host (127.0.0.1 only, random token; it exits here).
echo "== The app's window (rendered in Chromium: Electron cannot run on this machine)"
if [ -x /usr/bin/chromium ]; then
	npx esbuild test/e2e/host/demo-window.ts --bundle --platform=node --format=esm --packages=external \
		--target=node20 --outfile=dist/e2e/demo-window.mjs --log-level=warning
	node dist/e2e/demo-window.mjs "$work/sample.vmdk" out/demo
else
	echo "Install Debian's chromium (scripts/setup.sh does) to see the app's window here."
fi
