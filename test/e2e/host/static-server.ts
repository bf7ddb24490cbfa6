// SPDX-License-Identifier: MIT
/**
 * Serves the built window (dist/renderer) to the e2e browser: on 127.0.0.1 only, on a random
 * port, and only under a random token (`/<token>/index.html`), so nothing else on this machine
 * can guess its address. GET and HEAD of existing files inside the folder; everything else 404.
 */
import { randomBytes } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, sep } from 'node:path';

const TYPES: Readonly<Record<string, string>> = {
	'.html': 'text/html; charset=utf-8',
	'.js': 'text/javascript; charset=utf-8',
	'.css': 'text/css; charset=utf-8',
	'.svg': 'image/svg+xml',
	'.png': 'image/png',
	'.woff2': 'font/woff2',
};

/** A running server. */
export interface StaticServer {
	/** The page's URL (`http://127.0.0.1:<port>/<token>/index.html`). */
	readonly pageUrl: string;
	close(): Promise<void>;
}

/** Serves `root` (a built renderer) until closed. */
export async function serveRenderer(root: string): Promise<StaticServer> {
	const base = await realpath(root);
	const token = randomBytes(16).toString('hex');
	const prefix = `/${token}/`;
	const server: Server = createServer((req, res) => {
		void (async () => {
			const url = new URL(req.url ?? '/', 'http://127.0.0.1');
			const notFound = () => {
				res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
			};
			if ((req.method !== 'GET' && req.method !== 'HEAD') || !url.pathname.startsWith(prefix))
				return notFound();
			const relative = decodeURIComponent(url.pathname.slice(prefix.length));
			// Resolved and checked against the root: `..` and symlinks cannot leave it.
			const file = await realpath(join(base, relative)).catch(() => undefined);
			if (file === undefined || !file.startsWith(base + sep)) return notFound();
			const type = TYPES[extname(file)];
			if (type === undefined) return notFound();
			const body = await readFile(file).catch(() => undefined);
			if (body === undefined) return notFound();
			res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
			res.end(req.method === 'HEAD' ? undefined : body);
		})();
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	const { port } = server.address() as AddressInfo;
	return {
		pageUrl: `http://127.0.0.1:${port}${prefix}index.html`,
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
