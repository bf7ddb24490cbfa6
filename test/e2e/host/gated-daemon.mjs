// SPDX-License-Identifier: MIT
// The daemon as the e2e tests start it: the real dist/daemon/main.js, unless the test closed
// the gate (a file named by VMDK_E2E_DAEMON_GATE exists), which keeps a killed daemon down for a
// while — the reconnecting client then retries, as it would while a real daemon cannot start.
import { existsSync } from 'node:fs';

const gate = process.env.VMDK_E2E_DAEMON_GATE;
if (gate !== undefined && gate !== '' && existsSync(gate)) {
	process.stderr.write('vmdk-mounter daemon: the e2e test holds the daemon down\n');
	process.exit(1);
}
await import(new URL('../../../dist/daemon/main.js', import.meta.url).href);
