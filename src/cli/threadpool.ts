// SPDX-License-Identifier: MIT
/**
 * Imported first by `main.ts`: sizes libuv's thread pool before any I/O starts it. `export`
 * keeps file reads, grain inflation (zlib runs on the pool) and writes in flight together;
 * the default of 4 threads makes them queue behind each other. A user's own setting wins.
 */

/** Pool size when the environment does not set one. */
const CLI_THREADPOOL_SIZE = 8;

process.env.UV_THREADPOOL_SIZE ??= String(CLI_THREADPOOL_SIZE);
