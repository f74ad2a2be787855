// Copyright 2026 the echolab authors. MIT license.
/**
 * `deno task image`: builds the container image (on a local stand-in for the
 * official Deno image unless `--base IMAGE` is given), runs it with a
 * read-only root file system and talks to it over TCP, UDP and HTTP, then
 * runs the rendered Kubernetes Deployment with `podman kube play` (3 pods)
 * and talks to each pod. Prints one line per check and exits 1 if one
 * fails; says what it skipped (no root to install podman) and exits 0 then.
 *
 * @module
 */

import { sendMessages } from "../lib/client/client.ts";
import { freePort } from "../tests/net_client.ts";
import { buildImage, ensurePodman, IMAGE, must, run } from "./containers.ts";

const decoder = new TextDecoder();
let failures = 0;

function report(name: string, ok: boolean, detail = ""): void {
  if (!ok) failures++;
  console.log(
    `image: ${ok ? "ok" : "FAILED"}: ${name}${detail ? ` (${detail})` : ""}`,
  );
}

/** Sends one TCP line and one UDP datagram; returns the two replies. */
async function talk(hostname: string, tcp: number, udp: number) {
  const replies: string[] = [];
  const onReply = (event: { reply?: Uint8Array }) => {
    if (event.reply) replies.push(decoder.decode(event.reply));
  };
  const sentTcp = await sendMessages(["hello"], {
    transport: "tcp",
    hostname,
    port: tcp,
  }, onReply);
  const sentUdp = await sendMessages(["hello world"], {
    transport: "udp",
    hostname,
    port: udp,
    wait: 2000,
  }, onReply);
  return { replies, answered: sentTcp.answered + sentUdp.answered };
}

/**
 * Copies the QUIC certificate out of the container, then sends a line on a
 * stream and a datagram.
 */
