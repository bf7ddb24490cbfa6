import { defineConfig } from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.ts'],
		// Integration tests mount real FUSE filesystems: keep them in one process at a time.
		fileParallelism: true,
		testTimeout: 60_000,
		hookTimeout: 120_000,
		pool: 'forks',
	},
});
