// SPDX-License-Identifier: MIT
/**
 * The failure of a mount or unmount. When a writable mount was refused for a reason the user may
 * override (a locked VM, a filesystem not shut down cleanly), it offers to mount anyway — after a
 * second, explicit question.
 */
import { useState } from 'react';
import type { ActionError } from '../../state/app-state.js';
import type { MountTarget } from '../../state/app-store.js';
import { useStore } from '../../state/store-context.js';
import { STRINGS } from '../../strings.js';
import { ConfirmDialog } from './confirm-dialog.js';
import { ErrorNotice } from './error-notice.js';

/** Refusals of a writable mount that `force` overrides. */
const OVERRIDABLE = new Set(['DISK_LOCKED', 'FS_UNSAFE_FOR_WRITE']);

export interface ActionErrorNoticeProps {
	readonly actionError: ActionError;
	/** The key the error is stored under. */
	readonly errorKey: string;
	/** What "anyway" would mount again. */
	readonly target: MountTarget;
	readonly name: string;
}

export function ActionErrorNotice({ actionError, errorKey, target, name }: ActionErrorNoticeProps) {
	const store = useStore();
	const [asking, setAsking] = useState(false);
	const offerForce = actionError.mount?.readWrite === true && OVERRIDABLE.has(actionError.error.code);
	return (
		<ErrorNotice error={actionError.error} onDismiss={() => store.dismissError(errorKey)}>
			{offerForce && (
				<>
					<button type="button" className="button danger" onClick={() => setAsking(true)}>
						{STRINGS.write.force}
					</button>
					<ConfirmDialog
						open={asking}
						title={STRINGS.write.forceTitle(name)}
						body={STRINGS.write.forceBody}
						confirmLabel={STRINGS.write.forceConfirm}
						cancelLabel={STRINGS.write.cancel}
						onConfirm={() => {
							setAsking(false);
							void store.mount({ ...target, partition: actionError.mount?.partition, force: true });
						}}
						onCancel={() => setAsking(false)}
					/>
				</>
			)}
		</ErrorNotice>
	);
}
