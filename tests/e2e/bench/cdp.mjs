import fs from 'node:fs';
import path from 'node:path';

// Chrome DevTools Protocol helpers: main-thread metrics of a page, and a CPU profile
// attributed to the extension's scripts (its JS glue and its WebAssembly).

/** A CDP session on `page` with the Performance domain enabled; metrics() → {name: value}. */
export async function perfSession(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  return {
    cdp,
    async metrics() {
      const { metrics } = await cdp.send('Performance.getMetrics');
      return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
    },
    detach: () => cdp.detach().catch(() => {}),
  };
}

// Durations reported by Performance.getMetrics, in seconds.
export const DURATIONS = ['ScriptDuration', 'TaskDuration', 'LayoutDuration', 'RecalcStyleDuration', 'TaskOtherDuration'];

/** after − before for the durations (converted to ms) and the wall time between them. */
export function metricDelta(before, after) {
  const out = { wallMs: (after.Timestamp - before.Timestamp) * 1000 };
  for (const k of DURATIONS) out[k] = (after[k] - before[k]) * 1000;
  return out;
}

/** True for a call frame that belongs to the extension: its scripts or its WebAssembly. */
export function isExtensionFrame(frame) {
  const url = frame.url ?? '';
  return url.startsWith('chrome-extension://') || url.startsWith('wasm://');
}

/**
 * Attributes a V8 CPU profile (Profiler.stop's `profile`) to the extension: a sample counts
 * when any frame of its stack is the extension's (so the DOM and extension-API calls it makes,
 * and the bindings it goes through, count too). Returns
 *   {totalMs, extensionMs, categories: {name: ms}, top: [{name, url, caller, selfMs}]}
 * where top is the self time of the leaf frames of the extension's stacks (with the frame
 * that called them) and categories groups those leaf frames (see `category`).
 */
export function attributeProfile(profile, { topN = 12 } = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inExtension = new Map();
  const extOf = (id) => {
    if (inExtension.has(id)) return inExtension.get(id);
    const node = byId.get(id);
    const p = parent.get(id);
    const v = isExtensionFrame(node.callFrame) || (p !== undefined && extOf(p));
    inExtension.set(id, v);
    return v;
  };
  const self = new Map();
  let totalMs = 0;
  let extensionMs = 0;
  const categories = {};
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; the time after it is timeDeltas[i + 1].
    const dt = (timeDeltas[i + 1] ?? 0) / 1000;
    const node = byId.get(samples[i]);
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') continue;
    totalMs += dt;
    if (!extOf(samples[i])) continue;
    extensionMs += dt;
    const cat = category(node.callFrame);
    categories[cat] = (categories[cat] ?? 0) + dt;
    const callerNode = byId.get(parent.get(samples[i]));
    const caller = callerNode ? callerNode.callFrame.functionName || '(anonymous)' : '';
    const key = `${name || '(anonymous)'}\t${shortUrl(node.callFrame.url)}\t${caller}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([key, ms]) => {
      const [name, url, caller] = key.split('\t');
      return { name, url, caller, selfMs: ms };
    });
  return { totalMs, extensionMs, categories, top };
}

const STRING_COPY = new Set(['decode', 'encode', 'encodeInto', 'decodeText', 'getStringFromWasm0', 'passStringToWasm0']);

/**
 * What a leaf frame of the extension's stacks is doing. Native frames called from the glue are
 * DOM or extension-API calls; V8 names the latter wrongly (see run.mjs), so they are not told
 * apart here: the wrapped-API counts of thread100.mjs are the figures for those.
 */
export function category(frame) {
  const name = frame.functionName;
  const url = frame.url ?? '';
  if (STRING_COPY.has(name)) return 'strings copied wasm↔JS (TextDecoder/Encoder)';
  if (url.endsWith('.wasm') || url.startsWith('wasm://') || name.startsWith('wasm-function') || name.startsWith('js-to-wasm')) return 'WebAssembly (the Rust core)';
  if (name === 'wasm-to-js') return 'wasm→JS call boundary';
  if (url.startsWith('chrome-extension://')) return 'wasm-bindgen JS glue (externref table, closures, shims)';
  if (name === 'set' || name === 'get') return 'wasm-bindgen JS glue (externref table, closures, shims)';
  return 'native calls: DOM and extension APIs';
}

function shortUrl(url) {
  if (!url) return '(native)';
  return url.replace(/^chrome-extension:\/\/[a-p]{32}\//, 'ext:/').replace(/^https:\/\/mail\.google\.com\//, 'page:/');
}

/**
 * Starts the sampling profiler; stop() resolves to the attributed profile. With
 * THREADLINE_BENCH_CPUPROFILE_DIR set, each raw profile is also written there as
 * `<label>-<n>.cpuprofile` (DevTools opens it; `bench/profile-by-function.mjs` sums it by
 * function, inclusive, which a named build turns into Rust names).
 */
export async function startProfile(page, { intervalUs = 100, label = 'profile' } = {}) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: intervalUs });
  await cdp.send('Profiler.start');
  return {
    async stop(opts) {
      const { profile } = await cdp.send('Profiler.stop');
      await cdp.send('Profiler.disable');
      await cdp.detach().catch(() => {});
      saveRawProfile(profile, label);
      return attributeProfile(profile, opts);
    },
  };
}

let savedProfiles = 0;
function saveRawProfile(profile, label) {
  const dir = process.env.THREADLINE_BENCH_CPUPROFILE_DIR;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${label}-${++savedProfiles}.cpuprofile`), JSON.stringify(profile));
}

