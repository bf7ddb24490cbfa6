// SPDX-License-Identifier: MIT
/**
 * Who sent an IPC message, and the one rule for trusting it: the main frame of one of our
 * windows, showing our own page (Electron's security checklist, "validate the sender
 * of all IPC messages"). A subframe, another window, or our window after it navigated away is
 * refused before any argument is looked at. The app builds the sender from Electron's
 * `event.senderFrame`; the e2e host from Playwright's calling frame.
 */

/** Who sent an IPC message: enough to check that it is our window's main frame. */
export interface IpcSender {
	/** The URL of the frame that sent the message (`event.senderFrame.url`). */
	readonly frameUrl: string;
	/** True when that frame is its page's top frame (not an iframe). */
	readonly isMainFrame: boolean;
	/** The sending window's `webContents.id`. */
	readonly webContentsId: number;
}

/** What a trusted sender looks like. */
export interface TrustedPage {
	/** The URL of our bundled page (`file://…/dist/renderer/index.html` in the app). */
	readonly pageUrl: string;
	/** The ids of our windows' web contents, asked for on every message (windows come and go). */
	readonly webContentsIds: () => Iterable<number>;
}

/** The URL without its fragment, normalised; undefined when it does not parse. */
function documentUrl(url: string): string | undefined {
	try {
		const parsed = new URL(url);
		parsed.hash = '';
		return parsed.href;
	} catch {
		return undefined;
	}
}

/** True when both URLs name the same document (a `#fragment` is the page's own business). */
export function isSameDocument(frameUrl: string, pageUrl: string): boolean {
	const a = documentUrl(frameUrl);
	return a !== undefined && a === documentUrl(pageUrl);
}

/** A sender check: the main frame of one of our windows, on our page. */
export function trustedSenderCheck(page: TrustedPage): (sender: IpcSender) => boolean {
	return (sender) => {
		if (!sender.isMainFrame || !isSameDocument(sender.frameUrl, page.pageUrl)) return false;
		for (const id of page.webContentsIds()) if (id === sender.webContentsId) return true;
		return false;
	};
}
