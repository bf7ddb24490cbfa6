// SPDX-License-Identifier: MIT
/**
 * The only web pages the app opens in the browser (`shell.openExternal`), by the names the
 * renderer may ask for. Anything else never reaches the browser.
 */

/** Help page name → its URL. `readme` has no public address yet, so it opens nothing. */
export const HELP_URLS: Readonly<Record<'macfuse' | 'fuse-t' | 'readme', string | null>> = {
	macfuse: 'https://macfuse.github.io/',
	'fuse-t': 'https://www.fuse-t.org/',
	readme: null,
};

/** True when `url` is exactly one of the allow-listed pages. */
export function isAllowedExternalUrl(url: string): boolean {
	return Object.values(HELP_URLS).some((allowed) => allowed !== null && allowed === url);
}
