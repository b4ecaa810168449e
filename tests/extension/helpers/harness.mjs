// Wires the background core to the fake chrome API, a controllable clock and timers, and a
// real local Threadline stand-in server.

import { afterEach } from "node:test";

import { createCore } from "../../../extension/background/core.js";
import { createFakeChrome, GMAIL_SENDER, newBacking, OPTIONS_SENDER } from "./fake-chrome.mjs";
import { FakeThreadlineServer, GOOD_TOKEN } from "./fake-server.mjs";

export const START_TIME = Date.UTC(2026, 0, 15, 9, 0, 0);

/** Timers that run only when the test says so, against the fake clock. */
export class ManualTimers {
  constructor(clock) {
    this.clock = clock;
    this.timers = new Map();
    this.nextId = 1;
    this.setTimeout = (fn, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { fn, at: this.clock.now + Math.max(0, ms || 0) });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  /** Due times of the armed timers, soonest first. */
  dueTimes() {
    return [...this.timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }

  /** Runs the timers that are due at the current clock. Returns how many ran. */
  runDue() {
    let ran = 0;
    for (const [id, timer] of [...this.timers]) {
      if (timer.at <= this.clock.now) {
        this.timers.delete(id);
        timer.fn();
        ran += 1;
      }
    }
    return ran;
  }
}

/**
 * Starts a server and a "service worker". Options: `configure` (default true) stores the
 * server URL and a good token first; `backing` reuses storage of an earlier worker (restart);
 * `server` reuses a running server; `clock` shares a clock.
 */
export async function startWorker({ configure = true, backing, server, clock, warnings } = {}) {
  const srv = server || (await new FakeThreadlineServer().start());
  const fake = createFakeChrome({ backing: backing || newBacking() });
  const theClock = clock || { now: START_TIME };
  const timers = new ManualTimers(theClock);
  if (configure && !backing) {
    await fake.chrome.storage.local.set({ serverUrl: srv.url, apiToken: GOOD_TOKEN });
  }
  const logged = warnings || [];
  const core = createCore({
    chrome: fake.chrome,
    fetch: globalThis.fetch,
    now: () => theClock.now,
    random: () => 0,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    console: { warn: (...args) => logged.push(args.map(String).join(" ")) },
  });
  core.attach();
  let uuid = 0;
  const worker = {
    core,
    server: srv,
    chrome: fake.chrome,
    backing: fake.backing,
    sentToTabs: fake.sentToTabs,
    fake,
    clock: theClock,
    timers,
    warnings: logged,
    /** A message from the Gmail content script (tab 7). */
    send: (message) => fake.sendMessage(message, GMAIL_SENDER),
    /** A message from the options page. */
    sendFromOptions: (message) => fake.sendMessage(message, OPTIONS_SENDER),
    sendFrom: (sender, message) => fake.sendMessage(message, sender),
    advance(ms) {
      theClock.now += ms;
    },
    /** Ends this worker's life (timers stop; storage stays in `backing`). */
    async stop() {
      await core.flush();
      core.dispose();
    },
    nextKey: () => `key-${++uuid}`,
  };
  await core.flush(); // the start-up pass
  return worker;
}

/** Like `send`, but fails the test unless the answer is ok; returns its data. */
export async function ok(promise) {
  const answer = await promise;
  if (!answer || answer.ok !== true) throw new Error(`expected ok, got ${JSON.stringify(answer)}`);
  return answer.data;
}

export function trackRequest(overrides = {}) {
  return {
    gmail_message_id: "18c0ffee00000001",
    alt_message_ids: [],
    gmail_thread_id: "18c0ffee00000000",
    direction: "incoming",
    from: { address: "bob@acme.test", name: "Bob" },
    to: [{ address: "ada@example.com" }],
    cc: [],
    subject: "Quote",
    body_text: "Here is the quote.",
    contact_ids: ["00000000-0000-4000-8000-0000000000b0"],
    ...overrides,
  };
}

/**
 * For a test file: returns `worker(options)`, which starts a worker (see startWorker) that
 * is disposed, with its server stopped, after each test.
 */
export function useWorkers() {
  const started = [];
  afterEach(async () => {
    for (const w of started.splice(0)) {
      w.core.dispose();
      await w.server.stop();
    }
  });
  return async (options) => {
    const w = await startWorker(options);
    started.push(w);
    return w;
  };
}
