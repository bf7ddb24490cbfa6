// SPDX-License-Identifier: MIT
/**
 * The preload's API, `window.vmdk` — the window's only way out. Its type comes from the shared
 * contract (types only: the renderer imports nothing at run time from `src/`).
 */
import type { VmdkApi } from '../../src/shared/ipc-contract.js';

declare global {
	interface Window {
		/** Set by the preload (or the e2e host); absent when the page is opened on its own. */
		readonly vmdk?: VmdkApi;
	}
}

/** The bridge, or undefined when the page runs outside the app. */
export function getBridge(): VmdkApi | undefined {
	return window.vmdk;
}
