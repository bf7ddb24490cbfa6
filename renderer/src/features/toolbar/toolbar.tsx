// SPDX-License-Identifier: MIT
/** The toolbar: the app's name, the Disks / Helpers tabs, "Mount when opened" and Open…. */
import { useRef, type KeyboardEvent } from 'react';
import { AppIcon } from '../../icons.js';
import { useAppState, useStore } from '../../state/store-context.js';
import { STRINGS } from '../../strings.js';

/** The panels of the window. */
export type Tab = 'disks' | 'helpers';
const TABS: readonly Tab[] = ['disks', 'helpers'];

export function Toolbar({ tab, onTab }: { readonly tab: Tab; readonly onTab: (tab: Tab) => void }) {
	const store = useStore();
	const { mountOnOpen } = useAppState();
	const refs = useRef<Partial<Record<Tab, HTMLButtonElement | null>>>({});

	// Tabs move with the arrow keys, Home and End (WAI-ARIA tabs pattern); Tab leaves the list.
	const onKeyDown = (event: KeyboardEvent) => {
		const i = TABS.indexOf(tab);
		const next =
			event.key === 'ArrowRight'
				? TABS[(i + 1) % TABS.length]
				: event.key === 'ArrowLeft'
					? TABS[(i + TABS.length - 1) % TABS.length]
					: event.key === 'Home'
						? TABS[0]
						: event.key === 'End'
							? TABS[TABS.length - 1]
							: undefined;
		if (next === undefined) return;
		event.preventDefault();
		onTab(next);
		refs.current[next]?.focus();
	};

	return (
		<header className="toolbar">
			<h1 className="brand">
				<AppIcon />
				<span>{STRINGS.appTitle}</span>
			</h1>
			<div role="tablist" aria-label={STRINGS.tabs.label} className="tabs" onKeyDown={onKeyDown}>
				{TABS.map((t) => (
					<button
						key={t}
						ref={(el) => {
							refs.current[t] = el;
						}}
						type="button"
						role="tab"
						id={`tab-${t}`}
						aria-controls={`panel-${t}`}
						aria-selected={tab === t}
						tabIndex={tab === t ? 0 : -1}
						className="tab"
						onClick={() => onTab(t)}
					>
						{STRINGS.tabs[t]}
					</button>
				))}
			</div>
			<div className="spacer" />
			<label className="check">
				<input
					type="checkbox"
					checked={mountOnOpen}
					onChange={(e) => store.setMountOnOpen(e.currentTarget.checked)}
				/>
				<span>{STRINGS.toolbar.mountOnOpen}</span>
			</label>
			<button type="button" className="button primary" onClick={() => void store.openDialog()}>
				{STRINGS.toolbar.open}
			</button>
		</header>
	);
}
