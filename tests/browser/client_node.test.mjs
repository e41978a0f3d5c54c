// @switchyard/client (clients/js) in Node 20 against the real server, on each transport:
// - a TCP proxy cuts every connection several times while messages are published: the client
//   resumes from its last id and sees every id exactly once, with no gap;
// - the server is killed (SIGKILL) mid-stream and started again on the same port: the client
//   reconnects by itself, reports the restart as an explicit gap (reset), then sees every id of
//   the new server once. Never a silent hole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { startServer } from './harness.mjs';
import { Client } from '../../clients/js/src/index.js';

const TRANSPORTS = ['websocket', 'sse', 'longpoll'];
const ARGS = ['--hub-history-count', '1000', '--model', 'single'];
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// A TCP relay to the server's port; cut() resets every connection through it.
function proxy(port) {
  const socks = new Set();
  const srv = net.createServer((c) => {
    const up = net.connect(port, '127.0.0.1');
    socks.add(c);
    socks.add(up);
    c.pipe(up).pipe(c);
    const drop = () => { c.destroy(); up.destroy(); socks.delete(c); socks.delete(up); };
    c.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
  });
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok({
    url: `http://127.0.0.1:${srv.address().port}`,
    cut: () => { for (const s of socks) s.destroy(); },
    close: () => new Promise((done) => { for (const s of socks) s.destroy(); srv.close(done); }),
  })));
}

// Records what a subscription emits: ['m', id] for a message, ['gap', {...}] for a gap.
function record(sub) {
  const seen = [];
  const states = [];
  sub.on('message', (m) => seen.push(['m', m.id, m.data]));
  sub.on('gap', (g) => seen.push(['gap', g]));
  sub.on('state', (s) => states.push(s));
  return { seen, states };
}

