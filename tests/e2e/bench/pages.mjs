// The two browsers every comparison uses: the world's (with the extension, against the real
// server) and a plain one on the same fixture server (the baseline), plus page helpers that
// run outside any measurement window.

import { launchWithExtension, openGmail } from '../lib/browser.mjs';

/** {open(route) → {page, errors}} for a browser context, routes relative to /mail/u/0/. */
export function opener(context) {
  return async (route) => {
    const { page, errors } = await openGmail(context, `/mail/u/0/${route}`);
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    return { page, errors };
  };
}

export async function launchBaseline(world) {
  return launchWithExtension({ fixturePort: world.fixtures.port });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until at least `count` bars of `kind` exist and all are ready. */
export function waitReadyBars(page, count, { kind = 'message-bar', timeout = 15_000 } = {}) {
  return page.waitForFunction(({ n, kind }) => {
    const hosts = [...document.querySelectorAll(`[data-threadline="${kind}"]`)];
    return hosts.length >= n && hosts.every((h) => h.shadowRoot?.querySelector('[data-tl=bar]')?.getAttribute('data-state') === 'ready');
  }, { n: count, kind }, { timeout, polling: 50 });
}

/** The two configurations every comparison runs: page openers with and without the extension. */
export function comparison(withExt, without) {
  return [
    { name: 'with', extension: true, open: withExt },
    { name: 'without', extension: false, open: without },
  ];
}

/** Alternates between configurations so drifting machine load hits both alike. */
export async function interleaved(runs, configs, fn) {
  const out = Object.fromEntries(configs.map((c) => [c.name, []]));
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? configs : [...configs].reverse();
    for (const c of order) out[c.name].push(await fn(c, i));
  }
  return out;
}
