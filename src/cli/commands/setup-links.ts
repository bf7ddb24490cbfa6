// SPDX-License-Identifier: MIT
/**
 * `vmdk-mounter setup-links [--undo] [--json]` (macOS): the links that make `mount -t ext2`,
 * `ext3` and `ext4` reach fuse-ext2, under /Library/Filesystems, made with an administrator
 * prompt; `--undo` removes the ones it made. Each link is reported: created, already correct,
 * or left alone with the reason (a link to something else, a file in the way). The logic is
 * in `src/host/darwin/links.ts`.
 *
 * `VMDK_MOUNTER_TEST_LINKS_ROOT=<folder>` runs it on that folder instead of `/`, without any
 * prompt, on any system: tests use it to run the command for real on Linux.
 */
import { LINKS_READ_ONLY_NOTE, setupLinks, type LinkOutcome, type LinkReport } from '../../host/output.js';
import { AppError } from '../../shared/app-error.js';
import { flag, type CliCommand } from '../command.js';
import { writeJson } from '../output.js';

/** The test hook: the root folder to work in. */
const TEST_LINKS_ROOT_ENV = 'VMDK_MOUNTER_TEST_LINKS_ROOT';

function describeLink(l: LinkOutcome): string {
	const what = `${l.path} → ${l.target}`;
	switch (l.action) {
		case 'left alone':
			return `${what}: left alone${l.detail === undefined ? '' : ` (${l.detail})`}`;
		case 'already correct':
			return `${what}: already correct${l.before === 'equivalent' && l.detail !== undefined ? ` (${l.detail})` : ''}`;
		case 'replaced':
			return `${what}: replaced a dangling link${l.detail === undefined ? '' : ` (${l.detail})`}`;
		default:
			return `${what}: ${l.action}`;
	}
}

function render(r: LinkReport): string {
	const lines = r.links.map(describeLink);
	if (!r.complete) {
		lines.push(
			'',
			r.undo
				? 'Some links were left in place (see above).'
				: 'Not every link is in place: move what is in the way and run this again.',
		);
	}
	lines.push('', LINKS_READ_ONLY_NOTE);
	return lines.join('\n') + '\n';
}

/** The `setup-links` command. */
export const setupLinksCommand: CliCommand = {
	command: 'setup-links',
	description:
		'macOS: link mount_ext2/ext3/ext4 to fuse-ext2 in /Library/Filesystems (asks for an administrator)',
	args: [],
	options: [{ flags: '--undo', description: 'remove the links this command made' }],
	async handler({ options, io }) {
		const testRoot = io.env[TEST_LINKS_ROOT_ENV];
		const root = testRoot !== undefined && testRoot !== '' ? testRoot : undefined;
		if (root === undefined && process.platform !== 'darwin') {
			throw new AppError(
				'PLATFORM_UNSUPPORTED',
				'setup-links is for macOS only: it links mount_ext2, mount_ext3 and mount_ext4 to fuse-ext2 in /Library/Filesystems',
			);
		}
		const report = await setupLinks({
			root: root ?? '/',
			undo: flag(options, 'undo'),
			mayElevate: root === undefined,
		});
		if (flag(options, 'json')) writeJson(io, report);
		else io.stdout.write(render(report));
	},
};
