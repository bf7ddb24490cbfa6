// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import {
	OpenRequestQueue,
	fromDialog,
	fromOpenFile,
	fromSecondInstance,
	isLaunchData,
	leadingArgCount,
	parseArgv,
	type OpenRequest,
} from '../../../src/main/launch/open-request.js';

const packaged = leadingArgCount(false);
const dev = leadingArgCount(true);

describe('parseArgv (first launch)', () => {
	it('skips the executable, switches and macOS -psn; resolves relative paths against cwd', () => {
		const request = parseArgv(
			['/opt/VMDK Mounter/vmdk-mounter-app', '--no-sandbox', '-psn_0_1234', 'disk.vmdk', '../vm/win.vmx'],
			{ cwd: '/home/u/vms', leading: packaged, via: 'launch-argv' },
		);
		expect(request).toEqual({
			kind: 'open',
			via: 'launch-argv',
			paths: ['/home/u/vms/disk.vmdk', '/home/u/vm/win.vmx'],
			rejected: [],
		});
	});

	it('skips the app folder too when Electron runs a checkout (electron .)', () => {
		const request = parseArgv(['/usr/lib/electron/electron', '.', '/tmp/a.vmdk'], {
			cwd: '/src/app',
			leading: dev,
			via: 'launch-argv',
		});
		expect(request).toMatchObject({ kind: 'open', paths: ['/tmp/a.vmdk'] });
	});

	it('is a focus request when nothing is named', () => {
		expect(
			parseArgv(['/app', '--enable-logging'], { cwd: '/', leading: packaged, via: 'launch-argv' }),
		).toEqual({
			kind: 'focus',
			via: 'launch-argv',
			rejected: [],
		});
	});

	it('turns file:// URLs from a desktop entry (%U) into paths, percent-decoded', () => {
		const url = pathToFileURL('/home/u/My VMs/Windows 10.vmwarevm').href;
		expect(url).toContain('%20');
		const request = parseArgv(['/app', url], { cwd: '/', leading: packaged, via: 'launch-argv' });
		expect(request).toMatchObject({ kind: 'open', paths: ['/home/u/My VMs/Windows 10.vmwarevm'] });
	});

	it('rejects network locations with a reason and keeps the rest', () => {
		const request = parseArgv(
			['/app', 'smb://server/share/d.vmdk', '/ok.vmdk', 'file://remote-host/x.vmdk'],
			{
				cwd: '/',
				leading: packaged,
				via: 'launch-argv',
			},
		);
		expect(request.kind).toBe('open');
		expect(request.kind === 'open' && request.paths).toEqual(['/ok.vmdk']);
		expect(request.rejected.map((r) => r.arg)).toEqual([
			'smb://server/share/d.vmdk',
			'file://remote-host/x.vmdk',
		]);
		expect(request.rejected[0]?.reason).toMatch(/only local files/);
	});

	it('treats everything after -- as paths, even names starting with a dash', () => {
		const request = parseArgv(['/app', '--', '-odd name.vmdk'], {
			cwd: '/d',
			leading: packaged,
			via: 'launch-argv',
		});
		expect(request).toMatchObject({ kind: 'open', paths: ['/d/-odd name.vmdk'] });
	});

	it('drops duplicates (the same disk named twice) and normalises . and ..', () => {
		const request = parseArgv(['/app', '/a/b/../c.vmdk', '/a/./c.vmdk', 'c.vmdk'], {
			cwd: '/a',
			leading: packaged,
			via: 'launch-argv',
		});
		expect(request).toMatchObject({ kind: 'open', paths: ['/a/c.vmdk'] });
	});

	it('rejects NUL bytes and over-long arguments, and bounds the number of arguments', () => {
		const request = parseArgv(['/app', 'a\0b', 'x'.repeat(9000)], {
			cwd: '/',
			leading: packaged,
			via: 'launch-argv',
		});
		expect(request.kind).toBe('focus');
		expect(request.rejected.map((r) => r.reason)).toEqual(['argument contains NUL', 'argument too long']);
		const many = parseArgv(['/app', ...Array.from({ length: 2000 }, (_, i) => `/d${i}.vmdk`)], {
			cwd: '/',
			leading: packaged,
			via: 'launch-argv',
		});
		expect(many.kind === 'open' && many.paths.length).toBe(1024);
		expect(many.rejected.at(-1)?.reason).toMatch(/more than 1024 arguments/);
	});
});

