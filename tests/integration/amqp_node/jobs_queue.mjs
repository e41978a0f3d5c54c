// The jobs queue on a fresh server, as on RabbitMQ (issue 9, item 7), with amqplib:
//   node jobs_queue.mjs AMQP_URL HTTP_URL first   the tutorial's assertQueue('jobs', {durable:
//        false}) on a fresh server succeeds; POST /jobs lands in that queue; the consumer gets it
//   node jobs_queue.mjs AMQP_URL HTTP_URL after   POST /jobs first declared 'jobs' durable:
//        {durable: true} passes, {durable: false} gets 406 PRECONDITION_FAILED
// Prints one JSON line with what it saw; exits non-zero on any failed assertion.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(new URL('../../browser/node_modules/', import.meta.url));
const amqp = require('amqplib');
const [url, http, mode] = process.argv.slice(2);

async function post_job(body) {
  const r = await fetch(`${http}/jobs`, {
    method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' },
  });
  assert.equal(r.status, 201);
  return (await r.json()).id;
}

async function job_status(id) {
  return (await (await fetch(`${http}/jobs/${id}`)).json()).status;
}

async function first() {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    const ok = await ch.assertQueue('jobs', { durable: false });
    assert.equal(ok.messageCount, 0);
    const id = await post_job({ number: 28 });
    const msg = await new Promise((resolve) => {
      ch.consume('jobs', (m) => resolve(m), { noAck: false });
    });
    assert.equal(msg.properties.messageId, String(id));
    ch.ack(msg);
    let status = await job_status(id);
    for (let i = 0; i < 100 && status !== 'done'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      status = await job_status(id);
    }
    return { declared: ok.queue, id, body: JSON.parse(msg.content.toString()), status };
  } finally {
    await conn.close().catch(() => {});
  }
}

async function after() {
  const id = await post_job({ number: 6 });
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    const ok = await ch.assertQueue('jobs', { durable: true });
    const other = await conn.createChannel();
    other.on('error', () => {});  // the channel closes with the 406 (the promise has it too)
    let refused = '';
    await other.assertQueue('jobs', { durable: false }).catch((e) => { refused = e.message; });
    return { id, messages: ok.messageCount, refused };
  } finally {
    await conn.close().catch(() => {});
  }
}

try {
  console.log(JSON.stringify(mode === 'first' ? await first() : await after()));
} catch (err) {
  console.error('amqplib:', err.message);
  process.exit(1);
}
