// Smoke test of the browser harness itself: Debian chromium starts headless and renders a page
// served by the real switchyard binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch } from './harness.mjs';

test('index page renders in chromium', async () => {
  const srv = await startServer();
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`${srv.url}/`);
    assert.equal(await page.title(), 'switchyard');
    const demos = await page.locator('#demos li').count();
    assert.ok(demos >= 3);
  } finally {
    await browser.close();
    await srv.stop();
  }
});
