// SPDX-License-Identifier: MIT
/**
 * A modal question with a safe default (the Cancel button has focus). The native `<dialog>`
 * traps focus, closes on Escape, and gives focus back to what had it.
 */
import { useEffect, useId, useRef } from 'react';

export interface ConfirmDialogProps {
	readonly open: boolean;
	readonly title: string;
	readonly body: string;
	readonly confirmLabel: string;
	readonly cancelLabel: string;
	readonly onConfirm: () => void;
	readonly onCancel: () => void;
}

export function ConfirmDialog(props: ConfirmDialogProps) {
	const ref = useRef<HTMLDialogElement>(null);
	const titleId = useId();
	const bodyId = useId();
	useEffect(() => {
		const dialog = ref.current;
		if (dialog === null) return;
		if (props.open && !dialog.open) dialog.showModal();
		if (!props.open && dialog.open) dialog.close();
	}, [props.open]);
	return (
		<dialog
			ref={ref}
			className="dialog"
			aria-labelledby={titleId}
			aria-describedby={bodyId}
			onCancel={(e) => {
				e.preventDefault();
				props.onCancel();
			}}
		>
			<h2 id={titleId}>{props.title}</h2>
			<p id={bodyId}>{props.body}</p>
			<div className="dialog-actions">
				<button type="button" className="button" autoFocus onClick={props.onCancel}>
					{props.cancelLabel}
				</button>
				<button type="button" className="button primary" onClick={props.onConfirm}>
					{props.confirmLabel}
				</button>
			</div>
		</dialog>
	);
}
