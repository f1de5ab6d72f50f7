/**
 * The TCP transfer of bench:network, as two plain-JavaScript programs run by node inside network
 * namespaces (nsenter --net), so that only the network path is measured, not a container's tools.
 * The receiver takes one connection on `port`, counts `bytes`, answers one byte, and exits; the
 * sender writes `bytes` zeros (1 MiB writes, honouring back-pressure) and prints the seconds from
 * connect to that answer: every byte delivered, not just handed to the kernel.
 */
export const TCP_RECEIVER_SCRIPT = `
const net = require('node:net');
const [port, bytesText] = process.argv.slice(1);
const bytes = Number(bytesText);
let got = 0;
const server = net.createServer((c) => {
  c.on('data', (d) => {
    got += d.length;
    if (got >= bytes) { c.end(Buffer.from([1])); server.close(); }
  });
});
server.listen(Number(port), () => process.stdout.write('listening\\n'));
`;

export const TCP_SENDER_SCRIPT = `
const net = require('node:net');
const [host, port, bytesText] = process.argv.slice(1);
const bytes = Number(bytesText);
const chunk = Buffer.alloc(1 << 20);
const started = process.hrtime.bigint();
const c = net.connect(Number(port), host, () => {
  let left = bytes;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!c.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return c.once('drain', pump);
    }
  };
  pump();
});
c.on('data', () => {
  process.stdout.write(JSON.stringify({ seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
  process.exit(0);
});
c.on('error', (e) => { process.stderr.write(String(e)); process.exit(1); });
`;
