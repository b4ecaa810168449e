// Run the real Threadline server for end-to-end tests, and talk to its JSON API.
//
// The binary is built by cargo (target/debug or target/release/threadline-server); tests take
// its path from THREADLINE_SERVER_BIN, falling back to whichever of those exists. The server
// prints on stdout, on first start with an empty data dir,
//     THREADLINE_TOKEN=<token>
//     listening on http://127.0.0.1:<port>
// and only the second line on later starts; so restart() keeps the token of the first start.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** THREADLINE_SERVER_BIN, else a built binary in target/, else null. */
export function serverBinary() {
  if (process.env.THREADLINE_SERVER_BIN) return process.env.THREADLINE_SERVER_BIN;
  for (const profile of ['release', 'debug']) {
    const candidate = path.join(repoRoot, 'target', profile, 'threadline-server');
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

function withoutDatabaseUrl(environment) {
  const { DATABASE_URL: _ignored, ...rest } = environment;
  return rest;
}

/** Spawn once and resolve when the server listens; reject with its stderr if it dies first. */
function spawnServer(binary, dataDir, port, env, timeout) {
  const child = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // A DATABASE_URL in the developer's shell must not point the test server elsewhere:
    // these tests always run on a temporary SQLite database (callers may still pass one).
    env: { ...withoutDatabaseUrl(process.env), RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env },
  });
  const log = [];
  child.stderr.setEncoding('utf8').on('data', (d) => log.push(d));
  return new Promise((resolve, reject) => {
    let token = null;
    let setupUrl = null;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`threadline-server did not start within ${timeout} ms:\n${log.join('')}`));
    }, timeout);
    const onExit = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`threadline-server exited (${code ?? signal}) before listening:\n${log.join('')}`));
    };
    child.once('exit', onExit);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      log.push(line + '\n');
      const t = /^THREADLINE_TOKEN=(\S+)$/.exec(line);
      if (t) token = t[1];
      const s = /^THREADLINE_SETUP_URL=(\S+)$/.exec(line);
      if (s) setupUrl = s[1];
      const l = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
      if (l) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve({ child, url: l[1], port: Number(l[2]), token, setupUrl, log });
      }
    });
  });
}

function stopChild(child, timeout = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill('SIGTERM');
  });
}

/**
 * Start the server on a fresh (or given) data dir.
 * @returns {Promise<{url, port, token, dataDir, log: () => string, stop(): Promise<void>,
 *   restart(): Promise<void>}>} restart() stops the process and starts it again with the same
 *   data dir and port (url and token stay valid); stop() also deletes a data dir it created.
 */
export async function startServer({ binary = serverBinary(), dataDir, port = 0, token: knownToken = null, env = {}, timeout = 30_000 } = {}) {
  if (!binary || !fs.existsSync(binary)) {
    throw new Error(`threadline-server binary not found (${binary ?? 'unset'}): build it with cargo or set THREADLINE_SERVER_BIN`);
  }
  const ownDataDir = !dataDir;
  const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'threadline-data-'));
  let run = await spawnServer(binary, dir, port, env, timeout);
  const server = {
    url: run.url,
    port: run.port,
    token: run.token ?? knownToken,
    /** The owner's one-time setup link (web app), printed while the owner has no password. */
    setupUrl: run.setupUrl,
    dataDir: dir,
    log: () => run.log.join(''),
    /** Stops the process and keeps the data: the server is "down" until restart(). */
    async halt() {
      await stopChild(run.child);
    },
    async restart() {
      await stopChild(run.child);
      run = await spawnServer(binary, dir, server.port, env, timeout);
      if (run.token) server.token = run.token;
      server.setupUrl = run.setupUrl;
    },
    async stop() {
      await stopChild(run.child);
      if (ownDataDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/**
 * Minimal JSON client for /api/v1. Paths are relative to /api/v1 unless they start with /api/
 * or /healthz. Every call resolves to { status, body, headers } (body parsed when JSON) and
 * never throws on HTTP errors, so tests can assert on refusals too.
 */
export function api(url, token) {
  const full = (p) => (p.startsWith('/api/') || p.startsWith('/healthz') ? `${url}${p}` : `${url}/api/v1${p.startsWith('/') ? p : `/${p}`}`);
  async function request(method, p, body, { idempotencyKey, headers = {} } = {}) {
    const res = await fetch(full(p), {
      method,
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try { parsed = JSON.parse(text); } catch { /* leave as text */ }
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }
  return {
    request,
    get: (p, opts) => request('GET', p, undefined, opts),
    post: (p, body, opts) => request('POST', p, body, opts),
    patch: (p, body, opts) => request('PATCH', p, body, opts),
    delete: (p, opts) => request('DELETE', p, undefined, opts),
    /** POST /contacts {first_name, last_name, emails, company: {kind:'new', name, domain}} */
    createContact: (contact, opts) => request('POST', '/contacts', contact, opts),
    /** POST /lookup {addresses} */
    lookup: (addresses, opts) => request('POST', '/lookup', { addresses }, opts),
    /** POST /tracked-emails/state {messages: [{ids: [...]}]} */
    trackedState: (messages, opts) => request('POST', '/tracked-emails/state', { messages }, opts),
  };
}
