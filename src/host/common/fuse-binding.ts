// SPDX-License-Identifier: MIT
/** The FUSE bindings the daemon's export can run on. */

/** Our libfuse 3 addon (`native/fuse3`), or `@cocalc/fuse-native` (libfuse 2, the fallback). */
export type FuseBindingName = 'fuse3' | 'fuse-native';
