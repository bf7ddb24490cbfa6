// SPDX-License-Identifier: MIT
/**
 * The control socket: newline-delimited JSON requests with ids, answered in any order
 * (concurrent clients and requests), plus `didChangeMounts` events to clients that subscribed.
 * Errors travel as `{ name, code, message }` (STYLE §13).
 */
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { isVmdkError } from '../core/index.js';
import { MountError } from '../host/common/mount-error.js';
import {
	DAEMON_METHODS,
	MAX_REQUEST_LINE_BYTES,
	type DaemonEvent,
	type DaemonMethod,
	type DaemonResponse,
} from '../shared/daemon-contract.js';
import type { SerializedError } from '../shared/error-codes.js';

/** Handles one method call; the result must be JSON-serialisable. */
export type RequestHandler = (
	method: DaemonMethod,
	params: unknown,
	client: ClientConnection,
) => Promise<unknown>;

/** One connected client. */
export class ClientConnection {
	readonly socket: Socket;
	subscribed = false;
	constructor(socket: Socket) {
		this.socket = socket;
	}
	/** Writes one JSON line (dropped if the client has gone). */
	send(value: DaemonResponse | DaemonEvent): void {
		if (!this.socket.destroyed) this.socket.write(JSON.stringify(value) + '\n');
	}
}

/** Converts any error to its wire form. */
export function serializeError(error: unknown): SerializedError {
	if (error instanceof MountError || isVmdkError(error)) {
		return { name: error.name, code: error.code, message: error.message };
	}
	const message = error instanceof Error ? error.message : String(error);
	return { name: error instanceof Error ? error.name : 'Error', code: 'INTERNAL', message };
}

/** The control server. */
export class ControlServer {
	private readonly server: Server;
	private readonly clients = new Set<ClientConnection>();
	private readonly handler: RequestHandler;
	private readonly takeNotices: () => readonly string[];
	/** Called on every request (idle timer). */
	onActivity: () => void = () => undefined;

	constructor(handler: RequestHandler, takeNotices: () => readonly string[]) {
		this.handler = handler;
		this.takeNotices = takeNotices;
		this.server = createServer((socket) => this.accept(socket));
	}

	/** Number of connected clients. */
	get clientCount(): number {
		return this.clients.size;
	}

	/** Listens on `socketPath` with mode 0600 (the caller made sure no daemon owns it). */
	async listen(socketPath: string): Promise<void> {
		await rm(socketPath, { force: true });
		await new Promise<void>((resolve, reject) => {
			this.server.once('error', reject);
			this.server.listen(socketPath, () => {
				this.server.off('error', reject);
				resolve();
			});
		});
		await chmod(socketPath, 0o600);
	}

	/** Sends an event to every subscribed client. */
	broadcast(event: DaemonEvent): void {
		for (const c of this.clients) if (c.subscribed) c.send(event);
	}

	/** Stops accepting and disconnects everyone. */
	async close(): Promise<void> {
		for (const c of this.clients) c.socket.end();
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
	}

	private accept(socket: Socket): void {
		const client = new ClientConnection(socket);
		this.clients.add(client);
		let buffered = '';
		socket.setEncoding('utf8');
		socket.on('data', (chunk: string) => {
			buffered += chunk;
			let nl: number;
			while ((nl = buffered.indexOf('\n')) >= 0) {
				const line = buffered.slice(0, nl);
				buffered = buffered.slice(nl + 1);
				if (line.trim() !== '') this.handleLine(client, line);
			}
			if (buffered.length > MAX_REQUEST_LINE_BYTES) {
				client.send({ id: 0, error: { code: 'USAGE', message: 'request line too long' } });
				socket.destroy();
			}
		});
		socket.on('error', () => undefined);
		socket.on('close', () => this.clients.delete(client));
	}

	private handleLine(client: ClientConnection, line: string): void {
		this.onActivity();
		let id = 0;
		let method: DaemonMethod;
		let params: unknown;
		try {
			const parsed = JSON.parse(line) as { id?: unknown; method?: unknown; params?: unknown };
			if (typeof parsed.id !== 'number' || !Number.isSafeInteger(parsed.id))
				throw new Error('request without an id');
			id = parsed.id;
			if (
				typeof parsed.method !== 'string' ||
				!(DAEMON_METHODS as readonly string[]).includes(parsed.method)
			) {
				throw new Error(`unknown method ${String(parsed.method)}`);
			}
			method = parsed.method as DaemonMethod;
			params = parsed.params ?? {};
		} catch (error) {
			client.send({ id, error: { code: 'USAGE', message: `bad request: ${String(error)}` } });
			return;
		}
		if (method === 'subscribe') {
			// Subscriptions belong to the connection, so the server keeps them itself.
			client.subscribed = true;
			this.reply(client, method, { id, result: null });
			return;
		}
		this.handler(method, params, client).then(
			(result) => this.reply(client, method, { id, result: result ?? null }),
			(error: unknown) => this.reply(client, method, { id, error: serializeError(error) }),
		);
	}

	private reply(client: ClientConnection, method: DaemonMethod, response: DaemonResponse): void {
		// `hello` is also the liveness ping: notices wait for a real command, whose output shows them.
		const notices = method === 'hello' ? [] : this.takeNotices();
		client.send(notices.length > 0 ? { ...response, notices } : response);
	}
}
