// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import {
	ConcatExtents,
	VirtualDisk,
	ZeroExtentReader,
	type ExtentReader,
	type Run,
} from '../../../../src/core/index.js';

/** An in-memory layer: `map[i]` says what grain i (of `grain` bytes) holds. */
class GrainLayer implements ExtentReader {
	readonly sizeBytes: number;
	private readonly grain: number;
	private readonly map: ('d' | 'z' | 'u')[];
	private readonly fillByte: number;
	constructor(sizeBytes: number, grain: number, map: ('d' | 'z' | 'u')[], fillByte: number) {
		this.sizeBytes = sizeBytes;
		this.grain = grain;
		this.map = map;
		this.fillByte = fillByte;
	}
	async mapRun(offsetBytes: number, maxBytes: number): Promise<Run> {
		const g = Math.floor(offsetBytes / this.grain);
		const kind = { d: 'data', z: 'zero', u: 'unallocated' } as const;
		return { kind: kind[this.map[g]!], lengthBytes: Math.min(maxBytes, (g + 1) * this.grain - offsetBytes) };
	}
	async readData(_o: number, dest: Uint8Array, at: number, n: number): Promise<void> {
		dest.fill(this.fillByte, at, at + n);
	}
	async close(): Promise<void> {}
}

const link = (path: string) => ({
	path,
	createType: 'monolithicSparse',
	cid: '00000001',
	parentCid: 'ffffffff',
});

describe('VirtualDisk', () => {
	it('falls through unallocated grains to the parent and then to zeros', async () => {
		const base = new GrainLayer(40, 10, ['d', 'u', 'd', 'u'], 1);
		const leaf = new GrainLayer(40, 10, ['u', 'd', 'z', 'u'], 2);
		const disk = new VirtualDisk([
			{ reader: leaf, link: link('leaf') },
			{ reader: base, link: link('base') },
		]);
		const all = await disk.read(0, 40);
		expect([...all.subarray(0, 10)]).toEqual(new Array<number>(10).fill(1));
		expect([...all.subarray(10, 20)]).toEqual(new Array<number>(10).fill(2));
		expect([...all.subarray(20, 30)]).toEqual(new Array<number>(10).fill(0));
		expect([...all.subarray(30, 40)]).toEqual(new Array<number>(10).fill(0));
		expect(await disk.mapRun(30, 10)).toEqual({ kind: 'zero', lengthBytes: 10 });
		expect(await disk.mapRun(5, 100)).toEqual({ kind: 'data', lengthBytes: 5 });
	});

	it('reads a child larger than its parent as zeros past the parent', async () => {
		const base = new GrainLayer(10, 10, ['d'], 7);
		const leaf = new GrainLayer(30, 10, ['u', 'u', 'u'], 2);
		const disk = new VirtualDisk([
			{ reader: leaf, link: link('leaf') },
			{ reader: base, link: link('base') },
		]);
		const all = await disk.read(5, 20);
		expect([...all]).toEqual([...new Array<number>(5).fill(7), ...new Array<number>(15).fill(0)]);
	});

	it('concatenates extents and rejects reads past the end with a typed error', async () => {
		const layer = new ConcatExtents([new GrainLayer(10, 10, ['d'], 3), new ZeroExtentReader(6)]);
		const disk = new VirtualDisk([{ reader: layer, link: link('x.vmdk') }]);
		expect(disk.sizeBytes).toBe(16);
		expect([...(await disk.read(8, 4))]).toEqual([3, 3, 0, 0]);
		await expect(disk.read(10, 7)).rejects.toMatchObject({ code: 'VMDK_OUT_OF_RANGE' });
	});
});
