// A forward proxy that only tunnels (HTTP CONNECT) to the hosts it is given, for browsers
// that cannot map a host name to a local port (Firefox has no --host-resolver-rules).
//
// Firefox is pointed at it by its proxy prefs (lib/firefox.mjs): a CONNECT to
// mail.google.com:443 becomes a raw TCP tunnel to the fixture server, and the browser does
// the real TLS handshake with it (SNI mail.google.com, the fixture's certificate, Gmail's CSP
// headers), exactly as it would with Google. Loopback addresses never go through a proxy in
// Firefox (network.proxy.allow_hijacking_localhost is false), so the Threadline server on
// 127.0.0.1 is reached directly. Every other request is refused (403) and recorded: nothing
// leaves the machine.

import http from 'node:http';
import net from 'node:net';

/**
 * @param {object} opts
 * @param {Record<string, number>} opts.routes  "host:port" → local port on 127.0.0.1
 * @returns {Promise<{port, refused: string[], tunnels: string[], close()}>}
 */
export async function startConnectProxy({ routes }) {
  const refused = [];
  const tunnels = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    // A plain (non-CONNECT) proxy request: nothing is served over plain HTTP.
    refused.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('connect', (req, client, head) => {
    const target = routes[req.url];
    if (!target) {
      refused.push(`CONNECT ${req.url}`);
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    tunnels.push(req.url);
    const upstream = net.connect(target, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.once('close', () => sockets.delete(upstream));
    const drop = () => { client.destroy(); upstream.destroy(); };
    upstream.on('error', drop);
    client.on('error', drop);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    refused,
    tunnels,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
