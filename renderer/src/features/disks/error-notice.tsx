// SPDX-License-Identifier: MIT
/**
 * An error as the shared table words it: the title, what it means and what to do, and the
 * technical sentence (file, offset) in small type for whoever needs it.
 */
import type { ReactNode } from 'react';
import { STRINGS } from '../../strings.js';

export interface ErrorNoticeProps {
	readonly error: {
		readonly title: string;
		readonly description: string;
		readonly message?: string | undefined;
	};
	readonly onDismiss?: (() => void) | undefined;
	/** Extra actions (e.g. "Mount with changes anyway…"). */
	readonly children?: ReactNode;
}

export function ErrorNotice({ error, onDismiss, children }: ErrorNoticeProps) {
	return (
		<div className="notice error" role="alert">
			<div className="notice-text">
				<p className="notice-title">{error.title}</p>
				<p>{error.description}</p>
				{error.message !== undefined && error.message !== '' && <p className="technical">{error.message}</p>}
				{children}
			</div>
			{onDismiss !== undefined && (
				<button
					type="button"
					className="icon-button"
					aria-label={STRINGS.error.dismissLabel(error.title)}
					onClick={onDismiss}
				>
					<span aria-hidden="true">×</span>
				</button>
			)}
		</div>
	);
}
