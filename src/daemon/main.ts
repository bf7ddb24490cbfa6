// SPDX-License-Identifier: MIT
/**
 * Entry of the mount daemon (`node dist/daemon/main.js`, or the app's own binary with
 * `ELECTRON_RUN_AS_NODE=1`): one per user and state folder. It checks that its folders are
 * private, takes the state folder's lock (a second daemon refuses, naming the first), cleans
 * up what a crashed predecessor left, serves requests, and exits by itself some time after the
 * last mount is gone and no client listens (`VMDK_MOUNTER_IDLE_EXIT_MS`, default five minutes).
 *
 * A refusal to start is one line on stderr, `vmdk-mounter daemon: CODE: message`, which the
 * client that started it reads back from the log.
 */
import { open, readFile, rm } from 'node:fs/promises';
import {
	appPaths,
	assertOwnedByUs,
	buildDoctorReport,
	createHost,
	preparePrivatePaths,
	readSettings,
	releaseFreedMemory,
	resolveMountRoot,
	type AppPaths,
	type Host,
	type MountSettings,
} from '../host/index.js';
import { AppError, isExpectedError } from '../shared/app-error.js';
import { PROTOCOL_VERSION, type DaemonEvent } from '../shared/daemon-contract.js';
import { pingDaemon } from './client.js';
import { openDiskForExport } from './disk-opener.js';
import { DaemonLog } from './log.js';
import { DaemonMountService } from './mount-service.js';
import { MountRegistry } from './mount-registry.js';
import { recoverFromCrash } from './recovery.js';
import { inputExists, resolveDiskPaths } from './resolve-disks.js';
import { ControlServer, type MethodHandlers } from './server.js';

/** Default idle time before the daemon exits with nothing mounted and nobody listening, in ms. */
const DEFAULT_IDLE_EXIT_MS = 5 * 60_000;
/** The daemon's version (the package's). */
const VERSION = await readFile(new URL('../../package.json', import.meta.url), 'utf8')
	.then((t) => {
		const v = (JSON.parse(t) as { version?: unknown }).version;
		return typeof v === 'string' ? v : 'unknown';
	})
	.catch(() => 'unknown');

