// SPDX-License-Identifier: MIT
/**
 * The typed daemon client that the CLI and Electron main use (the only daemon module they may
 * import). It connects to the control socket — after checking that the runtime folder and the
 * socket are ours, so another local user cannot pose as the daemon — and, when nothing
 * answers, starts the daemon detached (`process.execPath dist/daemon/main.js`; under Electron
 * with `ELECTRON_RUN_AS_NODE=1`) and waits for it. Every call has a deadline.
 *
 * With `reconnect: true` (the app) the client outlives the daemon: when the connection drops it
 * says so (`onDidDisconnect`), reconnects with back-off — restarting the daemon, which then
 * cleans up whatever the old one left — subscribes again and hands listeners the fresh mount
 * list, then says so (`onDidReconnect`).
 */
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { appPaths, assertOwnedByUs, preparePrivatePaths, type AppPaths } from '../host/index.js';
import { AppError, deserializeError } from '../shared/app-error.js';
import { APP_ERROR_CODES, type AppErrorCode } from '../shared/error-codes.js';
import {
	MAX_REQUEST_LINE_BYTES,
	PROTOCOL_VERSION,
	type DaemonEvent,
	type DaemonHello,
	type DaemonMethod,
	type DaemonMethods,
	type DaemonResponse,
	type InspectRequest,
	type MountRequest,
	type MountService,
	type ProgressEvent,
	type UnmountRequest,
} from '../shared/daemon-contract.js';
import type { DoctorReport, InfoResult, MountListResult, MountedDisk } from '../shared/models.js';
import { LineDecoder, encodeLine } from '../shared/ndjson.js';

/** How long `connect` waits for a freshly started daemon, in ms. */
const DEFAULT_START_TIMEOUT_MS = 15_000;
/** Poll interval while waiting for the daemon, in ms. */
const START_POLL_MS = 50;
/** Connecting and `hello`, in ms: a socket that does not answer like a daemon is given up. */
const HELLO_TIMEOUT_MS = 5_000;
/** Reconnect back-off, in ms. */
const RECONNECT_MIN_MS = 200;
const RECONNECT_MAX_MS = 5_000;
/**
 * V8 flags of the daemon: a small young generation (its JavaScript allocates little per FUSE
 * request; 16 MiB semi-spaces only inflate its memory) and `gc()` for when the last disk is
 * unmounted. Measured by bench/daemon-memory.js.
 */
const DAEMON_V8_FLAGS = ['--max-semi-space-size=2', '--expose-gc'];
/** How long a closed connection waits for the daemon to close its side, in ms. */
const CLOSE_GRACE_MS = 1_000;
/** Longest line read from the daemon (a long mount list), in characters. */
const MAX_RESPONSE_LINE_CHARS = 64 * 1024 * 1024;

/**
 * Deadlines per method, in ms. Mounting runs helpers (a minute each at most) for every volume
 * of every disk of a bundle; the rest answer from memory or read a few MiB.
 */
export const CALL_DEADLINES_MS: Readonly<Record<DaemonMethod, number>> = {
	hello: HELLO_TIMEOUT_MS,
	inspect: 5 * 60_000,
	doctor: 60_000,
	mount: 15 * 60_000,
	unmount: 5 * 60_000,
	list: 10_000,
	subscribe: 10_000,
	shutdown: 5 * 60_000,
};

/** Options of {@link DaemonClient.connect}. */
export interface ConnectOptions {
	/** Paths (default: from the environment). */
	readonly paths?: AppPaths;
	/**
	 * Start the daemon when none answers (default true). `'if-leftovers'` starts it only when a
	 * previous daemon's registry still lists disks (it stopped without cleaning up), so that
	 * `list` reports and cleans the leftovers without starting a daemon for nothing.
	 */
	readonly autoStart?: boolean | 'if-leftovers';
	/** The daemon's entry script (default: `main.js` next to this file, built). */
	readonly daemonEntry?: string;
	/**
	 * The Node.js executable that runs the daemon (default: this process's own executable, under
	 * Electron in its Node mode). The packaged app passes the Node runtime it ships, because its
	 * Electron binary has the `RunAsNode` fuse off (docs/architecture.md).
	 */
	readonly daemonRuntime?: string;
	/** How long to wait for a started daemon, in ms. */
	readonly startTimeoutMs?: number;
	/** Survive the daemon going away (the app); default false (a CLI command). */
	readonly reconnect?: boolean;
	/** Who is calling, for the daemon's log. */
	readonly clientName?: string;
	/** Deadlines to use instead of {@link CALL_DEADLINES_MS} (tests). */
	readonly deadlinesMs?: Partial<Record<DaemonMethod, number>>;
}

