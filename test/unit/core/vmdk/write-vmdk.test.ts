// SPDX-License-Identifier: MIT
// The VMDK writers in memory: every subformat written, reopened with our reader and read back;
// the binary pieces against our parsers; geometry against the values VMware and QEMU write.
import { describe, expect, it } from 'vitest';
import {
	GD_AT_END,
	MemoryByteSource,
	VmdkError,
	openDisk,
	parseDescriptor,
	parseSparseHeader,
	repointVmxDisks,
} from '../../../../src/core/index.js';
import {
	WRITE_SUBFORMATS,
	encodeSparseHeader,
	formatDescriptor,
	nextSnapshotName,
	plannedFileNames,
	vmwareGeometry,
	writeSnapshotDelta,
	writeVmdk,
	type WriteSource,
} from '../../../../src/core/write.js';
import { MemoryPlatform } from '../../../helpers/memory-platform.js';
import { memoryWritePlatform } from '../../../helpers/memory-write-platform.js';
import { prng } from '../../../helpers/prng.js';

/** A WriteSource over bytes, reporting every range as data (the writer must find zeros itself). */
function sourceOf(bytes: Uint8Array): WriteSource {
	return {
		sizeBytes: bytes.length,
		mapRun: async (offset, max) => ({ kind: 'data', lengthBytes: Math.min(max, bytes.length - offset) }),
		readInto: async (offset, dest, destOffset, length) => {
			dest.set(bytes.subarray(offset, offset + length), destOffset);
		},
	};
}

function sampleDisk(size: number, seed: number): Uint8Array {
	const out = new Uint8Array(size);
	const random = prng(seed);
	for (let at = 0; at < size; at += 4096) {
		const s = Math.floor(random() * 2 ** 32);
		if (s % 3 === 0) continue; // zeros
		const end = Math.min(size, at + 4096);
		for (let i = at; i < end; i++) out[i] = s % 5 === 0 ? (i * 7 + s) & 0xff : (s >>> 8) & 0xff;
	}
	return out;
}

describe('writeVmdk', () => {
	for (const subformat of WRITE_SUBFORMATS) {
		for (const size of [512, 1000, 65536, 3 * 65536 + 12345, 1024 * 1024 + 1]) {
			it(`${subformat}, ${size} bytes: reads back equal (tail padded with zeros)`, async () => {
				const data = sampleDisk(size, size);
				const mem = new MemoryPlatform();
				const result = await writeVmdk(sourceOf(data), memoryWritePlatform(mem, '/o'), {
					subformat,
					adapter: 'lsilogic',
					baseName: 'out',
					chunkBytes: 65536 * 2,
					chunksInFlight: 3,
				});
				expect(result.files[0]).toBe('out.vmdk');
				expect(result.files).toEqual(plannedFileNames(subformat, 'out', size));
				const disk = await openDisk('/o/out.vmdk', mem);
				try {
					expect(disk.sizeBytes).toBe(Math.ceil(size / 512) * 512);
					const back = await disk.read(0, disk.sizeBytes);
					expect(Buffer.compare(back.subarray(0, size), data)).toBe(0);
					expect(back.subarray(size).every((b) => b === 0)).toBe(true);
					expect(disk.chain[0]!.cid).toBe(result.cid);
					expect(disk.warnings).toEqual([]);
				} finally {
					await disk.close();
				}
			});
		}
	}

	it('a read failing ahead of the chunk being written rejects the write (not an unhandled rejection)', async () => {
		const size = 16 * 65536;
		const source: WriteSource = {
			sizeBytes: size,
			mapRun: async (offset, max) => ({ kind: 'data', lengthBytes: Math.min(max, size - offset) }),
			readInto: async (offset, dest, destOffset, length) => {
				if (offset === 0) await new Promise((r) => setTimeout(r, 50));
				if (offset >= 4 * 65536)
					throw new VmdkError('VMDK_IO', 'read failed', { file: '/in', offsetBytes: offset });
				dest.fill(1, destOffset, destOffset + length);
			},
		};
		for (const subformat of WRITE_SUBFORMATS) {
			await expect(
				writeVmdk(source, memoryWritePlatform(new MemoryPlatform(), '/o'), {
					subformat,
					adapter: 'ide',
					baseName: 'x',
					chunkBytes: 65536,
					chunksInFlight: 8,
				}),
			).rejects.toMatchObject({ code: 'VMDK_IO' });
		}
	});

	it('refuses an empty input and a monolithic disk over 2 TiB', async () => {
		const mem = new MemoryPlatform();
		const platform = memoryWritePlatform(mem, '/o');
		const options = { subformat: 'monolithicSparse', adapter: 'ide', baseName: 'x' } as const;
		await expect(writeVmdk(sourceOf(new Uint8Array(0)), platform, options)).rejects.toMatchObject({
			code: 'VMDK_LIMIT',
		});
		const huge: WriteSource = { ...sourceOf(new Uint8Array(0)), sizeBytes: 2 * 1024 ** 4 + 512 };
		await expect(writeVmdk(huge, platform, options)).rejects.toMatchObject({ code: 'VMDK_LIMIT' });
	});
});

