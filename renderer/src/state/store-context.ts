// SPDX-License-Identifier: MIT
/** The store for components: the instance from context, the state through useSyncExternalStore. */
import { createContext, useContext, useSyncExternalStore } from 'react';
import type { AppState } from './app-state.js';
import type { AppStore } from './app-store.js';

/** The window's store (provided once, in `app.tsx`). */
export const StoreContext = createContext<AppStore | null>(null);

/** The store, for actions. */
export function useStore(): AppStore {
	const store = useContext(StoreContext);
	if (store === null) throw new Error('useStore outside StoreContext');
	return store;
}

/** The current state; the component renders again when it changes. */
export function useAppState(): AppState {
	const store = useStore();
	return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
