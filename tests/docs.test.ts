// The API reference (`npm run docs`, TypeDoc over the TSDoc of the entry points): it builds
// without a single warning (every public export documented, every {@link} resolved), the
// optimizers' options carry their defaults, and no comment uses the `[[Name]]` links that
// editors show literally.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, run, tempDir } from './helpers/process';
import { CLASS_NAMES } from './helpers/registry';

interface Reflection {
  name: string;
  kind: number;
  comment?: { summary?: unknown[]; blockTags?: Array<{ tag: string }> };
  flags?: { isOptional?: boolean };
  children?: Reflection[];
}

let project: Reflection;
let output: string;

beforeAll(async () => {
  const out = tempDir('docs');
  try {
    const json = join(out.path, 'api.json');
    // typedoc.json's settings (entry points, validation), JSON output only.
    const r = await run(join(ROOT, 'node_modules', '.bin', 'typedoc'), ['--json', json, '--logLevel', 'Info'], { timeoutMs: 120_000 });
    output = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
    // typedoc.json treats warnings as errors: then no JSON is written, and its output says why.
    if (!existsSync(json)) throw new Error(`typedoc wrote no documentation (exit ${r.code}):\n${output}`);
    project = JSON.parse(readFileSync(json, 'utf8')) as Reflection;
  } finally {
    out.remove();
  }
}, 120_000);

test('TypeDoc documents every public export without a warning', () => {
  expect(output.split('\n').filter((l) => /\[(warning|error)\]/.test(l))).toEqual([]);
  expect(project.children?.map((m) => m.name).sort()).toEqual(['distribute/node', 'index', 'keras3', 'tfjs']);
});

test('every option of every optimizer has a description and its Keras default (@default)', () => {
  const index = project.children!.find((m) => m.name === 'index')!;
  const optionInterfaces = (index.children ?? []).filter((c) => CLASS_NAMES.includes(c.name.replace(/Options$/, '')) && c.name.endsWith('Options'));
  expect(optionInterfaces).toHaveLength(CLASS_NAMES.length);
  const missing: string[] = [];
  for (const i of optionInterfaces) {
    if (!i.comment?.summary?.length) missing.push(`${i.name}: no description`);
    for (const p of i.children ?? []) {
      // Inherited options (clipping, hooks, name) are documented on BaseOptimizerOptions;
      // `lr` is an alias and Nadam's `decay` is ignored, as in Keras.
      if (['lr', 'decay', 'name', 'clipnorm', 'clipvalue', 'globalClipnorm', 'gradientAggregator', 'gradientTransformers'].includes(p.name)) continue;
      const tags = (p.comment?.blockTags ?? []).map((t) => t.tag);
      if (!p.comment?.summary?.length) missing.push(`${i.name}.${p.name}: no description`);
      if (!tags.includes('@default') && !tags.includes('@defaultValue')) missing.push(`${i.name}.${p.name}: no @default`);
    }
  }
  expect(missing).toEqual([]);
});

test('simdopt/keras3: every option of every class has a description and its Keras 3 default (@default)', () => {
  const keras3 = project.children!.find((m) => m.name === 'keras3')!;
  // The optimizer classes (the schedules' options are checked with the schedules).
  // (Besides the base classes, OptimizerMap is not an optimizer: a map given to MultiOptimizer.)
  const classes = (keras3.children ?? [])
    .filter((c) => c.kind === 128 && !['Optimizer', 'OptimizerWrapper', 'OptimizerMap'].includes(c.name) && !/Decay|Restarts/.test(c.name))
    .map((c) => c.name);
  const optionInterfaces = (keras3.children ?? []).filter((c) => c.name.endsWith('Options') && classes.includes(c.name.replace(/Options$/, '')));
  expect(optionInterfaces.length).toBeGreaterThanOrEqual(1);
  expect(optionInterfaces.map((i) => i.name.replace(/Options$/, '')).sort()).toEqual([...classes].sort());
  const base = (keras3.children ?? []).find((c) => c.name === 'Keras3BaseOptions')!;
  const inherited = new Set((base.children ?? []).map((p) => p.name));
  const missing: string[] = [];
  for (const p of base.children ?? []) if (!p.comment?.summary?.length) missing.push(`Keras3BaseOptions.${p.name}: no description`);
  // The options several classes share (Adamax's, Nadam's and Lamb's are these, by another name).
  const shared = (keras3.children ?? []).filter((c) => c.name === 'MomentOptions');
  expect(shared.map((c) => c.name)).toEqual(['MomentOptions']);
  for (const i of [...optionInterfaces, ...shared]) {
    if (!i.comment?.summary?.length) missing.push(`${i.name}: no description`);
    for (const p of i.children ?? []) {
      if (inherited.has(p.name)) continue;
      const tags = (p.comment?.blockTags ?? []).map((t) => t.tag);
      if (!p.comment?.summary?.length) missing.push(`${i.name}.${p.name}: no description`);
      // A required option (LossScaleOptimizer's innerOptimizer) has no default.
      if (p.flags?.isOptional && !tags.includes('@default') && !tags.includes('@defaultValue')) missing.push(`${i.name}.${p.name}: no @default`);
    }
  }
  expect(missing).toEqual([]);
});

test('no TSDoc comment links with [[Name]] (editors show it literally; TypeDoc reads {@link Name})', () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'generated') walk(p);
      } else if (p.endsWith('.ts')) {
        readFileSync(p, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (/\[\[\w+(\.\w+)?\]\]/.test(line)) offenders.push(`${p.slice(ROOT.length + 1)}:${i + 1}`);
          });
      }
    }
  };
  walk(join(ROOT, 'ts'));
  expect(offenders).toEqual([]);
});
