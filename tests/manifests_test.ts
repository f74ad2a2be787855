// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, ok } from "node:assert/strict";
import {
  checkObjects,
  type KubeObject,
  render,
} from "../tools/check_manifests.ts";

const ROOT = new URL("..", import.meta.url).pathname;
// kubectl has no Debian package: it is on these machines, or skipped.
const skipped = await (async () => {
  try {
    const { success } = await new Deno.Command("kubectl", {
      args: ["version", "--client"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success ? undefined : "skipped: kubectl does not run";
  } catch {
    return "skipped: kubectl is not installed";
  }
})();

function suffix(): string {
  return skipped === undefined ? "" : ` (${skipped})`;
}

Deno.test({
  name:
    `manifests: the base and the ServiceMonitor overlay render and pass every check${suffix()}`,
  ignore: skipped !== undefined,
  async fn() {
    const base = await render(`${ROOT}deploy/kubernetes`);
    deepStrictEqual(base.map((o) => o.kind).sort(), [
      "Deployment",
      "PodDisruptionBudget",
      "Service",
    ]);
    deepStrictEqual(checkObjects(base), []);
    const overlay = await render(`${ROOT}deploy/kubernetes-servicemonitor`);
    ok(overlay.some((o) => o.kind === "ServiceMonitor"));
    deepStrictEqual(checkObjects(overlay), []);
  },
});

Deno.test({
  name:
    `manifests: a misspelt field, a bad enum, a short grace period and a writable root are each caught${suffix()}`,
  ignore: skipped !== undefined,
  async fn() {
    const base = await render(`${ROOT}deploy/kubernetes`);
    const broken = structuredClone(base) as KubeObject[];
    // deno-lint-ignore no-explicit-any
    const deployment = broken.find((o) => o.kind === "Deployment") as any;
    const pod = deployment.spec.template.spec;
    pod.containers[0].readinesProbe = pod.containers[0].readinessProbe;
    delete pod.containers[0].readinessProbe;
    pod.terminationGracePeriodSeconds = 6;
    pod.containers[0].securityContext.readOnlyRootFilesystem = false;
    // deno-lint-ignore no-explicit-any
    const service = broken.find((o) => o.kind === "Service") as any;
    service.spec.ports[1].protocol = "UDP6";
    const problems = checkObjects(broken).map((f) =>
      `${f.object}: ${f.problem}`
    );
    const expect = [
      /^Deployment\/echolab: unknown field spec\.template\.spec\.containers\[0\]\.readinesProbe$/,
      /^Deployment\/echolab: readinessProbe is not GET \/readyz on the HTTP port$/,
      /^Deployment\/echolab: terminationGracePeriodSeconds 6 is not longer than --drain 5 plus the 2 s graceful stop$/,
      /^Deployment\/echolab: readOnlyRootFilesystem is not set$/,
      /^Service\/echolab: schema: .*protocol/,
    ];
    for (const pattern of expect) {
      ok(
        problems.some((p) => pattern.test(p)),
        `${pattern}\n${problems.join("\n")}`,
      );
    }
    match(problems.join("\n"), /UDP6|protocol/);
  },
});
