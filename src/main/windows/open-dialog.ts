// SPDX-License-Identifier: MIT
/**
 * The Open… dialog's options: the files the engine opens (the core's list, the same one the
 * packaged file associations use) and, on macOS, folders and `.vmwarevm` bundles too. GTK's
 * chooser on Linux cannot pick files and folders at once, and Electron then shows a folder
 * chooser only — so Linux gets a file chooser: a VM is opened by its `.vmx` or `.vbox`, and a
 * folder of disks by dropping it on the window.
 */
import type { OpenDialogOptions } from 'electron';
import { OPENABLE_EXTENSIONS } from '../../core/open-extensions.js';

/** Options of `dialog.showOpenDialog` for a platform (`process.platform`). */
export function openDialogOptions(platform: string): OpenDialogOptions {
	const properties: OpenDialogOptions['properties'] =
		platform === 'darwin'
			? ['openFile', 'openDirectory', 'multiSelections']
			: ['openFile', 'multiSelections'];
	return {
		title: 'Open a Virtual Disk or Virtual Machine',
		buttonLabel: 'Open',
		properties,
		filters: [
			{ name: 'Virtual disks and machines', extensions: [...OPENABLE_EXTENSIONS] },
			{ name: 'All files', extensions: ['*'] },
		],
	};
}
