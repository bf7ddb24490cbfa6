// SPDX-License-Identifier: MIT
/**
 * Files dropped anywhere on the window. Every drag is stopped from reaching the page's default
 * (which would navigate to the dropped file); drags that carry files light the drop overlay.
 */
import { useEffect, useState } from 'react';

function carriesFiles(event: DragEvent): boolean {
	return event.dataTransfer?.types.includes('Files') ?? false;
}

/** Calls `onFiles` with what is dropped; returns true while files are dragged over the window. */
export function useFileDrop(onFiles: (files: readonly File[]) => void): boolean {
	const [active, setActive] = useState(false);
	useEffect(() => {
		// dragenter/dragleave fire for every child element crossed: count them.
		let depth = 0;
		const enter = (e: DragEvent) => {
			e.preventDefault();
			if (!carriesFiles(e)) return;
			depth++;
			setActive(true);
		};
		const over = (e: DragEvent) => {
			e.preventDefault();
			if (e.dataTransfer !== null) e.dataTransfer.dropEffect = carriesFiles(e) ? 'copy' : 'none';
		};
		const leave = (e: DragEvent) => {
			if (!carriesFiles(e)) return;
			depth = Math.max(0, depth - 1);
			if (depth === 0) setActive(false);
		};
		const drop = (e: DragEvent) => {
			e.preventDefault();
			depth = 0;
			setActive(false);
			const files = Array.from(e.dataTransfer?.files ?? []);
			if (files.length > 0) onFiles(files);
		};
		window.addEventListener('dragenter', enter);
		window.addEventListener('dragover', over);
		window.addEventListener('dragleave', leave);
		window.addEventListener('drop', drop);
		return () => {
			window.removeEventListener('dragenter', enter);
			window.removeEventListener('dragover', over);
			window.removeEventListener('dragleave', leave);
			window.removeEventListener('drop', drop);
		};
	}, [onFiles]);
	return active;
}
