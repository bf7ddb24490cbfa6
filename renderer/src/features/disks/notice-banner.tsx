// SPDX-License-Identifier: MIT
/** Failures not tied to one disk: the Open… dialog, a drop without paths, Unmount all. */
import { ALL_KEY } from '../../state/app-store.js';
import { useAppState, useStore } from '../../state/store-context.js';
import { ErrorNotice } from './error-notice.js';

export function NoticeBanner() {
	const store = useStore();
	const { notice, errors } = useAppState();
	const all = errors.get(ALL_KEY);
	return (
		<>
			{notice !== null && <ErrorNotice error={notice} onDismiss={() => store.dismissNotice()} />}
			{all !== undefined && <ErrorNotice error={all.error} onDismiss={() => store.dismissError(ALL_KEY)} />}
		</>
	);
}
