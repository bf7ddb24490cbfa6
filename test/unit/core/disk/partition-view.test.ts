// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import {
	LinearVolumeSource,
	MemoryByteSource,
	PartitionView,
	type ByteSource,
} from '../../../../src/core/index.js';

/** A source that records the buffers `readInto` is handed, to check that views pass them through. */
class RecordingSource implements ByteSource {
	readonly sizeBytes: number;
	readonly intoCalls: { offsetBytes: number; dest: Uint8Array; destOffset: number; length: number }[] = [];
	private readonly inner: MemoryByteSource;
	constructor(bytes: Uint8Array) {
		this.inner = new MemoryByteSource(bytes);
		this.sizeBytes = bytes.length;
	}
	read(offsetBytes: number, length: number): Promise<Uint8Array> {
		return this.inner.read(offsetBytes, length);
	}
	readInto(offsetBytes: number, dest: Uint8Array, destOffset: number, length: number): Promise<void> {
		this.intoCalls.push({ offsetBytes, dest, destOffset, length });
		return this.inner.readInto(offsetBytes, dest, destOffset, length);
	}
}

const disk = Uint8Array.from({ length: 4096 }, (_, i) => i % 251);

describe('PartitionView', () => {
	it('reads its range of the inner source, shifted by the start', async () => {
		const view = new PartitionView(new MemoryByteSource(disk), 1024, 2048);
		expect(view.sizeBytes).toBe(2048);
		expect(view.startBytes).toBe(1024);
		expect(await view.read(0, 4)).toEqual(disk.subarray(1024, 1028));
		expect(await view.read(2044, 4)).toEqual(disk.subarray(3068, 3072));
	});

	it("reads into the caller's buffer without a copy of its own", async () => {
		const inner = new RecordingSource(disk);
		const view = new PartitionView(inner, 512, 1024);
		const dest = new Uint8Array(100);
		await view.readInto(10, dest, 5, 90);
		expect(inner.intoCalls).toHaveLength(1);
		expect(inner.intoCalls[0]!.dest).toBe(dest); // the same buffer reaches the disk
		expect(inner.intoCalls[0]).toMatchObject({ offsetBytes: 522, destOffset: 5, length: 90 });
		expect(dest.subarray(5, 95)).toEqual(disk.subarray(522, 612));
	});

	it('rejects reads outside the view, before the inner source sees them', async () => {
		const inner = new RecordingSource(disk);
		const view = new PartitionView(inner, 512, 1024);
		const dest = new Uint8Array(16);
		await expect(view.readInto(1020, dest, 0, 8)).rejects.toThrow(RangeError);
		await expect(view.readInto(-1, dest, 0, 1)).rejects.toThrow(RangeError);
		await expect(view.read(1024, 1)).rejects.toThrow(RangeError);
		expect(inner.intoCalls).toEqual([]);
	});

	it('refuses a range that does not lie inside the inner source', () => {
		expect(() => new PartitionView(new MemoryByteSource(disk), 4000, 200)).toThrow(RangeError);
		expect(() => new PartitionView(new MemoryByteSource(disk), -1, 10)).toThrow(RangeError);
	});

	it('nests: an LVM volume on a partition reads straight into the caller buffer', async () => {
		const inner = new RecordingSource(disk);
		const partition = new PartitionView(inner, 1024, 2048);
		const lv = new LinearVolumeSource([
			{ lvOffsetBytes: 0, lengthBytes: 512, pv: partition, pvOffsetBytes: 1024 },
			{ lvOffsetBytes: 512, lengthBytes: 512, pv: partition, pvOffsetBytes: 0 },
		]);
		const dest = new Uint8Array(1024);
		await lv.readInto(256, dest, 0, 512);
		expect(inner.intoCalls.map((c) => [c.offsetBytes, c.length, c.dest === dest])).toEqual([
			[2304, 256, true],
			[1024, 256, true],
		]);
		expect(dest.subarray(0, 256)).toEqual(disk.subarray(2304, 2560));
		expect(dest.subarray(256, 512)).toEqual(disk.subarray(1024, 1280));
	});
});
