// SPDX-License-Identifier: MIT
/** The window's few icons, drawn inline (no image files, nothing for the CSP to allow). */

/** A disk drive. */
export function DiskIcon({ size = 28 }: { readonly size?: number }) {
	return (
		<svg width={size} height={size} viewBox="0 0 32 32" aria-hidden="true" focusable="false" className="icon">
			<rect x="3" y="7" width="26" height="18" rx="3" fill="none" stroke="currentColor" strokeWidth="2" />
			<line x1="3" y1="19" x2="29" y2="19" stroke="currentColor" strokeWidth="2" />
			<circle cx="24" cy="22" r="1.5" fill="currentColor" />
		</svg>
	);
}

/** A virtual machine (a screen with a disk). */
export function VmIcon({ size = 28 }: { readonly size?: number }) {
	return (
		<svg width={size} height={size} viewBox="0 0 32 32" aria-hidden="true" focusable="false" className="icon">
			<rect x="3" y="5" width="26" height="17" rx="2.5" fill="none" stroke="currentColor" strokeWidth="2" />
			<line x1="11" y1="27" x2="21" y2="27" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
			<line x1="16" y1="22" x2="16" y2="27" stroke="currentColor" strokeWidth="2" />
			<rect x="9" y="10" width="14" height="7" rx="1.5" fill="currentColor" opacity="0.35" />
		</svg>
	);
}

/** A warning triangle. */
export function WarningIcon() {
	return (
		<svg width="18" height="18" viewBox="0 0 20 20" aria-hidden="true" focusable="false" className="icon">
			<path d="M10 2 L19 18 H1 Z" fill="currentColor" />
			<rect x="9" y="7" width="2" height="6" fill="var(--warning-bg)" />
			<rect x="9" y="14.5" width="2" height="2" fill="var(--warning-bg)" />
		</svg>
	);
}

/** The app's mark: a disk with a folder. */
export function AppIcon() {
	return (
		<svg
			width="22"
			height="22"
			viewBox="0 0 32 32"
			aria-hidden="true"
			focusable="false"
			className="icon app-icon"
		>
			<rect x="2" y="4" width="28" height="24" rx="5" fill="currentColor" />
			<path d="M8 12 h6 l2 2 h8 v9 h-16 Z" fill="var(--toolbar-bg)" />
		</svg>
	);
}
