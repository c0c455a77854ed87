// Production build of the bundler test app (tests/bundlers/app, copied into a scratch project
// where simdopt is installed from the packed tarball) with one bundler, through its Node API.
//   node tests/bundlers/build.mjs <webpack|vite|esbuild|rollup> <appDir> <outDir>
// Prints one JSON line: { warnings: string[] } (a failed build exits non-zero).
import { join } from 'node:path';

const [bundler, app, out] = process.argv.slice(2);
const warnings = [];
// Every bundler gets the same app: main.js (the page) and worker.js (a module Worker it starts
// with `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })`).

async function webpack() {
  const { default: webpack } = await import('webpack');
  const compiler = webpack({
    mode: 'production',
    context: app,
    entry: './main.js',
    output: { path: out, filename: 'main.js', chunkFilename: '[name].[contenthash:8].js', clean: true },
    performance: { hints: false }, // the size limits of a web app are not this test's business
  });
  const stats = await new Promise((resolve, reject) => compiler.run((e, s) => (e ? reject(e) : compiler.close(() => resolve(s)))));
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  if (stats.hasErrors()) throw new Error(info.errors.map((e) => e.message).join('\n'));
  warnings.push(...info.warnings.map((w) => w.message));
}

async function vite() {
  const { build, createLogger } = await import('vite');
  const logger = createLogger('warn');
  const warn = logger.warn;
  logger.warn = (msg, options) => {
    warnings.push(msg);
    warn(msg, options);
  };
  logger.warnOnce = logger.warn;
  await build({
    root: app,
    configFile: false,
    logLevel: 'warn',
    customLogger: logger,
    // Module workers may split code too (Vite's default worker format, iife, inlines every
    // dynamic import: both wasm builds in the worker chunk).
    worker: { format: 'es' },
    // The embedded SIMD build is one chunk by design (dist/wasm/generated/simd-bytes.js: 1.58 MB of
    // base64 with the compressed slot storage, the eight-lane bfloat16 pass, the Keras 3 passes
    // and the 8-bit pass without stages); only the build in use is loaded. No report of how
    // long plugins took: on a loaded machine it warns about the machine.
    build: { outDir: out, emptyOutDir: true, reportCompressedSize: false, chunkSizeWarningLimit: 1700, rolldownOptions: { checks: { bundlerTimings: false } } },
  });
}

async function esbuild() {
  const { build } = await import('esbuild');
  const r = await build({
    absWorkingDir: app,
    entryPoints: ['main.js', 'worker.js'],
    bundle: true,
    splitting: true, // each wasm build in its own chunk, loaded only when used
    format: 'esm',
    platform: 'browser',
    minify: true,
    outdir: out,
    loader: { '.wasm': 'file' },
    logLevel: 'silent',
  });
  warnings.push(...r.warnings.map((w) => w.text));
}

async function rollup() {
  const { rollup } = await import('rollup');
  const { nodeResolve } = await import('@rollup/plugin-node-resolve');
  const { default: terser } = await import('@rollup/plugin-terser');
  const bundle = await rollup({
    input: { main: join(app, 'main.js'), worker: join(app, 'worker.js') },
    plugins: [nodeResolve({ browser: true }), terser()],
    onwarn: (w) => warnings.push(w.message),
  });
  await bundle.write({ dir: out, format: 'es', entryFileNames: '[name].js' });
  await bundle.close();
}

const builders = { webpack, vite, esbuild, rollup };
if (!builders[bundler]) throw new Error(`unknown bundler ${bundler}`);
await builders[bundler]();
console.log(JSON.stringify({ warnings }));
