// The local Google (crates/fake-providers' binary) for the web app's tests: a free port, the
// process with one account, and the server's environment pointing every Google URL at it.

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
 * The local Google for the server on `serverPort`: { base, token, stop }. Its one account is
 * `email`; `workspaceDomains` are Google Workspace domains (their ID tokens carry `hd`).
 */
export async function startFake(serverPort, { email = 'me@example.com', workspaceDomains = [] } = {}) {
  const port = await freePort();
  const child = spawn(fakeBinary(), [
    'serve', '--listen', `127.0.0.1:${port}`, '--email', email,
    ...workspaceDomains.flatMap((d) => ['--workspace-domain', d]),
    '--redirect-uri', `http://127.0.0.1:${serverPort}/oauth/google/callback`,
    '--dropbox-redirect-uri', `http://127.0.0.1:${serverPort}/oauth/dropbox/callback`,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const token = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the local Google exited (${code})`)));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const t = /Authorization: Bearer (\S+)'/.exec(line);
      if (t) resolve(t[1]);
    });
  });
  return {
    base: `http://127.0.0.1:${port}`,
    token,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    },
  };
}

/** The server's environment for the fake at `base`: the client and every Google URL. */
export function googleEnv(base) {
  return {
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
  };
}
