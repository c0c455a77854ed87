#!/usr/bin/env node
// Prints the last `cargo bench` results (target/criterion) as markdown tables: median time per
// step and elements per second, one row per configuration, one column per size.
//
//   node benches/criterion-table.mjs [target/criterion]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'target', 'criterion');
const results = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name === 'new') {
      const b = JSON.parse(fs.readFileSync(path.join(p, 'benchmark.json'), 'utf8'));
      const est = JSON.parse(fs.readFileSync(path.join(p, 'estimates.json'), 'utf8'));
      results.push({ group: b.group_id, fn: b.function_id ?? '', param: b.value_str ?? '', ns: est.median.point_estimate, elements: b.throughput?.Elements });
    } else if (e.isDirectory()) walk(p);
  }
})(root);

const fmtTime = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(1)} µs` : `${ns.toFixed(0)} ns`);
const fmtRate = (r) => (r == null ? '' : ` (${(r / 1e9).toFixed(2)} G/s)`);
const fmtSize = (n) => (n % 2 ** 20 === 0 ? `${n / 2 ** 20}M` : n % 1024 === 0 ? `${n / 1024}K` : `${n}`);

for (const group of [...new Set(results.map((r) => r.group))].sort()) {
  const rs = results.filter((r) => r.group === group);
  const params = [...new Set(rs.map((r) => r.param))].sort((a, b) => +a - +b);
  const fns = [...new Set(rs.map((r) => r.fn))];
  const numeric = params.every((p) => p !== '' && !Number.isNaN(+p));
  console.log(`\n${group} (median per step; elements/s in parentheses)\n`);
  if (numeric) {
    console.log(`| config | ${params.map((p) => fmtSize(+p)).join(' | ')} |`);
    console.log(`|---|${params.map(() => '---:').join('|')}|`);
    for (const f of fns) {
      const cells = params.map((p) => {
        const r = rs.find((x) => x.fn === f && x.param === p);
        return r ? fmtTime(r.ns) + fmtRate(r.elements && (r.elements / r.ns) * 1e9) : '–';
      });
      console.log(`| ${f} | ${cells.join(' | ')} |`);
    }
  } else {
    console.log('| config | time |');
    console.log('|---|---:|');
    for (const r of rs) console.log(`| ${[r.fn, r.param].filter(Boolean).join(' / ')} | ${fmtTime(r.ns)}${fmtRate(r.elements && (r.elements / r.ns) * 1e9)} |`);
  }
}
