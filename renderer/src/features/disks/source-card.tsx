// SPDX-License-Identifier: MIT
/**
 * One thing the user opened — a disk, or a VM with its disks — or a disk mounted elsewhere:
 * its name and folder, the VM's lock, the copy-on-write switch, its buttons, then its disks.
 */
import { memo, useId } from 'react';
import { DiskIcon, VmIcon, WarningIcon } from '../../icons.js';
import type { DiskView, SourceView } from '../../state/disk-views.js';
import { useStore } from '../../state/store-context.js';
import { STRINGS } from '../../strings.js';
import { ActionErrorNotice } from './action-error.js';
import { DiskActions, SourceActions } from './disk-actions.js';
import { DiskSection, diskFacts } from './disk-section.js';
import { DiskState } from './disk-state.js';
import { ErrorNotice } from './error-notice.js';
import { WriteSwitch } from './write-switch.js';

/** What it is: the VM's kind, guest, disks and snapshots; a lone disk's facts. */
function summary(source: SourceView, single: DiskView | undefined): string {
	if (single !== undefined) return diskFacts(single);
	const parts: string[] = [];
	if (source.vm !== null) {
		parts.push(STRINGS.source.vm[source.vm.kind]);
		if (source.vm.guestOS != null && source.vm.guestOS !== '') parts.push(source.vm.guestOS);
		parts.push(STRINGS.source.diskCount(source.disks.length));
		const snapshots = source.vm.snapshots ?? [];
		if (snapshots.length > 0) {
			const current = snapshots.find((s) => s.current)?.displayName ?? null;
			parts.push(STRINGS.source.snapshots(snapshots.length, current));
		}
	}
	return parts.join(' · ');
}

/** Memoised: the view builder keeps a card's `source` object while nothing about it changes. */
export const SourceCard = memo(function SourceCard({ source }: { readonly source: SourceView }) {
	const store = useStore();
	const titleId = useId();
	const single = source.kind !== 'vm' && source.disks.length === 1 ? source.disks[0] : undefined;
	const summaryText = summary(source, single);
	return (
		<article className={`source kind-${source.kind} status-${source.status}`} aria-labelledby={titleId}>
			<header className="source-head">
				{source.kind === 'vm' ? <VmIcon /> : <DiskIcon />}
				<div className="titles">
					<div className="title-line">
						<h2 id={titleId} className="clip" title={source.path}>
							{source.name}
						</h2>
						{single !== undefined && (
							<DiskState name={single.name} state={single.state} operation={single.operation} />
						)}
						{source.kind === 'vm' && source.operation !== null && (
							<DiskState name={source.name} state={source.operation.kind} operation={source.operation} />
						)}
					</div>
				</div>
				<div className="source-actions">
					{source.kind !== 'mounted' && source.status === 'ready' && <WriteSwitch source={source} />}
					{single !== undefined && <DiskActions disk={single} source={source} />}
					{source.kind === 'vm' && source.status === 'ready' && <SourceActions source={source} />}
					{source.kind !== 'mounted' && (
						<button
							type="button"
							className="icon-button"
							aria-label={STRINGS.source.removeLabel(source.name)}
							onClick={() => store.removeSource(source.key)}
						>
							<span aria-hidden="true">×</span>
						</button>
					)}
				</div>
				{summaryText !== '' && <p className="summary subtle clip">{summaryText}</p>}
				<p className="source-path mono subtle clip" title={source.path}>
					{source.kind === 'vm' ? source.path : source.folder}
				</p>
			</header>
			{source.lock !== 'none' && (
				<div className="notice warning" role="note">
					<WarningIcon />
					<div className="notice-text">
						<p className="notice-title">
							{source.lock === 'locked' ? STRINGS.source.lockedTitle : STRINGS.source.staleLockTitle}
						</p>
						<p>{source.lock === 'locked' ? STRINGS.source.locked : STRINGS.source.staleLock}</p>
					</div>
				</div>
			)}
			{source.actionError !== null && (
				<ActionErrorNotice
					actionError={source.actionError}
					errorKey={source.path}
					target={{ path: source.path, sourcePath: source.path }}
					name={source.name}
				/>
			)}
			{source.status === 'inspecting' && (
				<p className="subtle inspecting" role="status">
					{STRINGS.source.inspecting}
				</p>
			)}
			{source.status === 'failed' && source.error !== null && <ErrorNotice error={source.error} />}
			{source.disks.map((disk) => (
				<DiskSection key={disk.key} disk={disk} source={source} showHeader={single === undefined} />
			))}
		</article>
	);
});
