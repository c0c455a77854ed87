// Faults injected into the wasm core: a panic (with its message, also while the core's state is
// borrowed) and a trap without a message (abort). Each must surface as a StateError('CoreFailed')
// with the original message, and from then on every call must throw that error (never a silently
// wrong result); dispose() and garbage collection stay quiet. Each fault runs in its own Node
// process (a failed core cannot be reset), for both wasm builds.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, node, requireBuilt } from './helpers/process';

const SCRIPT = String.raw`
const dist = process.env.SIMDOPT_DIST;
const lib = await import(dist + '/index.js');
const loader = await import(dist + '/wasm/loader.js');
const { kind, backend } = JSON.parse(process.env.SIMDOPT_FAULT);
await lib.ready({ backend });
const v = new lib.Variable([1, 2, 3], { name: 'v' });
const g = new lib.Tensor([0.5, 0.5, 0.5]);
let dropped = new lib.Adam(); // left to the garbage collector after the fault
const opt = new lib.Adam({ learningRate: 0.1 });
opt.applyGradients([[[1, 1, 1], v]]);
const slot = opt.getSlot(v, 'm');
const before = { v: Array.from(v.read()), failure: lib.coreFailure() === undefined };
const describe = (e) => (e ? { name: e.constructor.name, code: e.code, message: e.message, cause: e.cause ? e.cause.constructor.name + ': ' + e.cause.message : undefined } : null);
let first = null;
try {
  loader.__testFault(kind, 'kaboom: ünïcode in the panic message');
} catch (e) {
  first = e;
}
const calls = {
  read: () => v.read(),
  value: () => v.value,
  slot: () => slot.read(),
  step: () => opt.applyGradients([[g, v]]),
  iterations: () => opt.iterations,
  getWeights: () => opt.getWeights(),
  setWeights: () => opt.setWeights([0]),
  newVariable: () => new lib.Variable([1]),
  newOptimizer: () => new lib.SGD(),
  deserialize: () => lib.deserialize({ class_name: 'Adam', config: {} }),
  saveState: () => lib.saveState(opt),
  stats: () => lib.stats(),
  again: () => loader.__testFault('panic', 'second'),
};
const later = {};
for (const [name, f] of Object.entries(calls)) {
  try {
    const r = f();
    later[name] = { accepted: String(r) };
  } catch (e) {
    later[name] = { same: e === first, name: e.constructor.name, code: e.code };
  }
}
let disposeError = null;
try {
  opt.dispose();
  v.dispose();
  g.dispose();
} catch (e) {
  disposeError = describe(e);
}
// The finalizer of a collected optimizer must not throw either.
let uncaught = null;
process.on('uncaughtException', (e) => (uncaught = describe(e)));
dropped = null;
globalThis.gc();
await new Promise((r) => setTimeout(r, 50));
globalThis.gc();
await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify({ backend: lib.backend(), before, first: describe(first), isStateError: first instanceof lib.StateError, failure: describe(lib.coreFailure()), later, disposeError, uncaught, memoryBytes: lib.memoryBytes() > 0 }));
`;

interface FaultRun {
  backend: string;
  before: { v: number[]; failure: boolean };
  first: { name: string; code: string; message: string; cause?: string } | null;
  isStateError: boolean;
  failure: { message: string } | null;
  later: Record<string, { same?: boolean; name?: string; code?: string; accepted?: string }>;
  disposeError: unknown;
  uncaught: unknown;
  memoryBytes: boolean;
}

async function fault(kind: string, backend: string): Promise<FaultRun> {
  const out = await node(['--expose-gc', '--input-type=module', '-e', SCRIPT], {
    env: { SIMDOPT_DIST: pathToFileURL(join(ROOT, 'dist')).href, SIMDOPT_FAULT: JSON.stringify({ kind, backend }) },
    timeoutMs: 30_000,
  });
  return JSON.parse(out.stdout) as FaultRun;
}

beforeAll(() => requireBuilt());

let injected = 0;
afterAll(() => console.log(`faults: ${injected} injected (panic, panic while the state is borrowed, abort; threads, simd and scalar builds), each in its own process`));

describe.each(['threads', 'simd', 'scalar'])('%s build', (backend) => {
  test.each([
    ['panic', /panic: panicked at .*faults\.rs.*kaboom: ünïcode in the panic message/s],
    ['panic-in-state', /panic: panicked at .*kaboom: ünïcode in the panic message/s],
    ['abort', /trap without a panic message: unreachable/],
  ])('%s', async (kind, message) => {
    const r = await fault(kind, backend);
    injected++;
    expect(r.backend).toBe(backend);
    expect(r.before).toEqual({ v: [Math.fround(1 - 0.1), Math.fround(2 - 0.1), Math.fround(3 - 0.1)].map((x) => expect.closeTo(x, 5)), failure: true });
    // The trap surfaces once as a typed error with the panic message and the trap as its cause.
    expect(r.isStateError).toBe(true);
    expect(r.first).toMatchObject({ name: 'StateError', code: 'CoreFailed' });
    expect(r.first!.message).toMatch(message);
    expect(r.first!.message).toMatch(/cannot be used any more/);
    expect(r.first!.cause).toMatch(/^RuntimeError: /);
    expect(r.failure?.message).toBe(r.first!.message);
    // Every later call throws that same error.
    for (const [name, res] of Object.entries(r.later)) expect([name, res]).toEqual([name, { same: true, name: 'StateError', code: 'CoreFailed' }]);
    expect(Object.keys(r.later)).toHaveLength(13);
    // Clean-up stays quiet.
    expect(r.disposeError).toBeNull();
    expect(r.uncaught).toBeNull();
    expect(r.memoryBytes).toBe(true);
  });
});
