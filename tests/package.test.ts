// The package as users get it: `npm pack` of the built repository, installed into a fresh
// project, then used from an ES module, from CommonJS and from TypeScript.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT, f32Bits, node, runOk } from './helpers/process';
import { NPM_ENV, packAndInstall } from './helpers/pack';
import type { WorkloadResult } from './browser/workload.mjs';

const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
/** The build `ready()` picks in Node: threads where there are two processors or more. */
const NODE_BUILD = availableParallelism() >= 2 ? 'threads' : 'simd';

let work: { path: string; remove(): void };
let tarball: string;
let entries: string[]; // paths inside the tarball, without the leading `package/`
let project: string;

beforeAll(async () => {
  ({ work, tarball, entries, project } = await packAndInstall('pack'));
}, 60_000);

afterAll(() => work?.remove());

/** A file of the packed package. */
function packed(path: string): string {
  return readFileSync(join(project, 'node_modules', 'simdopt', path), 'utf8');
}

describe('the tarball', () => {
  test('holds package.json, README.md, CHANGELOG.md, the licenses and dist/ only, with the entry points', () => {
    const allowed = /^(package\.json|README\.md|CHANGELOG\.md|LICENSE-(MIT|APACHE)|dist\/.+)$/;
    expect(entries.filter((p) => !allowed.test(p))).toEqual([]);
    expect(entries.filter((p) => p.startsWith('ts/') || p.endsWith('.stamp'))).toEqual([]);
    for (const f of [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'LICENSE-MIT',
      'LICENSE-APACHE',
      'dist/index.js',
      'dist/slim.js',
      'dist/keras3/index.js',
      'dist/keras3/index.d.ts',
      'dist/cjs/keras3/index.d.ts',
      'dist/wasm/simdopt-simd.wasm',
      'dist/wasm/simdopt-scalar.wasm',
      'dist/index.d.ts',
      'dist/wasm/loader.js',
      'dist/wasm/generated/simdopt_wasm.js',
      'dist/wasm/generated/simd-bytes.js',
      'dist/wasm/generated/scalar-bytes.js',
      'dist/wasm/simdopt-threads.wasm',
      'dist/wasm/generated/threads/simdopt_wasm.js',
      'dist/wasm/generated/threads/threads-bytes-1.js',
      'dist/wasm/generated/threads/threads-bytes-2.js',
    ]) {
      expect(entries).toContain(f);
    }
    // The three wasm builds, base64 and as .wasm files, and little else: sane sizes (2.06 MB on
    // 2026-12-02 with the Keras 3 family's rules; 3.21 MB with the compressed slot storage, 2.38 MB
    // since its passes are compiled once per kernel rather than per rule, prelude and storage;
    // 2.59 MB with the fused EMA epilogue; 2.91 MB with the 8-bit pass without stages, a second
    // copy of that pass per kernel for int8 speed).
    const tgz = readFileSync(tarball).length;
    expect(tgz).toBeGreaterThan(100_000);
    expect(tgz).toBeLessThan(3_000_000);
  });

  test('package.json points at files it ships, and the package has no runtime dependencies', () => {
    const pkg = JSON.parse(packed('package.json')) as Record<string, unknown>;
    expect(pkg.type).toBe('module');
    // What the npm page links to: the license, the repository, its home page and issues.
    expect(pkg).toMatchObject({ license: 'MIT OR Apache-2.0', repository: { type: 'git', url: expect.stringMatching(/^git\+https:\/\//) } });
    expect(pkg.homepage).toMatch(/^https:\/\//);
    expect((pkg.bugs as { url: string }).url).toMatch(/^https:\/\/.*\/issues$/);
    expect(pkg.dependencies ?? {}).toEqual({});
    // Peer dependencies are only for optional entry points (simdopt/tfjs): all marked optional.
    const meta = (pkg.peerDependenciesMeta ?? {}) as Record<string, { optional?: boolean }>;
    expect(Object.keys((pkg.peerDependencies ?? {}) as object).filter((d) => !meta[d]?.optional)).toEqual([]);
    const targets: string[] = [pkg.main as string, pkg.types as string];
    const walk = (x: unknown): void => {
      if (typeof x === 'string') targets.push(x);
      else if (x && typeof x === 'object') Object.values(x).forEach(walk);
    };
    walk(pkg.exports);
    walk(pkg.typesVersions);
    for (const t of targets) expect(entries).toContain(t.replace(/^\.\//, ''));
  });

  test('`npm publish --dry-run` is clean', async () => {
    const r = await runOk('npm', ['publish', '--dry-run'], { env: { ...NPM_ENV, npm_config_loglevel: 'warn' } });
    // Without credentials npm always warns that a real publish needs a login; nothing else.
    const warnings = r.stderr.split('\n').filter((l) => /^npm (warn|error)/i.test(l) && !/requires you to be logged in/.test(l));
    expect(warnings).toEqual([]);
    expect(r.stdout).toMatch(/simdopt@\d+\.\d+\.\d+/);
  });

  test('README links work on the npm page: absolute, no link into the repository by a relative path', () => {
    const readme = packed('README.md');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(0);
    expect(links.filter((l) => !/^(https:\/\/|#)/.test(l))).toEqual([]);
  });

  test("a bundler keeps simdopt/tfjs's class registration, and drops what is not used", async () => {
    // `import 'simdopt/tfjs'` alone registers the optimizer class with tfjs (to load saved
    // models): package.json's `sideEffects` names that file, so esbuild must keep it...
    const bundle = async (code: string) => {
      const r = await build({
        stdin: { contents: code, resolveDir: project },
        bundle: true,
        format: 'esm',
        platform: 'browser',
        external: ['@tensorflow/tfjs-core'],
        write: false,
        logLevel: 'silent',
      });
      return new TextDecoder().decode(r.outputFiles[0].contents);
    };
    expect(await bundle("import 'simdopt/tfjs';")).toMatch(/registerClass/);
    // ...while the rest stays tree-shakable: importing the main entry for nothing bundles nothing.
    expect((await bundle("import 'simdopt';")).trim()).toBe('');
    // `import 'simdopt/keras3'` alone hands the root deserialize its Keras 3 loader (sideEffects
    // lists it too), and the root entry bundles none of the Keras 3 family.
    expect(await bundle("import 'simdopt/keras3';")).toMatch(/keras\.optimizers/);
    expect(await bundle("import { deserialize } from 'simdopt'; console.log(deserialize);")).not.toMatch(/originally built with/);
  });

  test('every relative import of the shipped .js and .d.ts files resolves inside the tarball', () => {
    const missing: string[] = [];
    for (const file of entries.filter((p) => /\.(js|d\.ts)$/.test(p))) {
      const text = packed(file);
      const specs = [...text.matchAll(/(?:from\s*|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
      for (const spec of specs) {
        const target = join(file, '..', spec);
        const candidates = file.endsWith('.d.ts') ? [target, target.replace(/\.js$/, '.d.ts')] : [target];
        if (!candidates.some((c) => entries.includes(c))) missing.push(`${file} -> ${spec}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('source maps work without the TypeScript sources (which are not shipped)', () => {
    const broken: string[] = [];
    for (const file of entries.filter((p) => p.endsWith('.js'))) {
      const m = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(packed(file));
      if (!m || m[1].startsWith('data:')) continue;
      const mapPath = join(file, '..', m[1]);
      if (!entries.includes(mapPath)) {
        broken.push(`${file}: sourceMappingURL ${m[1]} is not in the package`);
        continue;
      }
      const map = JSON.parse(packed(mapPath)) as { sources: string[]; sourcesContent?: (string | null)[]; sourceRoot?: string };
      map.sources.forEach((src, i) => {
        const shipped = entries.includes(join(mapPath, '..', map.sourceRoot ?? '', src));
        if (!shipped && typeof map.sourcesContent?.[i] !== 'string') broken.push(`${mapPath}: source ${src} is neither shipped nor inlined (sourcesContent)`);
      });
    }
    expect(broken).toEqual([]);
  });
});

/** Keras/TF 2.4 Adam (the fused kernel, AMSGrad variant) in float64, for a tolerance check. */
function adamAmsgradReference(initial: number[], grads: number[][], lr: number): number[] {
  const [b1, b2, eps] = [0.9, 0.999, 1e-7];
  const x = [...initial];
  const m = x.map(() => 0);
  const v = x.map(() => 0);
  const vhat = x.map(() => 0);
  grads.forEach((g, step) => {
    const t = step + 1;
    const lrT = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
    for (let i = 0; i < x.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      vhat[i] = Math.max(vhat[i], v[i]);
      x[i] -= (lrT * m[i]) / (Math.sqrt(vhat[i]) + eps);
    }
  });
  return x;
}

/** What tests/browser/workload.mjs must produce on any runtime and build. */
function expectTfNumbers(r: WorkloadResult): void {
  // TF 2.4: Adam(0.1) on tf.Variable(10.0) with gradient 1.0 gives 9.900001 (float32).
  expect(r.scalar.bits).toEqual(f32Bits([9.900001]));
  const one = adamAmsgradReference([1, 2, 3, 4], [[0.1, -0.2, 0.3, -0.4]], 0.1);
  const two = adamAmsgradReference(
    [1, 2, 3, 4],
    [
      [0.1, -0.2, 0.3, -0.4],
      [-0.5, 0.05, 0, 2],
    ],
    0.1,
  );
  r.amsgrad.afterOne.values.forEach((x, i) => expect(Math.abs(x - one[i])).toBeLessThan(4e-6));
  r.amsgrad.afterTwo.values.forEach((x, i) => expect(Math.abs(x - two[i])).toBeLessThan(4e-6));
  expect(r.amsgrad.weightNames).toEqual(['Adam/iter:0', 'Adam/w/m:0', 'Adam/w/v:0', 'Adam/w/vhat:0']);
  expect(r.amsgrad.iterations).toBe(2);
}

describe('installed into a fresh project', () => {
  test('an ES module imports it from node_modules and gets TF 2.4 numbers', async () => {
    copyFileSync(join(ROOT, 'tests', 'browser', 'workload.mjs'), join(project, 'workload.mjs'));
    writeFileSync(
      join(project, 'main.mjs'),
      ["import { run } from './workload.mjs';", "const resolved = import.meta.resolve('simdopt');", 'console.log(JSON.stringify({ resolved, result: await run() }));'].join('\n'),
    );
    const out = await node(['main.mjs'], { cwd: project });
    const { resolved, result } = JSON.parse(out.stdout) as { resolved: string; result: WorkloadResult };
    expect(resolved).toBe(`file://${join(project, 'node_modules', 'simdopt', 'dist', 'index.js')}`);
    expect(result.backend).toBe(NODE_BUILD); // Node >= 16.4 has WebAssembly SIMD and shared memory
    expectTfNumbers(result);
    expect(out.stderr).toBe('');
  });

  test("an ES module imports simdopt/keras3 and gets Keras 3's numbers (Lion.json, AdamW.json), and the root entry then reads Keras 3 configs", async () => {
    const fixture = (name: string) => join(ROOT, 'tests', 'fixtures', 'keras3', 'optimizers', name);
    writeFileSync(
      join(project, 'keras3.mjs'),
      `
      import { readFileSync } from 'node:fs';
      import { ready, Variable, deserialize as rootDeserialize } from 'simdopt';
      import { deserialize, serialize } from 'simdopt/keras3';
      await ready();
      const f32 = (xs) => Float32Array.from(Array.isArray(xs) ? xs : [xs], (x) => (typeof x === 'number' ? x : Number(x)));
      let worst = 0;
      for (const file of ${JSON.stringify([fixture('Lion.json'), fixture('AdamW.json')])}) {
        const c = JSON.parse(readFileSync(file, 'utf8')).cases[0];
        const opt = deserialize(c.optimizer);
        const vars = c.variables.map((v) => new Variable(f32(v.initial), { shape: v.shape, name: v.path }));
        for (const step of c.steps) {
          opt.applyGradients(step.gradients.map((g, i) => [g && f32(g.dense), vars[i]]));
          step.variables.forEach((want, i) => vars[i].read().forEach((x, j) => (worst = Math.max(worst, Math.abs(x - want[j]) / Math.max(1, Math.abs(want[j]))))));
        }
        const back = rootDeserialize(JSON.parse(JSON.stringify(serialize(opt))));
        if (back.className !== opt.className) throw new Error('root deserialize: ' + back.className);
      }
      console.log(JSON.stringify({ worst, resolved: import.meta.resolve('simdopt/keras3') }));
      `,
    );
    const out = await node(['keras3.mjs'], { cwd: project });
    const r = JSON.parse(out.stdout) as { worst: number; resolved: string };
    expect(r.resolved).toBe(`file://${join(project, 'node_modules', 'simdopt', 'dist', 'keras3', 'index.js')}`);
    expect(r.worst).toBeLessThanOrEqual(1e-5);
    expect(out.stderr).toBe('');
  });

  test('CommonJS require() behaves as documented for this Node', async () => {
    writeFileSync(
      join(project, 'main.cjs'),
      `
      const report = (o) => console.log(JSON.stringify({ requireModule: !!process.features.require_module, node: process.version, ...o }));
      let api;
      try {
        api = require('simdopt');
      } catch (e) {
        report({ ok: false, code: e.code, message: e.message.split('\\n')[0] });
        return;
      }
      api.ready().then((backend) => {
        const v = new api.Variable(10);
        new api.Adam({ learningRate: 0.1 }).applyGradients([[new Float32Array([1]), v]]);
        report({ ok: true, backend, value: v.read()[0], resolved: require.resolve('simdopt') });
      });
      `,
    );
    const out = await node(['main.cjs'], { cwd: project });
    const r = JSON.parse(out.stdout) as Record<string, unknown>;
    if (r.requireModule) {
      // Node >= 20.19 / 22.12: require(esm) of a graph without top-level await.
      expect(r).toMatchObject({ ok: true, backend: NODE_BUILD, value: Math.fround(9.900001), resolved: join(project, 'node_modules', 'simdopt', 'dist', 'index.js') });
      expect(out.stderr).not.toMatch(/ExperimentalWarning/);
    } else {
      expect(r).toMatchObject({ ok: false, code: 'ERR_REQUIRE_ESM' });
    }
    console.log(`require('simdopt') on Node ${r.node}: ${r.ok ? 'works (require(esm))' : `fails with ${r.code}`}${out.stderr ? `; stderr: ${out.stderr.trim()}` : ''}`);
  });

  test('TypeScript compiles against its types (node16 and bundler resolution)', async () => {
    writeFileSync(
      join(project, 'check.ts'),
      `
      import { ready, backend, Variable, Adam, SGD, IndexedSlices, ExponentialDecay, deserialize, ShapeError } from 'simdopt';
      import type { Backend, AdamOptions, AdamConfig, Optimizer } from 'simdopt';
      import { AdamW, CosineDecay, serialize as serializeKeras3 } from 'simdopt/keras3';
      import type { AdamWOptions, Keras3BaseConfig } from 'simdopt/keras3';

      export async function main(): Promise<number> {
        const loaded: Backend = await ready({ backend: 'auto' });
        const b: Backend | undefined = backend();
        const options: AdamOptions = { learningRate: 0.1, amsgrad: true, clipnorm: 1 };
        const w = new Variable(new Float32Array([1, 2, 3, 4]), { shape: [2, 2], name: 'w' });
        const opt: Optimizer = new Adam(options);
        opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3, 0.4]), w]]);
        new SGD({ momentum: 0.9 }).applyGradients([[new IndexedSlices([1, 1], [0], [2, 2]), w]]);
        const same: Optimizer = deserialize({ class_name: 'Adam', config: {} });
        const values: Float32Array = w.read();
        const error: typeof ShapeError = ShapeError;
        // @ts-expect-error a learning rate is a number, a function or a schedule
        new Adam({ learningRate: 'fast' });
        // Keras' positional arguments, typed; getConfig() typed per class.
        const config: AdamConfig = new Adam(0.01, 0.9, 0.999, 1e-7, true).getConfig();
        const beta1: number = config.beta_1 + new ExponentialDecay(0.1, 1000, 0.96).call(0);
        // @ts-expect-error Adam's config has no momentum
        void config.momentum;
        // @ts-expect-error amsgrad is a boolean
        new Adam(0.01, 0.9, 0.999, 1e-7, 'yes');
        // @ts-expect-error the build is 'threads', 'simd', 'scalar' or 'auto'
        await ready({ backend: 'gpu' });
        const k3options: AdamWOptions = { learningRate: new CosineDecay({ initialLearningRate: 0, decaySteps: 100, warmupTarget: 1e-3, warmupSteps: 10 }), useEma: true };
        const adamw = new AdamW(k3options);
        const k3config: Keras3BaseConfig = adamw.getConfig();
        // @ts-expect-error Keras 3's weight decay is a number, a schedule or a function
        new AdamW({ weightDecay: 'lots' });
        const asRoot: Optimizer = adamw;
        return values[0] + loaded.length + (b ?? '').length + same.iterations + (error ? 1 : 0) + beta1 + k3config.ema_momentum + asRoot.iterations + serializeKeras3(adamw).class_name.length;
      }
      `,
    );
    const configs = {
      // A Node project: ES modules with node16 resolution (package.json "exports" and "types").
      'tsconfig.node16.json': {
        module: 'node16',
        moduleResolution: 'node16',
        target: 'es2022',
        lib: ['es2022'],
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
        skipLibCheck: true,
      },
      // A bundled web app, with simdopt's own declarations checked too.
      'tsconfig.bundler.json': { module: 'esnext', moduleResolution: 'bundler', target: 'es2022', lib: ['es2022', 'dom'], types: [], skipLibCheck: false },
    };
    for (const [file, compilerOptions] of Object.entries(configs)) {
      writeFileSync(join(project, file), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, ...compilerOptions }, files: ['check.ts'] }));
      await runOk(TSC, ['-p', file], { cwd: project });
    }
  });

  test('TypeScript in a CommonJS project: node16, nodenext and node10 resolution, every entry point, and the compiled require() runs', async () => {
    const app = join(project, 'cjs-app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'cjs-app', version: '1.0.0', private: true })); // no "type": CommonJS
    writeFileSync(
      join(app, 'check.ts'),
      `
      import { ready, Variable, Adam, StateError } from 'simdopt';
      import type { AdamOptions, Backend } from 'simdopt';
      import { ready as readySlim } from 'simdopt/slim';
      import type { toTfjs } from 'simdopt/tfjs'; // (types only: @tensorflow/tfjs-core is not installed here)
      import { WorkerMirroredStrategy, splitBatch } from 'simdopt/distribute';
      import { Lion } from 'simdopt/keras3';

      export type ToTfjs = typeof toTfjs;
      export const entryPoints = [readySlim, WorkerMirroredStrategy, splitBatch, Lion].map((f) => typeof f);
      async function main(): Promise<void> {
        const backend: Backend = await ready();
        const options: AdamOptions = { learningRate: 0.1 };
        const v = new Variable(10);
        new Adam(options).applyGradients([[new Float32Array([1]), v]]);
        console.log(JSON.stringify({ backend, value: v.read()[0], stateError: typeof StateError, entryPoints }));
      }
      void main();
      `,
    );
    const common = { strict: true, target: 'es2022', lib: ['es2022', 'dom'], types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')], skipLibCheck: true };
    const configs: Record<string, Record<string, unknown>> = {
      'tsconfig.node16.json': { ...common, module: 'node16', moduleResolution: 'node16', outDir: 'out' },
      'tsconfig.nodenext.json': { ...common, module: 'nodenext', moduleResolution: 'nodenext', noEmit: true },
      // node10 ignores "exports": package.json's typesVersions maps the subpaths.
      'tsconfig.node10.json': { ...common, module: 'commonjs', moduleResolution: 'node10', noEmit: true },
    };
    for (const [file, compilerOptions] of Object.entries(configs)) {
      writeFileSync(join(app, file), JSON.stringify({ compilerOptions, files: ['check.ts'] }));
      await runOk(TSC, ['-p', file], { cwd: app });
    }
    // The node16 output is CommonJS (`require('simdopt')`); Node >= 20.19 / 22.12 loads the ES
    // module graph through require(esm).
    expect(readFileSync(join(app, 'out', 'check.js'), 'utf8')).toMatch(/require\("simdopt"\)/);
    const features = (await node(['-p', 'process.features.require_module === true'])).stdout.trim();
    if (features === 'true') {
      const out = await node(['out/check.js'], { cwd: app });
      expect(JSON.parse(out.stdout)).toEqual({
        backend: NODE_BUILD,
        value: Math.fround(9.900001),
        stateError: 'function',
        entryPoints: ['function', 'function', 'function', 'function'],
      });
    }
  });

  test("the opt-in .wasm files: simdopt/slim loads the bytes of simdopt/simd.wasm and gives TF 2.4's numbers", async () => {
    copyFileSync(join(ROOT, 'tests', 'browser', 'workload.mjs'), join(project, 'workload.mjs'));
    writeFileSync(
      join(project, 'slim.mjs'),
      [
        "import { readFile } from 'node:fs/promises';",
        "import { ready } from 'simdopt/slim';",
        "import { run } from './workload.mjs';",
        "const bytes = await readFile(new URL(import.meta.resolve('simdopt/simd.wasm')));",
        'console.log(JSON.stringify({ size: bytes.length, loaded: await ready({ wasm: { simd: bytes } }), result: await run() }));',
      ].join('\n'),
    );
    // workload.mjs imports 'simdopt': the same loader as 'simdopt/slim', already loaded.
    const out = await node(['slim.mjs'], { cwd: project });
    const { size, loaded, result } = JSON.parse(out.stdout) as { size: number; loaded: string; result: WorkloadResult };
    expect(size).toBe(readFileSync(join(ROOT, 'dist', 'wasm', 'simdopt-simd.wasm')).length);
    expect(loaded).toBe('simd');
    expectTfNumbers(result);
  });

  test('simdopt/slim with simdopt/threads.wasm too loads the threads build, with its own glue, and gives the same numbers', async () => {
    copyFileSync(join(ROOT, 'tests', 'browser', 'workload.mjs'), join(project, 'workload.mjs'));
    writeFileSync(
      join(project, 'slim-threads.mjs'),
      [
        "import { readFile } from 'node:fs/promises';",
        "import { ready, stats } from 'simdopt/slim';",
        "import { run } from './workload.mjs';",
        "const file = (name) => readFile(new URL(import.meta.resolve('simdopt/' + name + '.wasm')));",
        "const loaded = await ready({ threads: 2, wasm: { simd: await file('simd'), threads: await file('threads') } });",
        'console.log(JSON.stringify({ loaded, threads: stats().threads, result: await run() }));',
      ].join('\n'),
    );
    const out = await node(['slim-threads.mjs'], { cwd: project });
    const { loaded, threads, result } = JSON.parse(out.stdout) as { loaded: string; threads: number; result: WorkloadResult };
    expect([loaded, threads]).toEqual(['threads', 2]);
    expect(result.backend).toBe('threads');
    expectTfNumbers(result);
  });
});