/** The daemon's entry script next to this module (from a TypeScript checkout: the built one). */
export function defaultDaemonEntry(): string {
	const here = import.meta.url;
	if (here.endsWith('.ts')) return fileURLToPath(new URL('../../dist/daemon/main.js', here));
	return fileURLToPath(new URL('./main.js', here));
}

/** Errors that mean "no daemon runs" (as opposed to one that does not answer). */
const notRunningErrors = new WeakSet<Error>();

function notRunning(message: string): AppError {
	const error = new AppError('DAEMON_UNAVAILABLE', message);
	notRunningErrors.add(error);
	return error;
}

/**
 * True when `error` says that no daemon runs (no socket, or nobody listening on it) — a normal
 * state for `list` — rather than that one runs and does not answer, or cannot be trusted.
 */
export function isDaemonNotRunning(error: unknown): boolean {
	return error instanceof Error && notRunningErrors.has(error);
}

/** True when a daemon of ours answers `hello` on `socketPath` (a foreign socket is an error). */
export async function pingDaemon(socketPath: string): Promise<boolean> {
	if (!(await assertOwnedByUs(socketPath, 'socket'))) return false;
	try {
		const c = await Connection.open(socketPath);
		try {
			await c.hello('ping');
			c.close();
			return true;
		} catch (error) {
			c.destroy();
			throw error;
		}
	} catch (error) {
		if (error instanceof AppError && error.code === 'PROTOCOL_MISMATCH') throw error;
		return false;
	}
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** One socket to the daemon: requests with ids, responses, events. */
class Connection {
	private readonly socket: Socket;
	private nextId = 1;
	private readonly pending = new Map<number, Pending>();
	private closedByUs = false;
	onEvent: (event: DaemonEvent) => void = () => undefined;
	onNotices: (notices: readonly string[]) => void = () => undefined;
	onClose: (byUs: boolean) => void = () => undefined;

	private constructor(socket: Socket) {
		this.socket = socket;
		const decoder = new LineDecoder(MAX_RESPONSE_LINE_CHARS);
		socket.setEncoding('utf8');
		socket.on('data', (chunk: string) => {
			for (const line of decoder.push(chunk)) if (line.ok) this.onMessage(line.value);
			if (decoder.overflow) socket.destroy();
		});
		socket.on('error', () => undefined);
		socket.on('close', () => {
			for (const p of this.pending.values()) {
				p.reject(new AppError('DAEMON_UNAVAILABLE', 'the mount service closed the connection'));
			}
			this.pending.clear();
			this.onClose(this.closedByUs);
		});
	}

	/** Connects to a socket (checked to be ours) without starting anything. */
	static async open(socketPath: string, timeoutMs = HELLO_TIMEOUT_MS): Promise<Connection> {
		if (!(await assertOwnedByUs(socketPath, 'socket'))) {
			throw notRunning(`the mount service is not running (no ${socketPath})`);
		}
		return new Promise((resolve, reject) => {
			const socket = connect(socketPath);
			const timer = setTimeout(() => {
				socket.destroy();
				reject(new AppError('DAEMON_UNAVAILABLE', `no answer on ${socketPath}`));
			}, timeoutMs);
			socket.once('connect', () => {
				clearTimeout(timer);
				socket.removeAllListeners('error');
				resolve(new Connection(socket));
			});
			socket.once('error', (error: NodeJS.ErrnoException) => {
				clearTimeout(timer);
				// A socket nobody listens on is what a daemon that died leaves: not running.
				const message = `cannot connect to ${socketPath}: ${error.message}`;
				reject(
					error.code === 'ECONNREFUSED' || error.code === 'ENOENT'
						? notRunning(message)
						: new AppError('DAEMON_UNAVAILABLE', message, { cause: error }),
				);
			});
		});
	}

	/** Says hello and checks the protocol version. */
	async hello(client: string): Promise<DaemonHello> {
		const hello = (await this.call(
			'hello',
			{ protocolVersion: PROTOCOL_VERSION, client },
			HELLO_TIMEOUT_MS,
		)) as DaemonHello;
		if (hello.protocolVersion !== PROTOCOL_VERSION) {
			throw new AppError(
				'PROTOCOL_MISMATCH',
				`the mount service (pid ${hello.pid}, version ${hello.version}) speaks protocol ${String(hello.protocolVersion)}, this client ${PROTOCOL_VERSION}`,
			);
		}
		return hello;
	}

	call(method: DaemonMethod, params: unknown, timeoutMs: number): Promise<unknown> {
		const id = this.nextId++;
		const line = encodeLine({ id, method, params });
		if (line.length > MAX_REQUEST_LINE_BYTES) {
			return Promise.reject(
				new AppError('BAD_REQUEST', `${method}: request over ${MAX_REQUEST_LINE_BYTES} bytes`),
			);
		}
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.pending.delete(id);
				reject(
					new AppError(
						'DAEMON_UNAVAILABLE',
						`the mount service did not answer ${method} within ${Math.round(timeoutMs / 1000)} s`,
					),
				);
			}, timeoutMs);
			this.pending.set(id, {
				resolve: (v) => {
					clearTimeout(timer);
					resolve(v);
				},
				reject: (e) => {
					clearTimeout(timer);
					reject(e);
				},
			});
			if (this.socket.destroyed) {
				this.pending
					.get(id)
					?.reject(new AppError('DAEMON_UNAVAILABLE', 'the mount service closed the connection'));
				this.pending.delete(id);
				return;
			}
			this.socket.write(line);
		});
	}

	private onMessage(value: unknown): void {
		if (typeof value !== 'object' || value === null) return;
		const message = value as DaemonResponse | DaemonEvent;
		if ('event' in message) {
			this.onEvent(message);
			return;
		}
		if (Array.isArray(message.notices)) this.onNotices(message.notices);
		const p = this.pending.get(message.id);
		if (p === undefined) return;
		this.pending.delete(message.id);
		if ('error' in message) p.reject(deserializeError(message.error));
		else p.resolve(message.result);
	}

	/** Ends the connection; a peer that does not close its side is cut off shortly after. */
	close(): void {
		this.closedByUs = true;
		this.socket.end();
		setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
	}

	/** Cuts the connection at once (a peer that does not behave like our daemon). */
	destroy(): void {
		this.closedByUs = true;
		this.socket.destroy();
	}
}

