// [auth] from a browser (docs/auth.md): tokens minted by the npm library jose (not by
// switchyard), carried as ?token= since EventSource and browser WebSockets cannot set headers.
// Headless Chromium: an EventSource and a WebSocket with a permitted token receive what is
// published; with a token for another topic, or none, the handshake is refused and nothing
// arrives; at exp the WebSocket is closed 3000 "token expired".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { startServer, launch } from './harness.mjs';

const secret = `browser-secret-${Math.random().toString(16).slice(2)}`;

async function mint(sub, subscribe, expIn = 600) {
  return new SignJWT({ switchyard: { subscribe, publish: [] } })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + expIn)
    .sign(new TextEncoder().encode(secret));
}

test('EventSource and WebSocket with ?token= in chromium', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-auth-browser-'));
  const file = path.join(dir, 'secret');
  fs.writeFileSync(file, secret);
  const srv = await startServer(['--auth-jwt-hmac-secret-file', file]);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`${srv.url}/`);
    const good = await mint('alice', ['room.{sub}']);
    const other = await mint('bob', ['room.{sub}']);
    const short = await mint('alice', ['room.{sub}'], 2);
    const publisher = await new SignJWT({ switchyard: { publish: ['room.>'] } })
      .setProtectedHeader({ alg: 'HS256' }).setSubject('svc')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .sign(new TextEncoder().encode(secret));
    const result = await page.evaluate(async ({ good, other, short, publisher }) => {
      const got = { es: [], ws: [], esOther: [], wsOther: [], wsNone: [] };
      const opened = (t, el) => new Promise((res) => {
        el.onopen = () => res('open');
        el.onerror = () => res('error');
        setTimeout(() => res('timeout'), 3000);
      });
      // Each handshake's outcome is watched from its construction (events may fire at once).
      const es = new EventSource(`/sub/room.alice?token=${good}`);
      es.onmessage = (e) => got.es.push(e.data);
      const pEs = opened('es', es);
      const esOther = new EventSource(`/sub/room.alice?token=${other}`);
      esOther.onmessage = (e) => got.esOther.push(e.data);
      const pEsOther = opened('esOther', esOther);
      const ws = new WebSocket(`ws://${location.host}/sub/room.alice?token=${good}`);
      ws.onmessage = (e) => got.ws.push(e.data);
      const pWs = opened('ws', ws);
      const wsOther = new WebSocket(`ws://${location.host}/sub/room.alice?token=${other}`);
      wsOther.onmessage = (e) => got.wsOther.push(e.data);
      const pWsOther = opened('wsOther', wsOther);
      const wsNone = new WebSocket(`ws://${location.host}/sub/room.alice`);
      wsNone.onmessage = (e) => got.wsNone.push(e.data);
      const pWsNone = opened('wsNone', wsNone);
      const states = {
        es: await pEs, esOther: await pEsOther, ws: await pWs, wsOther: await pWsOther,
        wsNone: await pWsNone,
      };
      esOther.close();
      for (let i = 0; i < 3; i++) {
        const r = await fetch('/pub/room.alice', {
          method: 'POST', body: `m${i}`, headers: { Authorization: `Bearer ${publisher}` },
        });
        if (r.status !== 201) throw new Error(`publish ${r.status}`);
      }
      const refused = await fetch('/pub/room.alice', { method: 'POST', body: 'x' });
      await new Promise((r) => setTimeout(r, 700));
      const wsShort = new WebSocket(`ws://${location.host}/sub/room.alice?token=${short}`);
      const closed = await new Promise((res) => {
        wsShort.onclose = (e) => res({ code: e.code, reason: e.reason });
        setTimeout(() => res(null), 6000);
      });
      es.close(); ws.close();
      return { got, states, refused: refused.status, closed };
    }, { good, other, short, publisher });
    assert.equal(result.states.es, 'open');
    assert.equal(result.states.ws, 'open');
    assert.equal(result.states.esOther, 'error');
    assert.equal(result.states.wsOther, 'error');
    assert.equal(result.states.wsNone, 'error');
    assert.deepEqual(result.got.es, ['m0', 'm1', 'm2']);
    assert.deepEqual(result.got.ws, ['m0', 'm1', 'm2']);
    assert.deepEqual([result.got.esOther, result.got.wsOther, result.got.wsNone], [[], [], []]);
    assert.equal(result.refused, 401);
    assert.deepEqual(result.closed, { code: 3000, reason: 'token expired' });
  } finally {
    await browser.close();
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
