// PeerJS signaling at /peerjs, spoken by the `ws` client with the messages peerjs-server and the
// npm `peerjs` client exchange (GET /peerjs/id, OPEN, OFFER/ANSWER/CANDIDATE relayed with src,
// HEARTBEAT, ID-TAKEN, EXPIRE, queued delivery, LEAVE), and room signaling on signal.{room}.
// The real `peerjs` client runs in Chromium: peerjs_browser.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer } from './harness.mjs';

let srv;
before(async () => {
  srv = await startServer(['--webrtc-peerjs-expire-ms', '400']);
});
after(async () => { await srv.stop(); });

// A socket with a message queue: next() resolves with the next JSON message.
function peer(id, token = `tok-${id}`, key = 'peerjs') {
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/peerjs?key=${key}&id=${id}&token=${token}&version=1.5.5`);
  const queue = [];
  const waiters = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    const w = waiters.shift();
    if (w) w(m); else queue.push(m);
  });
  const closed = new Promise((res) => ws.once('close', (code) => res(code)));
  return {
    ws,
    closed,
    send: (m) => ws.send(JSON.stringify(m)),
    next: (ms = 3000) => new Promise((res, rej) => {
      if (queue.length) return res(queue.shift());
      const t = setTimeout(() => rej(new Error(`${id}: no message in ${ms} ms`)), ms);
      waiters.push((m) => { clearTimeout(t); res(m); });
    }),
    none: async (ms = 300) => {
      await new Promise((r) => setTimeout(r, ms));
      assert.deepEqual(queue, [], `${id} got unexpected messages`);
    },
  };
}

test('GET /peerjs/id gives a fresh id', async () => {
  const r1 = await fetch(`${srv.url}/peerjs/id?ts=1`);
  assert.equal(r1.status, 200);
  const a = await r1.text();
  const b = await (await fetch(`${srv.url}/peerjs/id`)).text();
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(a, b);
});

test('OPEN, then OFFER/ANSWER/CANDIDATE relayed with src, HEARTBEAT silent', async () => {
  const a = peer('alice1');
  const b = peer('bob1');
  assert.deepEqual(await a.next(), { type: 'OPEN' });
  assert.deepEqual(await b.next(), { type: 'OPEN' });
  const offer = { sdp: { type: 'offer', sdp: 'v=0\r\n' }, type: 'media', connectionId: 'mc_1' };
  a.send({ type: 'OFFER', dst: 'bob1', payload: offer });
  assert.deepEqual(await b.next(), { type: 'OFFER', src: 'alice1', dst: 'bob1', payload: offer });
  b.send({ type: 'ANSWER', dst: 'alice1', payload: { sdp: { type: 'answer', sdp: 'x' } } });
  const ans = await a.next();
  assert.equal(ans.type, 'ANSWER');
  assert.equal(ans.src, 'bob1');
  a.send({ type: 'CANDIDATE', dst: 'bob1', payload: { candidate: { candidate: 'c', sdpMid: '0' } } });
  assert.equal((await b.next()).payload.candidate.candidate, 'c');
  a.send({ type: 'HEARTBEAT' });
  await a.none();
  await b.none(0);
  a.ws.close(); b.ws.close();
});

test('a second socket with the same id and another token gets ID-TAKEN', async () => {
  const a = peer('carol1', 'one');
  assert.equal((await a.next()).type, 'OPEN');
  const imposter = peer('carol1', 'two');
  const m = await imposter.next();
  assert.equal(m.type, 'ID-TAKEN');
  assert.equal(m.payload.msg, 'ID is taken');
  await imposter.closed;
  // The holder still gets its messages.
  const d = peer('dave1');
  assert.equal((await d.next()).type, 'OPEN');
  d.send({ type: 'OFFER', dst: 'carol1', payload: { n: 1 } });
  assert.equal((await a.next()).src, 'dave1');
  a.ws.close(); d.ws.close();
  // Once the holder left, the id is free again.
  await a.closed;
  await new Promise((r) => setTimeout(r, 100));
  const again = peer('carol1', 'three');
  assert.equal((await again.next()).type, 'OPEN');
  again.ws.close();
});

test('a message for an absent peer waits, then EXPIREs back to the sender', async () => {
  const a = peer('erin1');
  assert.equal((await a.next()).type, 'OPEN');
  // Delivered when the peer connects within webrtc.peerjs_expire_ms...
  a.send({ type: 'OFFER', dst: 'frank1', payload: { early: true } });
  await new Promise((r) => setTimeout(r, 100));
  const f = peer('frank1');
  assert.equal((await f.next()).type, 'OPEN');
  assert.deepEqual((await f.next()).payload, { early: true });
  // ...or answered with EXPIRE naming the absent peer as src.
  a.send({ type: 'OFFER', dst: 'nobody1', payload: {} });
  const e = await a.next(2000);
  assert.deepEqual(e, { type: 'EXPIRE', src: 'nobody1', dst: 'erin1' });
  // LEAVE is not queued.
  a.send({ type: 'LEAVE', dst: 'nobody2' });
  await a.none(700);
  a.ws.close(); f.ws.close();
});

test('webrtc.peerjs_queue_max bounds the absent-peer queue: beyond it, EXPIRE at once', async () => {
  const small = await startServer(['--webrtc-peerjs-expire-ms', '5000', '--webrtc-peerjs-queue-max', '1']);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${small.port}/peerjs?key=peerjs&id=gina1&token=t&version=1.5.5`);
    const got = [];
    ws.on('message', (d) => got.push(JSON.parse(d.toString())));
    await new Promise((r) => ws.once('open', r));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(got.shift()?.type, 'OPEN');
    ws.send(JSON.stringify({ type: 'OFFER', dst: 'absent1', payload: {} }));  // waits (5 s)
    await new Promise((r) => setTimeout(r, 150));
    ws.send(JSON.stringify({ type: 'OFFER', dst: 'absent2', payload: {} }));  // the queue is full
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(got, [{ type: 'EXPIRE', src: 'absent2', dst: 'gina1' }]);
    ws.close();
  } finally {
    await small.stop();
  }
});

