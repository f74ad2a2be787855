// Copyright 2026 the echolab authors. MIT license.
// The Node reference for `deno task bench`: a plain node:net / node:dgram
// echo server with echolab's reply format ("received msg: <line>\n", UDP cut
// to 5 bytes), written the way a Node user would, without logs.
// Usage: node bench/node_echo_server.mjs TCP_PORT UDP_PORT
import dgram from "node:dgram";
import net from "node:net";

const PREFIX = Buffer.from("received msg: ");
const UDP_BUFFER = 5;
const [tcpPort, udpPort] = process.argv.slice(2).map(Number);

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    const replies = [];
    let start = 0;
    let newline;
    while ((newline = data.indexOf(10, start)) !== -1) {
      let end = newline;
      if (end > start && data[end - 1] === 13) end--;
      replies.push(PREFIX, data.subarray(start, end), Buffer.from("\n"));
      start = newline + 1;
    }
    pending = Buffer.from(data.subarray(start));
    if (replies.length > 0) socket.write(Buffer.concat(replies));
  });
  socket.on("end", () => {
    if (pending.length > 0) {
      socket.write(Buffer.concat([PREFIX, pending, Buffer.from("\n")]));
    }
    socket.end();
  });
  socket.on("error", () => {});
  socket.setTimeout(10_000, () => socket.destroy());
});
server.listen(tcpPort, "127.0.0.1");

const udp = dgram.createSocket("udp4");
udp.on("message", (message, remote) => {
  const kept = message.subarray(0, UDP_BUFFER);
  udp.send(
    Buffer.concat([PREFIX, kept, Buffer.from("\n")]),
    remote.port,
    remote.address,
  );
});
udp.bind(udpPort, "127.0.0.1");

process.on("SIGTERM", () => process.exit(0));
