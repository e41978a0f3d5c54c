// Publisher: sends jobs {number} to the durable queue "jobs" and waits until the broker has
// confirmed every one (publisher confirms: a confirmed persistent message is on disk).
//
//   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 node publisher.mjs [COUNT] [FIRST]
import amqp from 'amqplib';

const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const count = Number(process.argv[2] ?? 10);
const first = Number(process.argv[3] ?? 1);

const conn = await amqp.connect(url);
const ch = await conn.createConfirmChannel();
await ch.assertQueue('jobs', { durable: true });

for (let number = first; number < first + count; number++) {
  const body = Buffer.from(JSON.stringify({ number }));
  // sendToQueue returns false when the channel's write buffer is full: wait for 'drain'.
  if (!ch.sendToQueue('jobs', body, { persistent: true, contentType: 'application/json' })) {
    await new Promise((resolve) => ch.once('drain', resolve));
  }
}
await ch.waitForConfirms();
console.log(`published ${count} jobs`);
await conn.close();
