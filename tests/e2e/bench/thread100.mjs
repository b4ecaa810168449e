// Target 3: the 100-message thread t100 fully decorated, warm cache.
//
// One run = one fresh page (the simulator keeps message states per page):
//   1. open t3 and append a reply from/to/cc every address t100 uses, so the content script's
//      own verdict cache holds them all (the background's cache is warm too);
//   2. open t100 in the same page (hash navigation: the fold of 96, the last message
//      expanded), let everything settle;
//   3. measured window: __gmailSim.unfold(); __gmailSim.expandAll() → 100 expanded messages,
//      then `windowMs` of wall time for the content script to finish (bars, tracked-state
//      replies, style and layout of the bars).
// Main-thread time: CDP Performance.getMetrics (thread-time domain) before and after the
// window, in a browser WITH the extension and in a plain one WITHOUT it doing exactly the same
// page operations; extension cost = with − median(without). Wall time: a main-world
// MutationObserver notes when all 100 bars are ready. A few extra runs with the extension
// are profiled (V8 sampling profiler) to attribute the time to the extension's own frames.

import {
  perfSession, metricDelta, startProfile, DURATIONS, contentScriptWorld, installApiCounters, timeGetMessage,
} from './cdp.mjs';
import { summarize } from './stats.mjs';
import { startTrace, meanTimes } from './trace.mjs';
import { waitReadyBars, interleaved, sleep, comparison } from './pages.mjs';

const WANT = 100;

