// Copyright 2026 the echolab authors. MIT license.
/**
 * The lab page's script (`GET /lab/lab.js`), plain JavaScript for current
 * browsers, nothing loaded from elsewhere: it reads the server-sent events,
 * groups them by connection or UDP peer, follows each TCP side's state,
 * and draws one SVG sequence diagram per session.
 *
 * @module
 */

/** `GET /lab/lab.js`. */
export const PAGE_SCRIPT = String.raw`"use strict";
(function () {
  var LIMIT = 2000;
  var ROW = 26;
  var TOP = 46;
  var WIDTH = 930;
  var TIME_X = 4;
  var CLIENT_X = 162;
  var SERVER_X = 575;
  var SVG = "http://www.w3.org/2000/svg";

  var EXPLAIN = {
    "syn": ["SYN: may we talk?", "The client's first packet. SYN (synchronize) asks to open a connection and carries the client's first sequence number, which Wireshark and this page show as 0. No data rides on it: TCP first agrees on the numbering in a three-way handshake, so that every later byte can be counted, acknowledged and sent again if it is lost."],
    "syn-ack": ["SYN, ACK: yes, and here is my number", "A listening port's kernel answers the SYN with a SYN of its own (the server's first sequence number) and an ACK of the client's (ack 1: a SYN counts as one byte). The echo program has not been told anything yet: the kernel does the handshake on its own."],
    "ack-handshake": ["ACK: the handshake is done", "The client acknowledges the server's SYN. Both sides now know each other's numbers, the connection is ESTABLISHED on both ends, and the server program's accept() can return it."],
    "data": ["Data from the client", "A segment carrying bytes: len is how many, seq is where they start in the client's byte stream. PSH asks the receiver to hand them to the program at once; ACK says how much of the other direction has arrived. Your line and its newline travel as plain bytes: TCP knows nothing of lines, echolab finds them."],
    "reply": ["The reply, and the ACK riding on it", "The server's answer. Its ACK number acknowledges the client's bytes once more. When the reply is ready within the delayed-ACK time, TCP sends no empty ACK first: the acknowledgement rides on the reply, one packet instead of two. At the start of a connection Linux acknowledges at once (quick ACK mode), so there you may see a bare ACK just before the reply."],
    "ack": ["ACK: got it", "An empty segment that only acknowledges: ack is the next byte this side expects. TCP sends one when it has no data of its own to carry the acknowledgement on."],
    "ack-fin": ["ACK of a FIN", "This acknowledges the other side's FIN (a FIN counts as one byte, so ack is one past the last data byte). The side that sent that FIN now knows its half of the connection is closed."],
    "fin": ["FIN: nothing more from me", "The sender closes its half of the connection: it will send no more bytes, though it still reads. Each side sends its own FIN, so a close takes four packets, or three when the ACK of the first FIN rides on the second. The side whose FIN comes first has closed first, and it is the one left waiting in TIME-WAIT at the end."],
    "rst": ["RST: no such connection", "A reset. A TCP port where nobody listens answers a SYN with RST, ACK: the connection is refused at once and the client's connect() fails with 'connection refused'. An RST also ends a live connection at once, without the FIN exchange."],
    "udp-datagram": ["A UDP datagram", "One datagram, sent as it is: no handshake before it, no ACK after it, no FIN at the end. UDP only adds ports, a length and a checksum to IP; if the datagram is lost, nobody sends it again and the sender is not told."],
    "udp-reply": ["The UDP reply", "The server's answer is a datagram of its own, sent back to the address the request came from. Nothing else crosses the wire: that is all there is to UDP, which is why its diagrams are so short."],
    "icmp": ["ICMP: port unreachable", "Nobody listens on that UDP port, so the receiving host's kernel answers with an ICMP error quoting the start of the datagram. UDP itself has no way to refuse: a client hears of it only if its socket is connected, and many never notice."],
    "quic-Initial": ["QUIC Initial", "QUIC runs over UDP. Initial packets carry the TLS ClientHello and ServerHello, protected with keys anyone can derive from the connection ID, so a capture sees the type and the IDs but not the contents. Clients pad their Initials to at least 1200 bytes, so that a forged address cannot make a server send much more than it received."],
    "quic-Handshake": ["QUIC Handshake", "The rest of the TLS 1.3 handshake (the certificate, Finished), under keys only the two ends know. QUIC folds TCP's handshake and TLS's into one exchange: one round trip instead of two."],
    "quic-1-RTT": ["QUIC 1-RTT (short header)", "Everything after the handshake: streams (your lines), datagrams and QUIC's own acknowledgements, all encrypted. Unlike TCP, even the ACKs and the packet numbers are hidden from a capture."],
    "quic": ["A QUIC packet", "A QUIC packet inside a UDP datagram. QUIC brings what TCP gives (order, resending, flow control) and TLS on top of UDP, in the program rather than in the kernel."],
    "accepted": ["accepted: the program gets the connection", "accept() returned: the kernel finished the handshake and handed the connection to echolab. From now on echolab reads lines and writes replies."],
    "read": ["read: bytes reached the program", "echolab's read() returned these bytes. One read may hold part of a line, a whole line or several: the program, not TCP, cuts the stream into lines."],
    "wrote": ["wrote: the reply handed to the kernel", "echolab wrote its reply. The kernel sends it as one or more segments and keeps a copy until the client's ACK says it arrived."],
    "FIN": ["The end of the stream, as the program sees it", "read() returned the end of the stream: the client sent its FIN. echolab answers what is left and closes its own half."],
    "RST": ["The connection was reset", "A read or a write failed with ECONNRESET: the other side sent an RST."],
    "timeout": ["timeout: the server closes first", "No line came within the idle timeout (10 s in the seed), so echolab closes the connection: its kernel sends a FIN, and the server is the side that closed first."],
    "closed": ["closed", "The program is done with the connection: here are its counts of lines and bytes. The kernel may still keep the socket a while: in TIME-WAIT on the side that closed first."],
    "datagram": ["datagram: received whole", "recvfrom() returned one whole datagram and the address it came from. UDP keeps message boundaries: one send is one receive."],
    "truncated": ["datagram cut to the buffer", "The datagram was longer than the receive buffer (5 bytes in the seed): the kernel gives what fits and throws the rest away, silently, and the sender never knows. The reply echoes only what was kept."],
    "reply-event": ["reply: a datagram sent back", "sendto() sent the reply to the address the datagram came from. There is no connection: each datagram is answered on its own."],
    "Initial": ["A QUIC handshake begins", "A client's first QUIC packet arrived (Deno's QUIC API tells who it is only once the connection is accepted)."],
    "handshake": ["QUIC handshake complete", "TLS 1.3 inside QUIC is done: the connection is up, with the ALPN protocol both ends agreed on, in one round trip."],
    "opened": ["A QUIC stream opened", "The client opened a stream: a byte stream like a TCP connection. Many streams share one QUIC connection, and a lost packet holds up only the streams it carried."],
    "note": ["A replay", "A button of this page made echolab's own client talk to the servers; what follows is what went over the wire."],
    "event": ["A server event", "Something the server program did: a line of its --trace."]
  };

  var state = {
    config: null,
    events: [],
    pending: [],
    paused: false,
    clearedBefore: 0,
    lastId: 0,
    droppedOlder: 0,
    trimmed: 0,
    lost: 0,
    model: null,
    dirty: new Set(),
    scheduled: false,
    selected: null
  };

  function $(id) { return document.getElementById(id); }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function newModel() {
    return { blocks: [], sessions: new Map(), open: new Map() };
  }

  function addressKind(address) {
    var servers = state.config.servers;
    if (address === servers.tcp) return "tcp";
    if (address === servers.udp) return "udp";
    if (address === servers.quic) return "quic";
    if (address === servers.closedTcp) return "closed-tcp";
    if (address === servers.closedUdp) return "closed-udp";
    return null;
  }

  // Which conversation an event belongs to: transport, client, server.
  function endsOf(event) {
    var servers = state.config.servers;
    if (event.type === "server") {
      var peer = (event.peer || "").split(" ")[0];
      return { transport: event.transport, client: peer || "?", server: servers[event.transport] };
    }
    if (event.protocol === "icmp") {
      if (!event.icmp) return null;
      return { transport: event.icmp.protocol === "tcp" ? "tcp" : "udp", client: event.icmp.from, server: event.icmp.to };
    }
    var transport = event.protocol === "quic" ? "quic" : event.protocol;
    if (addressKind(event.to)) return { transport: transport, client: event.from, server: event.to };
    if (addressKind(event.from)) return { transport: transport, client: event.to, server: event.from };
    return null;
  }

  function newSession(model, key, ends, event) {
    var closedPort = /^closed/.test(addressKind(ends.server) || "");
    var session = {
      id: "s" + event.id,
      key: key,
      transport: ends.transport,
      client: ends.client,
      server: ends.server,
      closedPort: closedPort,
      first: event.at,
      rows: [],
      serverEvents: 0,
      tcp: {
        client: "CLOSED",
        server: closedPort ? "CLOSED" : "LISTEN",
        fin: {},
        history: { client: ["CLOSED"], server: [closedPort ? "CLOSED (no listener)" : "LISTEN"] },
        closedFirst: null,
        seen: false
      },
      whoClosed: null
    };
    model.sessions.set(session.id, session);
    model.open.set(key, session);
    model.blocks.push({ type: "session", session: session });
    return session;
  }

  function sessionFor(model, event) {
    var ends = endsOf(event);
    if (ends === null) return null;
    var key = ends.transport + " " + ends.client + " " + ends.server;
    var session = model.open.get(key);
    var syn = event.type === "packet" && event.flags && event.flags.indexOf("SYN") >= 0 && event.flags.indexOf("ACK") < 0;
    if (session && syn && session.tcp.seen) session = null;
    if (session) return session;
    if (event.type === "server") {
      var waiting = "?|" + ends.transport + " " + ends.server;
      if (!event.peer) {
        // A peerless event (a QUIC Initial): the newest session of its
        // server that only has packets yet, else one waiting for its peer.
        for (var i = model.blocks.length - 1; i >= 0; i--) {
          var block = model.blocks[i];
          if (block.type === "session" && block.session.transport === event.transport &&
            block.session.serverEvents === 0 && block.session.rows.length > 0) return block.session;
        }
        return model.open.get(waiting) || newSession(model, waiting, ends, event);
      }
      var pending = model.open.get(waiting);
      if (pending) {
        // The peer is known now: the waiting session is this one.
        model.open.delete(waiting);
        pending.key = key;
        pending.client = ends.client;
        model.open.set(key, pending);
        return pending;
      }
    }
    return newSession(model, key, ends, event);
  }

  function setState(session, side, next) {
    var tcp = session.tcp;
    if (tcp[side] === next) return null;
    tcp[side] = next;
    tcp.history[side].push(next);
    return next;
  }

  // One TCP packet moves both sides' states, as RFC 9293 describes them.
  function tcpStep(session, event, toServer) {
    var tcp = session.tcp;
    var from = toServer ? "client" : "server";
    var to = toServer ? "server" : "client";
    var flags = event.flags || [];
    var has = function (flag) { return flags.indexOf(flag) >= 0; };
    var changes = {};
    var change = function (side, next) {
      var done = setState(session, side, next);
      if (done) changes[side] = done;
    };
    var kind;
    if (has("SYN")) tcp.seen = true;
    if (has("RST")) {
      change(from, "CLOSED");
      change(to, "CLOSED");
      return { kind: "rst", changes: changes };
    }
    if (has("SYN") && !has("ACK")) {
      change(from, "SYN-SENT");
      if (!session.closedPort) change(to, "SYN-RECEIVED");
      return { kind: "syn", changes: changes };
    }
    if (has("SYN") && has("ACK")) {
      change(to, "ESTABLISHED");
      return { kind: "syn-ack", changes: changes };
    }
    if (has("ACK") && tcp[to] === "SYN-RECEIVED") {
      change(to, "ESTABLISHED");
      kind = "ack-handshake";
    }
    var finOfOther = tcp.fin[to];
    if (has("ACK") && finOfOther !== undefined && event.ack !== undefined && event.ack >= finOfOther + 1) {
      if (tcp[to] === "FIN-WAIT-1") { change(to, "FIN-WAIT-2"); kind = kind || "ack-fin"; }
      else if (tcp[to] === "CLOSING") { change(to, "TIME-WAIT"); kind = kind || "ack-fin"; }
      else if (tcp[to] === "LAST-ACK") { change(to, "CLOSED"); kind = kind || "ack-fin"; }
    }
    if (has("FIN")) {
      if (tcp.fin[from] === undefined) tcp.fin[from] = (event.seq || 0) + event.len;
      if (tcp.closedFirst === null) tcp.closedFirst = from;
      if (tcp[from] === "ESTABLISHED" || tcp[from] === "SYN-RECEIVED") change(from, "FIN-WAIT-1");
      else if (tcp[from] === "CLOSE-WAIT") change(from, "LAST-ACK");
      if (tcp[to] === "ESTABLISHED") change(to, "CLOSE-WAIT");
      else if (tcp[to] === "FIN-WAIT-1") change(to, "CLOSING");
      else if (tcp[to] === "FIN-WAIT-2") change(to, "TIME-WAIT");
      return { kind: "fin", changes: changes };
    }
    if (event.len > 0) return { kind: toServer ? "data" : "reply", changes: changes };
    return { kind: kind || "ack", changes: changes };
  }

  function classify(session, event) {
    if (event.type === "note") return { cls: "k-note", key: "note" };
    if (event.type === "server") {
      var word = event.event;
      if (event.truncated) return { cls: "k-warn", key: "truncated" };
      if (word === "reply" || /^datagram reply/.test(event.text)) return { cls: "k-event", key: "reply-event" };
      if (word === "timeout" || word === "RST") return { cls: "k-warn", key: word };
      if (word === "closed" && event.who) session.whoClosed = event.who;
      return { cls: "k-event", key: EXPLAIN[word] ? word : "event" };
    }
    var toServer = event.to === session.server;
    if (event.protocol === "icmp") return { cls: "k-icmp", key: "icmp", toServer: false };
    if (event.protocol === "udp") return { cls: "k-udp", key: toServer ? "udp-datagram" : "udp-reply", toServer: toServer };
    if (event.protocol === "quic") {
      var quicKey = EXPLAIN["quic-" + event.quic] ? "quic-" + event.quic : "quic";
      return { cls: "k-quic", key: quicKey, toServer: toServer };
    }
    var step = tcpStep(session, event, toServer);
    var cls = { "syn": "k-handshake", "syn-ack": "k-handshake", "ack-handshake": "k-handshake", "data": "k-data", "reply": "k-data", "fin": "k-fin", "rst": "k-rst", "ack-fin": "k-ack", "ack": "k-ack" }[step.kind];
    return { cls: cls, key: step.kind, toServer: toServer, changes: step.changes };
  }

  function addEvent(model, event) {
    if (event.type === "note") {
      model.blocks.push({ type: "note", event: event });
      return null;
    }
    var session = sessionFor(model, event);
    if (session === null) return null;
    var row = classify(session, event);
    row.event = event;
    if (event.type === "server") session.serverEvents++;
    session.rows.push(row);
    return session;
  }

  function rebuild() {
    state.model = newModel();
    state.events.forEach(function (event) { addEvent(state.model, event); });
    renderAll();
  }

  function receive(batch) {
    var fresh = [];
    batch.forEach(function (event) {
      if (event.id <= state.lastId || event.id <= state.clearedBefore) return;
      state.lastId = event.id;
      fresh.push(event);
    });
    if (fresh.length === 0) return;
    fresh.forEach(function (event) { state.events.push(event); });
    var over = state.events.length - LIMIT;
    if (over > 0) {
      state.events.splice(0, over);
      state.trimmed += over;
      rebuild();
      return;
    }
    var structural = false;
    fresh.forEach(function (event) {
      var before = state.model.blocks.length;
      var session = addEvent(state.model, event);
      if (state.model.blocks.length !== before) structural = true;
      if (session) state.dirty.add(session.id);
    });
    if (structural) renderAll(); else schedule();
  }

  function schedule() {
    if (state.scheduled) return;
    state.scheduled = true;
    setTimeout(function () {
      state.scheduled = false;
      state.dirty.forEach(function (id) {
        var session = state.model.sessions.get(id);
        var element = document.getElementById(id);
        if (session && element) element.replaceWith(renderSession(session));
      });
      state.dirty.clear();
      updateNotes();
    }, 40);
  }

  function renderAll() {
    state.dirty.clear();
    var main = $("sessions");
    main.textContent = "";
    if (state.model.blocks.length === 0) {
      var empty = document.createElement("p");
      empty.id = "empty";
      empty.textContent = "Nothing yet: press a button above, or talk to the servers with nc.";
      main.appendChild(empty);
    }
    state.model.blocks.forEach(function (block) {
      if (block.type === "note") {
        var note = document.createElement("p");
        note.className = "note";
        note.dataset.kind = "note";
        note.textContent = block.event.text;
        main.appendChild(note);
      } else main.appendChild(renderSession(block.session));
    });
    updateNotes();
  }

  function updateNotes() {
    $("count-events").textContent = String(state.events.length);
    var parts = [];
    var older = state.droppedOlder + state.trimmed;
    if (older > 0) parts.push(older + " older events dropped (the page keeps the last " + LIMIT + ")");
    if (state.lost > 0) parts.push(state.lost + " events lost: this page fell behind");
    if (state.paused && state.pending.length > 0) parts.push(state.pending.length + " events waiting for Resume");
    $("dropped").textContent = parts.join("; ");
  }

  function seconds(session, at) {
    return "+" + ((at - session.first) / 1000).toFixed(6);
  }

  function title(session) {
    var name = session.transport.toUpperCase() + " " + session.client + " \u2192 " + session.server;
    if (session.closedPort) name += " (closed port)";
    return name;
  }

  function statesText(session) {
    if (session.transport !== "tcp") {
      return session.transport === "udp"
        ? "UDP has no connection and so no states: each datagram stands alone."
        : "QUIC keeps its connection state inside the encrypted packets: a capture cannot follow it.";
    }
    if (!state.config.view.packets) return "TCP states are read from packets, and none are captured here.";
    return null;
  }

  function closerText(session) {
    var first = session.tcp.closedFirst || (state.config.view.packets ? null : session.whoClosed);
    if (session.transport !== "tcp" || !first) return null;
    var other = first === "server" ? "client" : "server";
    return "The " + first + " closed first: its FIN came first, so the " + first +
      " ends in TIME-WAIT (kept about 60 s on Linux, so that late packets of this connection die out) while the " +
      other + " went through CLOSE-WAIT and LAST-ACK.";
  }

  function renderSession(session) {
    var section = document.createElement("section");
    section.className = "session";
    section.id = session.id;
    section.dataset.transport = session.transport;
    section.dataset.client = session.client;
    section.dataset.server = addressKind(session.server) || "other";
    var heading = document.createElement("h2");
    heading.textContent = title(session);
    section.appendChild(heading);
    var states = document.createElement("p");
    states.className = "states";
    var words = statesText(session);
    if (words !== null) states.textContent = words;
    else {
      ["client", "server"].forEach(function (side, index) {
        var span = document.createElement("span");
        span.dataset.side = side;
        span.textContent = side + ": " + session.tcp.history[side].join(" \u2192 ");
        if (index > 0) states.appendChild(document.createTextNode("; "));
        states.appendChild(span);
      });
    }
    section.appendChild(states);
    var closer = closerText(session);
    if (closer !== null) {
      var p = document.createElement("p");
      p.className = "closer";
      p.dataset.first = session.tcp.closedFirst || session.whoClosed;
      p.textContent = closer;
      section.appendChild(p);
    }
    var holder = document.createElement("div");
    holder.className = "diagram";
    holder.innerHTML = diagram(session);
    section.appendChild(holder);
    return section;
  }

  function diagram(session) {
    var height = TOP + session.rows.length * ROW + 10;
    var out = [];
    out.push("<svg xmlns='" + SVG + "' width='" + WIDTH + "' height='" + height + "' viewBox='0 0 " + WIDTH + " " + height + "' role='img' aria-label='" + esc(title(session)) + "'>");
    out.push("<text class='time' x='" + TIME_X + "' y='16'>time (s)</text>");
    out.push("<text class='lane-name' x='" + CLIENT_X + "' y='16' text-anchor='middle'>client " + esc(session.client) + "</text>");
    out.push("<text class='lane-name' x='" + SERVER_X + "' y='16' text-anchor='middle'>server " + esc(session.server) + "</text>");
    out.push("<line class='lane' x1='" + CLIENT_X + "' y1='24' x2='" + CLIENT_X + "' y2='" + (height - 4) + "'/>");
    out.push("<line class='lane' x1='" + SERVER_X + "' y1='24' x2='" + SERVER_X + "' y2='" + (height - 4) + "'/>");
    session.rows.forEach(function (row, index) {
      var y = TOP + index * ROW;
      var event = row.event;
      var info = EXPLAIN[row.key] || EXPLAIN.event;
      var attrs = " class='row " + row.cls + "' data-id='" + event.id + "' data-key='" + esc(row.key) + "'";
      if (event.type === "packet") {
        attrs += " data-kind='packet' data-dir='" + (row.toServer ? "to-server" : "to-client") + "' data-label='" + esc(event.text) + "'";
      } else {
        attrs += " data-kind='server' data-event='" + esc(event.event) + "' data-label='" + esc(event.text) + "'";
      }
      out.push("<g" + attrs + "><title>" + esc(info[0] + ": " + event.text) + "</title>");
      out.push("<rect class='hit' x='0' y='" + (y - 17) + "' width='" + WIDTH + "' height='" + ROW + "'/>");
      out.push("<text class='time' x='" + TIME_X + "' y='" + y + "'>" + seconds(session, event.at) + "</text>");
      if (event.type === "packet") {
        var x1 = row.toServer ? CLIENT_X : SERVER_X;
        var x2 = row.toServer ? SERVER_X - 3 : CLIENT_X + 3;
        var head = row.toServer ? -1 : 1;
        out.push("<line class='arrow' x1='" + x1 + "' y1='" + (y + 3) + "' x2='" + x2 + "' y2='" + (y + 3) + "'/>");
        out.push("<path class='arrow' d='M" + x2 + " " + (y + 3) + " l" + (8 * head) + " -4 M" + x2 + " " + (y + 3) + " l" + (8 * head) + " 4'/>");
        var label = event.text.length > 60 ? event.text.slice(0, 59) + "\u2026" : event.text;
        out.push("<text class='label' x='" + ((CLIENT_X + SERVER_X) / 2) + "' y='" + (y - 2) + "' text-anchor='middle'>" + esc(label) + "</text>");
        var changes = row.changes || {};
        if (changes.client) out.push("<text class='state' data-side='client' x='" + (CLIENT_X - 6) + "' y='" + (y + 7) + "' text-anchor='end'>" + esc(changes.client) + "</text>");
        if (changes.server) out.push("<text class='state' data-side='server' x='" + (SERVER_X + 6) + "' y='" + (y + 7) + "'>" + esc(changes.server) + "</text>");
      } else {
        // The lane names the client: its address is left out of the box.
        var text = event.text.split(" from " + session.client).join("")
          .split(" to " + session.client).join("")
          .split(" for " + session.client).join("")
          .split(" by " + session.client).join("")
          .split(" with " + session.client).join("")
          .split(" " + session.client).join("");
        if (text.length > 46) text = text.slice(0, 45) + "\u2026";
        out.push("<circle class='event-box' cx='" + SERVER_X + "' cy='" + (y - 3) + "' r='5'/>");
        out.push("<rect class='event-box' x='" + (SERVER_X + 10) + "' y='" + (y - 15) + "' width='" + (text.length * 7.3 + 12) + "' height='19' rx='4'/>");
        out.push("<text class='label' x='" + (SERVER_X + 16) + "' y='" + y + "'>" + esc(text) + "</text>");
      }
      out.push("</g>");
    });
    out.push("</svg>");
    return out.join("");
  }

  function explain(target) {
    var row = target.closest ? target.closest(".row") : null;
    if (!row) return;
    var info = EXPLAIN[row.getAttribute("data-key")] || EXPLAIN.event;
    $("explain-title").textContent = info[0];
    $("explain-text").textContent = info[1];
    $("explain-detail").textContent = row.getAttribute("data-label") || "";
    if (state.selected) state.selected.classList.remove("selected");
    row.classList.add("selected");
    state.selected = row;
  }

  function onConfig(config) {
    state.config = config;
    LIMIT = config.limit || LIMIT;
    state.events = [];
    state.lastId = 0;
    state.droppedOlder = 0;
    state.trimmed = 0;
    state.model = newModel();
    var view = $("view");
    if (config.view.packets) {
      view.textContent = "Showing captured packets (tcpdump on " + config.view.interface + ") and the server's own events.";
      view.className = "packets";
    } else {
      view.textContent = "Showing server events only (no packet capture: " + config.view.reason + ").";
      view.className = "events-only";
    }
    $("download").hidden = !config.view.packets;
    var replays = $("replays");
    replays.textContent = "";
    config.scenarios.forEach(function (scenario) {
      var button = document.createElement("button");
      button.type = "button";
      button.id = "replay-" + scenario.name;
      button.textContent = scenario.label;
      button.addEventListener("click", function () { post("/lab/replay/" + scenario.name, null, scenario.label); });
      replays.appendChild(button);
    });
    var select = $("free-transport");
    select.textContent = "";
    ["tcp", "udp", "quic"].forEach(function (transport) {
      if (!config.servers[transport]) return;
      var option = document.createElement("option");
      option.value = transport;
      option.textContent = transport.toUpperCase();
      select.appendChild(option);
    });
    renderAll();
  }

  function post(path, body, what) {
    var status = $("replay-status");
    status.textContent = "Asked: " + what;
    fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", "x-echolab-lab": "1" },
      body: body === null ? "" : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        status.textContent = response.ok ? "Running: " + what : "Refused: " + text;
      });
    }, function (error) {
      status.textContent = "Could not ask the server: " + error;
    });
  }

  function onStats(stats) {
    $("count-connections").textContent = String(stats.connections);
    $("count-lines").textContent = String(stats.lines);
    $("count-datagrams").textContent = String(stats.datagrams);
    $("count-bytes-in").textContent = String(stats.bytesIn);
    $("count-bytes-out").textContent = String(stats.bytesOut);
    $("count-drops").textContent = String(stats.drops);
  }

  var inbox = [];

  function start() {
    var source = new EventSource("/lab/events");
    source.addEventListener("config", function (message) { onConfig(JSON.parse(message.data)); });
    source.addEventListener("dropped", function (message) {
      state.droppedOlder = JSON.parse(message.data).older;
      updateNotes();
    });
    source.addEventListener("lost", function (message) {
      state.lost += JSON.parse(message.data).events;
      updateNotes();
    });
    source.addEventListener("stats", function (message) { onStats(JSON.parse(message.data)); });
    source.addEventListener("lab", function (message) {
      if (state.config === null) return;
      var event = JSON.parse(message.data);
      if (state.paused) {
        state.pending.push(event);
        if (state.pending.length > LIMIT) state.pending.splice(0, state.pending.length - LIMIT);
        updateNotes();
        return;
      }
      // Taken in batches: a backlog of 2,000 is drawn once, not 2,000 times.
      inbox.push(event);
      if (inbox.length === 1) {
        setTimeout(function () {
          var batch = inbox;
          inbox = [];
          receive(batch);
        }, 20);
      }
    });
    $("pause").addEventListener("click", function () {
      state.paused = !state.paused;
      $("pause").textContent = state.paused ? "Resume" : "Pause";
      if (!state.paused) {
        var waiting = state.pending;
        state.pending = [];
        receive(waiting);
      }
      updateNotes();
    });
    $("clear").addEventListener("click", function () {
      state.clearedBefore = Math.max(state.lastId, state.clearedBefore);
      state.events = [];
      state.pending = [];
      state.trimmed = 0;
      state.droppedOlder = 0;
      state.lost = 0;
      state.model = newModel();
      renderAll();
    });
    $("free").addEventListener("submit", function (submit) {
      submit.preventDefault();
      var text = $("free-text").value;
      if (text === "") return;
      var transport = $("free-transport").value;
      post("/lab/send", { transport: transport, text: text }, transport.toUpperCase() + " " + JSON.stringify(text));
    });
    var main = $("sessions");
    main.addEventListener("click", function (click) { explain(click.target); });
    main.addEventListener("mouseover", function (over) { explain(over.target); });
  }

  start();
})();
`;
