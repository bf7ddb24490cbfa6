// SPDX-License-Identifier: MIT
// The trusted-sender rule: only the main frame of one of our windows, on our own page.
import { describe, expect, it } from 'vitest';
import { isSameDocument, trustedSenderCheck } from '../../../src/main/ipc/sender.js';

const PAGE = 'file:///Applications/VMDK%20Mounter.app/Contents/Resources/app.asar/dist/renderer/index.html';

describe('trusted sender', () => {
	const windows = new Set([3]);
	const check = trustedSenderCheck({ pageUrl: PAGE, webContentsIds: () => windows });

	it('accepts our window on our page, with or without a fragment', () => {
		expect(check({ frameUrl: PAGE, isMainFrame: true, webContentsId: 3 })).toBe(true);
		expect(check({ frameUrl: `${PAGE}#helpers`, isMainFrame: true, webContentsId: 3 })).toBe(true);
	});

	it.each([
		['a subframe', { frameUrl: PAGE, isMainFrame: false, webContentsId: 3 }],
		['another window', { frameUrl: PAGE, isMainFrame: true, webContentsId: 4 }],
		['a remote page', { frameUrl: 'https://example.com/index.html', isMainFrame: true, webContentsId: 3 }],
		['another local file', { frameUrl: 'file:///tmp/index.html', isMainFrame: true, webContentsId: 3 }],
		['our page with a query', { frameUrl: `${PAGE}?x=1`, isMainFrame: true, webContentsId: 3 }],
		['about:blank', { frameUrl: 'about:blank', isMainFrame: true, webContentsId: 3 }],
		['an unparsable URL', { frameUrl: 'not a url', isMainFrame: true, webContentsId: 3 }],
	])('refuses %s', (_what, sender) => {
		expect(check(sender)).toBe(false);
	});

	it('follows windows as they come and go', () => {
		windows.add(9);
		expect(check({ frameUrl: PAGE, isMainFrame: true, webContentsId: 9 })).toBe(true);
		windows.delete(9);
		expect(check({ frameUrl: PAGE, isMainFrame: true, webContentsId: 9 })).toBe(false);
	});

	it('compares normalised URLs', () => {
		expect(isSameDocument('http://127.0.0.1:80/t/index.html', 'http://127.0.0.1/t/index.html')).toBe(true);
		expect(isSameDocument('http://127.0.0.1/t/../t/index.html', 'http://127.0.0.1/t/index.html')).toBe(true);
		expect(isSameDocument('http://127.0.0.2/t/index.html', 'http://127.0.0.1/t/index.html')).toBe(false);
	});
});