/** Main world: records t0/t1 around the operation and tReady when WANT bars are ready. */
function installReadyWatch(want) {
  const b = { t0: NaN, t1: NaN, tReady: NaN, bars: 0, ready: 0 };
  window.__bench = b;
  const watched = new WeakSet();
  const shadowObservers = [];
  const check = () => {
    if (!Number.isNaN(b.tReady)) return;
    const hosts = document.querySelectorAll('[data-threadline="message-bar"]');
    b.bars = hosts.length;
    if (hosts.length < want) return;
    let ready = 0;
    for (const host of hosts) {
      if (host.shadowRoot?.querySelector('[data-tl=bar]')?.getAttribute('data-state') === 'ready') ready++;
      else if (host.shadowRoot && !watched.has(host)) {
        watched.add(host);
        const o = new MutationObserver(check);
        o.observe(host.shadowRoot, { attributes: true, subtree: true, attributeFilter: ['data-state'] });
        shadowObservers.push(o);
      }
    }
    b.ready = ready;
    if (ready >= want) {
      b.tReady = performance.now();
      observer.disconnect();
      for (const o of shadowObservers) o.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document.body, { childList: true, subtree: true });
}

/**
 * Main world, diagnosis only: once the bars are ready, notes when every bar has re-rendered
 * its actions (the tracked-state reply from the background applied: `.actions` rebuilt).
 */
function installStatesWatch() {
  const b = window.__bench;
  b.tStates = NaN;
  b.states = 0;
  const seen = new WeakSet();
  // Bars already there (the last message's) get no new state: only the new ones count.
  const existing = document.querySelectorAll('[data-threadline="message-bar"]');
  for (const host of existing) seen.add(host);
  b.expectStates = 100 - existing.length;
  const attach = () => {
    for (const host of document.querySelectorAll('[data-threadline="message-bar"]')) {
      if (seen.has(host) || !host.shadowRoot) continue;
      seen.add(host);
      const o = new MutationObserver(() => {
        o.disconnect();
        b.states++;
        if (b.states === b.expectStates) b.tStates = performance.now();
      });
      o.observe(host.shadowRoot.querySelector('.actions'), { childList: true });
    }
  };
  new MutationObserver(attach).observe(document.body, { childList: true, subtree: true });
}

/**
 * Main world: schedules unfold + expandAll as an ordinary task of the page (inside the
 * DevTools command itself, the page's script would count as DevToolsCommandDuration, not as
 * ScriptDuration), and resolves with the number of expanded messages once it ran.
 */
function expandEverything() {
  const b = window.__bench;
  return new Promise((resolve) => setTimeout(() => {
    b.t0 = performance.now();
    window.__gmailSim.unfold();
    window.__gmailSim.expandAll();
    b.t1 = performance.now();
    resolve(document.querySelectorAll('[role=list] > [role=listitem].h7').length);
  }, 0));
}

async function prepare(open, threads, extension) {
  const { page, errors } = await open(`#inbox/${threads.t3.legacyThreadId}`);
  if (extension) await waitReadyBars(page, 1);
  await page.evaluate(() => window.__gmailSim.appendReply({ from: 'carlos', to: ['owner'], cc: ['ann', 'bob', 'jane', 'dana'] }));
  if (extension) await waitReadyBars(page, 2);
  await page.evaluate(() => window.__gmailSim.openThread('t100'));
  if (extension) await waitReadyBars(page, 1);
  return { page, errors };
}

export async function oneRun(config, threads, { settleMs, windowMs }) {
  const { page, errors } = await prepare(config.open, threads, config.extension);
  try {
    await sleep(settleMs);
    await page.evaluate(installReadyWatch, WANT);
    const perf = await perfSession(page);
    const m0 = await perf.metrics();
    const expanded = await page.evaluate(expandEverything);
    await sleep(windowMs);
    const m1 = await perf.metrics();
    await perf.detach();
    const b = await page.evaluate(() => window.__bench);
    if (expanded !== WANT) throw new Error(`expected ${WANT} expanded messages, got ${expanded}`);
    if (config.extension && Number.isNaN(b.tReady)) throw new Error(`bars not ready within the window: ${JSON.stringify(b)} ${errors.join('; ')}`);
    return {
      ...metricDelta(m0, m1),
      pageOpMs: b.t1 - b.t0,
      readyFromStartMs: b.tReady - b.t0,
      readyAfterOpMs: b.tReady - b.t1,
      bars: b.bars,
    };
  } finally {
    await page.close();
  }
}

async function profiledRun(config, threads, { settleMs, windowMs }) {
  const { page } = await prepare(config.open, threads, true);
  try {
    await sleep(settleMs);
    await page.evaluate(installReadyWatch, WANT);
    const profiler = await startProfile(page, { intervalUs: 100, label: 'thread100' });
    await page.evaluate(expandEverything);
    await sleep(windowMs);
    return await profiler.stop({ topN: 40 });
  } finally {
    await page.close();
  }
}

/** One traced run (Chrome tracing, main thread): self time per event over the window. */
export async function tracedRun(config, threads, { settleMs, windowMs }) {
  const { page } = await prepare(config.open, threads, config.extension);
  try {
    await sleep(settleMs);
    await page.evaluate(installReadyWatch, WANT);
    const trace = await startTrace(page);
    await page.evaluate(expandEverything);
    await sleep(windowMs);
    return await trace.stop();
  } finally {
    await page.close();
  }
}

/** Where the extension's main-thread time goes: traced runs with and without, by kind. */
async function traceBreakdown(configs, threads, { runs, settleMs, windowMs }) {
  const traces = await interleaved(runs, configs, (c) => tracedRun(c, threads, { settleMs, windowMs }));
  const table = (field) => {
    const w = meanTimes(traces.with, field);
    const wo = meanTimes(traces.without, field);
    return [...new Set([...Object.keys(w), ...Object.keys(wo)])]
      .map((k) => ({ key: k, withMs: w[k] ?? 0, withoutMs: wo[k] ?? 0, costMs: (w[k] ?? 0) - (wo[k] ?? 0) }))
      .sort((a, b) => b.costMs - a.costMs);
  };
  return { runs, byKind: table('byKind'), byEvent: table('byEvent').slice(0, 15) };
}

/**
 * One run with the extension APIs the content script calls wrapped from outside (in its
 * isolated world, through CDP): how many i18n and background calls decorating t100 costs.
 */
async function countedRun(config, threads, { settleMs, windowMs }) {
  const { page } = await prepare(config.open, threads, true);
  try {
    const world = await contentScriptWorld(page);
    const usPerGetMessage = await world.evaluate(timeGetMessage, 2000);
    await world.evaluate(installApiCounters);
    await sleep(settleMs);
    await page.evaluate(installReadyWatch, WANT);
    await page.evaluate(installStatesWatch);
    await page.evaluate(expandEverything);
    await sleep(windowMs);
    const calls = await world.evaluate(() => globalThis.__benchApiCounts);
    const b = await page.evaluate(() => window.__bench);
    await world.detach();
    return {
      usPerGetMessage,
      calls,
      readyAfterOpMs: b.tReady - b.t1,
      statesAppliedAfterOpMs: b.tStates - b.t1,
      barsWithState: b.states,
      newBars: b.expectStates,
    };
  } finally {
    await page.close();
  }
}

export async function benchThread100({ withExt, without, threads, runs = 12, profiled = 3, traced = 2, settleMs = 1000, windowMs = 1500, log = () => {} }) {
  const configs = comparison(withExt, without);
  const raw = await interleaved(runs, configs, async (c, i) => {
    const r = await oneRun(c, threads, { settleMs, windowMs });
    log(`  run ${i + 1} ${c.name.padEnd(7)} script ${r.ScriptDuration.toFixed(1)} ms, task ${r.TaskDuration.toFixed(1)} ms` +
      (c.extension ? `, all ${WANT} bars ready ${r.readyAfterOpMs.toFixed(1)} ms after expandAll returned` : ''));
    return r;
  });
  const profiles = [];
  for (let i = 0; i < profiled; i++) profiles.push(await profiledRun(configs[0], threads, { settleMs, windowMs }));
  const apiCalls = await countedRun(configs[0], threads, { settleMs, windowMs });
  const trace = traced ? await traceBreakdown(configs, threads, { runs: traced, settleMs, windowMs }) : null;
  log(`  extension API calls while decorating: ${JSON.stringify(apiCalls)}`);
  return summarizeComparison(raw, {
    extra: {
      wall: {
        readyAfterOpMs: summarize(raw.with.map((r) => r.readyAfterOpMs)),
        readyFromStartMs: summarize(raw.with.map((r) => r.readyFromStartMs)),
        pageOpWithMs: summarize(raw.with.map((r) => r.pageOpMs)),
        pageOpWithoutMs: summarize(raw.without.map((r) => r.pageOpMs)),
      },
      profile: summarizeProfiles(profiles),
      apiCalls,
      trace,
      windowMs,
      target: { extensionMainThreadMaxMs: 35 },
    },
  });
}

/** Per-metric summaries with, without, and the extension's cost (with_i − median(without)). */
export function summarizeComparison(raw, { extra = {} } = {}) {
  const metrics = {};
  for (const k of [...DURATIONS, 'wallMs']) {
    const without = summarize(raw.without.map((r) => r[k]));
    metrics[k] = {
      with: summarize(raw.with.map((r) => r[k])),
      without,
      cost: summarize(raw.with.map((r) => r[k] - without.median)),
    };
  }
  return { runs: raw.with.length, metrics, raw, ...extra };
}

/** Profiles of several runs: the extension's time, and the mean self time of its hot frames. */
export function summarizeProfiles(profiles, topN = 15) {
  if (!profiles.length) return null;
  const merged = new Map();
  const categories = {};
  for (const p of profiles) {
    for (const [k, ms] of Object.entries(p.categories)) categories[k] = (categories[k] ?? 0) + ms / profiles.length;
    for (const t of p.top) {
      const key = JSON.stringify([t.name, t.url, t.caller]);
      merged.set(key, (merged.get(key) ?? 0) + t.selfMs / profiles.length);
    }
  }
  return {
    runs: profiles.length,
    extensionMs: summarize(profiles.map((p) => p.extensionMs)),
    meanCategoriesMs: Object.fromEntries(Object.entries(categories).sort((a, b) => b[1] - a[1])),
    sampledMs: summarize(profiles.map((p) => p.totalMs)),
    top: [...merged.entries()].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([k, ms]) => {
      const [name, url, caller] = JSON.parse(k);
      return { name, url, caller, meanSelfMs: ms };
    }),
  };
}
