// SPDX-License-Identifier: MIT
/**
 * The typed daemon client that the CLI and Electron main use (the only daemon module they
 * may import). It connects to the control socket and, when nothing answers, starts the
 * daemon detached (`process.execPath dist/daemon/main.js`; under Electron with
 * `ELECTRON_RUN_AS_NODE=1`) and waits for it. Errors come back as `{name, code, message}` and
 * are rebuilt: engine codes as `VmdkError`, the rest as `DaemonError`.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { VMDK_ERROR_CODES, VmdkError, type VmdkErrorCode } from '../core/index.js';
import { appPaths, type AppPaths } from '../host/node/paths.js';
import type {
	DaemonEvent,
	DaemonHello,
	DaemonMethod,
	DaemonMethods,
	DaemonResponse,
	MountRequest,
	MountService,
	UnmountRequest,
} from '../shared/daemon-contract.js';
import type { AppErrorCode, ErrorCode, SerializedError } from '../shared/error-codes.js';
import type { MountedDisk, MountListResult } from '../shared/models.js';

/** How long `connect` waits for a freshly started daemon, in ms. */
const DEFAULT_START_TIMEOUT_MS = 15_000;
/** Poll interval while waiting for the daemon, in ms. */
const START_POLL_MS = 50;
/** Timeout of a liveness ping, in ms. */
const PING_TIMEOUT_MS = 2_000;

/** An error the daemon reported (or the failure to reach it). */
export class DaemonError extends Error {
	override readonly name = 'DaemonError';
	readonly code: AppErrorCode;
	constructor(code: AppErrorCode, message: string, options?: ErrorOptions) {
		super(message, options);
		this.code = code;
	}
}

/** Rebuilds an error from its wire form. */
export function deserializeError(e: SerializedError): VmdkError | DaemonError {
	if ((VMDK_ERROR_CODES as readonly string[]).includes(e.code)) {
		return new VmdkError(e.code as VmdkErrorCode, e.message);
	}
	return new DaemonError(e.code as Exclude<ErrorCode, VmdkErrorCode>, e.message);
}

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
	/** How long to wait for a started daemon, in ms. */
	readonly startTimeoutMs?: number;
}

/** The daemon's entry script next to this module (from a TypeScript checkout: the built one). */
export function defaultDaemonEntry(): string {
	const here = import.meta.url;
	if (here.endsWith('.ts')) return fileURLToPath(new URL('../../dist/daemon/main.js', here));
	return fileURLToPath(new URL('./main.js', here));
}

/** True when a daemon answers `hello` on `socketPath`. */
export async function pingDaemon(socketPath: string): Promise<boolean> {
	try {
		const client = await DaemonClient.connectSocket(socketPath, PING_TIMEOUT_MS);
		try {
			await client.call('hello', {}, PING_TIMEOUT_MS);
			return true;
		} finally {
			client.close();
		}
	} catch {
		return false;
	}
}

/** A connection to the daemon, implementing the service interface. */
export class DaemonClient implements MountService {
	private readonly socket: Socket;
	private nextId = 1;
	private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
	private readonly listeners = new Set<(disks: readonly MountedDisk[]) => void>();
	private subscribed = false;
	/** Things the daemon wanted the user to hear (e.g. crash clean-up), in arrival order. */
	readonly notices: string[] = [];

	private constructor(socket: Socket) {
		this.socket = socket;
		let buffered = '';
		socket.setEncoding('utf8');
		socket.on('data', (chunk: string) => {
			buffered += chunk;
			let nl: number;
			while ((nl = buffered.indexOf('\n')) >= 0) {
				const line = buffered.slice(0, nl);
				buffered = buffered.slice(nl + 1);
				this.onLine(line);
			}
		});
		const fail = (): void => {
			for (const p of this.pending.values()) {
				p.reject(new DaemonError('DAEMON_UNAVAILABLE', 'the mount service closed the connection'));
			}
			this.pending.clear();
		};
		socket.on('close', fail);
		socket.on('error', fail);
	}

