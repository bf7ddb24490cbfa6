// SPDX-License-Identifier: MIT
/**
 * The window's page is served from our own `vmdk-app://bundle/…` scheme, not `file://`
 * (Electron's security checklist, "avoid the file protocol"): the page can reach only the
 * files of the built renderer folder, every response carries the strict Content-Security-Policy
 * below, and the page has a real origin, so `'self'` means exactly our bundle. Vite's default
 * absolute asset URLs (`/assets/x.js`) resolve inside the bundle too.
 *
 * The handler is plain `Request → Response` over a folder, so it is tested for real on a
 * temporary folder; main registers it with `protocol.handle`.
 */
import { readFile, realpath } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';

/** Our scheme (registered as standard and secure before `ready`). */
export const APP_SCHEME = 'vmdk-app';
/** The one host of the scheme. */
export const APP_HOST = 'bundle';
/** The window's page. */
export const APP_PAGE_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/**
 * No remote content at all: scripts, styles, images and fonts only from the bundle (images
 * also as `data:` for inline SVG icons), no network, no plugins, no frames, no forms, no
 * `<base>`. Inline scripts are refused (Vite emits none); React sets styles through the CSSOM,
 * which `style-src 'self'` allows.
 */
export const CONTENT_SECURITY_POLICY = [
	"default-src 'none'",
	"script-src 'self'",
	"style-src 'self'",
	"img-src 'self' data:",
	"font-src 'self'",
	"connect-src 'none'",
	"media-src 'none'",
	"object-src 'none'",
	"frame-src 'none'",
	"worker-src 'none'",
	"frame-ancestors 'none'",
	"form-action 'none'",
	"base-uri 'none'",
].join('; ');

/** Content types of what a Vite build emits. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
	'.html': 'text/html; charset=utf-8',
	'.js': 'text/javascript; charset=utf-8',
	'.mjs': 'text/javascript; charset=utf-8',
	'.css': 'text/css; charset=utf-8',
	'.json': 'application/json',
	'.svg': 'image/svg+xml',
	'.png': 'image/png',
	'.ico': 'image/x-icon',
	'.woff2': 'font/woff2',
	'.woff': 'font/woff',
	'.txt': 'text/plain; charset=utf-8',
};

/**
 * The file a `vmdk-app://bundle/…` URL names inside `rootDir`, or null for anything else (another
 * scheme or host, `..` escapes, encoded separators, NUL). `/` is the page itself.
 */
export function resolveBundlePath(url: string, rootDir: string): string | null {
	let parsed: URL;
	try {
		parsed = new URL(url);
	} catch {
		return null;
	}
	if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST) return null;
	const segments: string[] = [];
	for (const raw of parsed.pathname.split('/')) {
		if (raw === '') continue;
		let segment: string;
		try {
			segment = decodeURIComponent(raw);
		} catch {
			return null;
		}
		// URL parsing already folded plain `..`; anything still naming a parent, or hiding a
		// separator behind percent-encoding, is an attempt to leave the bundle.
		if (segment === '.' || segment === '..' || /[/\\\0]/.test(segment)) return null;
		segments.push(segment);
	}
	if (segments.length === 0) segments.push('index.html');
	return join(rootDir, ...segments);
}

/** The response headers every answer carries. */
function headers(contentType: string): Record<string, string> {
	return {
		'content-type': contentType,
		'content-security-policy': CONTENT_SECURITY_POLICY,
		'x-content-type-options': 'nosniff',
		'cache-control': 'no-store',
	};
}

/**
 * The protocol handler for the bundle in `rootDir`: the file's bytes with the CSP, or a 404
 * (also for a symbolic link that leads out of the folder).
 */
export function createBundleHandler(rootDir: string): (request: Request) => Promise<Response> {
	const root = realpath(rootDir);
	return async (request) => {
		const notFound = (): Response =>
			new Response('Not found', { status: 404, headers: headers('text/plain') });
		if (request.method !== 'GET' && request.method !== 'HEAD') {
			return new Response('Method not allowed', { status: 405, headers: headers('text/plain') });
		}
		const rootReal = await root.catch(() => null);
		if (rootReal === null) return notFound();
		const path = resolveBundlePath(request.url, rootReal);
		if (path === null) return notFound();
		try {
			const real = await realpath(path);
			if (!real.startsWith(rootReal + sep)) return notFound();
			const body = await readFile(real);
			const type = CONTENT_TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream';
			return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers: headers(type) });
		} catch {
			return notFound();
		}
	};
}
