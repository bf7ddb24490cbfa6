// SPDX-License-Identifier: MIT
/**
 * The window: a toolbar (Disks / Helpers, "Mount when opened", Open…), the panel, the status
 * bar. Files can be dropped anywhere on it. Everything drawn comes from the store's state
 * through `buildWindowView`.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { DiskList } from './features/disks/disk-list.js';
import { NoticeBanner } from './features/disks/notice-banner.js';
import { HelpersPanel } from './features/helpers/helpers-panel.js';
import { DropBand, DropZone } from './features/open/drop-zone.js';
import { useFileDrop } from './features/open/use-file-drop.js';
import { StatusBar } from './features/status/status-bar.js';
import { Toolbar, type Tab } from './features/toolbar/toolbar.js';
import type { AppStore } from './state/app-store.js';
import { createWindowViewBuilder } from './state/disk-views.js';
import { StoreContext, useAppState, useStore } from './state/store-context.js';
import { STRINGS } from './strings.js';

/** The whole window, for one store. */
export function App({ store }: { readonly store: AppStore }) {
	return (
		<StoreContext.Provider value={store}>
			<Window />
		</StoreContext.Provider>
	);
}

function Window() {
	const store = useStore();
	const state = useAppState();
	const [buildView] = useState(createWindowViewBuilder);
	const view = useMemo(() => buildView(state), [buildView, state]);
	const [tab, setTab] = useState<Tab>('disks');
	const onFiles = useCallback((files: readonly File[]) => void store.openDropped(files), [store]);
	const dragging = useFileDrop(onFiles);

	useEffect(() => {
		if (tab === 'helpers' && state.helpers.kind === 'idle') void store.loadHelpers();
	}, [tab, state.helpers.kind, store]);

	const empty = view.sources.length === 0 && view.others.length === 0;
	return (
		<div className={`app connection-${state.connection.kind}`}>
			<Toolbar tab={tab} onTab={setTab} />
			<main className="content">
				<div
					role="tabpanel"
					id="panel-disks"
					aria-labelledby="tab-disks"
					hidden={tab !== 'disks'}
					className="panel"
				>
					<NoticeBanner />
					{empty ? (
						<DropZone />
					) : (
						<>
							<DropBand />
							<DiskList view={view} />
						</>
					)}
				</div>
				<div
					role="tabpanel"
					id="panel-helpers"
					aria-labelledby="tab-helpers"
					hidden={tab !== 'helpers'}
					className="panel"
				>
					<HelpersPanel />
				</div>
			</main>
			<StatusBar view={view} />
			{dragging && (
				<div className="drop-overlay" aria-hidden="true">
					<span>{STRINGS.drop.active}</span>
				</div>
			)}
		</div>
	);
}