/** A connection to the daemon, implementing the service interface. */
export class DaemonClient implements MountService {
	private readonly options: ConnectOptions;
	private readonly paths: AppPaths;
	private connection: Connection | undefined;
	private reconnecting: Promise<void> | undefined;
	private closed = false;
	private readonly mountListeners = new Set<(disks: readonly MountedDisk[]) => void>();
	private readonly progressListeners = new Set<(event: ProgressEvent) => void>();
	private readonly disconnectListeners = new Set<(reason: string) => void>();
	private readonly reconnectListeners = new Set<(hello: DaemonHello) => void>();
	private subscribed = false;
	/** Things the daemon wanted the user to hear (e.g. crash clean-up), in arrival order. */
	readonly notices: string[] = [];

	private constructor(options: ConnectOptions, paths: AppPaths) {
		this.options = options;
		this.paths = paths;
	}

	/** Connects to the user's daemon, starting it when needed. */
	static async connect(options: ConnectOptions = {}): Promise<DaemonClient> {
		const paths = await preparePrivatePaths(options.paths ?? appPaths());
		const client = new DaemonClient(options, paths);
		await client.establish(options.autoStart ?? true);
		return client;
	}

	/** Opens a connection (starting the daemon if allowed) and says hello. */
	private async establish(autoStart: boolean | 'if-leftovers'): Promise<DaemonHello> {
		let connection: Connection;
		try {
			connection = await Connection.open(this.paths.socketPath);
		} catch (error) {
			if (error instanceof AppError && error.code !== 'DAEMON_UNAVAILABLE') throw error;
			if (autoStart === false || (autoStart === 'if-leftovers' && !(await hasLeftovers(this.paths))))
				throw error;
			await startDaemon(
				this.paths,
				this.options.daemonEntry ?? defaultDaemonEntry(),
				this.options.startTimeoutMs,
				this.options.daemonRuntime,
			);
			connection = await Connection.open(this.paths.socketPath);
		}
		let hello: DaemonHello;
		try {
			hello = await connection.hello(this.options.clientName ?? 'client');
		} catch (error) {
			connection.destroy();
			throw error;
		}
		connection.onEvent = (e) => this.onEvent(e);
		connection.onNotices = (n) => this.notices.push(...n);
		connection.onClose = (byUs) => {
			if (this.connection === connection) this.connection = undefined;
			if (!byUs && !this.closed) this.lost('the mount service closed the connection');
		};
		this.connection = connection;
		return hello;
	}