describe('open-file (macOS Finder, Dock)', () => {
	it('is one open request via finder', () => {
		expect(fromOpenFile('/Users/me/VMs/Win.vmwarevm')).toEqual({
			kind: 'open',
			via: 'finder',
			paths: ['/Users/me/VMs/Win.vmwarevm'],
			rejected: [],
		});
	});
});

describe('second-instance', () => {
	const data = { argv: ['/app', 'new.vmdk'], cwd: '/home/u/Downloads' };

	it('prefers the launch data the second process sent (its own argv and folder)', () => {
		const request = fromSecondInstance(
			['/app', '--original-process-start-time=1', 'junk'],
			'/elsewhere',
			data,
			packaged,
		);
		expect(request).toEqual({
			kind: 'open',
			via: 'second-instance',
			paths: ['/home/u/Downloads/new.vmdk'],
			rejected: [],
		});
	});

	it('falls back to the event argv and working folder when the data is missing or malformed', () => {
		for (const bad of [
			undefined,
			null,
			42,
			{ argv: 'x', cwd: '/' },
			{ argv: [], cwd: 'relative' },
			{ argv: [1], cwd: '/' },
		]) {
			expect(isLaunchData(bad)).toBe(false);
			const request = fromSecondInstance(
				['/app', '--original-process-start-time=1', 'd.vmdk'],
				'/work',
				bad,
				packaged,
			);
			expect(request).toMatchObject({ kind: 'open', via: 'second-instance', paths: ['/work/d.vmdk'] });
		}
	});

	it('a second launch with no file only focuses the window', () => {
		expect(fromSecondInstance([], '/', { argv: ['/app'], cwd: '/' }, packaged).kind).toBe('focus');
	});
});

describe('tray Open… dialog', () => {
	it('takes the chosen paths as they are, even with a leading dash', () => {
		expect(fromDialog(['/x/-a.vmdk', '/y/b.ova'])).toMatchObject({
			kind: 'open',
			via: 'tray',
			paths: ['/x/-a.vmdk', '/y/b.ova'],
		});
		expect(fromDialog([]).kind).toBe('focus');
	});
});

describe('OpenRequestQueue (open-file before and after ready)', () => {
	it('holds requests that arrive before ready and hands them over in order, then passes new ones straight on', () => {
		const queue = new OpenRequestQueue();
		const handled: OpenRequest[] = [];
		// Finder launches the app for a file: open-file fires before ready, then argv is read.
		queue.push(fromOpenFile('/a.vmdk'));
		queue.push(parseArgv(['/app'], { cwd: '/', leading: packaged, via: 'launch-argv' }));
		expect(queue.queued).toHaveLength(2);
		expect(handled).toHaveLength(0);
		queue.start((r) => handled.push(r));
		expect(queue.queued).toHaveLength(0);
		expect(handled.map((r) => [r.kind, r.via])).toEqual([
			['open', 'finder'],
			['focus', 'launch-argv'],
		]);
		// After ready: an open-file and a second instance go straight to the handler.
		queue.push(fromOpenFile('/b.vmdk'));
		queue.push(fromSecondInstance([], '/', { argv: ['/app', '/c.vmdk'], cwd: '/' }, packaged));
		expect(handled.slice(2)).toEqual([
			{ kind: 'open', via: 'finder', paths: ['/b.vmdk'], rejected: [] },
			{ kind: 'open', via: 'second-instance', paths: ['/c.vmdk'], rejected: [] },
		]);
	});
});
