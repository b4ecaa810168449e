// Target 2: a message element enters the DOM → its bar is rendered with CRM matches, from a
// warm cache. Measured entirely in the page's main world:
//   t_in    performance.now() right after __gmailSim.appendReply() returned: the expanded
//           message's list item was appended inside it (only the reply strip moved after);
//           the content script's MutationObserver cannot run before this script yields.
//   t_ready the first moment a main-world MutationObserver (created after the content
//           script's, so notified after it in the same microtask checkpoint) sees the bar host
//           [data-threadline=message-bar] inside that message with [data-tl=bar]
//           data-state="ready"; when the bar is still loading, an observer on its shadow root
//           catches the flip to ready.
// Each inserted message is removed again after its sample, so the thread keeps its size.

import { summarize } from './stats.mjs';
import { waitReadyBars } from './pages.mjs';

/** Senders/recipients rotated through: every address has a verdict once primed. */
export const WARM_CASTS = [
  { from: 'ann', to: ['owner'], cc: ['bob'] },
  { from: 'bob', to: ['owner'], cc: [] },
  { from: 'owner', to: ['ann'], cc: ['bob'] },
  { from: 'jane', to: ['owner'], cc: ['bob'] },
  { from: 'carlos', to: ['owner', 'bob'], cc: [] },
  { from: 'siobhan', to: ['owner'], cc: ['bob', 'jane'] },
  { from: 'dana', to: ['owner'], cc: ['ann'] },
  { from: 'juergen', to: ['owner'], cc: ['carlos'] },
];

/**
 * Runs in the page: appends `casts[i]` as expanded messages of the open thread, one at a time,
 * and returns [{ms, state, parties, pending, matched}] per message (chip counts by verdict). `unknownPrefix` makes every message's
 * sender a fresh address (a cache miss: the verdict needs the background and the server).
 */
function insertSamples({ casts, gapMs, timeoutMs, unknownPrefix }) {
  const sim = window.__gmailSim;
  const barOf = (item) => item.querySelector('[data-threadline="message-bar"]');
  const stateOf = (host) => host?.shadowRoot?.querySelector('[data-tl=bar]')?.getAttribute('data-state') ?? null;
  const one = (cast, i) => new Promise((resolve) => {
    let item = null;
    let tIn = 0;
    let settled = false;
    let shadowObserver = null;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      observer.disconnect();
      shadowObserver?.disconnect();
      clearTimeout(timer);
      const host = item && barOf(item);
      const parties = host ? [...host.shadowRoot.querySelectorAll('[data-tl-party]')] : [];
      resolve({
        ...result,
        parties: parties.length,
        pending: parties.filter((p) => p.getAttribute('data-status') === 'pending').length,
        matched: parties.filter((p) => ['known', 'own', 'ambiguous'].includes(p.getAttribute('data-status'))).length,
      });
      item?.remove();
    };
    const check = () => {
      if (!item || settled) return;
      const host = barOf(item);
      if (!host) return;
      const now = performance.now();
      if (stateOf(host) === 'ready') {
        finish({ ms: now - tIn, state: 'ready' });
      } else if (!shadowObserver) {
        shadowObserver = new MutationObserver(check);
        shadowObserver.observe(host.shadowRoot, { attributes: true, subtree: true, attributeFilter: ['data-state'] });
      }
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, { childList: true, subtree: true });
    const timer = setTimeout(() => finish({ ms: NaN, state: stateOf(item && barOf(item)) ?? 'no bar' }), timeoutMs);
    const from = unknownPrefix ? `${unknownPrefix}${i}@cold.example` : cast.from;
    const { legacyId } = sim.appendReply({ from, to: cast.to, cc: cast.cc, body: `Benchmark reply ${i}.`, state: 'expanded' });
    tIn = performance.now();
    item = document.querySelector(`.adn[data-legacy-message-id="${legacyId}"]`).closest('[role=listitem]');
  });
  return (async () => {
    const out = [];
    for (let i = 0; i < casts.length; i++) {
      out.push(await one(casts[i], i));
      // A pause with a little jitter, so samples do not lock onto the page's timers.
      await new Promise((r) => setTimeout(r, gapMs + (i * 7) % 11));
    }
    return out;
  })();
}

/**
 * @param {object} world  startWorld()'s world (the extension with the real server)
 * @param {object} threads  the simulator's thread summaries by key
 */
export async function benchWarmInsert(world, threads, { samples = 250, cold = 20, log = () => {} } = {}) {
  const { page, errors } = await world.open(`#inbox/${threads.t3.legacyThreadId}`);
  try {
    await waitReadyBars(page, 1);
    // Prime the content script's cache with every address the casts use (cold insertions).
    const primed = await page.evaluate(insertSamples, { casts: WARM_CASTS, gapMs: 20, timeoutMs: 10_000 });
    if (primed.some((s) => s.state !== 'ready')) throw new Error(`priming failed: ${JSON.stringify(primed)}`);
    log(`  primed ${primed.length} casts (cold, incl. lookup round trip): ${primed.map((s) => s.ms.toFixed(1)).join(', ')} ms`);

    const casts = Array.from({ length: samples }, (_, i) => WARM_CASTS[i % WARM_CASTS.length]);
    const warm = await page.evaluate(insertSamples, { casts, gapMs: 15, timeoutMs: 5_000 });
    // Every chip has its verdict, and every bar shows at least one CRM match (or the owner).
    const bad = warm.filter((s) => s.state !== 'ready' || s.parties === 0 || s.pending > 0 || s.matched === 0);
    if (bad.length) throw new Error(`${bad.length} warm insertions did not render a matched bar: ${JSON.stringify(bad.slice(0, 3))}`);

    // For comparison only: a sender nobody has looked up yet (background + server round trip).
    const coldCasts = Array.from({ length: cold }, () => WARM_CASTS[0]);
    const coldSamples = await page.evaluate(insertSamples, { casts: coldCasts, gapMs: 30, timeoutMs: 10_000, unknownPrefix: `cold${Date.now()}-` });
    if (errors.length) log(`  page errors: ${errors.join('; ')}`);
    return {
      warm: summarize(warm.map((s) => s.ms)),
      partiesPerBar: summarize(warm.map((s) => s.parties)),
      matchedPerBar: summarize(warm.map((s) => s.matched)),
      cold: summarize(coldSamples.filter((s) => s.state === 'ready').map((s) => s.ms)),
      coldNotReady: coldSamples.filter((s) => s.state !== 'ready').length,
      target: { p95MaxMs: 4 },
    };
  } finally {
    await page.close();
  }
}
