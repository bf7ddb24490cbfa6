// SPDX-License-Identifier: MIT
/**
 * Worker threads that inflate and deflate VMDK grains in batches, with libdeflate (our addon)
 * when it is built and Node's zlib otherwise (docs/compression.md has the measurements).
 *
 * Why workers and batches: Node's callback zlib builds a stream per call and costs the event
 * loop ~50 µs per grain (about as much as the inflate itself); here the event loop only posts
 * one message per batch and the codec runs synchronously on its own thread. Idle workers are
 * unref'd: they never keep the process alive.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { inflate, inflateRaw } from 'node:zlib';
import { VmdkError } from '../../core/index.js';
import { codecAddonPath, type CodecAddon } from './codec-addon.js';

/**
 * Deflate level with libdeflate: 3. On grains of a real ext4 image (bench/codec.js) it writes
 * the same size as zlib level 6 (qemu-img's) at 2.4× zlib's speed per core; level 6 is 1.6× and
 * 3% smaller, level 1 2× zlib level 6's speed and 6% larger.
 */
export const LIBDEFLATE_LEVEL = 3;
/** Deflate level with Node's zlib (the fallback): 6, zlib's default and qemu-img's. */
export const ZLIB_LEVEL = 6;

/**
 * The worker's code (CommonJS, run with `eval`, so it needs no file next to the build).
 * Message in: `{ id, input: ArrayBuffer, jobs: [{ op, off, len, maxOut, zlib }] }` — every grain
 * of the batch in one buffer, moved rather than copied; out: `{ id, results: [Uint8Array |
 * string] }` (a string is an error message). Outputs are allocated without zero-filling
 * (`allocUnsafeSlow`: own memory, never Node's shared pool), since the codec overwrites them.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
const addon = workerData.addonPath ? require(workerData.addonPath) : null;
function run(job, data) {
	if (job.op === 'deflate') {
		if (addon) {
			let out = Buffer.allocUnsafeSlow(data.length + (data.length >> 3) + 1024);
			let n = addon.zlibCompress(data, workerData.libdeflateLevel, out);
			if (n === 0) {
				out = Buffer.allocUnsafeSlow(data.length * 2 + 65536);
				n = addon.zlibCompress(data, workerData.libdeflateLevel, out);
			}
			return { out: out.subarray(0, n), mine: true };
		}
		return { out: zlib.deflateSync(data, { level: workerData.zlibLevel }), mine: false };
	}
	if (addon) {
		const out = Buffer.allocUnsafeSlow(Math.max(1, job.maxOut));
		const n = addon.zlibDecompress(data, out, !job.zlib);
		return { out: out.subarray(0, n), mine: true };
	}
	const options = { maxOutputLength: Math.max(1, job.maxOut), chunkSize: Math.max(64, job.maxOut) + 1024 };
	return { out: job.zlib ? zlib.inflateSync(data, options) : zlib.inflateRawSync(data, options), mine: false };
}
parentPort.on('message', ({ id, input, jobs }) => {
	const results = [];
	const transfer = [];
	for (const job of jobs) {
		try {
			const { out, mine } = run(job, new Uint8Array(input, job.off, job.len));
			// zlib's small results can live in Node's shared Buffer pool, which must not move.
			const whole = mine ? out.byteOffset === 0 : out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
			const owned = whole && !transfer.includes(out.buffer);
			const view = owned ? out : new Uint8Array(out);
			results.push(view);
			transfer.push(view.buffer);
		} catch (error) {
			results.push(String(error && error.message ? error.message : error));
		}
	}
	parentPort.postMessage({ id, results }, transfer);
});
`;

/** One grain waiting for a worker. */
interface CodecJob {
	readonly op: 'inflate' | 'deflate';
	readonly data: Uint8Array;
	readonly maxOut: number;
	readonly zlib: boolean;
	readonly resolve: (out: Uint8Array) => void;
	readonly reject: (error: unknown) => void;
}

/** A worker's reply to one batch. */
interface CodecReply {
	readonly id: number;
	readonly results: readonly (Uint8Array | string)[];
}

/** Which implementation a pool runs. */
export type CodecBackend = 'libdeflate' | 'zlib';

/** A pool of codec workers. Use {@link CodecPool.create}; call `close` when done (or let it idle). */
export class CodecPool {
	/** `libdeflate` when the addon is built, `zlib` otherwise. */
	readonly backend: CodecBackend;
	private readonly workers: Worker[] = [];
	/** Batches sent and not yet answered, per worker. */
	private readonly inFlight: number[] = [];
	private readonly batches = new Map<number, readonly CodecJob[]>();
	private queue: CodecJob[] = [];
	private flushScheduled = false;
	private nextId = 1;
	private dead: Error | undefined;
	/** Called once if a worker dies; the pool is unusable after it. */
	onDeath: ((error: Error) => void) | undefined;

	private constructor(workerCount: number, addonPath: string | undefined) {
		this.backend = addonPath === undefined ? 'zlib' : 'libdeflate';
		const workerData = { addonPath, libdeflateLevel: LIBDEFLATE_LEVEL, zlibLevel: ZLIB_LEVEL };
		for (let i = 0; i < workerCount; i++) {
			const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
			worker.on('message', (reply: CodecReply) => this.settle(i, reply));
			worker.on('error', (error) => this.fail(error));
			// An exit without an error event (killed from outside) must not leave grains waiting.
			worker.on('exit', (code) => {
				if (this.dead === undefined) this.fail(new Error(`codec worker exited with code ${code}`));
			});
			// After the listeners (adding one refs the worker again); re-ref'd while it has work.
			worker.unref();
			this.workers.push(worker);
			this.inFlight.push(0);
		}
	}

