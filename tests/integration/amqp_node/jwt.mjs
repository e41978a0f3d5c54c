// amqplib with a JWT as the PLAIN password (test_amqp_jwt.py mints the tokens with PyJWT):
//   node jwt.mjs amqp://ignored:FIRST@127.0.0.1:PORT SECOND OTHER
// FIRST: sub alice, publish chat.alice, exp in 3 s. SECOND: sub alice, publish news.*, exp later.
// OTHER: sub mallory. Prints "jwt passed" when every check held.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(new URL('../../browser/node_modules/', import.meta.url));
const amqp = require('amqplib');
const [url, second, other] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function publishError(conn, key) {
  const ch = await conn.createConfirmChannel();
  return new Promise((resolve) => {
    ch.on('error', resolve);
    ch.publish('amq.topic', key, Buffer.from('x'), {}, (err) => { if (!err) resolve(null); });
  });
}

const conn = await amqp.connect(url);
let closed = null;
conn.on('error', () => {});
conn.on('close', (e) => { closed = e || 'closed'; });

assert.equal(await publishError(conn, 'chat.alice'), null);

// update-secret: the new token's permissions apply at once, and its exp replaces the first's.
await conn.updateSecret(Buffer.from(second), 'refresh');
const refused = await publishError(conn, 'chat.alice');
assert.equal(refused.code, 403);
assert.ok(refused.message.includes(
  "ACCESS_REFUSED - access to topic 'chat.alice' in exchange 'amq.topic' in vhost '/' refused for user 'alice'"),
refused.message);
assert.equal(await publishError(conn, 'news.today'), null);
await sleep(4000);  // past the first token's exp
assert.equal(closed, null, 'closed at the old exp');
assert.equal(await publishError(conn, 'news.later'), null);

// A token of another subject is refused: connection error 530 with RabbitMQ's text.
conn.updateSecret(Buffer.from(other), 'swap').catch(() => {});
for (let i = 0; i < 50 && closed === null; i++) await sleep(100);
assert.ok(closed && String(closed.message).includes(
  'NOT_ALLOWED - New secret was refused by one of the backends'), String(closed && closed.message));
console.log('jwt passed');
