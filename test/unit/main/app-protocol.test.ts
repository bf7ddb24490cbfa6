// SPDX-License-Identifier: MIT
// The vmdk-app:// handler on a real folder: what it serves, with which headers, and what it refuses.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	APP_PAGE_URL,
	CONTENT_SECURITY_POLICY,
	createBundleHandler,
	resolveBundlePath,
} from '../../../src/main/windows/app-protocol.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let bundle: string;
let serve: (request: Request) => Promise<Response>;

beforeAll(async () => {
	tmp = await makeTempDir('vmdk-bundle-');
	bundle = join(tmp.dir, 'renderer');
	await mkdir(join(bundle, 'assets'), { recursive: true });
	await writeFile(
		join(bundle, 'index.html'),
		'<!doctype html><script type="module" src="/assets/app.js"></script>',
	);
	await writeFile(join(bundle, 'assets', 'app.js'), 'console.log(1)');
	await writeFile(join(bundle, 'assets', 'my icon.svg'), '<svg/>');
	await writeFile(join(tmp.dir, 'secret.txt'), 'outside the bundle');
	await symlink(join(tmp.dir, 'secret.txt'), join(bundle, 'assets', 'link.txt'));
	serve = createBundleHandler(bundle);
});
afterAll(() => tmp.cleanup());

describe('resolveBundlePath', () => {
	it('maps our host’s paths into the folder; / is the page', () => {
		expect(resolveBundlePath(APP_PAGE_URL, '/r')).toBe('/r/index.html');
		expect(resolveBundlePath('vmdk-app://bundle/', '/r')).toBe('/r/index.html');
		expect(resolveBundlePath('vmdk-app://bundle/assets/a%20b.js?v=1#x', '/r')).toBe('/r/assets/a b.js');
	});

	it('refuses other schemes and hosts, escapes and hidden separators', () => {
		for (const url of [
			'file:///r/index.html',
			'https://bundle/index.html',
			'vmdk-app://other/index.html',
			'vmdk-app://bundle/assets/..%2f..%2fsecret.txt',
			'vmdk-app://bundle/a%5c..%5cb',
			'vmdk-app://bundle/a%00b',
			'vmdk-app://bundle/%E0%A4%A',
			'not a url',
		]) {
			expect(resolveBundlePath(url, '/r'), url).toBeNull();
		}
		// Plain `..` is folded by URL parsing and cannot climb above the root.
		expect(resolveBundlePath('vmdk-app://bundle/../../etc/passwd', '/r')).toBe('/r/etc/passwd');
		expect(resolveBundlePath('vmdk-app://bundle/assets/%2e%2e/%2e%2e/etc/passwd', '/r')).toBe(
			'/r/etc/passwd',
		);
	});
});

describe('createBundleHandler', () => {
	it('serves the page and its assets with the strict CSP and their content types', async () => {
		const page = await serve(new Request(APP_PAGE_URL));
		expect(page.status).toBe(200);
		expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
		expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
		expect(page.headers.get('x-content-type-options')).toBe('nosniff');
		expect(await page.text()).toContain('/assets/app.js');
		const script = await serve(new Request('vmdk-app://bundle/assets/app.js'));
		expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
		expect(await script.text()).toBe('console.log(1)');
		const icon = await serve(new Request('vmdk-app://bundle/assets/my%20icon.svg'));
		expect(icon.headers.get('content-type')).toBe('image/svg+xml');
	});

	it('answers 404 for missing files, escapes and symlinks leading out of the bundle; 405 for writes', async () => {
		for (const url of [
			'vmdk-app://bundle/missing.js',
			'vmdk-app://bundle/assets/link.txt',
			'vmdk-app://bundle/assets/..%2f..%2fsecret.txt',
			'vmdk-app://elsewhere/index.html',
		]) {
			const response = await serve(new Request(url));
			expect(response.status, url).toBe(404);
			expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
		}
		expect((await serve(new Request(APP_PAGE_URL, { method: 'POST', body: 'x' }))).status).toBe(405);
	});

	it('allows nothing remote: no network, frames, plugins, inline scripts or foreign origins', () => {
		const directives = new Map(
			CONTENT_SECURITY_POLICY.split('; ').map((d) => [d.split(' ')[0]!, d.split(' ').slice(1).join(' ')]),
		);
		expect(directives.get('default-src')).toBe("'none'");
		expect(directives.get('script-src')).toBe("'self'");
		expect(directives.get('connect-src')).toBe("'none'");
		expect(directives.get('frame-ancestors')).toBe("'none'");
		expect(directives.get('object-src')).toBe("'none'");
		for (const value of directives.values()) {
			expect(value).not.toMatch(/https?:|\*|'unsafe-inline'|'unsafe-eval'/);
		}
	});
});