test('GET /peerjs/peers: 401 unless webrtc.peerjs_allow_discovery, then the connected ids', async () => {
  const off = await fetch(`${srv.url}/peerjs/peers`);
  assert.equal(off.status, 401);
  const open = await startServer(['--webrtc-peerjs-allow-discovery']);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${open.port}/peerjs?key=peerjs&id=hank1&token=t&version=1.5.5`);
    const first = new Promise((r) => ws.once('message', (d) => r(JSON.parse(d.toString()))));
    assert.equal((await first).type, 'OPEN');
    const res = await fetch(`${open.url}/peerjs/peers`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(await res.json(), ['hank1']);
    ws.close();
    await new Promise((r) => ws.once('close', r));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await (await fetch(`${open.url}/peerjs/peers`)).json(), []);
  } finally {
    await open.stop();
  }
});

test('bad requests: no key or id -> 400, wrong key -> 401, bad message -> ERROR', async () => {
  for (const [q, status] of [['key=peerjs&id=x1', 400], ['key=nope&id=x1&token=t', 401],
    ['key=peerjs&id=bad.id&token=t', 400]]) {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/peerjs?${q}`);
    const got = await new Promise((res) => {
      ws.on('unexpected-response', (_req, r) => res(r.statusCode));
      ws.on('open', () => res('open'));
    });
    assert.equal(got, status, q);
  }
  const a = peer('gina1');
  assert.equal((await a.next()).type, 'OPEN');
  a.ws.send('not json');
  assert.equal((await a.next()).type, 'ERROR');
  a.send({ type: 'SHOUT', dst: 'x' });
  assert.equal((await a.next()).type, 'ERROR');
  // The socket stays usable.
  a.send({ type: 'HEARTBEAT' });
  a.send({ type: 'LEAVE' });  // LEAVE without dst: the server drops the client
  await a.closed;
});

test('room signaling on signal.{room}: presence and relay to everyone in the room', async () => {
  const open = (name) => new Promise((res) => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/signal/room7?presence=${name}`);
    const msgs = [];
    ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
    ws.on('open', () => res({ ws, msgs }));
  });
  const a = await open('ann');
  const b = await open('ben');
  const until = async (c, pred) => {
    for (let i = 0; i < 100 && !c.msgs.some(pred); i++) await new Promise((r) => setTimeout(r, 20));
    return c.msgs.find(pred);
  };
  assert.ok(await until(a, (m) => m.type === 'join' && m.name === 'ben'));
  a.ws.send(JSON.stringify({ type: 'offer', from: 'ann', to: 'ben', sdp: 'v=0' }));
  assert.equal((await until(b, (m) => m.type === 'offer')).sdp, 'v=0');
  // POST to the room (the SSE + POST form) reaches the WebSocket peers too.
  const r = await fetch(`${srv.url}/signal/room7`, { method: 'POST', body: JSON.stringify({ type: 'candidate', from: 'cy' }) });
  assert.ok(r.status < 300, String(r.status));
  assert.ok(await until(b, (m) => m.type === 'candidate' && m.from === 'cy'));
  b.ws.close();
  assert.ok(await until(a, (m) => m.type === 'leave' && m.name === 'ben'));
  a.ws.close();
});
