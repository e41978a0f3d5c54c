// An amqplib consumer that reports how its connection ended (test_shutdown.py):
//   node shutdown_consumer.mjs amqp://guest:guest@127.0.0.1:PORT QUEUE
// Prints "ready" once consuming, then one line per connection event: "error <message>" and
// "close <message or clean>"; exits after 'close' (or after 20 s without one: exit code 3).
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../browser/node_modules/', import.meta.url));
const amqp = require('amqplib');
const [url, queue] = process.argv.slice(2);

const conn = await amqp.connect(url);
conn.on('error', (e) => console.log(`error ${e.message}`));
conn.on('close', (e) => {
  console.log(`close ${e ? e.message : 'clean'}`);
  process.exit(0);
});
const ch = await conn.createChannel();
ch.on('error', (e) => console.log(`channel-error ${e.message}`));
await ch.assertQueue(queue, { durable: false });
await ch.consume(queue, (msg) => { if (msg) ch.ack(msg); });
console.log('ready');
setTimeout(() => process.exit(3), 20000);