	/** Connects to a socket without starting anything. */
	static connectSocket(socketPath: string, timeoutMs = PING_TIMEOUT_MS): Promise<DaemonClient> {
		return new Promise((resolve, reject) => {
			const socket = connect(socketPath);
			const timer = setTimeout(() => {
				socket.destroy();
				reject(new DaemonError('DAEMON_UNAVAILABLE', `no answer on ${socketPath}`));
			}, timeoutMs);
			socket.once('connect', () => {
				clearTimeout(timer);
				socket.removeAllListeners('error');
				resolve(new DaemonClient(socket));
			});
			socket.once('error', (error) => {
				clearTimeout(timer);
				reject(error);
			});
		});
	}

	/** Connects to the user's daemon, starting it when needed. */
	static async connect(options: ConnectOptions = {}): Promise<DaemonClient> {
		const paths = options.paths ?? appPaths();
		try {
			const c = await DaemonClient.connectSocket(paths.socketPath);
			await c.call('hello', {});
			return c;
		} catch (error) {
			if (
				options.autoStart === false ||
				(options.autoStart === 'if-leftovers' && !(await hasLeftovers(paths)))
			) {
				throw new DaemonError('DAEMON_UNAVAILABLE', `no mount service answers on ${paths.socketPath}`, {
					cause: error,
				});
			}
		}
		await startDaemon(paths, options.daemonEntry ?? defaultDaemonEntry(), options.startTimeoutMs);
		const c = await DaemonClient.connectSocket(paths.socketPath);
		await c.call('hello', {});
		return c;
	}

	/** Sends one request. */
	call<M extends DaemonMethod>(
		method: M,
		params: DaemonMethods[M]['params'],
		timeoutMs?: number,
	): Promise<DaemonMethods[M]['result']> {
		const id = this.nextId++;
		return new Promise((resolve, reject) => {
			let timer: NodeJS.Timeout | undefined;
			if (timeoutMs !== undefined) {
				timer = setTimeout(() => {
					this.pending.delete(id);
					reject(new DaemonError('DAEMON_UNAVAILABLE', `the mount service did not answer ${method} in time`));
				}, timeoutMs);
			}
			this.pending.set(id, {
				resolve: (v) => {
					if (timer !== undefined) clearTimeout(timer);
					resolve(v as DaemonMethods[M]['result']);
				},
				reject: (e) => {
					if (timer !== undefined) clearTimeout(timer);
					reject(e);
				},
			});
			this.socket.write(JSON.stringify({ id, method, params }) + '\n');
		});
	}

	private onLine(line: string): void {
		let message: DaemonResponse | DaemonEvent;
		try {
			message = JSON.parse(line) as DaemonResponse | DaemonEvent;
		} catch {
			return;
		}
		if ('event' in message) {
			if (message.event === 'didChangeMounts') for (const l of this.listeners) l(message.data);
			return;
		}
		if (message.notices !== undefined) this.notices.push(...message.notices);
		const p = this.pending.get(message.id);
		if (p === undefined) return;
		this.pending.delete(message.id);
		if ('error' in message) p.reject(deserializeError(message.error));
		else p.resolve(message.result);
	}

	hello(): Promise<DaemonHello> {
		return this.call('hello', {});
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
	onDidChangeMounts(listener: (disks: readonly MountedDisk[]) => void): () => void {
		this.listeners.add(listener);
		if (!this.subscribed) {
			this.subscribed = true;
			this.call('subscribe', {}).catch(() => undefined);
		}
		return () => this.listeners.delete(listener);
	}

	/** Closes the connection. */
	close(): void {
		this.socket.end();
	}
}

/** True when the persisted registry lists disks (a daemon died with things mounted). */
async function hasLeftovers(paths: AppPaths): Promise<boolean> {
	try {
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
): Promise<void> {
	await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
	// Start-up failures (before the daemon's own log is set up) land in its log file.
	const logFile = await open(paths.logPath, 'a', 0o600);
	const env: NodeJS.ProcessEnv = { ...process.env };
	if (process.versions.electron !== undefined) env.ELECTRON_RUN_AS_NODE = '1';
	let exited: number | null | undefined;
	try {
		const child = spawn(process.execPath, [entry], {
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
			throw new DaemonError(
				'DAEMON_UNAVAILABLE',
				`the mount service failed to start (exit ${String(exited)}); see ${paths.logPath}`,
			);
		}
		await new Promise((r) => setTimeout(r, START_POLL_MS));
	}
	throw new DaemonError(
		'DAEMON_UNAVAILABLE',
		`the mount service did not start in time; see ${paths.logPath}`,
	);
}
