// amqplib scenarios against an AMQP broker: node scenarios.mjs amqp://guest:guest@127.0.0.1:PORT
// Exits 0 when every scenario passed (the same script passes against RabbitMQ).
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(new URL('../../browser/node_modules/', import.meta.url));
const amqp = require('amqplib');
const url = process.argv[2];

async function scenario(name, fn) {
  const conn = await amqp.connect(url);
  try {
    await fn(conn);
    console.log(`ok ${name}`);
  } finally {
    await conn.close().catch(() => {});
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

await scenario('jobs queue: publish JSON, consume, ack', async (conn) => {
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('node.jobs', { durable: false });
  await ch.purgeQueue('node.jobs');
  for (let i = 0; i < 50; i++) ch.sendToQueue('node.jobs', Buffer.from(JSON.stringify({ number: i })));
  await ch.waitForConfirms();
  await ch.prefetch(5);
  const seen = [];
  await new Promise((resolve) => {
    ch.consume('node.jobs', (msg) => {
      seen.push(JSON.parse(msg.content.toString()).number);
      ch.ack(msg);
      if (seen.length === 50) resolve();
    });
  });
  assert.deepEqual(seen, [...Array(50).keys()]);
});

await scenario('topic exchange and nack requeue', async (conn) => {
  const ch = await conn.createChannel();
  await ch.assertExchange('node.topic', 'topic', { durable: false });
  const q = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(q.queue, 'node.topic', 'logs.#');
  ch.publish('node.topic', 'logs.error.db', Buffer.from('boom'));
  ch.publish('node.topic', 'metrics.cpu', Buffer.from('skip'));
  await sleep(100);
  const m1 = await ch.get(q.queue);
  assert.equal(m1.content.toString(), 'boom');
  ch.nack(m1, false, true);
  const m2 = await ch.get(q.queue);
  assert.equal(m2.fields.redelivered, true);
  ch.ack(m2);
  assert.equal(await ch.get(q.queue), false);
});

await scenario('404 on passive check of a missing queue closes the channel', async (conn) => {
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  await assert.rejects(ch.checkQueue('node.missing'), /404/);
});

await scenario('406 on redeclare with other arguments', async (conn) => {
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  await ch.assertQueue('node.args', { arguments: { 'x-max-length': 10 } });
  await assert.rejects(ch.assertQueue('node.args', { arguments: { 'x-max-length': 20 } }), /406/);
});

await scenario('mandatory publish with no route is returned', async (conn) => {
  const ch = await conn.createChannel();
  const returned = new Promise((r) => ch.on('return', r));
  ch.publish('', 'node.nowhere', Buffer.from('x'), { mandatory: true });
  const msg = await returned;
  assert.equal(msg.fields.replyCode, 312);
});

await scenario('dead-lettering after TTL', async (conn) => {
  const ch = await conn.createChannel();
  await ch.assertQueue('node.dead', {});
  await ch.purgeQueue('node.dead');
  await ch.assertQueue('node.ttl', { messageTtl: 50, deadLetterExchange: '', deadLetterRoutingKey: 'node.dead' });
  ch.sendToQueue('node.ttl', Buffer.from('late'));
  await sleep(300);
  const m = await ch.get('node.dead', { noAck: true });
  assert.equal(m.content.toString(), 'late');
});

await scenario('consumer cancel notification when the queue is deleted', async (conn) => {
  const ch = await conn.createChannel();
  await ch.assertQueue('node.cancel', {});
  const cancelled = new Promise((r) => ch.consume('node.cancel', (msg) => { if (msg === null) r(); }));
  await sleep(50);
  const other = await conn.createChannel();
  await other.deleteQueue('node.cancel');
  await cancelled;
});

console.log('all scenarios passed');
