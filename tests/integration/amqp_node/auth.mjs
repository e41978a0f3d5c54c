// amqplib against AMQP access control (test_amqp_auth.py starts the broker and its users):
//   node auth.mjs amqp://u:pw@127.0.0.1:PORT
// u may configure ^u\..*, write ^(u\..*|amq\.topic|amq\.default)$, read ^(u\..*|amq\.topic)$ in
// vhost / (nothing in v2), with topic permissions ^w\. (write) and ^r\. (read) on amq.topic.
// Exits 0 when every check passed; prints "auth passed".
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(new URL('../../browser/node_modules/', import.meta.url));
const amqp = require('amqplib');
const url = process.argv[2];

const refusedText = (kind, name) =>
  `ACCESS_REFUSED - access to ${kind} '${name}' in vhost '/' refused for user 'u'`;

// The vhost check of connection.open: connection.close instead of open-ok (amqplib's handshake
// error names only the method; test_amqp_auth.py asserts the 530 and its text with pika).
await assert.rejects(amqp.connect(url + '/v2'), (e) => {
  assert.equal(e.message, 'Expected ConnectionOpenOk; got <ConnectionClose channel:0>');
  return true;
});

const conn = await amqp.connect(url);
let connError = null;
conn.on('error', (e) => { connError = e; });

// An RPC refused: the promise rejects with 403 and the text; the channel is closed, not the
// connection.
async function refusedRpc(fn, text) {
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  await assert.rejects(fn(ch), (e) => {
    assert.equal(e.code, 403, e.message);
    assert.ok(e.message.includes(text), e.message);
    return true;
  });
}

await refusedRpc((ch) => ch.assertQueue('x.q'), refusedText('queue', 'x.q'));
await refusedRpc((ch) => ch.assertExchange('x.ex', 'direct'), refusedText('exchange', 'x.ex'));
// read is checked before the queue's existence (403, not 404), as RabbitMQ does
await refusedRpc((ch) => ch.consume('nosuch', () => {}), refusedText('queue', 'nosuch'));
await refusedRpc((ch) => ch.purgeQueue('x.q'), refusedText('queue', 'x.q'));
await refusedRpc((ch) => ch.assertQueue('u.nq', { durable: false }).then(() => ch.bindQueue('u.nq', 'amq.topic', 'x.y')),
  "ACCESS_REFUSED - access to topic 'x.y' in exchange 'amq.topic' in vhost '/' refused for user 'u'");

// A publish has no reply: the channel closes with the error.
async function refusedPublish(exchange, key, text) {
  const ch = await conn.createChannel();
  const err = await new Promise((resolve) => {
    ch.on('error', resolve);
    ch.publish(exchange, key, Buffer.from('x'));
  });
  assert.equal(err.code, 403, err.message);
  assert.ok(err.message.includes(text), err.message);
}
await refusedPublish('amq.direct', 'k', refusedText('exchange', 'amq.direct'));
await refusedPublish('amq.topic', 'x.y',
  "ACCESS_REFUSED - access to topic 'x.y' in exchange 'amq.topic' in vhost '/' refused for user 'u'");

// What is allowed works, on the same connection.
const ch = await conn.createConfirmChannel();
await ch.assertQueue('u.node');
await ch.bindQueue('u.node', 'amq.topic', 'r.node');
ch.publish('amq.topic', 'w.node', Buffer.from('ok'));
ch.sendToQueue('u.node', Buffer.from('direct'));
await ch.waitForConfirms();
const got = await ch.get('u.node', { noAck: true });
assert.equal(got.content.toString(), 'direct');

// connection.update-secret (10/70 -> 10/71): amqplib's updateSecret resolves, and the
// connection keeps its permissions.
await conn.updateSecret(Buffer.from('pw'), 'rotation');
await ch.assertQueue('u.node2');
await ch.deleteQueue('u.node2');
await ch.deleteQueue('u.node');
assert.equal(connError, null);
await conn.close();
console.log('auth passed');