async function until(what, fn, ms = 20000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const opened = (states) => states.filter((s) => s.state === 'open').length;

for (const transport of TRANSPORTS) {
  test(`${transport}: resume across cut connections, every id once`, async () => {
    const srv = await startServer(ARGS);
    const px = await proxy(srv.port);
    const direct = new Client(srv.url);
    const client = new Client(px.url, { WebSocket, minDelay: 20, maxDelay: 100, pollTimeout: 5 });
    const sub = client.subscribe('resume.a', { since: 0, transports: [transport] });
    const r = record(sub);
    try {
      await until('open', () => sub.state === 'open');
      const total = 120;
      for (let i = 1; i <= total; i++) {
        await direct.publish('resume.a', { n: i });
        if (i % 30 === 0) px.cut(); // mid-stream, messages keep coming
        if (i % 10 === 0) await sleep(5);
      }
      await until('every message', () => sub.lastId === total);
      assert.deepEqual(r.seen.map((e) => e[1]), Array.from({ length: total }, (_, i) => i + 1));
      assert.ok(r.seen.every((e) => e[0] === 'm' && e[2].n === e[1]), 'no gap, payloads in order');
      assert.ok(opened(r.states) >= 2, `reconnected (${opened(r.states)} opens)`);
      assert.ok(r.states.every((s) => s.transport === transport));
    } finally {
      sub.close();
      await px.close();
      await srv.stop();
    }
  });

  test(`${transport}: server killed and restarted mid-stream`, async () => {
    let srv = await startServer(ARGS);
    const port = srv.port;
    const client = new Client(srv.url, { WebSocket, minDelay: 50, maxDelay: 200, pollTimeout: 5 });
    const sub = client.subscribe('restart.a', { since: 0, transports: [transport] });
    const r = record(sub);
    try {
      await until('open', () => sub.state === 'open');
      for (let i = 1; i <= 40; i++) await client.publish('restart.a', { n: i, epoch: 1 });
      await until('first 40', () => sub.lastId === 40);
      srv.child.kill('SIGKILL');
      await new Promise((ok) => srv.child.once('exit', ok));
      await until('reconnecting', () => sub.state === 'reconnecting');
      await sleep(300); // a few failed attempts while the port is closed
      srv = await startServer(ARGS, ['http'], { listen: `127.0.0.1:${port}` });
      // Published before the client is back: it must get them from the new server's history.
      for (let i = 1; i <= 30; i++) await client.publish('restart.a', { n: i, epoch: 2 });
      await until('open again', () => opened(r.states) >= 2);
      await until('the new server\'s 30', () => r.seen.filter((e) => e[0] === 'm').length === 70);
      const before = r.seen.slice(0, 40);
      assert.deepEqual(before.map((e) => e[1]), Array.from({ length: 40 }, (_, i) => i + 1));
      const gap = r.seen[40];
      assert.equal(gap[0], 'gap', JSON.stringify(r.seen.slice(38, 44)));
      assert.equal(gap[1].reset, true);
      assert.equal(gap[1].previous, 40);
      const after = r.seen.slice(41);
      assert.deepEqual(after.map((e) => e[1]), Array.from({ length: 30 }, (_, i) => i + 1));
      assert.ok(after.every((e) => e[0] === 'm' && e[2].epoch === 2 && e[2].n === e[1]));
    } finally {
      sub.close();
      await srv.stop();
    }
  });
}

test('publish errors carry the status', async () => {
  const srv = await startServer(ARGS);
  try {
    const client = new Client(srv.url);
    const ok = await client.publish('pub.a', 'hello');
    assert.equal(ok.id, 1);
    await assert.rejects(client.publish('sys.nope', 'x'), (e) => e.status === 403);
  } finally {
    await srv.stop();
  }
});

test('presence: join and leave of a WebSocket subscriber reach the others', async () => {
  const srv = await startServer(ARGS);
  const client = new Client(srv.url, { WebSocket, minDelay: 20 });
  const watcher = client.subscribe('room.p', { transports: ['websocket'] });
  const seen = [];
  watcher.on('presence', (p) => seen.push([p.type, p.name]));
  try {
    await until('watcher open', () => watcher.state === 'open');
    const ann = client.subscribe('room.p', { presence: 'ann', transports: ['websocket'] });
    await until('join', () => seen.length === 1);
    ann.close();
    await until('leave', () => seen.length === 2);
    assert.deepEqual(seen, [['join', 'ann'], ['leave', 'ann']]);
  } finally {
    watcher.close();
    await srv.stop();
  }
});

test('the token hook runs before every connect and publish', async () => {
  const srv = await startServer(ARGS);
  const sent = [];
  let n = 0;
  const client = new Client(srv.url, {
    token: async () => `t${++n}`,
    fetch: (url, init) => {
      sent.push([new URL(url).pathname, init?.headers?.authorization]);
      return fetch(url, init);
    },
  });
  const sub = client.subscribe('tok.a', { since: 0, transports: ['sse'] });
  try {
    await until('open', () => sub.state === 'open');
    await client.publish('tok.a', 'x');
    assert.deepEqual(sent, [['/topics/tok.a', 'Bearer t1'], ['/sub/tok.a', 'Bearer t1'],
      ['/pub/tok.a', 'Bearer t2']]);
  } finally {
    sub.close();
    await srv.stop();
  }
});

// A pattern spans topics with their own id sequences: ids 1, 2, 3 on two topics interleaved
// are all delivered (not taken for duplicates or a restart), on each transport that serves
// patterns (long poll serves one topic).
for (const transport of ['websocket', 'sse']) {
  test(`${transport}: a pattern subscription checks ids per topic`, async () => {
    const srv = await startServer(ARGS);
    const client = new Client(srv.url, { WebSocket, minDelay: 20 });
    const sub = client.subscribe('pat.*', { transports: [transport] });
    const r = record(sub);
    try {
      await until('open', () => sub.state === 'open');
      for (let i = 1; i <= 3; i++) {
        await client.publish('pat.a', { a: i });
        await client.publish('pat.b', { b: i });
      }
      await until('six messages', () => r.seen.length >= 6);
      await sleep(100); // nothing more may follow
      assert.deepEqual(r.seen.map((e) => [e[0], e[1]]),
        [['m', 1], ['m', 1], ['m', 2], ['m', 2], ['m', 3], ['m', 3]]);
      assert.deepEqual(r.seen.map((e) => JSON.stringify(e[2])),
        ['{"a":1}', '{"b":1}', '{"a":2}', '{"b":2}', '{"a":3}', '{"b":3}']);
      assert.equal(sub.lastId, undefined);
      assert.equal(sub.pattern, true);
    } finally {
      sub.close();
      await srv.stop();
    }
  });
}
