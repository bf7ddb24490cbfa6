// SPDX-License-Identifier: MIT
/**
 * What must happen before Electron's `ready`, as a side effect of main.ts's first import: with an
 * ES-module entry point, Electron only promises that the side effects of the entry's *imports*
 * run before `ready` (its ESM guide), so none of this can live in main.ts's own body.
 *
 * - `open-file` is listened for at once: Finder delivers the file that launched the app early.
 * - The single-instance lock is taken with this launch's argv and folder as `additionalData`; a
 *   second instance quits at once, the first gets `second-instance`.
 * - The page's scheme is registered as privileged (only possible before `ready`).
 *
 * Only type-checked here: it is Electron glue (the Electron binary cannot run on our machines).
 */
import { app, protocol } from 'electron';
import { APP_SCHEME } from '../windows/app-protocol.js';
import {
	OpenRequestQueue,
	fromOpenFile,
	fromSecondInstance,
	leadingArgCount,
	parseArgv,
	type LaunchData,
} from './open-request.js';

/** Every open request, held until main has set up the window and the daemon connection. */
export const requests = new OpenRequestQueue();

app.on('open-file', (event, path) => {
	event.preventDefault();
	requests.push(fromOpenFile(path));
});

const leading = leadingArgCount(process.defaultApp === true);
const launchData: LaunchData = { argv: process.argv, cwd: process.cwd() };

/** False in a second instance, which has handed its argv to the first and is quitting. */
export const isPrimaryInstance: boolean = app.requestSingleInstanceLock({ ...launchData });

if (isPrimaryInstance) {
	app.on('second-instance', (_event, argv, workingDirectory, additionalData) => {
		requests.push(fromSecondInstance(argv, workingDirectory, additionalData, leading));
	});
	requests.push(parseArgv(process.argv, { cwd: process.cwd(), leading, via: 'launch-argv' }));
	protocol.registerSchemesAsPrivileged([
		{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
	]);
} else {
	app.quit();
}
