// SPDX-License-Identifier: MIT
/** The window's entry: the store on the bridge, then React. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import { getBridge } from './bridge.js';
import { AppStore, type Preferences } from './state/app-store.js';
import { STRINGS } from './strings.js';

const MOUNT_ON_OPEN_KEY = 'vmdk.mountOnOpen';

/** "Mount when opened", kept in localStorage (which may be unavailable: then not kept). */
const preferences: Preferences = {
	mountOnOpen: () => {
		try {
			const v = window.localStorage.getItem(MOUNT_ON_OPEN_KEY);
			return v === null ? undefined : v === 'true';
		} catch {
			return undefined;
		}
	},
	setMountOnOpen: (on) => {
		try {
			window.localStorage.setItem(MOUNT_ON_OPEN_KEY, String(on));
		} catch {
			// Not kept between sessions; the choice still holds for this one.
		}
	},
};

const container = document.getElementById('root');
if (container === null) throw new Error('index.html has no #root');
const root = createRoot(container);
const api = getBridge();
if (api === undefined) {
	root.render(<p className="no-bridge">{STRINGS.noBridge}</p>);
} else {
	const store = new AppStore({
		api,
		newId: () => crypto.randomUUID(),
		preferences,
		// About a frame: answers that arrive together are drawn together. A timer, not
		// requestAnimationFrame, which does not run while the window is hidden in the menu bar.
		schedule: (flush) => setTimeout(flush, 16),
	});
	store.start();
	root.render(
		<StrictMode>
			<App store={store} />
		</StrictMode>,
	);
}
