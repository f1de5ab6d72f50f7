/**
 * The DNS load generator of bench:network, run by node inside a container's network namespace
 * (nsenter --net): UDP queries for one name to the container's 127.0.0.11, `window` in flight at
 * once, until `count` have been answered. Prints `{"answered","seconds","failed"}`.
 * Plain JavaScript in a string, so that it runs as `node -e` without the project's modules.
 */
export const DNS_LOAD_SCRIPT = `
const dgram = require('node:dgram');
const [name, countText, windowText] = process.argv.slice(1);
const count = Number(countText), window = Number(windowText);
const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
const question = Buffer.concat([...labels, Buffer.from([0, 0, 1, 0, 1])]);
const socket = dgram.createSocket('udp4');
let sent = 0, answered = 0, failed = 0;
const started = process.hrtime.bigint();
const send = () => {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(sent++ & 0xffff, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  socket.send(Buffer.concat([header, question]), 53, '127.0.0.11');
};
socket.on('message', (m) => {
  if ((m.readUInt16BE(2) & 0xf) !== 0) failed++;
  if (++answered === count) {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(JSON.stringify({ answered, seconds, failed }));
    process.exit(0);
  }
  if (sent < count) send();
});
for (let i = 0; i < window && sent < count; i++) send();
setTimeout(() => { process.stderr.write('answers stopped coming: ' + answered + ' of ' + count); process.exit(1); }, 60000);
`;