async function main(): Promise<void> {
	const paths = await preparePrivatePaths(appPaths());
	const log = new DaemonLog(paths.logPath);

	if (await pingDaemon(paths.socketPath)) {
		process.stderr.write(`vmdk-mounter daemon: another daemon is running on ${paths.socketPath}\n`);
		return;
	}
	const host = await createHost();
	await takeStateLock(paths, host);
	log.info(
		`starting (version ${VERSION}, protocol ${PROTOCOL_VERSION}, socket ${paths.socketPath}, ${host.probe.osDescription})`,
	);

	const settings = await readSettings(paths.settingsPath).catch((error: unknown): MountSettings => {
		log.info(`settings: ${error instanceof Error ? error.message : String(error)}`);
		return {};
	});
	const mountRoot = await resolveMountRoot(paths, settings.mountRoot).catch(() => undefined);
	const notices = mountRoot === undefined ? [] : await recoverFromCrash(paths, mountRoot, host, log);
	const registry = new MountRegistry(paths.registryPath);
	await registry.save();

	// The server is made after the service it serves; events reach it through this indirection.
	let broadcast: (event: DaemonEvent) => void = () => undefined;
	const service = new DaemonMountService({
		paths,
		registry,
		log,
		host,
		openDisk: openDiskForExport,
		resolveDisks: resolveDiskPaths,
		exists: inputExists,
		progress: (data) => broadcast({ event: 'progress', data }),
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
		stopWatching();
		await service.unmountAll();
		await server.close();
		await rm(paths.socketPath, { force: true });
		await rm(paths.lockPath, { force: true });
		await log.flush();
		process.exit(0);
	};

	// Nobody mounted anything and nobody listens: go away after a while. An app that is open
	// keeps a subscription, so the daemon stays while it can be asked for something.
	const armIdle = (): void => {
		if (idleTimer !== undefined) clearTimeout(idleTimer);
		idleTimer = undefined;
		if (registry.size === 0 && server.subscriberCount === 0 && Number.isFinite(idleMs) && idleMs > 0) {
			idleTimer = setTimeout(() => void shutdown('idle with nothing mounted'), idleMs);
		}
	};

	const handlers: MethodHandlers = {
		hello: (params) => {
			if (params.protocolVersion !== PROTOCOL_VERSION) {
				throw new AppError(
					'PROTOCOL_MISMATCH',
					`this mount service (version ${VERSION}) speaks protocol ${PROTOCOL_VERSION}, the client ${params.protocolVersion}`,
				);
			}
			return {
				pid: process.pid,
				version: VERSION,
				protocolVersion: PROTOCOL_VERSION,
				socketPath: paths.socketPath,
				logPath: paths.logPath,
			};
		},
		inspect: (params) => service.inspect(params),
		doctor: async () => ({
			...(await buildDoctorReport(host, paths)),
			daemon: { running: true, pid: process.pid },
		}),
		mount: (params) => service.mount(params),
		unmount: (params) => service.unmount(params),
		list: () => service.list(),
		subscribe: () => null,
		shutdown: () => {
			setImmediate(() => void shutdown('asked by a client'));
			return null;
		},
	};

	const server = new ControlServer(handlers, () => pendingNotices.splice(0));
	broadcast = (event) => server.broadcast(event);
	server.onActivity = armIdle;
	server.onSubscribersChanged = armIdle;
	registry.onDidChange((disks) => {
		server.broadcast({ event: 'didChangeMounts', data: disks });
		armIdle();
		// Nothing mounted any more: give back what the mounts' reads used (bench/daemon-memory.js).
		if (registry.size === 0) setImmediate(releaseFreedMemory);
	});
	const stopWatching = host.watchUnmounts(
		() => service.mountpoints(),
		(gone) => void service.volumesGone(gone),
	);
	await server.listen(paths.socketPath);
	for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
		process.on(signal, () => void shutdown(signal));
	}
	process.on('uncaughtException', (error) => log.info(`uncaught: ${error.stack ?? String(error)}`));
	process.on('unhandledRejection', (error) => log.info(`unhandled rejection: ${String(error)}`));
	armIdle();
	log.info(`listening; ${notices.length} clean-up notices`);
}

/**
 * One daemon per state folder: `daemon.lock` holds the owner's pid. A lock whose process is
 * gone is taken over; a live one makes this daemon refuse, naming it. The lock file must be
 * ours to be believed (the folder is private, so it normally is).
 */
async function takeStateLock(paths: AppPaths, host: Host): Promise<void> {
	for (let attempt = 0; attempt < 2; attempt++) {
		try {
			const fh = await open(paths.lockPath, 'wx', 0o600);
			await fh.writeFile(`${process.pid}\n${paths.socketPath}\n`);
			await fh.close();
			return;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
			await assertOwnedByUs(paths.lockPath, 'file');
			const [pidText, socket] = (await readFile(paths.lockPath, 'utf8').catch(() => '')).split('\n');
			const pid = Number(pidText?.trim());
			if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && host.isProcessAlive(pid)) {
				throw new AppError(
					'DAEMON_ALREADY_RUNNING',
					`another mount service (pid ${pid}${socket ? `, socket ${socket}` : ''}) already uses the state folder ${paths.stateDir}`,
				);
			}
			await rm(paths.lockPath, { force: true });
		}
	}
	throw new AppError('DAEMON_ALREADY_RUNNING', `another mount service is starting on ${paths.stateDir}`);
}

main().catch((error: unknown) => {
	const line = isExpectedError(error)
		? `${error.code}: ${error.message}`
		: error instanceof Error
			? (error.stack ?? error.message)
			: String(error);
	process.stderr.write(`vmdk-mounter daemon: ${line}\n`);
	process.exit(1);
});
