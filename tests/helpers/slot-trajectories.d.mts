// Types of slot-trajectories.mjs.
export function grad(i: number, t: number, n: number): number;
export function start(i: number): number;
export function fnvBytes(bytes: Uint8Array): string;
export function bytesOf(x: ArrayBufferView): Uint8Array;
export function fnv(x: Float32Array): string;
