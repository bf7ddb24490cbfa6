// SPDX-License-Identifier: MIT
// Talking to the control socket below the client: raw text in, the first `count` answer lines out.
import { connect } from 'node:net';

/** Sends `text` as is and resolves with the first `count` lines of the answer, parsed. */
export function rawExchange(
	socketPath: string,
	text: string,
	count: number,
): Promise<Record<string, unknown>[]> {
	return new Promise((resolve, reject) => {
		const s = connect(socketPath);
		let got = '';
		s.setEncoding('utf8');
		s.on('data', (d: string) => {
			got += d;
			const lines = got.split('\n').filter((l) => l !== '');
			if (lines.length >= count) {
				s.end();
				resolve(lines.map((l) => JSON.parse(l) as Record<string, unknown>));
			}
		});
		s.on('error', reject);
		s.write(text);
	});
}