	private onEvent(event: DaemonEvent): void {
		if (event.event === 'didChangeMounts') for (const l of this.mountListeners) l(event.data);
		else if (event.event === 'progress') for (const l of this.progressListeners) l(event.data);
	}

	/** The connection dropped: tell listeners and, in reconnect mode, get it back. */
	private lost(reason: string): void {
		for (const l of this.disconnectListeners) l(reason);
		if (this.options.reconnect === true) this.reconnecting ??= this.reconnectLoop();
	}

	private async reconnectLoop(): Promise<void> {
		let delay = RECONNECT_MIN_MS;
		while (!this.closed) {
			await new Promise((r) => setTimeout(r, delay));
			if (this.closed) break;
			try {
				const hello = await this.establish(this.options.autoStart ?? true);
				if (this.subscribed) await this.connection?.call('subscribe', {}, CALL_DEADLINES_MS.subscribe);
				this.reconnecting = undefined;
				for (const l of this.reconnectListeners) l(hello);
				// Whatever changed while we were away: listeners get the list as it is now.
				const { disks } = await this.list();
				for (const l of this.mountListeners) l(disks);
				return;
			} catch {
				delay = Math.min(delay * 2, RECONNECT_MAX_MS);
			}
		}
		this.reconnecting = undefined;
	}

	/** Sends one request (waiting for a reconnection in progress), with its deadline. */
	async call<M extends DaemonMethod>(
		method: M,
		params: DaemonMethods[M]['params'],
	): Promise<DaemonMethods[M]['result']> {
		if (this.closed) throw new AppError('DAEMON_UNAVAILABLE', 'the client was closed');
		const deadline = this.options.deadlinesMs?.[method] ?? CALL_DEADLINES_MS[method];
		if (this.connection === undefined && this.reconnecting !== undefined) {
			await Promise.race([this.reconnecting, new Promise((r) => setTimeout(r, deadline))]);
		}
		const connection = this.connection;
		if (connection === undefined) {
			throw new AppError('DAEMON_UNAVAILABLE', `the mount service is not running (${this.paths.socketPath})`);
		}
		return (await connection.call(method, params, deadline)) as DaemonMethods[M]['result'];
	}

	hello(): Promise<DaemonHello> {
		return this.call('hello', { protocolVersion: PROTOCOL_VERSION, client: this.options.clientName });
	}
	inspect(request: InspectRequest): Promise<InfoResult> {
		return this.call('inspect', request);
	}
	doctor(): Promise<DoctorReport> {
		return this.call('doctor', {});
	}
	mount(request: MountRequest): Promise<MountListResult> {
		return this.call('mount', request);
	}
	unmount(request: UnmountRequest): Promise<MountListResult> {
		return this.call('unmount', request);
	}
	list(): Promise<MountListResult> {
		return this.call('list', {});
	}
	async shutdown(): Promise<void> {
		await this.call('shutdown', {});
	}

	private async subscribe(): Promise<void> {
		if (this.subscribed) return;
		this.subscribed = true;
		await this.call('subscribe', {}).catch(() => undefined);
	}

	onDidChangeMounts(listener: (disks: readonly MountedDisk[]) => void): () => void {
		this.mountListeners.add(listener);
		void this.subscribe();
		return () => this.mountListeners.delete(listener);
	}

	onProgress(listener: (event: ProgressEvent) => void): () => void {
		this.progressListeners.add(listener);
		void this.subscribe();
		return () => this.progressListeners.delete(listener);
	}

