#!/usr/bin/env bash
# Renders the app's icons from the SVG sources in resources/icon-src (drawn for this project).
# The results are committed; run this after editing a source. Tools (Debian): librsvg2-bin
# (rsvg-convert) and icnsutils (png2icns), both in scripts/setup.sh.
#
#   resources/icon.icns                 macOS app icon (electron-builder's buildResources default)
#   resources/icons/NxN.png             Linux icon set (16 … 1024), also the window icon
#   resources/tray/trayTemplate*.png    macOS menu-bar template images (18 pt, @2x), idle and mounted
#   resources/tray/tray-linux*.png      Linux tray icons (24 px, @2x), idle and mounted
set -euo pipefail
cd "$(dirname "$0")"
src=icon-src

render() { # svg size out
	rsvg-convert --width "$2" --height "$2" --keep-aspect-ratio --format png --output "$3" "$src/$1"
}

mkdir -p icons tray
for size in 16 32 48 64 128 256 512 1024; do
	render app-icon.svg "$size" "icons/${size}x${size}.png"
done
# png2icns takes the sizes macOS uses (16 32 48 128 256 512 1024) and picks each one's slot.
png2icns icon.icns icons/16x16.png icons/32x32.png icons/48x48.png icons/128x128.png \
	icons/256x256.png icons/512x512.png icons/1024x1024.png >/dev/null

render tray-template.svg 18 tray/trayTemplate.png
render tray-template.svg 36 tray/trayTemplate@2x.png
render tray-template-mounted.svg 18 tray/trayMountedTemplate.png
render tray-template-mounted.svg 36 tray/trayMountedTemplate@2x.png
render tray-linux.svg 24 tray/tray-linux.png
render tray-linux.svg 48 tray/tray-linux@2x.png
render tray-linux-mounted.svg 24 tray/tray-linux-mounted.png
render tray-linux-mounted.svg 48 tray/tray-linux-mounted@2x.png
echo "icons: $(rsvg-convert --version); $(ls icons tray | grep -c png) PNGs and icon.icns"
