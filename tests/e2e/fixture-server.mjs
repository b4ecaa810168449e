// HTTPS server that plays mail.google.com for the end-to-end tests.
//
// Chromium is started with --host-resolver-rules="MAP mail.google.com 127.0.0.1:<port>"
// (lib/browser.mjs), so the extension's real manifest, matching https://mail.google.com/*,
// injects into these pages unchanged. The server sends Gmail's Content-Security-Policy
// headers (TOOLCHAIN.md §6), because whether the extension's WebAssembly compiles depends on
// the page's CSP (gmail-dom.md §7.1):
//
//   ?csp=gmail  (default)  Gmail's two headers, with a fresh nonce per response that is also
//                          written into the page's own <script> tags;
//   ?csp=strict            "script-src 'self'": the negative case, WebAssembly cannot compile;
//   ?csp=off               no CSP at all: lets a test see whether hostile markup *would* run
//                          (under Gmail's CSP an injected onerror= is blocked anyway).
//
// Routes: /mail/ and /mail/u/<n>/ serve the Gmail shell (the simulator renders the inbox, a
// thread, or with ?view=cm the standalone compose window); files of tests/fixtures/gmail are
// served below both; /_e2e/hostile-corpus.mjs is lib/hostile-corpus.mjs (the simulator
// renders it); CSP violation reports POSTed to /cspreport are kept in `cspReports`.
//
// Run directly (`node fixture-server.mjs [port]`) to browse the pages by hand.

import https from 'node:https';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURE_DIR = path.resolve(here, '../fixtures/gmail');
const HOSTILE_CORPUS = path.join(here, 'lib/hostile-corpus.mjs');

/** Gmail's policy (TOOLCHAIN.md §6), as two separate header lines. */
export function gmailCspHeaders(nonce) {
  return [
    `script-src 'report-sample' 'nonce-${nonce}' 'unsafe-inline' 'strict-dynamic' https: http: 'unsafe-eval';object-src 'none';base-uri 'self';report-uri /cspreport`,
    `require-trusted-types-for 'script';report-uri /cspreport`,
  ];
}
export const STRICT_CSP = "script-src 'self'";

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.gif': 'image/gif',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

let certificate = null;
/** A self-signed certificate for mail.google.com, made once per process with openssl. */
export function mailGoogleCertificate() {
  if (certificate) return certificate;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threadline-cert-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '7',
    '-subj', '/CN=mail.google.com', '-addext', 'subjectAltName=DNS:mail.google.com',
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  certificate = { key: fs.readFileSync(key), cert: fs.readFileSync(cert), dir };
  return certificate;
}

/** Put the response's nonce on every <script> tag of one of our own pages. */
export function addNonce(html, nonce) {
  return html.replace(/<script\b(?![^>]*\snonce=)/gi, `<script nonce="${nonce}"`);
}

function cspFor(mode, nonce) {
  if (mode === 'strict') return [STRICT_CSP];
  if (mode === 'off') return null;
  return gmailCspHeaders(nonce);
}

/** Map a request path to a file of the fixture folder, or null. */
function resolveFile(root, pathname) {
  if (pathname === '/_e2e/hostile-corpus.mjs') return HOSTILE_CORPUS;
  const m = /^\/mail\/(?:u\/\d+\/)?(.*)$/.exec(pathname);
  if (!m) return null;
  const rel = decodeURIComponent(m[1]) || 'index.html';
  const file = path.resolve(root, rel);
  if (file !== root && !file.startsWith(root + path.sep)) return null; // no ../ escapes
  return file;
}

/**
 * Start the server. Returns { port, origin, url, standaloneComposeUrl, cspReports, requests,
 * close() }. `url` and friends are what the browser loads (https://mail.google.com/…).
 */
export async function startFixtureServer({ root = FIXTURE_DIR, port = 0, host = '127.0.0.1' } = {}) {
  const { key, cert } = mailGoogleCertificate();
  const cspReports = [];
  const requests = [];

  const server = https.createServer({ key, cert }, (req, res) => {
    const url = new URL(req.url, 'https://mail.google.com');
    requests.push({ method: req.method, url: url.pathname + url.search });

    if (url.pathname.endsWith('/cspreport')) {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try { cspReports.push(JSON.parse(text)); } catch { cspReports.push({ raw: text }); }
        res.writeHead(204).end();
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
    if (url.pathname === '/') return void res.writeHead(302, { Location: '/mail/u/0/' }).end();

    const file = resolveFile(root, url.pathname);
    let body;
    try {
      if (!file || !fs.statSync(file).isFile()) throw new Error('not a file');
      body = fs.readFileSync(file);
    } catch {
      return void res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
    const headers = { 'Content-Type': type, 'Cache-Control': 'no-store' };
    if (path.extname(file) === '.html') {
      const nonce = crypto.randomBytes(18).toString('base64');
      const csp = cspFor(url.searchParams.get('csp'), nonce);
      if (csp) headers['Content-Security-Policy'] = csp; // an array: one header line each
      body = addNonce(body.toString('utf8'), nonce);
    }
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actualPort = server.address().port;
  const origin = 'https://mail.google.com';
  return {
    port: actualPort,
    origin,
    url: `${origin}/mail/u/0/`,
    standaloneComposeUrl: `${origin}/mail/?view=cm&fs=1&tf=1`,
    cspReports,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await startFixtureServer({ port: Number(process.argv[2] ?? 0) });
  console.log(`fixture server on https://127.0.0.1:${server.port}`);
  console.log(`open ${server.url} in Chromium started with --host-resolver-rules="MAP mail.google.com 127.0.0.1:${server.port}" --ignore-certificate-errors`);
}
