// www/call/ in two Chromium pages with fake camera devices. Chromium gathers no host candidates
// on loopback, so the call can only succeed through switchyard's STUN or TURN:
//   stun:  iceServers = our STUN (UDP): Chromium's Binding requests reach it (its counter
//          grows), a DataChannel message round-trips, video frames arrive. The pair is host:
//          this Chromium does gather loopback host candidates with
//          --allow-loopback-in-peer-connection, and drops a srflx candidate equal to a host one,
//          which on one machine without NAT they all are; so only relay proves the path.
//   relay: iceTransportPolicy "relay" and our TURN (TCP to the server, UDP relays): a
//          DataChannel message round-trips, video frames arrive, the selected pair is relay and
//          our TURN counters show the relayed bytes. Screenshot: build/call-relay.png.
// Runs in a private network namespace (harness.mjs inPrivateNetwork) whose only interface is
// loopback: a machine's other interfaces would give host candidates that need neither.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launch, root, inPrivateNetwork } from './harness.mjs';

const outer = inPrivateNetwork(fileURLToPath(import.meta.url));

const flags = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection'];

async function metric(srv, name) {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\d+)`, 'm'));
  return m ? Number(m[1]) : 0;
}

async function twoPages(browser, url) {
  const ctx = await browser.newContext({ permissions: ['camera'] });
  const a = await ctx.newPage();
  const b = await ctx.newPage();
  await a.goto(url);
  await a.waitForFunction(() => window.call && window.call.state === 'waiting');
  await b.goto(url);
  return [a, b];
}

async function roundTrip(a, b, text) {
  for (const p of [a, b]) await p.waitForFunction(() => window.call.dataOpen, null, { timeout: 45000 });
  await a.fill('#text', text);
  await a.click('#send-btn');
  await b.waitForFunction((t) => window.call.chat.some((m) => m.who === 'peer' && m.text === t), text);
  await b.fill('#text', 'and back');
  await b.press('#text', 'Enter');
  await a.waitForFunction(() => window.call.chat.some((m) => m.who === 'peer' && m.text === 'and back'));
  for (const p of [a, b]) {
    await p.waitForFunction(() => window.call.framesDecoded > 10, null, { timeout: 30000 });
  }
}

if (outer) {
  test('calls in a private network namespace (loopback only)', { skip: outer.skip }, () => {
    assert.equal(outer.status, 0, outer.output);
  });
} else {
  test('call through our STUN (server-reflexive candidates)', { timeout: 120000 }, async () => {
    const srv = await startServer(['--stun-listen', '127.0.0.1:0'], ['http', 'stun']);
    const browser = await launch(flags);
    try {
      const before = await metric(srv, 'sy_stun_binding_total');
      const url = `${srv.url}/call/?room=stun1&stun=127.0.0.1:${srv.ports.stun}`;
      const [a, b] = await twoPages(browser, url);
      await roundTrip(a, b, 'hello over STUN');
      assert.ok((await metric(srv, 'sy_stun_binding_total')) > before);
      await b.screenshot({ path: path.join(root, 'build', 'call-stun.png'), fullPage: true });
    } finally {
      await browser.close();
      await srv.stop();
    }
  });

  test('call through our TURN only (relay policy)', { timeout: 120000 }, async () => {
    const srv = await startServer(['--stun-listen', '127.0.0.1:0', '--turn-enabled',
      '--turn-user', 'caller:secret', '--turn-allowed-peer', '127.0.0.1/32',
      '--turn-relay-ports', '41000-41999'], ['http', 'stun']);
    const browser = await launch(flags);
    try {
      const stun = `127.0.0.1:${srv.ports.stun}`;
      const url = `${srv.url}/call/?room=relay1&stun=&turn=${stun}&transport=tcp&user=caller&pass=secret&policy=relay`;
      const before = await metric(srv, 'sy_turn_relayed_to_peer_bytes_total');
      const [a, b] = await twoPages(browser, url);
      for (const p of [a, b]) await p.waitForFunction(() => window.call.dataOpen, null, { timeout: 45000 });
      await a.fill('#text', 'hello over TURN');
      await a.click('#send-btn');
      await b.waitForFunction(() => window.call.chat.some((m) => m.who === 'peer' && m.text === 'hello over TURN'));
      await b.fill('#text', 'and back');
      await b.press('#text', 'Enter');
      await a.waitForFunction(() => window.call.chat.some((m) => m.who === 'peer' && m.text === 'and back'));
      for (const p of [a, b]) {
        await p.waitForFunction(() => window.call.framesDecoded > 10, null, { timeout: 30000 });
        assert.equal(await p.evaluate(() => window.call.pairType), 'relay');
      }
      const relayed = (await metric(srv, 'sy_turn_relayed_to_peer_bytes_total')) - before;
      assert.ok(relayed > 10000, `relayed ${relayed} bytes`);
      assert.ok(await metric(srv, 'sy_turn_allocations') >= 2);
      await b.screenshot({ path: path.join(root, 'build', 'call-relay.png'), fullPage: true });
    } finally {
      await browser.close();
      await srv.stop();
    }
  });
}
