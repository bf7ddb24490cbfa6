// SPDX-License-Identifier: MIT
/**
 * The Helpers panel, from the daemon's `doctor`: FUSE, each helper program with the types it
 * mounts, whether it is installed, and the exact step that installs it; then one command for
 * everything missing and the notes (an approval step, a fuse.conf line).
 */
import type { DoctorReport } from '../../../../src/shared/models.js';
import { useAppState, useStore } from '../../state/store-context.js';
import { STRINGS } from '../../strings.js';
import { ErrorNotice } from '../disks/error-notice.js';

export function HelpersPanel() {
	const store = useStore();
	const { helpers } = useAppState();
	const report = helpers.kind === 'ready' || helpers.kind === 'loading' ? helpers.report : null;
	const loading = helpers.kind === 'loading';
	return (
		<section className="helpers" aria-labelledby="helpers-title" aria-busy={loading}>
			<div className="helpers-head">
				<h2 id="helpers-title">{STRINGS.helpers.title}</h2>
				<button
					type="button"
					className="button"
					aria-disabled={loading}
					onClick={() => {
						if (!loading) void store.loadHelpers();
					}}
				>
					{STRINGS.helpers.refresh}
				</button>
			</div>
			<p className="subtle">{STRINGS.helpers.intro}</p>
			{loading && report === null && <p role="status">{STRINGS.helpers.loading}</p>}
			{helpers.kind === 'failed' && <ErrorNotice error={helpers.error} />}
			{report !== null && <Report report={report} />}
		</section>
	);
}

function Report({ report }: { readonly report: DoctorReport }) {
	const store = useStore();
	return (
		<>
			<dl className="facts-list">
				<dt>{STRINGS.helpers.system}</dt>
				<dd>
					{report.osDescription}
					{report.isRoot ? `, ${STRINGS.helpers.root}` : ''}
				</dd>
				<dt>{STRINGS.helpers.fuse}</dt>
				<dd className={report.fuseAvailable ? 'ok' : 'missing'}>
					{report.fuseAvailable ? STRINGS.helpers.fuseOk(report.fuseBinding) : STRINGS.helpers.fuseMissing}
					{report.fuseProblem !== undefined && <span className="problem"> — {report.fuseProblem}</span>}
				</dd>
			</dl>
			<table className="helpers-table">
				<caption className="visually-hidden">{STRINGS.helpers.caption}</caption>
				<colgroup>
					<col className="col-helper-id" />
					<col className="col-mounts" />
					<col className="col-status" />
					<col className="col-install" />
				</colgroup>
				<thead>
					<tr>
						<th scope="col">{STRINGS.helpers.helper}</th>
						<th scope="col">{STRINGS.helpers.mounts}</th>
						<th scope="col">{STRINGS.helpers.status}</th>
						<th scope="col">{STRINGS.helpers.install}</th>
					</tr>
				</thead>
				<tbody>
					{report.helpers.map((h) => (
						<tr key={h.id} className={h.path === null ? 'helper-missing' : 'helper-installed'}>
							<th scope="row" className="mono">
								{h.id}
							</th>
							<td>
								{h.types.length > 0 ? (
									h.types.join(', ')
								) : (
									<span className="subtle">{STRINGS.volumes.noLabel}</span>
								)}
							</td>
							<td>
								{h.path === null ? (
									<span className="badge missing">{STRINGS.helpers.missing}</span>
								) : (
									<span className="badge ok" title={STRINGS.helpers.installedAt(h.path)}>
										{STRINGS.helpers.installed}
									</span>
								)}
							</td>
							<td>
								{h.path === null ? (
									<code>{h.install}</code>
								) : (
									<span className="mono subtle clip">{h.path}</span>
								)}
								{h.note !== undefined && <p className="note">{h.note}</p>}
							</td>
						</tr>
					))}
				</tbody>
			</table>
			{report.installCommand !== null ? (
				<div className="install-all">
					<p>{STRINGS.helpers.installAll}</p>
					<pre>
						<code>{report.installCommand}</code>
					</pre>
				</div>
			) : (
				<p className="ok">{STRINGS.helpers.allInstalled}</p>
			)}
			{report.notes.length > 0 && (
				<>
					<h3>{STRINGS.helpers.notes}</h3>
					<ul className="notes">
						{report.notes.map((n) => (
							<li key={n}>{n}</li>
						))}
					</ul>
				</>
			)}
			{report.platform === 'darwin' && (
				<p className="button-group">
					<button type="button" className="button" onClick={() => void store.openHelp('macfuse')}>
						{STRINGS.helpers.getMacfuse}
					</button>
					<button type="button" className="button" onClick={() => void store.openHelp('fuse-t')}>
						{STRINGS.helpers.getFuseT}
					</button>
				</p>
			)}
		</>
	);
}
