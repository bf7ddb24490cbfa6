// SPDX-License-Identifier: MIT
/** What is opened, in the order it was opened; then what is mounted from elsewhere. */
import type { WindowView } from '../../state/disk-views.js';
import { STRINGS } from '../../strings.js';
import { SourceCard } from './source-card.js';

export function DiskList({ view }: { readonly view: WindowView }) {
	return (
		<div className="disk-list">
			{view.sources.length > 0 && (
				<section aria-label={STRINGS.list.label} className="sources">
					{view.sources.map((s) => (
						<SourceCard key={s.key} source={s} />
					))}
				</section>
			)}
			{view.others.length > 0 && (
				<section aria-labelledby="other-mounts" className="sources others">
					<h2 id="other-mounts" className="section-title">
						{STRINGS.list.otherMounts}
					</h2>
					<p className="subtle section-hint">{STRINGS.list.otherMountsHint}</p>
					{view.others.map((s) => (
						<SourceCard key={s.key} source={s} />
					))}
				</section>
			)}
		</div>
	);
}
