// SPDX-License-Identifier: MIT
/**
 * Entry of the mount daemon (`node dist/daemon/main.js`, or `ELECTRON_RUN_AS_NODE=1 <app>`):
 * one per user. It refuses to start while another answers on the control socket, cleans up
 * what a crashed predecessor left, serves requests, and exits by itself some time after the
 * last mount is gone (`VMDK_MOUNTER_IDLE_EXIT_MS`, default five minutes).
 */
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { probeLinuxHost, type LinuxHost } from '../host/linux/capabilities.js';
import { appPaths } from '../host/node/paths.js';
import type { DaemonMethod, MountRequest, UnmountRequest } from '../shared/daemon-contract.js';
import { pingDaemon } from './client.js';
import { openDiskForExport } from './disk-opener.js';
import { DaemonLog } from './log.js';
import { DaemonMountService } from './mount-service.js';
import { MountRegistry } from './mount-registry.js';
import { recoverFromCrash } from './recovery.js';
import { resolveDiskPaths } from './resolve-disks.js';
import { ControlServer, type ClientConnection } from './server.js';

/** Default idle time before the daemon exits with nothing mounted, in ms. */
const DEFAULT_IDLE_EXIT_MS = 5 * 60_000;
/** The daemon's version (the package's). */
const VERSION = await readFile(new URL('../../package.json', import.meta.url), 'utf8')
	.then((t) => {
		const v = (JSON.parse(t) as { version?: unknown }).version;
		return typeof v === 'string' ? v : 'unknown';
	})
	.catch(() => 'unknown');

async function main(): Promise<void> {
	const paths = appPaths();
	await mkdir(paths.runtimeDir, { recursive: true, mode: 0o700 });
	await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
	const log = new DaemonLog(paths.logPath);

	if (await pingDaemon(paths.socketPath)) {
		process.stderr.write(`vmdk-mounter daemon: another daemon is running on ${paths.socketPath}\n`);
		process.exitCode = 0;
		return;
	}
	const lockPath = `${paths.runtimeDir}/daemon.pid`;
	if (!(await takeLock(lockPath))) {
		process.stderr.write(`vmdk-mounter daemon: another daemon is starting (${lockPath})\n`);
		return;
	}
	log.info(`starting (version ${VERSION}, socket ${paths.socketPath})`);

	let hostCache: Promise<LinuxHost> | undefined;
	const probeHost = (): Promise<LinuxHost> => (hostCache ??= probeLinuxHost());
	const notices = await recoverFromCrash(paths, await probeHost(), log);
	const registry = new MountRegistry(paths.registryPath);
	await registry.save();
	const service = new DaemonMountService({
		paths,
		registry,
		log,
		probeHost,
		openDisk: openDiskForExport,
		resolveDisks: resolveDiskPaths,
	});

	const idleMs = Number(process.env.VMDK_MOUNTER_IDLE_EXIT_MS ?? DEFAULT_IDLE_EXIT_MS);
	let idleTimer: NodeJS.Timeout | undefined;
	let stopping = false;
	const pendingNotices = [...notices];

	const shutdown = async (why: string): Promise<void> => {
		if (stopping) return;
		stopping = true;
		if (idleTimer !== undefined) clearTimeout(idleTimer);
		log.info(`stopping: ${why}`);
		await service.unmountAll();
		await server.close();
		await rm(paths.socketPath, { force: true });
		await rm(lockPath, { force: true });
		await log.flush();
		process.exit(0);
	};

	const armIdle = (): void => {
		if (idleTimer !== undefined) clearTimeout(idleTimer);
		idleTimer = undefined;
		if (registry.size === 0 && Number.isFinite(idleMs) && idleMs > 0) {
			idleTimer = setTimeout(() => void shutdown('idle with nothing mounted'), idleMs);
		}
	};

	const handle = async (
		method: DaemonMethod,
		params: unknown,
		client: ClientConnection,
	): Promise<unknown> => {
		switch (method) {
			case 'hello':
				return { pid: process.pid, version: VERSION, socketPath: paths.socketPath, logPath: paths.logPath };
			case 'mount':
				return service.mount(params as MountRequest);
			case 'unmount':
				return service.unmount(params as UnmountRequest);
			case 'list':
				return service.list();
			case 'subscribe':
				client.subscribed = true; // normally handled by the server itself
				return null;
			case 'shutdown':
				setImmediate(() => void shutdown('asked by a client'));
				return null;
		}
	};

	const server = new ControlServer(handle, () => pendingNotices.splice(0));
	server.onActivity = armIdle;
	registry.onDidChange((disks) => {
		server.broadcast({ event: 'didChangeMounts', data: disks });
		armIdle();
	});
	await server.listen(paths.socketPath);
	for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
		process.on(signal, () => void shutdown(signal));
	}
	process.on('uncaughtException', (error) => log.info(`uncaught: ${error.stack ?? String(error)}`));
	process.on('unhandledRejection', (error) => log.info(`unhandled rejection: ${String(error)}`));
	armIdle();
	log.info(`listening; ${notices.length} clean-up notices`);
}

/** Takes the pid lock; a lock whose process is gone is taken over. */
async function takeLock(lockPath: string): Promise<boolean> {
	for (let attempt = 0; attempt < 2; attempt++) {
		try {
			const fh = await open(lockPath, 'wx', 0o600);
			await fh.writeFile(String(process.pid));
			await fh.close();
			return true;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
			const pid = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
			if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) return false;
			await rm(lockPath, { force: true });
		}
	}
	return false;
}

function isAlive(pid: number): boolean {
	// A zombie (killed, not yet reaped: common when our parent was a short-lived CLI) is dead.
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
	} catch {
		return false;
	}
}

main().catch((error: unknown) => {
	process.stderr.write(
		`vmdk-mounter daemon: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
	);
	process.exit(1);
});