describe('binary pieces', () => {
	it('a header we encode parses back, GD_AT_END included', () => {
		const fields = {
			version: 3,
			flags: 0x30001,
			capacitySectors: 123456,
			descriptorOffsetSectors: 1,
			descriptorSizeSectors: 20,
			rgdOffsetSectors: 0,
			gdOffsetSectors: GD_AT_END,
			overheadSectors: 128,
			compressAlgorithm: 1,
		} as const;
		const h = parseSparseHeader(encodeSparseHeader(fields));
		expect(h).toMatchObject({
			version: 3,
			capacitySectors: 123456,
			grainSizeSectors: 128,
			gdAtEnd: true,
			compressed: true,
			hasMarkers: true,
			overheadSectors: 128,
		});
	});

	it('a descriptor we format parses back, and refuses names it cannot quote', () => {
		const fields = {
			cid: '0a1b2c3d',
			parentCid: 'deadbeef',
			createType: 'monolithicSparse',
			parentFileNameHint: 'base disk.vmdk',
			extents: [{ sizeSectors: 2048, type: 'SPARSE', fileName: 'base disk-000001.vmdk' }],
			adapterType: 'lsilogic',
			geometry: { cylinders: 1, heads: 64, sectors: 32 },
			virtualHwVersion: 4,
			longContentIdPrefix: '00112233445566778899aabb',
		} as const;
		const d = parseDescriptor(formatDescriptor(fields));
		expect(d).toMatchObject({ cid: '0a1b2c3d', parentCid: 'deadbeef', parentFileNameHint: 'base disk.vmdk' });
		expect(d.extents[0]).toMatchObject({
			sizeSectors: 2048,
			type: 'SPARSE',
			fileName: 'base disk-000001.vmdk',
		});
		expect(d.ddb.longContentId).toBe('00112233445566778899aabb0a1b2c3d');
		expect(() => formatDescriptor({ ...fields, parentFileNameHint: 'a"b' })).toThrow(/quote/);
	});

	it('geometry as VMware writes it (IDE 16×63, SCSI by KB 1026266), cylinders capped', () => {
		expect(vmwareGeometry(10485760, 'ide')).toEqual({ cylinders: 10402, heads: 16, sectors: 63 }); // 5 GiB, = qemu-img
		expect(vmwareGeometry(6291456, 'lsilogic')).toEqual({ cylinders: 391, heads: 255, sectors: 63 }); // 3 GiB, = qemu-img
		expect(vmwareGeometry(204800, 'buslogic')).toEqual({ cylinders: 100, heads: 64, sectors: 32 }); // 100 MiB
		expect(vmwareGeometry(3 * 1024 * 1024, 'pvscsi')).toEqual({ cylinders: 768, heads: 128, sectors: 32 }); // 1.5 GiB
		expect(vmwareGeometry(2 ** 32, 'ide').cylinders).toBe(16383);
		expect(vmwareGeometry(2 ** 32, 'nvme').cylinders).toBe(65535);
		expect(vmwareGeometry(1, 'sata')).toEqual({ cylinders: 1, heads: 16, sectors: 63 });
	});
});

