// A/B of two extension builds on t100 in the same conditions: the world's build (A,
// THREADLINE_EXTENSION_DIR) and another (B, --b=<dir>), each in its own browser against the
// same server and fixtures, with a plain browser as the common "without". Runs rotate A, B,
// without, so drifting machine load hits all three alike. A diagnosis tool for a change's
// effect, not a target's figure (that is run.mjs's thread100).
//
//   node bench/ab.mjs --b=/path/to/other/dist/extension [--runs=10] [--traced=4]

import os from 'node:os';
import path from 'node:path';

import { startWorld, configure } from '../lib/threadline.mjs';
import { launchWithExtension } from '../lib/browser.mjs';
import { opener, launchBaseline } from './pages.mjs';
import { oneRun, tracedRun } from './thread100.mjs';
import { meanTimes } from './trace.mjs';
import { summarize } from './stats.mjs';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
if (!args.b) throw new Error('usage: node bench/ab.mjs --b=<extension dir> [--runs=10] [--traced=4]');
const runs = Number(args.runs ?? 10);
const traced = Number(args.traced ?? 4);
const timing = { settleMs: 1000, windowMs: 1500 };

const world = await startWorld();
const other = await launchWithExtension({ fixturePort: world.fixtures.port, extensionDir: path.resolve(args.b) });
await configure(other, world.server);
const baseline = await launchBaseline(world);
const load = [os.loadavg()[0]];
try {
  const { page } = await world.open('#inbox');
  const threads = Object.fromEntries(await page.evaluate(() => ['t3', 't100'].map((k) => [k, window.__gmailSim.thread(k)])));
  await page.close();
  const configs = [
    { name: 'A', extension: true, open: opener(world.browser.context) },
    { name: 'B', extension: true, open: opener(other.context) },
    { name: 'without', extension: false, open: opener(baseline.context) },
  ];
  const rotate = (i) => [...configs.slice(i % 3), ...configs.slice(0, i % 3)];
  const metrics = { A: [], B: [], without: [] };
  for (let i = 0; i < runs; i++) {
    for (const c of rotate(i)) metrics[c.name].push(await oneRun(c, threads, timing));
  }
  const traces = { A: [], B: [], without: [] };
  for (let i = 0; i < traced; i++) {
    for (const c of rotate(i)) traces[c.name].push(await tracedRun(c, threads, timing));
  }
  load.push(os.loadavg()[0]);

  const f = (v) => v.toFixed(1);
  console.log(`A = ${process.env.THREADLINE_EXTENSION_DIR ?? 'dist/extension'}, B = ${args.b}; ${runs} runs each, load ${load.map(f).join(' → ')}`);
  console.log('| ms in the window | without: median | A: with/without | B: with/without | A: cost median | B: cost median | A: cost mean | B: cost mean |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const k of ['TaskDuration', 'ScriptDuration', 'RecalcStyleDuration', 'LayoutDuration', 'TaskOtherDuration']) {
    // cost = with − median(without), per run; the ratio is of the medians.
    const base = summarize(metrics.without.map((r) => r[k])).median;
    const [a, b] = ['A', 'B'].map((n) => summarize(metrics[n].map((r) => r[k] - base)));
    const [ra, rb] = ['A', 'B'].map((n) => summarize(metrics[n].map((r) => r[k])).median / base);
    console.log(`| ${k} | ${f(base)} | ${ra.toFixed(2)}× | ${rb.toFixed(2)}× | ${f(a.median)} | ${f(b.median)} | ${f(a.mean)} | ${f(b.mean)} |`);
  }
  const ready = ['A', 'B'].map((n) => summarize(metrics[n].map((r) => r.readyAfterOpMs)).median);
  console.log(`all bars ready after expandAll, median: A ${f(ready[0])} ms, B ${f(ready[1])} ms`);
  if (traced) {
    const [a, b, wo] = ['A', 'B', 'without'].map((n) => meanTimes(traces[n], 'byKind'));
    console.log(`\ntrace, mean of ${traced}, main-thread self time minus without's (ms)`);
    console.log('| spent on | A | B |');
    console.log('|---|---:|---:|');
    const kinds = [...new Set([...Object.keys(a), ...Object.keys(b), ...Object.keys(wo)])];
    let ta = 0;
    let tb = 0;
    for (const k of kinds) {
      const da = (a[k] ?? 0) - (wo[k] ?? 0);
      const db = (b[k] ?? 0) - (wo[k] ?? 0);
      ta += da;
      tb += db;
      console.log(`| ${k} | ${f(da)} | ${f(db)} |`);
    }
    console.log(`| total | ${f(ta)} | ${f(tb)} |`);
    const [ea, eb, ewo] = ['A', 'B', 'without'].map((n) => meanTimes(traces[n], 'byEvent'));
    const events = [...new Set([...Object.keys(ea), ...Object.keys(eb)])]
      .map((k) => ({ k, a: (ea[k] ?? 0) - (ewo[k] ?? 0), b: (eb[k] ?? 0) - (ewo[k] ?? 0) }))
      .sort((x, y) => Math.abs(y.b - y.a) - Math.abs(x.b - x.a))
      .slice(0, 12);
    console.log(`largest A/B differences by trace event (minus without's): ${events.map((e) => `${e.k} ${f(e.a)} / ${f(e.b)}`).join(', ')}`);
  }
} finally {
  await other.close().catch(() => {});
  await baseline.close().catch(() => {});
  await world.close();
}
