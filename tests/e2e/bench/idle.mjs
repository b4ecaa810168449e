// Target 4: idle cost. The page churns the DOM at 1,000 unrelated mutations per second
// (__gmailSim.mutationStorm: row hover classes, counters, a live region, toolbar state)
// for `seconds`, with a thread open (t3, one bar) or a compose window open (pop-up over the
// inbox, one recipient, one compose bar). Main-thread time from CDP Performance.getMetrics
// (thread-time domain) over the storm, WITH the extension and WITHOUT it (same operations);
// extension share = (with − median(without)) / wall time of the storm. One extra run per
// scenario with the extension is profiled, to read the extension's own frames directly.

import { perfSession, metricDelta, startProfile } from './cdp.mjs';
import { summarize } from './stats.mjs';
import { waitReadyBars, interleaved, sleep, comparison } from './pages.mjs';
import { summarizeProfiles } from './thread100.mjs';

const ANN = 'ann.lee@acme.example';

export const SCENARIOS = {
  thread: {
    label: 'thread t3 open',
    async open(config, threads) {
      const { page, errors } = await config.open(`#inbox/${threads.t3.legacyThreadId}`);
      if (config.extension) await waitReadyBars(page, 1);
      return { page, errors };
    },
  },
  compose: {
    label: 'compose window open (pop-up over the inbox)',
    async open(config) {
      const { page, errors } = await config.open('#inbox');
      await page.evaluate((to) => window.__gmailSim.openCompose({ kind: 'popup', to: [to], subject: 'Idle benchmark' }).then(() => true), ANN);
      if (config.extension) await waitReadyBars(page, 1, { kind: 'compose-bar' });
      return { page, errors };
    },
  },
};

function storm({ perSecond, seconds }) {
  // As an ordinary page task (see thread100.mjs), resolved when the storm ends.
  return new Promise((resolve) => setTimeout(() => window.__gmailSim.mutationStorm(perSecond, seconds).then(resolve), 0));
}

async function oneRun(scenario, config, threads, { perSecond, seconds, settleMs }) {
  const { page } = await scenario.open(config, threads);
  try {
    await sleep(settleMs);
    const perf = await perfSession(page);
    const m0 = await perf.metrics();
    const done = await page.evaluate(storm, { perSecond, seconds });
    const m1 = await perf.metrics();
    await perf.detach();
    return { ...metricDelta(m0, m1), mutations: done.mutations, stormMs: done.ms };
  } finally {
    await page.close();
  }
}

async function profiledRun(scenario, config, threads, { perSecond, seconds, settleMs }) {
  const { page } = await scenario.open(config, threads);
  try {
    await sleep(settleMs);
    const profiler = await startProfile(page, { intervalUs: 250, label: `idle-${scenario.label.split(' ')[0]}` });
    const t0 = Date.now();
    await page.evaluate(storm, { perSecond, seconds });
    const wallMs = Date.now() - t0;
    const p = await profiler.stop({ topN: 40 });
    return { ...p, wallMs };
  } finally {
    await page.close();
  }
}

export async function benchIdle({ withExt, without, threads, runs = 3, profiled = 1, perSecond = 1000, seconds = 10, settleMs = 1000, log = () => {} }) {
  const configs = comparison(withExt, without);
  const out = {};
  for (const [key, scenario] of Object.entries(SCENARIOS)) {
    const raw = await interleaved(runs, configs, async (c, i) => {
      const r = await oneRun(scenario, c, threads, { perSecond, seconds, settleMs });
      log(`  ${key} run ${i + 1} ${c.name.padEnd(7)} ${r.mutations} mutations in ${(r.wallMs / 1000).toFixed(1)} s: script ${r.ScriptDuration.toFixed(1)} ms, task ${r.TaskDuration.toFixed(1)} ms`);
      return r;
    });
    const shares = (metric) => {
      const base = summarize(raw.without.map((r) => r[metric] / r.wallMs)).median;
      return summarize(raw.with.map((r) => (100 * (r[metric] / r.wallMs - base))));
    };
    const profiles = [];
    for (let i = 0; i < profiled; i++) profiles.push(await profiledRun(scenario, configs[0], threads, { perSecond, seconds, settleMs }));
    out[key] = {
      label: scenario.label,
      runs,
      perSecond,
      seconds,
      scriptPercent: shares('ScriptDuration'),
      taskPercent: shares('TaskDuration'),
      with: { script: summarize(raw.with.map((r) => r.ScriptDuration)), task: summarize(raw.with.map((r) => r.TaskDuration)) },
      without: { script: summarize(raw.without.map((r) => r.ScriptDuration)), task: summarize(raw.without.map((r) => r.TaskDuration)) },
      profile: summarizeProfiles(profiles),
      profilePercent: summarize(profiles.map((p) => (100 * p.extensionMs) / p.wallMs)),
      raw,
      target: { maxPercent: 0.5 },
    };
  }
  return out;
}
