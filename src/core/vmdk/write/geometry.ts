// SPDX-License-Identifier: MIT
/**
 * The CHS geometry VMware writes into a new disk's descriptor (docs/vmdk-format.md "Geometry").
 * Guests never see it on modern controllers, but VMware products read it back, and older
 * Windows installs and some BIOS boot paths still derive the boot disk's layout from it.
 */
import type { DiskGeometry } from '../descriptor.js';

/** Controllers a converted disk can be made for (`convert --adapter`). */
export const ADAPTERS = ['ide', 'lsilogic', 'buslogic', 'pvscsi', 'sata', 'nvme'] as const;
/** A controller a converted disk can be made for. */
export type Adapter = (typeof ADAPTERS)[number];

/** What the descriptor says for each controller, and the oldest virtual hardware that has it. */
const ADAPTER_FACTS: Readonly<Record<Adapter, { readonly ddbValue: string; readonly hwVersion: number }>> = {
	ide: { ddbValue: 'ide', hwVersion: 4 },
	lsilogic: { ddbValue: 'lsilogic', hwVersion: 4 },
	buslogic: { ddbValue: 'buslogic', hwVersion: 4 },
	// The descriptor only knows ide / buslogic / lsilogic geometry; the controller itself is a
	// .vmx setting (scsiN.virtualDev, sataN, nvmeN), so these take their family's value.
	pvscsi: { ddbValue: 'lsilogic', hwVersion: 7 },
	sata: { ddbValue: 'ide', hwVersion: 10 },
	nvme: { ddbValue: 'lsilogic', hwVersion: 13 },
};

/** The `ddb.adapterType` value for `adapter`. */
export function ddbAdapterType(adapter: Adapter): string {
	return ADAPTER_FACTS[adapter].ddbValue;
}

/** The `ddb.virtualHWVersion` for a disk made for `adapter` (the oldest hardware that has it). */
export function virtualHwVersionFor(adapter: Adapter): number {
	return ADAPTER_FACTS[adapter].hwVersion;
}

/** Largest cylinder count VMware writes for IDE (the ATA CHS limit). */
const IDE_MAX_CYLINDERS = 16383;
/** Largest cylinder count VMware writes for SCSI. */
const SCSI_MAX_CYLINDERS = 65535;
const SECTORS_1_GIB = 2097152;
const SECTORS_2_GIB = 4194304;

/**
 * VMware's geometry for a disk of `capacitySectors`: IDE (and SATA) 16 heads × 63 sectors; SCSI
 * by size as in VMware KB 1026266 (< 1 GiB 64 × 32, < 2 GiB 128 × 32, else 255 × 63); cylinders
 * rounded down and capped, at least 1.
 */
export function vmwareGeometry(capacitySectors: number, adapter: Adapter): DiskGeometry {
	let heads: number;
	let sectors: number;
	let maxCylinders: number;
	if (ddbAdapterType(adapter) === 'ide') {
		heads = 16;
		sectors = 63;
		maxCylinders = IDE_MAX_CYLINDERS;
	} else {
		maxCylinders = SCSI_MAX_CYLINDERS;
		if (capacitySectors < SECTORS_1_GIB) {
			heads = 64;
			sectors = 32;
		} else if (capacitySectors < SECTORS_2_GIB) {
			heads = 128;
			sectors = 32;
		} else {
			heads = 255;
			sectors = 63;
		}
	}
	const cylinders = Math.max(1, Math.min(maxCylinders, Math.floor(capacitySectors / (heads * sectors))));
	return { cylinders, heads, sectors };
}
