// Copyright 2026 the echolab authors. MIT license.
/**
 * The lab's page and its style sheet: served from here, nothing fetched
 * from elsewhere (the script is `_page_script.ts`).
 *
 * @module
 */

/** `GET /lab`. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>echolab lab: TCP, UDP and QUIC, live</title>
<link rel="stylesheet" href="/lab/lab.css">
<script src="/lab/lab.js" defer></script>
</head>
<body>
<header>
  <h1>echolab lab</h1>
  <p id="view" role="status">Connecting to the server…</p>
</header>
<section id="controls" aria-label="Replays">
  <div id="replays"></div>
  <form id="free">
    <label for="free-transport">Send</label>
    <select id="free-transport"></select>
    <input id="free-text" maxlength="512" placeholder="a line or a datagram" aria-label="text to send">
    <button type="submit" id="free-send">Send</button>
  </form>
  <p id="replay-status" role="status"></p>
</section>
<section id="counters" aria-label="Counters">
  <dl>
    <div><dt>Connections</dt><dd id="count-connections">0</dd></div>
    <div><dt>Lines</dt><dd id="count-lines">0</dd></div>
    <div><dt>Datagrams</dt><dd id="count-datagrams">0</dd></div>
    <div><dt>Bytes in</dt><dd id="count-bytes-in">0</dd></div>
    <div><dt>Bytes out</dt><dd id="count-bytes-out">0</dd></div>
    <div><dt>Drops</dt><dd id="count-drops">0</dd></div>
    <div><dt>Events shown</dt><dd id="count-events">0</dd></div>
  </dl>
</section>
<section id="tools" aria-label="View">
  <button type="button" id="pause">Pause</button>
  <button type="button" id="clear">Clear</button>
  <a id="download" href="/lab/capture.pcap" download="echolab-lab.pcap" hidden>Download the packets (pcap)</a>
  <span id="dropped"></span>
</section>
<div id="layout">
  <main id="sessions" aria-label="Sessions"><p id="empty">Nothing yet: press a button above, or talk to the servers with nc.</p></main>
  <aside id="explain" aria-live="polite">
    <h2 id="explain-title">What is this?</h2>
    <p id="explain-text">Each arrow is one packet between the client (left lane) and the server (right lane); grey boxes are what the server program did. Click or hover over one to read what it is.</p>
    <p id="explain-detail"></p>
  </aside>
</div>
</body>
</html>
`;

/** `GET /lab/lab.css`. */
export const PAGE_CSS = `:root {
  color-scheme: light;
  --ink: #1d2430;
  --muted: #5b6472;
  --line: #c9ced6;
  --handshake: #1f5fbf;
  --data: #1b7f3b;
  --fin: #b85c00;
  --rst: #c0262d;
  --udp: #7a3db8;
  --quic: #0b7a75;
  --event: #eef0f3;
}
* { box-sizing: border-box; }
body {
  margin: 0;
  padding: 12px 16px 24px;
  font: 15px/1.4 system-ui, sans-serif;
  color: var(--ink);
  background: #fbfbfc;
}
header h1 { font-size: 20px; margin: 0 0 4px; }
#view { margin: 0 0 10px; color: var(--muted); }
#view.packets { color: var(--data); }
#view.events-only { color: var(--fin); }
#controls, #tools { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 8px; }
#replays { display: flex; flex-wrap: wrap; gap: 8px; }
button, select, input {
  font: inherit;
  padding: 5px 10px;
  border: 1px solid var(--line);
  border-radius: 6px;
  background: #fff;
  color: var(--ink);
}
button { cursor: pointer; }
button:hover { border-color: var(--handshake); }
button:disabled { opacity: 0.5; cursor: default; }
#free { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
#free-text { width: 16em; max-width: 60vw; }
#replay-status { margin: 0; color: var(--muted); font-size: 13px; }
#counters dl { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 4px 0 10px; }
#counters dl div { display: flex; gap: 6px; align-items: baseline; }
#counters dt { color: var(--muted); }
#counters dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }
#dropped { color: var(--fin); font-size: 13px; }
#layout { display: grid; grid-template-columns: minmax(0, 1fr) 270px; gap: 16px; align-items: start; }
#explain {
  position: sticky;
  top: 8px;
  padding: 10px 14px;
  border: 1px solid var(--line);
  border-radius: 8px;
  background: #fff;
}
#explain h2 { font-size: 16px; margin: 0 0 6px; }
#explain p { margin: 0 0 8px; }
#explain-detail { font: 12px/1.4 ui-monospace, monospace; color: var(--muted); word-break: break-word; }
.note { margin: 12px 0 4px; font-weight: 600; color: var(--muted); }
.session { margin: 0 0 14px; border: 1px solid var(--line); border-radius: 8px; background: #fff; }
.session h2 { font-size: 15px; margin: 0; padding: 8px 10px 2px; }
.session .states, .session .closer { margin: 0; padding: 0 10px; font-size: 13px; color: var(--muted); }
.session .closer { color: var(--fin); }
.states span { font-family: ui-monospace, monospace; }
.diagram { overflow-x: auto; padding: 4px 0 6px; }
.diagram svg { display: block; font: 12px ui-monospace, monospace; }
.lane { stroke: var(--line); stroke-width: 2; }
.lane-name { fill: var(--ink); font-weight: 600; }
.time { fill: var(--muted); }
.row { cursor: pointer; }
.row:hover .label, .row.selected .label { font-weight: 700; }
.row .hit { fill: transparent; }
.row.selected .hit { fill: #fff6d6; }
.arrow { stroke-width: 2; fill: none; }
.label { fill: var(--ink); }
.k-handshake .arrow { stroke: var(--handshake); }
.k-data .arrow { stroke: var(--data); }
.k-ack .arrow { stroke: var(--muted); stroke-dasharray: 5 3; }
.k-fin .arrow { stroke: var(--fin); }
.k-rst .arrow, .k-icmp .arrow { stroke: var(--rst); }
.k-icmp .arrow { stroke-dasharray: 2 3; }
.k-udp .arrow { stroke: var(--udp); }
.k-quic .arrow { stroke: var(--quic); }
.event-box { fill: var(--event); stroke: var(--line); }
.k-warn .event-box { fill: #fde8d7; stroke: var(--fin); }
.state { fill: var(--handshake); font-weight: 600; }
@media (max-width: 820px) {
  body { padding: 8px; font-size: 14px; }
  #layout { grid-template-columns: minmax(0, 1fr); }
  #explain { position: static; order: -1; }
}
`;
