// Command-line helpers shared by the standalone bench scripts (stream-chunk.mjs, ema-cost.mjs).
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The checkout (the default `--dist` is its `dist/`). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const K = 1024;
export const M = K * K;

/** The value after flag `k` on the command line, else `d`. */
export const arg = (k, d) => {
  const i = process.argv.indexOf(k);
  return i < 0 ? d : process.argv[i + 1];
};

/** `64K`, `1M`, `300` → elements. */
export const size = (s) => +/^\d+/.exec(s)[0] * ({ K, M }[s.slice(-1).toUpperCase()] ?? 1);

/** Elements → `64K`, `1M`. */
export const fmt = (n) => (n % M === 0 ? `${n / M}M` : `${n / K}K`);
