/** A shared word saying which connection may write next (see sqlite-write-turn.mjs). */
export function createTurnWord(): Int32Array;
export function takeThreadTurn(word: Int32Array, timeoutMs: number): void;
export function giveThreadTurn(word: Int32Array): void;
export function takeMainTurn(word: Int32Array, timeoutMs: number): Promise<void>;
export function giveMainTurn(word: Int32Array): void;
export function threadGone(word: Int32Array): void;
