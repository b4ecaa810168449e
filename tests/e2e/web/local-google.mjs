// The local Google (crates/fake-providers) for the web app's browser runs: started for a
// server on a given port, with the environment that points the server at it, and a way to
// add events as the user would in Google Calendar.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function fakeBinary() {
  if (process.env.THREADLINE_FAKE_PROVIDERS_BIN) return process.env.THREADLINE_FAKE_PROVIDERS_BIN;
  const cargoTarget = process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, 'target');
  for (const profile of ['release', 'debug']) {
    const candidate = path.join(cargoTarget, profile, 'threadline-fake-providers');
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('threadline-fake-providers not built: cargo build -p threadline-fake-providers');
}

export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The local Google for the server on `serverPort`, its one account `email` with a primary
 * calendar and one more calendar per name of `calendars`; `workspaceDomains` are Google
 * Workspace domains (their ID tokens carry `hd`):
 * { base, token, calendars: { name: id }, env, addEvent(body, calendar = 'primary'), stop }.
 */
export async function startLocalGoogle(serverPort, { email = 'me@example.com', calendars = [], workspaceDomains = [] } = {}) {
  const port = await freePort();
  const child = spawn(fakeBinary(), [
    'serve', '--listen', `127.0.0.1:${port}`, '--email', email,
    ...workspaceDomains.flatMap((d) => ['--workspace-domain', d]),
    '--redirect-uri', `http://127.0.0.1:${serverPort}/oauth/google/callback`,
    '--dropbox-redirect-uri', `http://127.0.0.1:${serverPort}/oauth/dropbox/callback`,
    ...calendars.flatMap((name) => ['--calendar', name]),
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ids = {};
  const token = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the local Google exited (${code})`)));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const c = /^calendar (\S+) (.*)$/.exec(line);
      if (c) ids[c[2]] = c[1];
      const t = /Authorization: Bearer (\S+)'/.exec(line);
      if (t) resolve(t[1]);
    });
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    token,
    calendars: ids,
    env: {
      THREADLINE_GOOGLE_CLIENT_ID: 'fake-client.apps.googleusercontent.com',
      THREADLINE_GOOGLE_CLIENT_SECRET: 'fake-secret',
      THREADLINE_GOOGLE_AUTH_URL: `${base}/o/oauth2/v2/auth`,
      THREADLINE_GOOGLE_TOKEN_URL: `${base}/token`,
      THREADLINE_GOOGLE_REVOKE_URL: `${base}/revoke`,
      THREADLINE_GOOGLE_USERINFO_URL: `${base}/v1/userinfo`,
      THREADLINE_GOOGLE_DISCOVERY_URL: `${base}/.well-known/openid-configuration`,
      THREADLINE_GOOGLE_CALENDAR_API_URL: `${base}/calendar/v3`,
      THREADLINE_GOOGLE_PEOPLE_API_URL: `${base}/v1`,
      THREADLINE_GOOGLE_DRIVE_API_URL: `${base}/drive/v3`,
      THREADLINE_GOOGLE_DRIVE_UPLOAD_URL: `${base}/upload/drive/v3`,
    },
    /** Adds an event to `calendar` (an id, or `primary`) as the user would in Google. */
    async addEvent(body, calendar = 'primary') {
      const res = await fetch(`${base}/calendar/v3/calendars/${encodeURIComponent(calendar)}/events`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status !== 200) throw new Error(`adding an event: ${res.status} ${await res.text()}`);
      return res.json();
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    },
  };
}
