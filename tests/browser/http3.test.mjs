// HTTP/3 in Chromium: the demo page and an EventSource over QUIC (tls.http3). Chromium is forced
// onto QUIC for the test origin (--origin-to-force-quic-on) and told to accept the test's
// self-signed certificate by its SPKI hash (--ignore-certificate-errors-spki-list; both switches
// are needed: --ignore-certificate-errors alone does not cover QUIC). The page must report
// nextHopProtocol "h3", and messages published on the hub must reach the page's EventSource
// through the server's QUIC connection (its bytes grow with them in /debug/connections).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, launch, root } from './harness.mjs';

function makeCert(dir) {
  const crt = path.join(dir, 'h3.crt');
  const key = path.join(dir, 'h3.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', key, '-out', crt], { stdio: 'ignore' });
  // base64(sha256(SubjectPublicKeyInfo DER)), what --ignore-certificate-errors-spki-list takes.
  const spki = execFileSync('sh', ['-c',
    `openssl x509 -in '${crt}' -pubkey -noout | openssl pkey -pubin -outform der | ` +
    'openssl dgst -sha256 -binary | base64'], { encoding: 'utf8' }).trim();
  return { crt, key, spki };
}

async function h3Flows(url) {
  const r = await (await fetch(`${url}/debug/connections`)).json();
  return r.connections.filter((c) => c.transport === 'udp' && c.protocol === 'h3');
}

test('the demo page and an EventSource over HTTP/3', { timeout: 60000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-h3-browser-'));
  const { crt, key, spki } = makeCert(dir);
  const srv = await startServer(['--tls-listen', '127.0.0.1:0', '--tls-cert', crt, '--tls-key', key,
    '--tls-http3', '--debug-stall'], ['http', 'https', 'quic']);
  const port = srv.ports.quic;
  assert.equal(port, srv.ports.https);
  const browser = await launch([`--origin-to-force-quic-on=127.0.0.1:${port}`,
    `--ignore-certificate-errors-spki-list=${spki}`], { quic: true });
  try {
    const page = await browser.newPage();
    const origin = `https://127.0.0.1:${port}`;
    await page.goto(`${origin}/`);
    assert.equal(await page.title(), 'switchyard');
    assert.equal(await page.evaluate(() => performance.getEntries()[0].nextHopProtocol), 'h3');

    await page.evaluate(() => {
      window.got = [];
      window.es = new EventSource('/sub/h3.browser');
      window.es.onmessage = (e) => window.got.push(e.data);
      return new Promise((res) => { window.es.onopen = res; });
    });
    const flows = await h3Flows(srv.url);
    assert.ok(flows.length >= 1, JSON.stringify(flows));
    const before = flows.reduce((n, f) => n + f.bytes_out, 0);
    const pad = 'x'.repeat(4000);
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${srv.url}/pub/h3.browser`, {
        method: 'POST', headers: { 'content-type': 'text/plain' }, body: `m${i} ${pad}`,
      });
      assert.ok(r.ok, `publish: HTTP ${r.status}`);
    }
    await page.waitForFunction(() => window.got.length >= 5, null, { timeout: 15000 });
    const got = await page.evaluate(() => window.got.map((m) => m.split(' ')[0]));
    assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4']);
    const after = (await h3Flows(srv.url)).reduce((n, f) => n + f.bytes_out, 0);
    assert.ok(after - before >= 5 * 4000, `h3 bytes out grew by ${after - before}`);
    // And a fetch from the page rides the same QUIC connection.
    const proto = await page.evaluate(async () => {
      await (await fetch('/echo', { method: 'POST', body: 'over h3' })).text();
      const e = performance.getEntriesByType('resource').filter((x) => x.name.endsWith('/echo'));
      return e.length ? e[e.length - 1].nextHopProtocol : 'none';
    });
    assert.equal(proto, 'h3');
    fs.mkdirSync(path.join(root, 'build'), { recursive: true });
    await page.screenshot({ path: path.join(root, 'build', 'http3-browser.png') });
    await page.evaluate(() => window.es.close());
  } finally {
    await browser.close();
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
