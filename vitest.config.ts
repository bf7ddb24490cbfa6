import { defineConfig } from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.ts'],
		// Files run in parallel, each in its own process (forks: a FUSE server in a worker thread
		// would share the event loop it serves). Mounting suites isolate themselves with their own
		// runtime, state and mount folders, so they can run side by side.
		fileParallelism: true,
		testTimeout: 60_000,
		hookTimeout: 120_000,
		pool: 'forks',
	},
});
