// SPDX-License-Identifier: MIT
/**
 * The status bar: whether the mount service answers (it says so when it stops, and when it is
 * back), how many volumes are mounted, and Unmount all. Always there, always the same height.
 */
import { ALL_KEY } from '../../state/app-store.js';
import type { WindowView } from '../../state/disk-views.js';
import { useAppState, useStore } from '../../state/store-context.js';
import { STRINGS } from '../../strings.js';

export function StatusBar({ view }: { readonly view: WindowView }) {
	const store = useStore();
	const { connection, operations } = useAppState();
	const text =
		connection.kind === 'connected'
			? STRINGS.status.connected
			: connection.kind === 'connecting'
				? STRINGS.status.connecting
				: STRINGS.status.disconnected;
	// Like every other action, it waits for the mount service: nothing can answer it meanwhile.
	const unmountBlocked =
		view.mountedVolumeCount === 0 || operations.has(ALL_KEY) || connection.kind !== 'connected';
	return (
		<footer className={`status-bar ${connection.kind}`}>
			<div className="connection" role="status" aria-live="polite">
				<span className="dot" aria-hidden="true" />
				<span
					className="connection-text"
					title={connection.kind === 'disconnected' ? connection.reason : undefined}
				>
					{text}
				</span>
			</div>
			<div className="spacer" />
			<span className="mounted-count" aria-live="polite">
				{STRINGS.status.mountedCount(view.mountedVolumeCount)}
			</span>
			<button
				type="button"
				className="button"
				aria-label={STRINGS.toolbar.unmountAllLabel}
				aria-disabled={unmountBlocked}
				onClick={() => {
					if (!unmountBlocked) void store.unmountAll();
				}}
			>
				{STRINGS.toolbar.unmountAll}
			</button>
		</footer>
	);
}
