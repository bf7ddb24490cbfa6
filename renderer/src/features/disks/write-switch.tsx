// SPDX-License-Identifier: MIT
/**
 * Read-only by default: this switch allows changes (copy-on-write) to one opened source, after
 * the user confirms in a dialog what that means. Turning it off needs no question.
 */
import { useState } from 'react';
import type { SourceView } from '../../state/disk-views.js';
import { useStore } from '../../state/store-context.js';
import { STRINGS } from '../../strings.js';
import { ConfirmDialog } from './confirm-dialog.js';

export function WriteSwitch({ source }: { readonly source: SourceView }) {
	const store = useStore();
	const [asking, setAsking] = useState(false);
	return (
		<>
			<label className={`check write-switch ${source.anyMounted ? 'disabled' : ''}`}>
				<input
					type="checkbox"
					role="switch"
					aria-label={STRINGS.write.switchLabel(source.name)}
					checked={source.writable}
					disabled={source.anyMounted}
					onChange={(e) => {
						if (e.currentTarget.checked) setAsking(true);
						else store.setWritable(source.path, false);
					}}
				/>
				<span aria-hidden="true">{STRINGS.write.switch}</span>
			</label>
			<ConfirmDialog
				open={asking}
				title={STRINGS.write.dialogTitle(source.name)}
				body={STRINGS.write.dialogBody}
				confirmLabel={STRINGS.write.confirm}
				cancelLabel={STRINGS.write.cancel}
				onConfirm={() => {
					store.setWritable(source.path, true);
					setAsking(false);
				}}
				onCancel={() => setAsking(false)}
			/>
		</>
	);
}
