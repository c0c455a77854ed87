// The page of the bundler test app: the shared workload in the page and in a module Worker, and
// two misuses whose error classes must keep their names through minification.
import { Variable, SGD, StateError, SlotError } from 'simdopt';
import { init } from './init.js';
import { run } from './workload.mjs';
import { runKeras3 } from './keras3.js';

function describe(e, Cls) {
  return { name: e.name, isClass: e instanceof Cls, code: e.code, message: e.message, text: String(e) };
}

async function main() {
  const out = {};
  try {
    new Variable([1]);
  } catch (e) {
    out.notReady = describe(e, StateError);
  }
  out.backend = await init();
  out.page = await run();
  out.keras3 = runKeras3();
  const w = new Variable([1, 2], { name: 'w' });
  try {
    new SGD().getSlot(w, 'm');
  } catch (e) {
    out.noSlot = describe(e, SlotError);
  }
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  out.worker = await new Promise((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => reject(new Error(`worker: ${e.message}`));
  });
  return out;
}

main().then(
  (r) => (window.__result = r),
  (e) => (window.__error = String(e && e.stack ? e.stack : e)),
);
