// The npm `peerjs` client, unchanged, in two Chromium pages: both get ids from our GET
// /peerjs/id, open their sockets on /peerjs, and B's DataConnection to A (its OFFER, A's ANSWER
// and the CANDIDATEs all relayed by switchyard's PeerJS signaling over the hub) carries a
// message each way. ICE uses host candidates here (mDNS hiding off); STUN/TURN: call.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, launch, root } from './harness.mjs';

const peerjsFile = path.join(root, 'tests', 'browser', 'node_modules', 'peerjs', 'dist', 'peerjs.min.js');

async function openPeer(page, srv) {
  await page.goto(`${srv.url}/`);
  await page.addScriptTag({ path: peerjsFile });
  return page.evaluate((port) => new Promise((resolve, reject) => {
    // Every default that names a public server is overridden: our host, our path, no ICE servers.
    const peer = new window.Peer({ host: '127.0.0.1', port, path: '/', key: 'peerjs', secure: false,
      config: { iceServers: [] }, debug: 0 });
    window.peer = peer;
    window.got = [];
    peer.on('connection', (conn) => {
      conn.on('data', (d) => { window.got.push(d); conn.send(`echo:${d}`); });
    });
    peer.on('open', (id) => resolve(id));
    peer.on('error', (e) => reject(new Error(`${e.type}: ${e.message}`)));
  }), srv.port);
}

test('two peerjs clients connect through /peerjs and exchange DataChannel messages', { timeout: 90000 }, async () => {
  const srv = await startServer();
  const browser = await launch(['--allow-loopback-in-peer-connection',
    '--disable-features=WebRtcHideLocalIpsWithMdns']);
  try {
    const a = await browser.newPage();
    const b = await browser.newPage();
    const idA = await openPeer(a, srv);
    const idB = await openPeer(b, srv);
    assert.match(idA, /^[0-9a-f-]{36}$/);
    assert.notEqual(idA, idB);
    const reply = await b.evaluate((dst) => new Promise((resolve, reject) => {
      const conn = window.peer.connect(dst, { reliable: true });
      const t = setTimeout(() => reject(new Error('no DataChannel reply in 30 s')), 30000);
      conn.on('open', () => conn.send('hello from B'));
      conn.on('data', (d) => { clearTimeout(t); resolve(d); });
      conn.on('error', (e) => reject(e));
    }), idA);
    assert.equal(reply, 'echo:hello from B');
    assert.deepEqual(await a.evaluate(() => window.got), ['hello from B']);
    // The server counted the PeerJS sockets as WebSocket sessions of the hub.
    const m = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(m, /sy_ws_sessions_total [1-9]/);
  } finally {
    await browser.close();
    await srv.stop();
  }
});
