// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { VMDK_ERROR_CODES } from '../../../src/core/index.js';
import { EXIT_CODES, exitCodeFor } from '../../../src/cli/exit-codes.js';
import { APP_ERROR_CODES } from '../../../src/shared/error-codes.js';

describe('exit codes', () => {
	it('are distinct numbers in 0..255', () => {
		const values = Object.values(EXIT_CODES);
		expect(new Set(values).size).toBe(values.length);
		for (const v of values) expect(v >= 0 && v <= 255).toBe(true);
	});

	it.each([...VMDK_ERROR_CODES, ...APP_ERROR_CODES])('%s maps to a failure status', (code) => {
		const status = exitCodeFor(code);
		expect(status).not.toBe(EXIT_CODES.OK);
		// Only bugs fall into the generic bucket; every known code has a specific status.
		if (code !== 'INTERNAL') expect(status).not.toBe(EXIT_CODES.FAILURE);
	});

	it('groups codes by what the user can do', () => {
		expect(exitCodeFor('USAGE')).toBe(2);
		expect(exitCodeFor('INPUT_NOT_FOUND')).toBe(EXIT_CODES.NOT_FOUND);
		expect(exitCodeFor('VMDK_MISSING_PARENT')).toBe(EXIT_CODES.NOT_FOUND);
		expect(exitCodeFor('VMDK_NOT_VMDK')).toBe(EXIT_CODES.BAD_IMAGE);
		expect(exitCodeFor('VMDK_TRUNCATED')).toBe(EXIT_CODES.BAD_IMAGE);
		expect(exitCodeFor('VMDK_UNSUPPORTED_TYPE')).toBe(EXIT_CODES.UNSUPPORTED);
		expect(exitCodeFor('VMDK_RAW_DEVICE_REFUSED')).toBe(EXIT_CODES.REFUSED);
		expect(exitCodeFor('OUTPUT_EXISTS')).toBe(EXIT_CODES.OUTPUT);
		expect(exitCodeFor('VMDK_IO')).toBe(EXIT_CODES.IO);
		expect(exitCodeFor('INTERRUPTED')).toBe(130);
		expect(exitCodeFor('INTERNAL')).toBe(1);
	});
});