	/** Fires when the connection to the daemon is lost (the daemon stopped or crashed). */
	onDidDisconnect(listener: (reason: string) => void): () => void {
		this.disconnectListeners.add(listener);
		return () => this.disconnectListeners.delete(listener);
	}

	/** Fires when a reconnecting client is connected again (listeners then get the fresh list). */
	onDidReconnect(listener: (hello: DaemonHello) => void): () => void {
		this.reconnectListeners.add(listener);
		return () => this.reconnectListeners.delete(listener);
	}

	/** True while connected. */
	get connected(): boolean {
		return this.connection !== undefined;
	}

	/** Closes the connection (and stops reconnecting). */
	close(): void {
		this.closed = true;
		this.connection?.close();
		this.connection = undefined;
	}
}

/** True when the persisted registry lists disks (a daemon died with things mounted). */
async function hasLeftovers(paths: AppPaths): Promise<boolean> {
	try {
		if (!(await assertOwnedByUs(paths.registryPath, 'file'))) return false;
		const parsed = JSON.parse(await readFile(paths.registryPath, 'utf8')) as { disks?: unknown };
		return Array.isArray(parsed.disks) && parsed.disks.length > 0;
	} catch {
		return false;
	}
}

/** Starts the daemon detached and waits until it answers. */
async function startDaemon(
	paths: AppPaths,
	entry: string,
	timeoutMs = DEFAULT_START_TIMEOUT_MS,
	runtime = process.execPath,
): Promise<void> {
	// Start-up failures (before the daemon's own log is set up) land in its log file.
	const logFile = await open(paths.logPath, 'a', 0o600);
	// The daemon works on the folders this client checked, whatever the environment says.
	const env: NodeJS.ProcessEnv = {
		...process.env,
		VMDK_MOUNTER_RUNTIME_DIR: paths.runtimeDir,
		VMDK_MOUNTER_STATE_DIR: paths.stateDir,
		VMDK_MOUNTER_CONFIG_DIR: paths.configDir,
		...(paths.mountRootOverride === undefined ? {} : { VMDK_MOUNTER_MOUNT_ROOT: paths.mountRootOverride }),
	};
	if (runtime === process.execPath && process.versions.electron !== undefined) env.ELECTRON_RUN_AS_NODE = '1';
	else delete env.ELECTRON_RUN_AS_NODE;
	let exited: number | null | undefined;
	try {
		const child = spawn(runtime, [...DAEMON_V8_FLAGS, entry], {
			detached: true,
			stdio: ['ignore', 'ignore', logFile.fd],
			env,
		});
		child.on('exit', (code) => {
			exited = code;
		});
		child.on('error', () => {
			exited = -1;
		});
		child.unref();
	} finally {
		await logFile.close();
	}
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await pingDaemon(paths.socketPath)) return;
		if (exited !== undefined && exited !== 0) {
			const why = await lastLogLine(paths.logPath);
			// A refusal the daemon explained (`CODE: message`) comes back as that error.
			const refusal = /^([A-Z_]+): (.+)$/.exec(why ?? '');
			if (refusal?.[1] !== undefined && refusal[2] !== undefined && isAppErrorCode(refusal[1])) {
				throw new AppError(refusal[1], refusal[2]);
			}
			throw new AppError(
				'DAEMON_UNAVAILABLE',
				`the mount service failed to start (exit ${String(exited)})${why === undefined ? '' : `: ${why}`}; see ${paths.logPath}`,
			);
		}
		await new Promise((r) => setTimeout(r, START_POLL_MS));
	}
	throw new AppError('DAEMON_UNAVAILABLE', `the mount service did not start in time; see ${paths.logPath}`);
}

/** The daemon's last words (a refusal to start says why there). */
async function lastLogLine(logPath: string): Promise<string | undefined> {
	const text = await readFile(logPath, 'utf8').catch(() => '');
	const line = text.trimEnd().split('\n').pop();
	return line === undefined || line === '' ? undefined : line.replace(/^vmdk-mounter daemon: /, '');
}

function isAppErrorCode(code: string): code is AppErrorCode {
	return (APP_ERROR_CODES as readonly string[]).includes(code) && code !== 'INTERNAL';
}
