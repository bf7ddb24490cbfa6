// SPDX-License-Identifier: MIT
// The engine runs in any JavaScript runtime (Node, Electron, a browser worker) and sees no
// `node:*` or DOM types. These are the few standard globals it relies on, declared narrowly.

interface TextDecoderOptions {
	fatal?: boolean;
	ignoreBOM?: boolean;
}
declare class TextDecoder {
	constructor(label?: string, options?: TextDecoderOptions);
	decode(input?: Uint8Array): string;
}
declare class TextEncoder {
	encode(input?: string): Uint8Array;
}
