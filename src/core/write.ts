// SPDX-License-Identifier: MIT
/**
 * The engine's writers (`convert`, keeping copy-on-write changes as a snapshot delta): a door of
 * their own beside `index.ts`, so that the commands that only read do not load them.
 */
export * from './vmdk/write/geometry.js';
export * from './vmdk/write/descriptor-text.js';
export * from './vmdk/write/sparse-layout.js';
export * from './vmdk/write/grain-pipeline.js';
export * from './vmdk/write/sparse-extent-writer.js';
export * from './vmdk/write/stream-extent-writer.js';
export * from './vmdk/write/write-vmdk.js';
export * from './vmdk/write/snapshot-delta.js';
