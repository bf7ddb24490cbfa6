// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatSize, renderTable } from '../../../src/cli/format.js';

describe('format', () => {
	it('formats sizes in binary units', () => {
		expect(formatBytes(0)).toBe('0 bytes');
		expect(formatBytes(1)).toBe('1 byte');
		expect(formatBytes(1023)).toBe('1023 bytes');
		expect(formatBytes(1536)).toBe('1.5 KiB');
		expect(formatBytes(64 * 1024 * 1024)).toBe('64.0 MiB');
		expect(formatBytes(2 * 1024 ** 4)).toBe('2.0 TiB');
		expect(formatBytes(500 * 1024 ** 3)).toBe('500 GiB');
		expect(formatSize(67108864)).toBe('64.0 MiB (67,108,864 bytes)');
		expect(formatDuration(250.4)).toBe('250 ms');
		expect(formatDuration(1250)).toBe('1.3 s');
	});

	it('aligns table columns and leaves the last one unpadded', () => {
		expect(
			renderTable(
				[
					['a', 'bbb', 'c'],
					['dddd', 'e', 'ffff'],
				],
				'  ',
			),
		).toBe('  a     bbb  c\n  dddd  e    ffff');
	});
});
