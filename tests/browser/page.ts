// Entry of the browser bundle (tests/browser.test.ts): runs the shared workload with the build
// named in `?backend=` and leaves the outcome on `window` for the test to read.
import { run } from './workload.mjs';

declare global {
  interface Window {
    __result?: unknown;
    __error?: string;
  }
}

const which = (new URLSearchParams(location.search).get('backend') ?? 'auto') as 'auto' | 'simd' | 'scalar';
run(which).then(
  (result) => {
    window.__result = result;
  },
  (e: unknown) => {
    window.__error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
  },
);
