// SPDX-License-Identifier: MIT
/**
 * One disk: its facts (size, kind, partition table, VM slot), the snapshot chain, what went wrong
 * and its volumes. Inside a VM it has a header with its own state and buttons; a disk opened on
 * its own shares its card's header.
 */
import { formatBytes } from '../../format.js';
import { DiskIcon } from '../../icons.js';
import type { DiskView, SourceView } from '../../state/disk-views.js';
import { STRINGS } from '../../strings.js';
import { ActionErrorNotice } from './action-error.js';
import { DiskActions } from './disk-actions.js';
import { DiskState } from './disk-state.js';
import { ErrorNotice } from './error-notice.js';
import { VolumeTable } from './volume-table.js';

/** `64 MiB disk · monolithicSparse · MBR · at scsi0:0`. */
export function diskFacts(disk: DiskView): string {
	const facts: string[] = [];
	if (disk.capacityBytes !== null) facts.push(STRINGS.disk.capacity(formatBytes(disk.capacityBytes)));
	if (disk.createType !== null) facts.push(disk.createType);
	if (disk.scheme !== null) facts.push(STRINGS.disk.scheme[disk.scheme]);
	if (disk.controller !== null) facts.push(STRINGS.disk.controller(disk.controller));
	return facts.join(' · ');
}

export function DiskSection({
	disk,
	source,
	showHeader,
}: {
	readonly disk: DiskView;
	readonly source: SourceView;
	readonly showHeader: boolean;
}) {
	const facts = diskFacts(disk);
	return (
		<section className={`disk ${showHeader ? 'with-header' : ''}`} aria-label={disk.name}>
			{showHeader && (
				<div className="disk-head">
					<DiskIcon size={22} />
					<div className="titles">
						<div className="title-line">
							<h3 className="clip">{disk.name}</h3>
							<DiskState name={disk.name} state={disk.state} operation={disk.operation} />
						</div>
						{facts !== '' && <p className="subtle clip">{facts}</p>}
					</div>
					<DiskActions disk={disk} source={source} emphasis={false} />
				</div>
			)}
			{disk.chain.length > 1 && (
				<div className="chain">
					<span className="chain-title">{STRINGS.disk.chain}</span>
					<ol aria-label={STRINGS.disk.chainLabel(disk.chain.length)}>
						{disk.chain.map((name, i) => (
							<li key={`${i}-${name}`} className="mono">
								{name}
							</li>
						))}
					</ol>
				</div>
			)}
			{disk.openError !== null && (
				<ErrorNotice error={{ title: STRINGS.disk.openError, description: disk.openError }} />
			)}
			{disk.error !== null && (
				<ActionErrorNotice
					actionError={disk.error}
					errorKey={disk.actionPath}
					target={{ path: disk.actionPath, sourcePath: source.path }}
					name={disk.name}
				/>
			)}
			{disk.warnings.length > 0 && (
				<ul className="warnings" aria-label={STRINGS.disk.warnings}>
					{disk.warnings.map((w) => (
						<li key={w}>{w}</li>
					))}
				</ul>
			)}
			<VolumeTable disk={disk} source={source} />
		</section>
	);
}