/**
 * The content script's isolated world on `page` (CDP Runtime, the execution context whose
 * origin is the extension's): evaluate(fn, arg) runs fn there and returns its value. For
 * diagnosis only: wrapping extension APIs from outside, without touching the extension.
 */
export async function contentScriptWorld(page) {
  const cdp = await page.context().newCDPSession(page);
  const contexts = [];
  cdp.on('Runtime.executionContextCreated', (e) => contexts.push(e.context));
  await cdp.send('Runtime.enable');
  const ctx = contexts.find((c) => c.origin?.startsWith('chrome-extension://') && c.auxData?.type === 'isolated');
  if (!ctx) throw new Error(`no content-script world among ${JSON.stringify(contexts.map((c) => [c.name, c.origin]))}`);
  return {
    async evaluate(fn, arg) {
      const { result, exceptionDetails } = await cdp.send('Runtime.evaluate', {
        expression: `(${fn})(${JSON.stringify(arg ?? null)})`, contextId: ctx.id, returnByValue: true, awaitPromise: true,
      });
      if (exceptionDetails) throw new Error(`content-script world: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
      return result.value;
    },
    detach: async () => { await cdp.send('Runtime.disable').catch(() => {}); await cdp.detach().catch(() => {}); },
  };
}

/** Isolated world: counts (and times) the extension API calls the content script makes. */
export function installApiCounters() {
  const counts = {};
  const wrap = (obj, key, name) => {
    const original = obj[key];
    const rec = (counts[name] = { calls: 0, ms: 0 });
    obj[key] = function counted(...a) {
      const t = performance.now();
      try { return original.apply(this, a); } finally { rec.ms += performance.now() - t; rec.calls++; }
    };
  };
  wrap(chrome.i18n, 'getMessage', 'chrome.i18n.getMessage');
  wrap(chrome.runtime, 'sendMessage', 'chrome.runtime.sendMessage');
  globalThis.__benchApiCounts = counts;
  return Object.keys(counts);
}

/** Isolated world: µs per chrome.i18n.getMessage call, as the glue makes it (key, []). */
export function timeGetMessage(n = 2000) {
  const keys = ['barTitle', 'actionTrack', 'actionConvertToTask'];
  const t = performance.now();
  for (let i = 0; i < n; i++) chrome.i18n.getMessage(keys[i % keys.length], []);
  return ((performance.now() - t) * 1000) / n;
}
