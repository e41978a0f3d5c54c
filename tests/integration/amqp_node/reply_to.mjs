// amqplib direct reply-to RPC against an AMQP broker: node reply_to.mjs amqp://...:PORT
// A server connection answers requests to props.replyTo; the client consumes the
// amq.rabbitmq.reply-to pseudo-queue (noAck) on the channel it publishes the requests from.
// Exits 0 and prints "reply-to passed" when every reply came back (passes against RabbitMQ too).
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(new URL('../../browser/node_modules/', import.meta.url));
const amqp = require('amqplib');
const url = process.argv[2];

const server = await amqp.connect(url);
const client = await amqp.connect(url);
try {
  const sch = await server.createChannel();
  await sch.assertQueue('node.rpc', { durable: false });
  await sch.consume('node.rpc', (msg) => {
    if (msg === null) return;  // cancelled when the queue is deleted at the end
    const n = Number(msg.content.toString());
    sch.sendToQueue(msg.properties.replyTo, Buffer.from(String(n * n)), {
      correlationId: msg.properties.correlationId,
    });
    sch.ack(msg);
  });
  const ch = await client.createChannel();
  const replies = new Map();
  let done;
  const all = new Promise((r) => { done = r; });
  await ch.consume('amq.rabbitmq.reply-to', (msg) => {
    assert.ok(msg.fields.routingKey.startsWith('amq.rabbitmq.reply-to.'));
    replies.set(msg.properties.correlationId, msg.content.toString());
    if (replies.size === 10) done();
  }, { noAck: true });
  for (let i = 0; i < 10; i++) {
    ch.sendToQueue('node.rpc', Buffer.from(String(i)), {
      replyTo: 'amq.rabbitmq.reply-to', correlationId: `c${i}`,
    });
  }
  const timeout = setTimeout(() => { console.error('timeout', [...replies]); process.exit(1); }, 10000);
  await all;
  clearTimeout(timeout);
  for (let i = 0; i < 10; i++) assert.equal(replies.get(`c${i}`), String(i * i));
  await sch.deleteQueue('node.rpc');
  console.log('reply-to passed');
} finally {
  await client.close().catch(() => {});
  await server.close().catch(() => {});
}
