// SPDX-License-Identifier: MIT
/**
 * The volumes of one disk: type, label, size, the helper that mounted it, its state (and where
 * it is, or why it is not), with Mount / Unmount and Reveal. Columns have fixed widths and each
 * row keeps two lines for its state, so rows do not move as volumes are mounted.
 */
import { formatBytes } from '../../format.js';
import type { DiskView, SourceView, VolumeView } from '../../state/disk-views.js';
import { useStore } from '../../state/store-context.js';
import { STRINGS } from '../../strings.js';

const STATE_TEXT: Record<VolumeView['state'], string> = {
	'not-mounted': STRINGS.state.notMounted,
	mounted: STRINGS.state.mounted,
	unavailable: STRINGS.state.cannotMount,
	degraded: STRINGS.state.degraded,
};

export function VolumeTable({ disk, source }: { readonly disk: DiskView; readonly source: SourceView }) {
	if (disk.volumes.length === 0) {
		return disk.openError === null ? <p className="subtle empty-volumes">{STRINGS.disk.noVolumes}</p> : null;
	}
	return (
		<table className="volumes">
			<caption className="visually-hidden">{STRINGS.volumes.caption(disk.name)}</caption>
			<colgroup>
				<col className="col-index" />
				<col className="col-name" />
				<col className="col-type" />
				<col className="col-label" />
				<col className="col-size" />
				<col className="col-helper" />
				<col className="col-state" />
				<col className="col-actions" />
			</colgroup>
			<thead>
				<tr>
					<th scope="col" className="num">
						{STRINGS.volumes.index}
					</th>
					<th scope="col">{STRINGS.volumes.name}</th>
					<th scope="col">{STRINGS.volumes.type}</th>
					<th scope="col">{STRINGS.volumes.label}</th>
					<th scope="col" className="num">
						{STRINGS.volumes.size}
					</th>
					<th scope="col">{STRINGS.volumes.helper}</th>
					<th scope="col">{STRINGS.volumes.state}</th>
					<th scope="col">
						<span className="visually-hidden">{STRINGS.volumes.actions}</span>
					</th>
				</tr>
			</thead>
			<tbody>
				{disk.volumes.map((v) => (
					<VolumeRow key={v.key} volume={v} disk={disk} source={source} />
				))}
			</tbody>
		</table>
	);
}

function VolumeRow({
	volume: v,
	disk,
	source,
}: {
	readonly volume: VolumeView;
	readonly disk: DiskView;
	readonly source: SourceView;
}) {
	const store = useStore();
	const who = v.label ?? v.name;
	const isMounted = v.mountpoint !== null;
	const toggleBlocked = isMounted ? !v.canUnmount : !v.canMount;
	const detail =
		v.mountpoint ?? v.problem ?? (v.blockedByOtherVolume ? STRINGS.volumes.otherVolumeMounted : '');
	return (
		<tr className={`volume state-${v.state}`}>
			<td className="num">{v.index}</td>
			<td className="mono">{v.name}</td>
			<td>{v.typeName ?? <span className="subtle">{STRINGS.volumes.unknownType}</span>}</td>
			<td className="clip" title={v.label ?? undefined}>
				{v.label ?? <span className="subtle">{STRINGS.volumes.noLabel}</span>}
			</td>
			<td className="num">{v.sizeBytes === null ? '' : formatBytes(v.sizeBytes)}</td>
			<td className="clip" title={v.helper ?? undefined}>
				{v.helper ?? <span className="subtle">{STRINGS.volumes.noLabel}</span>}
			</td>
			<td className="state-cell">
				<span className="volume-state">{STATE_TEXT[v.state]}</span>
				{detail !== '' && (
					<span className={`detail ${isMounted ? 'path' : ''}`} title={detail}>
						{/* A path is cut at its start (its end names the volume); LRM keeps the slashes in place. */}
						{isMounted ? `\u200e${detail}\u200e` : detail}
					</span>
				)}
			</td>
			<td className="actions">
				<button
					type="button"
					className="button small toggle"
					aria-label={isMounted ? STRINGS.volumes.unmountLabel(who) : STRINGS.volumes.mountLabel(who)}
					aria-disabled={toggleBlocked}
					onClick={() => {
						if (toggleBlocked) return;
						if (isMounted && v.mountpoint !== null) void store.unmountVolume(v.mountpoint, disk.actionPath);
						else void store.mount({ path: disk.actionPath, sourcePath: source.path, partition: v.index });
					}}
				>
					{isMounted ? STRINGS.disk.unmount : STRINGS.disk.mount}
				</button>
				<button
					type="button"
					className="button small"
					aria-label={STRINGS.volumes.revealLabel(who)}
					aria-disabled={v.mountpoint === null}
					onClick={() => {
						if (v.mountpoint !== null) void store.reveal(v.mountpoint, disk.actionPath);
					}}
				>
					{STRINGS.disk.reveal}
				</button>
			</td>
		</tr>
	);
}
