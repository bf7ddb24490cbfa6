// SPDX-License-Identifier: MIT
/** Text formatting for human output: sizes and aligned tables. */

const BINARY_UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** `1536` → `1.5 KiB`; below 1 KiB the exact count (`512 bytes`). */
export function formatBytes(bytes: number): string {
	if (bytes < 1024) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
	let value = bytes;
	let unit = 0;
	while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
		value /= 1024;
		unit++;
	}
	const digits = value >= 100 ? 0 : 1;
	return `${value.toFixed(digits)} ${BINARY_UNITS[unit]}`;
}

/** A size both ways: `64.0 MiB (67,108,864 bytes)`. */
export function formatSize(bytes: number): string {
	return bytes < 1024 ? formatBytes(bytes) : `${formatBytes(bytes)} (${bytes.toLocaleString('en-US')} bytes)`;
}

/** Seconds with one decimal: `1.2 s`; milliseconds below one second. */
export function formatDuration(ms: number): string {
	return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Rows padded into columns separated by two spaces; the last column is not padded. */
export function renderTable(rows: readonly (readonly string[])[], indent = ''): string {
	const widths: number[] = [];
	for (const row of rows) {
		row.forEach((cell, i) => {
			widths[i] = Math.max(widths[i] ?? 0, cell.length);
		});
	}
	return rows
		.map(
			(row) =>
				indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
		)
		.join('\n');
}
