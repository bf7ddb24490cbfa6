// SPDX-License-Identifier: MIT
/** The empty window's invitation to drop a disk, and the one-line reminder above a list. */
import { DiskIcon } from '../../icons.js';
import { useStore } from '../../state/store-context.js';
import { STRINGS } from '../../strings.js';

/** Fills the empty window. */
export function DropZone() {
	const store = useStore();
	return (
		<section className="drop-zone" aria-labelledby="drop-title">
			<DiskIcon size={56} />
			<h2 id="drop-title">{STRINGS.drop.title}</h2>
			<p className="drop-body">{STRINGS.drop.body}</p>
			<p className="subtle">{STRINGS.drop.or}</p>
			<button type="button" className="button primary" onClick={() => void store.openDialog()}>
				{STRINGS.drop.choose}
			</button>
		</section>
	);
}

/** Above the list. */
export function DropBand() {
	return <p className="drop-band subtle">{STRINGS.drop.band}</p>;
}
