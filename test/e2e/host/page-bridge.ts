// SPDX-License-Identifier: MIT
/**
 * The e2e host's stand-in for the preload: the script that gives the page `window.vmdk` (the
 * contract's `VmdkApi`). Each method calls one binding, `__vmdkInvoke(channel, args)`, which
 * Playwright runs in the host with the calling frame — the host answers it with the app's own
 * handlers. Events come back through `__vmdkEmit`. Like the preload, it refuses channels
 * without the `vmdk:` prefix and freezes what it exposes.
 *
 * One thing only Electron can do is imitated: `webUtils.getPathForFile`. Chromium gives dropped
 * files no path, so the tests make their `File`s with `__vmdkTestFile(path, name)` and this
 * script remembers which path each one stands for.
 *
 * It is a string because it runs in the page, not here: no bundler helper may leak into it.
 */

/** The name of the binding the host exposes. */
export const INVOKE_BINDING = '__vmdkInvoke';

/** Runs in the page before its own scripts (Playwright `addInitScript`). */
export const PAGE_BRIDGE_SCRIPT = `(() => {
	'use strict';
	const PREFIX = 'vmdk:';
	const EVENTS = ['vmdk:mounts-changed', 'vmdk:progress', 'vmdk:daemon-state', 'vmdk:open-paths'];
	const listeners = new Map(EVENTS.map((c) => [c, new Set()]));
	const filePaths = new WeakMap();
	const call = (channel, args) => {
		if (!channel.startsWith(PREFIX)) return Promise.reject(new Error('refused channel ' + channel));
		return window.${INVOKE_BINDING}(channel, args);
	};
	const on = (channel) => (listener) => {
		listeners.get(channel).add(listener);
		return () => {
			listeners.get(channel).delete(listener);
		};
	};
	const api = Object.freeze({
		inspect: (paths) => call('vmdk:inspect', [paths]),
		mount: (request) => call('vmdk:mount', [request]),
		unmount: (request) => call('vmdk:unmount', [request]),
		list: () => call('vmdk:list', []),
		doctor: () => call('vmdk:doctor', []),
		reveal: (path) => call('vmdk:reveal', [path]),
		openDialog: () => call('vmdk:open-dialog', []),
		openHelp: (page) => call('vmdk:open-help', [page]),
		pathForFile: (file) => filePaths.get(file) ?? '',
		onMountsChanged: on('vmdk:mounts-changed'),
		onProgress: on('vmdk:progress'),
		onDaemonState: on('vmdk:daemon-state'),
		onOpenPaths: on('vmdk:open-paths'),
	});
	Object.defineProperty(window, 'vmdk', { value: api, enumerable: true });
	Object.defineProperty(window, '__vmdkEmit', {
		value: (channel, payload) => {
			for (const listener of listeners.get(channel) ?? []) {
				try {
					listener(payload);
				} catch (error) {
					console.error(error);
				}
			}
		},
	});
	Object.defineProperty(window, '__vmdkTestFile', {
		value: (path, name) => {
			const file = new File([], name);
			filePaths.set(file, path);
			return file;
		},
	});
})();`;
