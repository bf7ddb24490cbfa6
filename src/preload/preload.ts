// SPDX-License-Identifier: MIT
/**
 * The window's preload: exposes exactly `VmdkApi` as `window.vmdk` and nothing else. It runs
 * sandboxed, where only a few Electron modules can be required, so it is bundled into one
 * CommonJS file (`scripts/build-preload.mjs` → `dist/preload/preload.cjs`). Dropped files become
 * paths here with `webUtils.getPathForFile` (Electron removed `File.path` in version 32).
 * Only type-checked here: the Electron binary cannot run on our machines; `vmdk-api.ts`, which
 * holds everything but these lines, is unit-tested.
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { createVmdkApi } from './vmdk-api.js';

contextBridge.exposeInMainWorld(
	'vmdk',
	createVmdkApi(ipcRenderer, (file) => webUtils.getPathForFile(file as File)),
);
