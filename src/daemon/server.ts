// SPDX-License-Identifier: MIT
/**
 * The control socket: newline-delimited JSON requests with ids, answered in any order
 * (concurrent clients and requests), plus events to clients that subscribed. Every request is
 * checked before the service sees it — JSON, id, a known method, params against the method's
 * schema — and anything wrong gets a typed `BAD_REQUEST` answer while the daemon goes on
 * serving everyone else. A line over the size limit closes that one connection.
 */
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { z } from 'zod';
import { AppError, serializeError } from '../shared/app-error.js';
import {
	DAEMON_PARAMS,
	MAX_REQUEST_LINE_BYTES,
	type DaemonEvent,
	type DaemonMethod,
	type DaemonResponse,
	type DaemonResults,
} from '../shared/daemon-contract.js';
import { LineDecoder, encodeLine } from '../shared/ndjson.js';

/** One handler per method, taking its validated params. Built from the service's methods. */
export type MethodHandlers = {
	readonly [M in DaemonMethod]: (
		params: z.output<(typeof DAEMON_PARAMS)[M]>,
		client: ClientConnection,
	) => Promise<DaemonResults[M]> | DaemonResults[M];
};

/** One connected client. */
export class ClientConnection {
	readonly socket: Socket;
	subscribed = false;
	constructor(socket: Socket) {
		this.socket = socket;
	}
	/** Writes one JSON line (dropped if the client has gone). */
	send(value: DaemonResponse | DaemonEvent): void {
		if (!this.socket.destroyed && this.socket.writable) this.socket.write(encodeLine(value));
	}
}

/** The control server. */
export class ControlServer {
	private readonly server: Server;
	private readonly clients = new Set<ClientConnection>();
	private readonly handlers: MethodHandlers;
	private readonly takeNotices: () => readonly string[];
	/** Called on every request (idle timer). */
	onActivity: () => void = () => undefined;
	/** Called when a client subscribes or a subscriber leaves. */
	onSubscribersChanged: () => void = () => undefined;

	constructor(handlers: MethodHandlers, takeNotices: () => readonly string[] = () => []) {
		this.handlers = handlers;
		this.takeNotices = takeNotices;
		this.server = createServer((socket) => this.accept(socket));
	}

	/** Number of connected clients. */
	get clientCount(): number {
		return this.clients.size;
	}

	/** Number of clients listening for events. */
	get subscriberCount(): number {
		let n = 0;
		for (const c of this.clients) if (c.subscribed) n++;
		return n;
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
		const decoder = new LineDecoder(MAX_REQUEST_LINE_BYTES);
		socket.setEncoding('utf8');
		socket.on('data', (chunk: string) => {
			for (const line of decoder.push(chunk)) {
				if (line.ok) this.handleRequest(client, line.value);
				else
					this.answer(client, 0, undefined, {
						error: new AppError('BAD_REQUEST', `not JSON: ${line.error}`),
					});
			}
			if (decoder.overflow) {
				client.send({
					id: 0,
					error: serializeError(
						new AppError('BAD_REQUEST', `request line over ${MAX_REQUEST_LINE_BYTES} bytes`),
					),
				});
				socket.end();
				socket.destroySoon();
			}
		});
		socket.on('error', () => undefined);
		socket.on('close', () => {
			this.clients.delete(client);
			if (client.subscribed) this.onSubscribersChanged();
		});
	}

	private handleRequest(client: ClientConnection, request: unknown): void {
		this.onActivity();
		if (typeof request !== 'object' || request === null || Array.isArray(request)) {
			this.answer(client, 0, undefined, {
				error: new AppError('BAD_REQUEST', 'a request must be a JSON object'),
			});
			return;
		}
		const { id, method, params } = request as { id?: unknown; method?: unknown; params?: unknown };
		if (typeof id !== 'number' || !Number.isSafeInteger(id)) {
			this.answer(client, 0, undefined, {
				error: new AppError('BAD_REQUEST', 'a request needs an integer id'),
			});
			return;
		}
		if (typeof method !== 'string' || !Object.hasOwn(DAEMON_PARAMS, method)) {
			this.answer(client, id, undefined, {
				error: new AppError('BAD_REQUEST', `unknown method ${JSON.stringify(method)}`),
			});
			return;
		}
		const m = method as DaemonMethod;
		const parsed = DAEMON_PARAMS[m].safeParse(params ?? {});
		if (!parsed.success) {
			const issue = parsed.error.issues[0];
			const where =
				issue === undefined || issue.path.length === 0 ? 'params' : `params.${issue.path.join('.')}`;
			this.answer(client, id, m, {
				error: new AppError('BAD_REQUEST', `${m}: ${where} ${issue?.message ?? 'is invalid'}`),
			});
			return;
		}
		if (m === 'subscribe') {
			// Subscriptions belong to the connection, so the server keeps them itself.
			const first = !client.subscribed;
			client.subscribed = true;
			if (first) this.onSubscribersChanged();
		}
		const handler = this.handlers[m] as (p: unknown, c: ClientConnection) => unknown;
		// Async so that a handler that throws synchronously is answered like one that rejects.
		const run = async (): Promise<unknown> => handler(parsed.data, client);
		run().then(
			(value) => this.answer(client, id, m, { result: value ?? null }),
			(error: unknown) => this.answer(client, id, m, { error }),
		);
	}

	private answer(
		client: ClientConnection,
		id: number,
		method: DaemonMethod | undefined,
		outcome: { readonly result: unknown } | { readonly error: unknown },
	): void {
		// `hello` is also the liveness ping: notices wait for a real command, whose output shows them.
		const notices = method === undefined || method === 'hello' ? [] : this.takeNotices();
		const base: DaemonResponse =
			'error' in outcome ? { id, error: serializeError(outcome.error) } : { id, result: outcome.result };
		client.send(notices.length > 0 ? { ...base, notices } : base);
	}
}
