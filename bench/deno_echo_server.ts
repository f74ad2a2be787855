// Copyright 2026 the echolab authors. MIT license.
/**
 * Deno's floor for `deno task bench`: a plain `Deno.listen` /
 * `Deno.listenDatagram` echo server with echolab's reply format
 * ("received msg: <line>\n", UDP cut to 5 bytes) and echolab's way of
 * reading (a 64-byte buffer doubled when a read fills it), and nothing else:
 * no logs, limits, counters, timeouts or shutdown. What echolab costs above
 * it is echolab's; what it costs is Deno's.
 *
 * Usage: deno run --allow-net=127.0.0.1 --unstable-net
 * bench/deno_echo_server.ts TCP_PORT UDP_PORT [CERT KEY]; with a
 * certificate and key (and `--allow-read` for them), the TCP side is plain
 * TLS: `Deno.listenTls`, which reads no ClientHello of its own.
 *
 * @module
 */

const PREFIX = new TextEncoder().encode("received msg: ");
const UDP_BUFFER = 5;

async function serveConnection(conn: Deno.Conn): Promise<void> {
  if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
  let buffer = new Uint8Array(64);
  let pending = new Uint8Array(0);
  try {
    while (true) {
      const read = await conn.read(buffer);
      if (read === null) break;
      let data = buffer.subarray(0, read);
      if (pending.length > 0) {
        const joined = new Uint8Array(pending.length + read);
        joined.set(pending);
        joined.set(data, pending.length);
        data = joined;
      }
      let lines = 0;
      let bytes = 0;
      for (let start = 0, end; (end = data.indexOf(10, start)) !== -1;) {
        lines++;
        bytes += end - start - (end > start && data[end - 1] === 13 ? 1 : 0);
        start = end + 1;
      }
      const reply = new Uint8Array(lines * (PREFIX.length + 1) + bytes);
      let start = 0;
      let at = 0;
      for (let end; (end = data.indexOf(10, start)) !== -1;) {
        const stop = end > start && data[end - 1] === 13 ? end - 1 : end;
        reply.set(PREFIX, at);
        reply.set(data.subarray(start, stop), at + PREFIX.length);
        at += PREFIX.length + stop - start;
        reply[at++] = 10;
        start = end + 1;
      }
      pending = data.slice(start);
      for (let written = 0; written < reply.length;) {
        written += await conn.write(reply.subarray(written));
      }
      if (read === buffer.length && buffer.length < 65_536) {
        buffer = new Uint8Array(buffer.length * 2);
      }
    }
  } catch {
    // Reset by the peer: nothing to answer.
  } finally {
    conn.close();
  }
}

async function serveTcp(
  port: number,
  tls?: { cert: string; key: string },
): Promise<void> {
  const address = { hostname: "127.0.0.1", port };
  const listener = tls === undefined
    ? Deno.listen(address)
    : Deno.listenTls({ ...address, ...tls });
  for await (const conn of listener) serveConnection(conn);
}

async function serveUdp(port: number): Promise<void> {
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port,
  });
  const buffer = new Uint8Array(65_536);
  while (true) {
    const [datagram, address] = await socket.receive(buffer);
    const kept = datagram.subarray(0, UDP_BUFFER);
    const reply = new Uint8Array(PREFIX.length + kept.length + 1);
    reply.set(PREFIX);
    reply.set(kept, PREFIX.length);
    reply[reply.length - 1] = 10;
    await socket.send(reply, address);
  }
}

if (import.meta.main) {
  const [tcpPort, udpPort] = Deno.args.map(Number);
  const [certFile, keyFile] = Deno.args.slice(2);
  const tls = certFile === undefined || keyFile === undefined ? undefined : {
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
  };
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  await Promise.all([serveTcp(tcpPort!, tls), serveUdp(udpPort!)]);
}