async function talkQuic(name: string, port: number): Promise<string[]> {
  const dir = await Deno.makeTempDir({ dir: "/tmp" });
  try {
    await must("podman", [
      "cp",
      `${name}:/tmp/echolab-quic.pem`,
      `${dir}/quic.pem`,
    ]);
    const ca = await Deno.readTextFile(`${dir}/quic.pem`);
    const replies: string[] = [];
    const onReply = (event: { reply?: Uint8Array }) => {
      if (event.reply) replies.push(decoder.decode(event.reply));
    };
    const options = {
      transport: "quic" as const,
      hostname: "127.0.0.1",
      port,
      caCerts: [ca],
      serverName: "localhost",
      wait: 2000,
    };
    await sendMessages(["hello"], options, onReply);
    await sendMessages(["datagram"], { ...options, datagram: true }, onReply);
    return replies;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function waitForHttp(url: string): Promise<Response | undefined> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const response = await fetch(url);
      return response;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return undefined;
}

async function checkContainer(): Promise<void> {
  const [tcp, udp, http, quic] = [
    freePort(),
    freePort("udp"),
    freePort(),
    freePort("udp"),
  ];
  const name = `echolab-check-${Deno.pid}`;
  await must("podman", [
    "run",
    "-d",
    "--name",
    name,
    "--read-only",
    "-p",
    `127.0.0.1:${tcp}:8000/tcp`,
    "-p",
    `127.0.0.1:${udp}:6000/udp`,
    "-p",
    `127.0.0.1:${http}:9090/tcp`,
    "-p",
    `127.0.0.1:${quic}:4433/udp`,
    IMAGE,
  ]);
  try {
    const ready = await waitForHttp(`http://127.0.0.1:${http}/readyz`);
    report(
      "the container answers /readyz with 200 ready",
      ready?.status === 200 && (await ready.text()) === "ready",
    );
    const user =
      (await must("podman", ["inspect", name, "--format", "{{.Config.User}}"]))
        .trim();
    report("it runs as the non-root user deno", user === "deno", user);
    const readOnly = (await must("podman", [
      "inspect",
      name,
      "--format",
      "{{.HostConfig.ReadonlyRootfs}}",
    ])).trim();
    report("with a read-only root file system", readOnly === "true");
    const { replies, answered } = await talk("127.0.0.1", tcp, udp);
    report(
      "TCP and UDP are answered through published ports",
      answered === 2 && replies[0] === "received msg: hello" &&
        replies[1] === "received msg: hello",
      replies.join(" | "),
    );
    const quicReplies = await talkQuic(name, quic);
    report(
      "QUIC is answered through its published port, trusting the certificate the container wrote (--cert-out)",
      quicReplies.join(" | ") ===
        "received msg: hello | received msg: datagram",
      quicReplies.join(" | "),
    );
    const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`))
      .text();
    report(
      "/metrics counts the line and the datagram",
      /^echolab_lines_total\{transport="tcp",direction="in",address="[^"]+:8000"\} 1$/m
        .test(metrics) &&
        /^echolab_datagrams_total\{direction="in",address="[^"]+:6000"\} 1$/m
          .test(metrics),
    );
    await must("podman", ["stop", "-t", "10", name]);
    const code = (await must("podman", [
      "inspect",
      name,
      "--format",
      "{{.State.ExitCode}}",
    ])).trim();
    const logs = await run("podman", ["logs", name]);
    report(
      "SIGTERM stops it gracefully, exit 0",
      code === "0" && logs.stderr.includes("Received SIGTERM: shutting down"),
      `exit ${code}`,
    );
  } finally {
    await run("podman", ["rm", "-f", name]);
  }
}

/** The rendered Deployment without its ports: podman 4.3 would publish them. */
async function localDeployment(): Promise<string> {
  const rendered = await must("kubectl", ["kustomize", "deploy/kubernetes"]);
  const deployment = rendered.split(/^---$/m).find((doc) =>
    /^kind: Deployment$/m.test(doc)
  )!;
  const lines = deployment.split("\n");
  const kept: string[] = [];
  let portsIndent = -1;
  for (const line of lines) {
    const indent = line.length - line.trimStart().length;
    if (portsIndent >= 0) {
      if (
        line.trim() === "" || indent > portsIndent ||
        (indent === portsIndent && line.trimStart().startsWith("- "))
      ) {
        continue;
      }
      portsIndent = -1;
    }
    if (line.trim() === "ports:") {
      portsIndent = indent;
      continue;
    }
    kept.push(line);
  }
  return kept.join("\n");
}

async function checkKubePlay(): Promise<void> {
  const kubectl = await run("kubectl", ["version", "--client"]);
  if (kubectl.code !== 0) {
    console.log("image: skipped: podman kube play (kubectl is not installed)");
    return;
  }
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, await localDeployment());
  try {
    await must("podman", ["kube", "play", file]);
    const pods = (await must("podman", [
      "pod",
      "ps",
      "--filter",
      "name=echolab-pod-",
      "--format",
      "{{.Name}}",
    ])).trim().split("\n").filter((n) => n !== "").sort();
    report(
      "podman kube play runs the Deployment's 3 replicas",
      pods.length === 3,
      pods.join(", "),
    );
    for (const pod of pods) {
      const infra = (await must("podman", [
        "pod",
        "inspect",
        pod,
        "--format",
        "{{.InfraContainerID}}",
      ])).trim();
      const ip = (await must("podman", [
        "inspect",
        infra,
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
      ])).trim();
      const ready = await waitForHttp(`http://${ip}:9090/readyz`);
      const readyText = ready === undefined ? "" : await ready.text();
      const { replies, answered } = await talk(ip, 8000, 6000);
      // podman 4.3 does not expand $(POD_NAME) in args; a cluster does.
      report(
        `${pod} (${ip}) answers TCP, UDP and /readyz`,
        readyText === "ready" && answered === 2 &&
          replies.every((reply) => reply.endsWith(": hello")),
        replies.join(" | "),
      );
    }
  } finally {
    await run("podman", ["kube", "down", file]);
    await Deno.remove(file);
  }
}

async function main(): Promise<number> {
  const baseIndex = Deno.args.indexOf("--base");
  const base = baseIndex === -1 ? undefined : Deno.args[baseIndex + 1];
  const unavailable = await ensurePodman();
  if (unavailable !== undefined) {
    console.log(`image: skipped: ${unavailable}`);
    return 0;
  }
  const started = performance.now();
  try {
    const used = await buildImage(base);
    report(`deploy/Containerfile builds on ${used}`, true);
  } catch (error) {
    report("deploy/Containerfile builds", false, (error as Error).message);
    return 1;
  }
  await checkContainer();
  await checkKubePlay();
  console.log(
    `image: ${
      failures === 0 ? "all checks passed" : `${failures} check(s) failed`
    } in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return failures === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
