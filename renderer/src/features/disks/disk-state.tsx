// SPDX-License-Identifier: MIT
/**
 * A disk's state, and in the same place (same size) the progress of a mount or unmount under
 * way, so nothing moves when work starts or ends.
 */
import type { DiskView } from '../../state/disk-views.js';
import { STRINGS } from '../../strings.js';

const STATE_TEXT: Record<DiskView['state'], string> = {
	'not-mounted': STRINGS.state.notMounted,
	mounting: STRINGS.state.mounting,
	unmounting: STRINGS.state.unmounting,
	'mounted-read-only': STRINGS.state.mountedReadOnly,
	'mounted-writable': STRINGS.state.mountedWritable,
};

export interface DiskStateProps {
	/** Names the progress bar. */
	readonly name: string;
	readonly state: DiskView['state'];
	readonly operation: DiskView['operation'];
}

export function DiskState({ name, state, operation }: DiskStateProps) {
	const progress = operation?.progress ?? null;
	const busy = operation !== null;
	const total = progress?.total;
	return (
		<div className={`disk-state state-${state}`}>
			{busy ? (
				<>
					<progress
						aria-label={`${STRINGS.progress.label}: ${name}`}
						max={total !== undefined && total > 0 ? total : undefined}
						value={total !== undefined && total > 0 ? (progress?.done ?? 0) : undefined}
					/>
					<span className="progress-text" role="status">
						{progress?.message ?? STATE_TEXT[state]}
					</span>
				</>
			) : (
				<span className="state-badge">{STATE_TEXT[state]}</span>
			)}
		</div>
	);
}