	/** A pool of `workerCount` workers, using libdeflate when it loads here. */
	static create(workerCount: number): CodecPool {
		let addonPath = codecAddonPath();
		if (addonPath !== undefined) {
			// Load it once here: a broken build must mean zlib, not failing workers.
			try {
				(createRequire(import.meta.url)(addonPath) as CodecAddon).libdeflateVersion.toString();
			} catch {
				addonPath = undefined;
			}
		}
		return new CodecPool(Math.max(1, workerCount), addonPath);
	}

	/** Inflates one zlib stream (raw deflate when `isZlib` is false) into at most `maxOutBytes`. */
	inflate(compressed: Uint8Array, maxOutBytes: number, isZlib: boolean): Promise<Uint8Array> {
		return this.submit('inflate', compressed, maxOutBytes, isZlib);
	}

	/** Compresses each buffer to a zlib stream, in order. */
	deflate(inputs: readonly Uint8Array[]): Promise<Uint8Array[]> {
		return Promise.all(inputs.map((data) => this.submit('deflate', data, 0, true)));
	}

	/** Stops the workers (pending work fails). */
	async close(): Promise<void> {
		this.dead ??= new Error('codec pool closed');
		await Promise.all(this.workers.map((w) => w.terminate()));
	}

	private submit(op: CodecJob['op'], data: Uint8Array, maxOut: number, zlib: boolean): Promise<Uint8Array> {
		if (this.dead !== undefined) return Promise.reject(this.dead);
		return new Promise((resolve, reject) => {
			// Copied into the batch's buffer when the batch leaves (still in this turn): callers do
			// not touch a buffer while its grains are being (de)compressed.
			this.queue.push({ op, data, maxOut, zlib, resolve, reject });
			if (!this.flushScheduled) {
				this.flushScheduled = true;
				// Grains asked for in the same turn leave as a few batches.
				queueMicrotask(() => this.flush());
			}
		});
	}

	/** Splits the queue into one batch per worker, least busy first. */
	private flush(): void {
		this.flushScheduled = false;
		const jobs = this.queue;
		this.queue = [];
		const order = this.workers
			.map((_, i) => i)
			.sort((a, b) => (this.inFlight[a] ?? 0) - (this.inFlight[b] ?? 0));
		const perWorker = Math.ceil(jobs.length / order.length);
		for (let k = 0; k * perWorker < jobs.length; k++) {
			const w = order[k] as number;
			const batch = jobs.slice(k * perWorker, (k + 1) * perWorker);
			const id = this.nextId++;
			this.batches.set(id, batch);
			this.inFlight[w] = (this.inFlight[w] ?? 0) + 1;
			if (this.inFlight[w] === 1) this.workers[w]?.ref();
			// One buffer for the whole batch (one allocation and one move, not one per grain).
			const input = Buffer.allocUnsafeSlow(batch.reduce((n, j) => n + j.data.length, 0));
			let off = 0;
			const metas = batch.map((j) => {
				input.set(j.data, off);
				const meta = { op: j.op, off, len: j.data.length, maxOut: j.maxOut, zlib: j.zlib };
				off += j.data.length;
				return meta;
			});
			try {
				this.workers[w]?.postMessage({ id, input: input.buffer, jobs: metas }, [input.buffer]);
			} catch (error) {
				// Cannot happen with our own copies; if it does, fail these grains instead of hanging.
				this.batches.delete(id);
				this.inFlight[w] = (this.inFlight[w] ?? 1) - 1;
				for (const j of batch) j.reject(error);
			}
		}
	}

	private settle(worker: number, reply: CodecReply): void {
		this.inFlight[worker] = (this.inFlight[worker] ?? 1) - 1;
		if (this.inFlight[worker] === 0) this.workers[worker]?.unref();
		const batch = this.batches.get(reply.id);
		this.batches.delete(reply.id);
		if (batch === undefined) return;
		batch.forEach((job, i) => {
			const result = reply.results[i];
			if (result instanceof Uint8Array) job.resolve(result);
			else job.reject(codecError(job.op, result ?? 'no answer from the codec worker'));
		});
	}

	/** A worker died (out of memory, killed): pending inflates retry on libuv; deflates fail. */
	private fail(error: Error): void {
		if (this.dead !== undefined) return;
		this.dead = error;
		for (const worker of this.workers) void worker.terminate();
		const pending = [...this.batches.values()].flat().concat(this.queue);
		this.batches.clear();
		this.queue = [];
		for (const job of pending) {
			// The caller's bytes are intact (workers get copies): inflates retry here.
			if (job.op === 'inflate') {
				inflateOnLibuv(job.data, job.maxOut, job.zlib).then(job.resolve, job.reject);
			} else {
				job.reject(codecError(job.op, error.message));
			}
		}
		this.onDeath?.(error);
	}
}

function codecError(op: CodecJob['op'], message: string): Error {
	return op === 'inflate'
		? new VmdkError('VMDK_DECOMPRESS', `compressed grain does not inflate: ${message}`)
		: new Error(`deflate failed: ${message}`);
}

/** Fallback when no worker can run: zlib's callback API on libuv's pool. */
export function inflateOnLibuv(
	compressed: Uint8Array,
	maxOutBytes: number,
	isZlib: boolean,
): Promise<Uint8Array> {
	const fn = isZlib ? inflate : inflateRaw;
	return new Promise((resolve, reject) => {
		// One chunk larger than the grain: one thread-pool round trip and no re-copy per grain.
		const options = {
			maxOutputLength: Math.max(1, maxOutBytes),
			chunkSize: Math.max(64, maxOutBytes) + 1024,
		};
		fn(compressed, options, (error, result) => {
			if (error) reject(codecError('inflate', error.message));
			else resolve(new Uint8Array(result.buffer, result.byteOffset, result.byteLength));
		});
	});
}
