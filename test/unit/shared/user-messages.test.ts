// SPDX-License-Identifier: MIT
// Every error code a user can see has a message, and the table has no extras.
import { describe, expect, it } from 'vitest';
import { VMDK_ERROR_CODES } from '../../../src/core/index.js';
import { APP_ERROR_CODES } from '../../../src/shared/error-codes.js';
import { USER_MESSAGES, userMessage } from '../../../src/shared/user-messages.js';

const ALL_CODES = [...VMDK_ERROR_CODES, ...APP_ERROR_CODES];

describe('user messages', () => {
	it.each(ALL_CODES)('%s has a title and a description', (code) => {
		const m = userMessage(code);
		expect(m.title.length).toBeGreaterThan(3);
		// A short phrase: sentence case, no final period, fits one line of a dialog.
		expect(m.title).toMatch(/^[A-Z]/);
		expect(m.title).not.toMatch(/\.$/);
		expect(m.title.length).toBeLessThanOrEqual(40);
		expect(m.description).toMatch(/^[A-Z].*[.)]$/s);
	});

	it('has exactly one entry per code', () => {
		expect(Object.keys(USER_MESSAGES).sort()).toEqual([...new Set(ALL_CODES)].sort());
		expect(new Set(ALL_CODES).size).toBe(ALL_CODES.length);
	});

	it('gives different titles to different codes where a user must act differently', () => {
		const titles = ALL_CODES.map((c) => userMessage(c).title);
		expect(new Set(titles).size).toBe(titles.length);
	});
});
