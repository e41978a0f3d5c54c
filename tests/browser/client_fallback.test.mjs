// @switchyard/client (clients/js) in headless Chromium behind a proxy that blocks WebSocket
// (every Upgrade request gets 403), and one that blocks server-sent events as well: the client
// falls back to SSE, then to long polling, and still delivers every id once, in order.
//
// The proxy is an HTTP server in this file: it serves the client module and a test page itself
// (same origin as the hub, as an application would) and relays every other request to the
// server, streaming the response (so SSE and long polls pass through).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServer, launch, root } from './harness.mjs';

const CLIENT = path.join(root, 'clients', 'js', 'src', 'index.js');
const PAGE = `<!doctype html><meta charset="utf-8"><title>client</title>
<script type="module">
import { Client } from '/client.js';
const client = new Client(location.origin, { minDelay: 50, maxDelay: 500, openTimeout: 3000 });
const sub = client.subscribe('fallback.a', { since: 0 });
window.events = [];
window.states = [];
sub.on('message', (m) => window.events.push(['m', m.id, m.data]));
sub.on('gap', (g) => window.events.push(['gap', g]));
sub.on('state', (s) => window.states.push([s.state, s.transport]));
window.sub = sub;
</script>`;

function blockingProxy(port, { blockSse }) {
  const blocked = { websocket: 0, sse: 0 };
  const srv = http.createServer((req, res) => {
    if (req.url === '/client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      return res.end(fs.readFileSync(CLIENT));
    }
    if (req.url === '/page.html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(PAGE);
    }
    if (blockSse && /text\/event-stream/.test(req.headers.accept ?? '')) {
      blocked.sse++;
      res.writeHead(403, { 'content-type': 'text/plain' });
      return res.end('no event streams here\n');
    }
    const up = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url,
      headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  srv.on('upgrade', (req, socket) => {
    blocked.websocket++;
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok({
    url: `http://127.0.0.1:${srv.address().port}`, blocked,
    close: () => new Promise((done) => { srv.closeAllConnections(); srv.close(done); }),
  })));
}

for (const [name, blockSse, want] of [['WebSocket blocked', false, 'sse'],
  ['WebSocket and SSE blocked', true, 'longpoll']]) {
  test(`${name}: falls back to ${want}, every id once`, { timeout: 60000 }, async () => {
    const srv = await startServer(['--hub-history-count', '100']);
    const px = await blockingProxy(srv.port, { blockSse });
    const browser = await launch();
    try {
      const page = await browser.newPage();
      await page.goto(`${px.url}/page.html`);
      await page.waitForFunction(() => window.sub && window.sub.state === 'open', null, { timeout: 20000 });
      for (let i = 1; i <= 25; i++) {
        const r = await fetch(`${srv.url}/pub/fallback.a`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: i }),
        });
        assert.equal(r.status, 201);
      }
      await page.waitForFunction(() => window.events.length >= 25, null, { timeout: 20000 });
      const events = await page.evaluate(() => window.events);
      const states = await page.evaluate(() => window.states);
      assert.deepEqual(events.map((e) => e[1]), Array.from({ length: 25 }, (_, i) => i + 1));
      assert.ok(events.every((e) => e[0] === 'm' && e[2].n === e[1]));
      assert.ok(px.blocked.websocket >= 1, 'the WebSocket was tried and refused');
      if (blockSse) assert.ok(px.blocked.sse >= 1, 'SSE was tried and refused');
      assert.deepEqual(states.filter((s) => s[0] === 'open'), [['open', want]]);
      assert.equal(await page.evaluate(() => window.sub.transport), want);
    } finally {
      await browser.close();
      await px.close();
      await srv.stop();
    }
  });
}
