// Chrome tracing (CDP Tracing domain) of a page's main thread: self thread-time per trace
// event, grouped into what the time was spent on. Used to explain where an extension's
// main-thread time goes beyond its own script (style, layout, paint, messaging).

const CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'toplevel', 'blink', 'ipc', 'mojom', 'renderer.scheduler', 'cc'];

/** Starts tracing `page`; stop() resolves to {byKind: {kind: ms}, byEvent: {name: ms}}. */
export async function startTrace(page) {
  const cdp = await page.context().newCDPSession(page);
  const events = [];
  cdp.on('Tracing.dataCollected', (e) => events.push(...e.value));
  const complete = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
  await cdp.send('Tracing.start', {
    transferMode: 'ReportEvents',
    traceConfig: { includedCategories: CATEGORIES, excludedCategories: ['*'] },
  });
  return {
    async stop() {
      await cdp.send('Tracing.end');
      await complete;
      await cdp.detach().catch(() => {});
      return selfTimes(events);
    },
  };
}

/** What a trace event's self time is spent on. */
export function kindOf(name, url) {
  if (name === 'FunctionCall' || name === 'EvaluateScript' || name === 'v8.callFunction' || name === 'V8.HandleInterrupts') {
    return url?.startsWith('chrome-extension://') ? 'script: the extension' : 'script: the page (and V8 entry points)';
  }
  if (/recalcStyle|rebuildLayoutTree|UpdateLayoutTree|updateStyle|StyleElement|StyleEngine|ParseAuthorStyleSheet/i.test(name)) return 'style';
  if (/Layout|InlineNode|Shape/i.test(name)) return 'layout';
  if (/Paint|Compositing|Layerize|CullRect|Commit|Lifecycle|BeginMainFrame|Raster/i.test(name)) return 'pre-paint, paint, compositing';
  if (/mojo|IPC|MessageChannel|Message/i.test(name)) return 'messaging (IPC)';
  if (/Microtask/i.test(name)) return 'microtask checkpoints';
  return 'other';
}

/** Self thread time (tdur minus children) per event on the busiest CrRendererMain thread. */
export function selfTimes(events) {
  const names = new Map();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args?.name);
  const busy = new Map();
  for (const e of events) {
    const key = `${e.pid}:${e.tid}`;
    if (e.ph === 'X' && names.get(key) === 'CrRendererMain') busy.set(key, (busy.get(key) ?? 0) + (e.dur ?? 0));
  }
  const main = [...busy].sort((a, b) => b[1] - a[1])[0]?.[0];
  const xs = events
    .filter((e) => `${e.pid}:${e.tid}` === main && e.ph === 'X' && typeof e.tdur === 'number')
    .sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const byEvent = {};
  const byKind = {};
  const add = (node, ms) => {
    byEvent[node.label] = (byEvent[node.label] ?? 0) + ms;
    byKind[node.kind] = (byKind[node.kind] ?? 0) + ms;
  };
  const stack = [];
  for (const e of xs) {
    while (stack.length && stack.at(-1).end <= e.ts) stack.pop();
    const url = e.args?.data?.url ?? '';
    const kind = kindOf(e.name, url);
    const node = { end: e.ts + e.dur, kind, label: e.name + (kind === 'script: the extension' ? ' (extension)' : '') };
    add(node, e.tdur / 1000);
    const parent = stack.at(-1);
    if (parent) add(parent, -e.tdur / 1000);
    stack.push(node);
  }
  return { byKind, byEvent };
}

/** Mean of several selfTimes() results, per key. */
export function meanTimes(list, field) {
  const out = {};
  for (const r of list) for (const [k, v] of Object.entries(r[field])) out[k] = (out[k] ?? 0) + v / list.length;
  return out;
}
