// SPDX-License-Identifier: MIT
/**
 * A modal question with a safe default: Cancel comes first, so the native `<dialog>` gives it
 * the focus. The dialog traps focus, closes on Escape and gives focus back to what had it. It
 * exists in the page only while open (every card has one; fifty idle dialogs would be weight).
 */
import { useId, useLayoutEffect, useRef } from 'react';

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
	return props.open ? <OpenDialog {...props} /> : null;
}

function OpenDialog(props: ConfirmDialogProps) {
	const ref = useRef<HTMLDialogElement>(null);
	const titleId = useId();
	const bodyId = useId();
	// Opened as it appears, closed before it goes (closing is what gives the focus back).
	useLayoutEffect(() => {
		const dialog = ref.current;
		dialog?.showModal();
		return () => dialog?.close();
	}, []);
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
				<button type="button" className="button" onClick={props.onCancel}>
					{props.cancelLabel}
				</button>
				<button type="button" className="button primary" onClick={props.onConfirm}>
					{props.confirmLabel}
				</button>
			</div>
		</dialog>
	);
}
