// SPDX-License-Identifier: MIT
// The engine's public surface: other layers import from here only.
export * from './errors.js';
export * from './io/byte-source.js';
export * from './io/paths.js';
export * from './io/limits.js';
export * from './io/safe-number.js';
export { Reader, assertOffset } from './io/reader.js';
export type * from './platform.js';
export * from './disk/extent-reader.js';
export * from './disk/concat-extents.js';
export * from './disk/virtual-disk.js';