describe('snapshots', () => {
	it('nextSnapshotName takes the first free number and drops a parent’s own number', () => {
		expect(nextSnapshotName('disk.vmdk', [])).toBe('disk-000001.vmdk');
		expect(nextSnapshotName('disk.vmdk', ['disk-000001.vmdk', 'DISK-000002.vmdk.partial'])).toBe(
			'disk-000003.vmdk',
		);
		expect(nextSnapshotName('disk-000004.vmdk', ['disk-000004.vmdk'])).toBe('disk-000001.vmdk');
	});

	it('a delta over an in-memory parent reads as the changed disk through our reader', async () => {
		const mem = new MemoryPlatform();
		const parentBytes = sampleDisk(4 * 65536, 7);
		await writeVmdk(sourceOf(parentBytes), memoryWritePlatform(mem, '/d'), {
			subformat: 'monolithicSparse',
			adapter: 'ide',
			baseName: 'p',
		});
		const parent = await openDisk('/d/p.vmdk', mem);
		const newBytes = new Uint8Array(70000).fill(0x5c);
		const src = new MemoryByteSource(newBytes);
		const expected = parentBytes.slice();
		expected.set(newBytes.subarray(0, 70000), 30000);
		expected.fill(0, 200000, 200100);
		const result = await writeSnapshotDelta(
			{
				disk: parent,
				cid: parent.chain[0]!.cid,
				fileNameHint: 'p.vmdk',
				adapterType: 'ide',
				geometry: { cylinders: 1, heads: 16, sectors: 63 },
				virtualHwVersion: 4,
			},
			[
				{
					offsetBytes: 30000,
					lengthBytes: 70000,
					source: { readInto: (o, d, off, n) => src.read(o, n).then((b) => void d.set(b, off)) },
					sourceOffsetBytes: 0,
				},
				{
					offsetBytes: 200000,
					lengthBytes: 100,
					source: { readInto: async (_o, d, off, n) => void d.fill(0, off, off + n) },
					sourceOffsetBytes: 0,
				},
			],
			memoryWritePlatform(mem, '/d', 9),
			{ fileName: 'p-000001.vmdk' },
		);
		await parent.close();
		expect(result.grains).toBe(3); // grains 0 and 1 (30000..100000) and 3 (200000)
		const child = await openDisk('/d/p-000001.vmdk', mem);
		try {
			expect(Buffer.compare(await child.read(0, child.sizeBytes), expected)).toBe(0);
			expect(child.chain.map((l) => l.path)).toEqual(['/d/p-000001.vmdk', '/d/p.vmdk']);
		} finally {
			await child.close();
		}
	});

	it('repointVmxDisks rewrites only the matching slot lines, with escapes and CRLF kept', () => {
		const text =
			'a = "1"\r\nscsi0:0.fileName = "d.vmdk"\r\nSATA0:1.FILENAME="x|7Cy.vmdk" # note\r\nide0:0.fileName = "d.vmdk.bak"\r\n';
		const r = repointVmxDisks(text, (n) => n === 'd.vmdk' || n === 'x|y.vmdk', 'new "1".vmdk');
		expect(r.slots).toEqual(['scsi0:0', 'sata0:1']);
		expect(r.text).toBe(
			'a = "1"\r\nscsi0:0.fileName = "new |221|22.vmdk"\r\nSATA0:1.FILENAME="new |221|22.vmdk" # note\r\nide0:0.fileName = "d.vmdk.bak"\r\n',
		);
		expect(() => repointVmxDisks(text, () => false, 'n.vmdk')).toThrow(/no hard disk/);
	});
});
