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
// Gmail's own data and endpoints (research/gmail-dom.md; InboxSDK's getOriginalMessagePage):
//   - the shell sets a session cookie (SID, HttpOnly) and carries an inline `var GLOBALS=[…]`
//     whose [9] is the account's "ik" (gmailIk(n)) and [10] its address, as Gmail's page does;
//     each account /mail/u/<n>/ is a mailbox of its own ids (gmail-data.mjs accountSalt);
//   - `/mail/u/<n>/?ik=<ik>&view=om&permmsgid=msg-f:<decimal>` (or `&th=<legacy hex>`) is "Show
//     original": an HTML page with the message in <pre id="raw_message_text"> and its
//     "Download original" link;
//   - `/mail/u/<n>/?view=att&th=<legacy hex>&attid=0&disp=comp&safe=1&zw` (with or without
//     `ik`) is that link: the raw RFC 822 bytes, unchanged (tests/fixtures/gmail/gmail-sources.mjs);
//   - both need the session cookie (without it Gmail sends you to the sign-in page: 302) and
//     refuse a wrong ik (400); an unknown message is 404;
//   - `POST /sync/u/<n>/i/s` is where the simulator reports a message sent through it, with the
//     ids Gmail gave it, so that its source can be served too.
// `sourceFaults` makes the raw-source endpoint answer 500 (`{ remaining: n }`, or Infinity)
// so that tests can exercise the extension's fallback; `sourceRequests` lists those requests.
//
// Run directly (`node fixture-server.mjs [port]`) to browse the pages by hand.

import https from 'node:https';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { OWNER, buildThreads, gmailIk, hostileThread } from '../fixtures/gmail/gmail-data.mjs';
import { rawSource } from '../fixtures/gmail/gmail-sources.mjs';
import { HOSTILE_PAYLOADS, HOSTILE_ADDRESSES } from './lib/hostile-corpus.mjs';

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

/** The inline script of Gmail's shell that defines GLOBALS ([9]: ik, [10]: the account). */
export function globalsScript(account = 0) {
  const globals = [null, null, 0, '', 'gmail_fe_sim.en.0', null, null, null, null, gmailIk(account), OWNER.email];
  return `<script>var GLOBALS=${JSON.stringify(globals)};GLOBALS[17]=[["p",[]]];</script>`;
}

/** Every message account `account`'s page can show, by legacy hex id and by msg-f decimal. */
function messageIndex(account) {
  const index = new Map();
  for (const t of buildThreads([hostileThread(HOSTILE_PAYLOADS, HOSTILE_ADDRESSES)], { account })) {
    for (const msg of t.messages) {
      const entry = { subject: t.subject, msg };
      index.set(msg.legacyId, entry);
      index.set(`msg-f:${msg.messageId}`, entry);
    }
  }
  return index;
}

const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

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
  const session = crypto.randomBytes(16).toString('hex');
  const indexes = new Map(); // account → its messages (built when first asked)
  const indexOf = (account) => {
    if (!indexes.has(account)) indexes.set(account, messageIndex(account));
    return indexes.get(account);
  };
  const accountOf = (pathname) => Number(/^\/(?:mail|sync)\/u\/(\d+)\//.exec(pathname)?.[1] ?? 0);
  const sourceFaults = { remaining: 0 };
  const sourceRequests = [];

  /** "Show original" (view=om) and its "Download original" link (view=att&disp=comp). */
  function originalMessage(req, res, url, view, signedIn) {
    sourceRequests.push({ view, url: url.pathname + url.search, signedIn });
    if (!signedIn) {
      const next = encodeURIComponent(`https://mail.google.com${url.pathname}${url.search}`);
      return void res.writeHead(302, { Location: `https://accounts.google.com/ServiceLogin?service=mail&continue=${next}` }).end();
    }
    const account = accountOf(url.pathname);
    const ik = url.searchParams.get('ik');
    if ((view === 'om' || ik !== null) && ik !== gmailIk(account)) {
      return void res.writeHead(400, { 'Content-Type': 'text/html; charset=utf-8' }).end('<p>Bad Request</p>');
    }
    const id = url.searchParams.get('permmsgid') ?? url.searchParams.get('th') ?? '';
    const entry = indexOf(account).get(id.toLowerCase());
    if (view === 'att' && (url.searchParams.get('disp') !== 'comp' || url.searchParams.get('attid') !== '0')) {
      return void res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8' }).end('<p>Not Found</p>');
    }
    if (!entry) return void res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8' }).end('<p>Not Found</p>');
    if (sourceFaults.remaining > 0) {
      sourceFaults.remaining -= 1;
      return void res.writeHead(500, { 'Content-Type': 'text/html; charset=utf-8' }).end('<p>Temporary Error (500)</p>');
    }
    const raw = rawSource(entry.subject, entry.msg);
    if (view === 'att') {
      res.writeHead(200, {
        'Content-Type': 'text/plain',
        'Content-Disposition': 'attachment; filename="original_msg.eml"',
        'Content-Length': raw.length,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      });
      return void res.end(req.method === 'HEAD' ? undefined : raw);
    }
    const nonce = crypto.randomBytes(18).toString('base64');
    const download = `?view=att&amp;th=${entry.msg.legacyId}&amp;attid=0&amp;disp=comp&amp;safe=1&amp;zw`;
    const html = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Original Message</title></head><body>` +
      `<div class="message_id">${escapeHtml(/^Message-ID:\s*(\S+)/im.exec(raw.toString('latin1'))?.[1] ?? '')}</div>` +
      `<a href="${download}">Download Original</a>` +
      `<pre class="raw_message_text" id="raw_message_text">${escapeHtml(raw.toString('utf8'))}</pre></body></html>`;
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': gmailCspHeaders(nonce) });
    res.end(req.method === 'HEAD' ? undefined : html);
  }

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
    const signedIn = (req.headers.cookie ?? '').split(/;\s*/).includes(`SID=${session}`);
    if (req.method === 'POST' && /^\/sync\/u\/\d+\/i\/s$/.test(url.pathname)) {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        if (!signedIn) return void res.writeHead(401).end();
        try {
          const sent = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          const entry = { subject: String(sent.subject ?? ''), msg: { ...sent, source: null } };
          const index = indexOf(accountOf(url.pathname));
          index.set(String(sent.legacyId), entry);
          index.set(`msg-f:${sent.messageId}`, entry);
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
        } catch {
          res.writeHead(400).end();
        }
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
    const view = url.searchParams.get('view');
    if (/^\/mail\/(?:u\/\d+\/)?$/.test(url.pathname) && (view === 'om' || view === 'att')) {
      return void originalMessage(req, res, url, view, signedIn);
    }
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
    if (path.basename(file) === 'index.html') {
      headers['Set-Cookie'] = `SID=${session}; Path=/; Secure; HttpOnly; SameSite=Lax`;
      body = Buffer.from(body.toString('utf8').replace('</head>', `${globalsScript(accountOf(url.pathname))}\n</head>`), 'utf8');
    }
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
    sourceFaults,
    sourceRequests,
    session,
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
