// SPDX-License-Identifier: MIT
/**
 * Mount / Unmount and Reveal for one disk. Mount and Unmount are one button that changes its
 * word, so it keeps its place and the keyboard focus; while work is under way it is marked
 * unavailable (aria-disabled) rather than disabled, which would drop the focus.
 */
import type { DiskView, SourceView } from '../../state/disk-views.js';
import { useStore } from '../../state/store-context.js';
import { STRINGS } from '../../strings.js';

export function DiskActions({
	disk,
	source,
	emphasis = true,
}: {
	readonly disk: DiskView;
	readonly source: SourceView;
	/** Mount is the card's main action (a VM's disks leave that to "Mount all"). */
	readonly emphasis?: boolean;
}) {
	const store = useStore();
	const mounted = disk.mounted;
	// A disk inside an .ova is mounted with its appliance; unmounting it alone is fine.
	const blocked =
		disk.operation !== null || disk.openError !== null || (!disk.standalone && mounted === null);
	return (
		<div className="button-group">
			<button
				type="button"
				className={`button toggle ${mounted === null && emphasis ? 'primary' : ''}`}
				aria-label={
					mounted === null ? STRINGS.disk.mountLabel(disk.name) : STRINGS.disk.unmountLabel(disk.name)
				}
				aria-disabled={blocked}
				title={!disk.standalone && mounted === null ? STRINGS.disk.mountWithAppliance : undefined}
				onClick={() => {
					if (blocked) return;
					if (mounted === null) void store.mount({ path: disk.actionPath, sourcePath: source.path });
					else void store.unmountDisk(mounted.id, disk.actionPath);
				}}
			>
				{mounted === null ? STRINGS.disk.mount : STRINGS.disk.unmount}
			</button>
			<button
				type="button"
				className="button"
				aria-label={STRINGS.disk.revealLabel(disk.name)}
				onClick={() => void store.reveal(disk.standalone ? disk.path : source.path, disk.actionPath)}
			>
				{STRINGS.disk.reveal}
			</button>
		</div>
	);
}

/** "Mount all" / "Unmount all" for the disks of a VM or folder. */
export function SourceActions({ source }: { readonly source: SourceView }) {
	const store = useStore();
	const busy = source.operation !== null || source.disks.some((d) => d.operation !== null);
	const mountedIds = source.disks.flatMap((d) => (d.mounted === null ? [] : [d.mounted.id]));
	const unmount = mountedIds.length > 0;
	const blocked = busy || (!unmount && !source.canMount);
	return (
		<div className="button-group">
			<button
				type="button"
				className={`button toggle wide ${unmount ? '' : 'primary'}`}
				aria-label={
					unmount ? STRINGS.source.unmountAllLabel(source.name) : STRINGS.source.mountAllLabel(source.name)
				}
				aria-disabled={blocked}
				onClick={() => {
					if (blocked) return;
					if (unmount) void store.unmountDisks(mountedIds, source.path);
					else void store.mount({ path: source.path, sourcePath: source.path });
				}}
			>
				{unmount ? STRINGS.source.unmountAll : STRINGS.source.mountAll}
			</button>
			<button
				type="button"
				className="button"
				aria-label={STRINGS.source.revealLabel(source.name)}
				onClick={() => void store.reveal(source.path, source.path)}
			>
				{STRINGS.disk.reveal}
			</button>
		</div>
	);
}
