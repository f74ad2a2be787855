// Copyright 2026 the echolab authors. MIT license.
/**
 * Checks the Kubernetes manifests offline: renders each kustomization with
 * `kubectl kustomize`, validates every object with `kubernetes-models`
 * (types, enums, required fields), rejects fields the objects do not have
 * (which `kubernetes-models` lets through), and checks what echolab needs of
 * them (its arguments parse, the drain fits the grace period, probes and
 * scrape annotations point at the HTTP port, the pod runs locked down).
 *
 * `deno run --allow-run=kubectl --allow-read --allow-env tools/check_manifests.ts`
 *
 * @module
 */

import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Service } from "kubernetes-models/v1/Service";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { parseCommandLine } from "../cli/command_line.ts";

/** A Kubernetes object as rendered. */
export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
};

/** Field lists of the object types the manifests use (Kubernetes 1.32). */
type Fields = Record<string, string>;
const SCALAR = "";
const MAP = "map"; // free keys, scalar values (labels, annotations)
const TYPES: Record<string, Fields> = {
  ObjectMeta: {
    name: SCALAR,
    namespace: SCALAR,
    labels: MAP,
    annotations: MAP,
  },
  Deployment: {
    apiVersion: SCALAR,
    kind: SCALAR,
    metadata: "ObjectMeta",
    spec: "DeploymentSpec",
  },
  DeploymentSpec: {
    replicas: SCALAR,
    selector: "LabelSelector",
    template: "PodTemplateSpec",
    strategy: "DeploymentStrategy",
    minReadySeconds: SCALAR,
    revisionHistoryLimit: SCALAR,
    progressDeadlineSeconds: SCALAR,
  },
  DeploymentStrategy: { type: SCALAR, rollingUpdate: "RollingUpdate" },
  RollingUpdate: { maxSurge: SCALAR, maxUnavailable: SCALAR },
  LabelSelector: { matchLabels: MAP, matchExpressions: "[]Requirement" },
  Requirement: { key: SCALAR, operator: SCALAR, values: "[]" },
  PodTemplateSpec: { metadata: "ObjectMeta", spec: "PodSpec" },
  PodSpec: {
    containers: "[]Container",
    terminationGracePeriodSeconds: SCALAR,
    securityContext: "PodSecurityContext",
    automountServiceAccountToken: SCALAR,
    serviceAccountName: SCALAR,
  },
  PodSecurityContext: {
    runAsNonRoot: SCALAR,
    runAsUser: SCALAR,
    runAsGroup: SCALAR,
    fsGroup: SCALAR,
    seccompProfile: "SeccompProfile",
  },
  SeccompProfile: { type: SCALAR, localhostProfile: SCALAR },
  Container: {
    name: SCALAR,
    image: SCALAR,
    imagePullPolicy: SCALAR,
    command: "[]",
    args: "[]",
    env: "[]EnvVar",
    ports: "[]ContainerPort",
    readinessProbe: "Probe",
    livenessProbe: "Probe",
    startupProbe: "Probe",
    resources: "ResourceRequirements",
    securityContext: "SecurityContext",
  },
  EnvVar: { name: SCALAR, value: SCALAR, valueFrom: "EnvVarSource" },
  EnvVarSource: { fieldRef: "ObjectFieldSelector" },
  ObjectFieldSelector: { fieldPath: SCALAR, apiVersion: SCALAR },
  ContainerPort: {
    name: SCALAR,
    containerPort: SCALAR,
    protocol: SCALAR,
    hostPort: SCALAR,
    hostIP: SCALAR,
  },
  Probe: {
    httpGet: "HTTPGetAction",
    tcpSocket: "TCPSocketAction",
    initialDelaySeconds: SCALAR,
    periodSeconds: SCALAR,
    timeoutSeconds: SCALAR,
    successThreshold: SCALAR,
    failureThreshold: SCALAR,
  },
  HTTPGetAction: { path: SCALAR, port: SCALAR, host: SCALAR, scheme: SCALAR },
  TCPSocketAction: { port: SCALAR, host: SCALAR },
  ResourceRequirements: { requests: MAP, limits: MAP },
  SecurityContext: {
    allowPrivilegeEscalation: SCALAR,
    readOnlyRootFilesystem: SCALAR,
    runAsNonRoot: SCALAR,
    runAsUser: SCALAR,
    privileged: SCALAR,
    capabilities: "Capabilities",
  },
  Capabilities: { add: "[]", drop: "[]" },
  Service: {
    apiVersion: SCALAR,
    kind: SCALAR,
    metadata: "ObjectMeta",
    spec: "ServiceSpec",
  },
  ServiceSpec: {
    selector: MAP,
    ports: "[]ServicePort",
    type: SCALAR,
    clusterIP: SCALAR,
    sessionAffinity: SCALAR,
  },
  ServicePort: {
    name: SCALAR,
    port: SCALAR,
    targetPort: SCALAR,
    protocol: SCALAR,
    nodePort: SCALAR,
  },
  PodDisruptionBudget: {
    apiVersion: SCALAR,
    kind: SCALAR,
    metadata: "ObjectMeta",
    spec: "PodDisruptionBudgetSpec",
  },
  PodDisruptionBudgetSpec: {
    minAvailable: SCALAR,
    maxUnavailable: SCALAR,
    selector: "LabelSelector",
  },
  ServiceMonitor: {
    apiVersion: SCALAR,
    kind: SCALAR,
    metadata: "ObjectMeta",
    spec: "ServiceMonitorSpec",
  },
  ServiceMonitorSpec: {
    selector: "LabelSelector",
    endpoints: "[]Endpoint",
    namespaceSelector: "NamespaceSelector",
  },
  NamespaceSelector: { any: SCALAR, matchNames: "[]" },
  Endpoint: {
    port: SCALAR,
    path: SCALAR,
    interval: SCALAR,
    scheme: SCALAR,
    scrapeTimeout: SCALAR,
  },
};

function model(object: KubeObject): { validate(): void } | undefined {
  switch (`${object.apiVersion}/${object.kind}`) {
    case "apps/v1/Deployment":
      return new Deployment(object as never);
    case "v1/Service":
      return new Service(object as never);
    case "policy/v1/PodDisruptionBudget":
      return new PodDisruptionBudget(object as never);
    case "monitoring.coreos.com/v1/ServiceMonitor":
      return new ServiceMonitor(object as never);
  }
  return undefined;
}

/**
 * The fields of `value` (of type `type`) that the type does not have, as
 * paths (`spec.template.spec.containers[0].readinesProbe`).
 *
 * @param value The object.
 * @param type Its type, a key of the field lists.
 * @param path Where it is.
 * @returns The unknown fields' paths.
 *
 * @example
 * ```ts
 * import { unknownFields } from "./check_manifests.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(
 *   unknownFields({ spec: { replica: 3 } }, "Deployment", ""),
 *   ["spec.replica"],
 * );
 * ```
 */
export function unknownFields(
  value: unknown,
  type: string,
  path: string,
): string[] {
  if (type === SCALAR || type === MAP || type === "[]") return [];
  if (type.startsWith("[]")) {
    if (!Array.isArray(value)) return [];
    return value.flatMap((item, i) =>
      unknownFields(item, type.slice(2), `${path}[${i}]`)
    );
  }
  const fields = TYPES[type];
  if (fields === undefined || value === null || typeof value !== "object") {
    return [];
  }
  const found: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const where = path === "" ? key : `${path}.${key}`;
    const childType = fields[key];
    if (childType === undefined) found.push(where);
    else found.push(...unknownFields(child, childType, where));
  }
  return found;
}

/** One finding: what failed, where. */
export interface Finding {
  /** `Kind/name`. */
  object: string;
  /** What is wrong. */
  problem: string;
}

/**
 * Checks rendered objects: schema, unknown fields, and echolab's needs.
 *
 * @param objects The rendered objects.
 * @returns What is wrong; empty when all is well.
 *
 * @example
 * ```ts
 * import { checkObjects } from "./check_manifests.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const findings = checkObjects([{
 *   apiVersion: "v1", kind: "Service", metadata: { name: "x" },
 *   spec: { ports: [{ port: 8000, protocol: "SCTPX" }] },
 * }]);
 * strictEqual(findings.length > 0, true);
 * ```
 */
export function checkObjects(objects: readonly KubeObject[]): Finding[] {
  const findings: Finding[] = [];
  for (const object of objects) {
    const name = `${object.kind}/${
      (object.metadata as { name?: string } | undefined)?.name ?? "?"
    }`;
    const add = (problem: string) => findings.push({ object: name, problem });
    const instance = model(object);
    if (instance === undefined) {
      add(`no schema for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    try {
      instance.validate();
    } catch (error) {
      add(`schema: ${(error as Error).message}`);
    }
    for (const field of unknownFields(object, object.kind, "")) {
      add(`unknown field ${field}`);
    }
    if (object.kind === "Deployment") {
      for (const problem of checkDeployment(object)) add(problem);
    }
  }
  return findings;
}

interface Pod {
  metadata?: { annotations?: Record<string, string> };
  spec: {
    terminationGracePeriodSeconds?: number;
    securityContext?: { runAsNonRoot?: boolean };
    containers: {
      args?: string[];
      env?: {
        name: string;
        valueFrom?: { fieldRef?: { fieldPath: string } };
      }[];
      ports?: { name?: string; containerPort: number; protocol?: string }[];
      readinessProbe?: { httpGet?: { path: string; port: string | number } };
      livenessProbe?: { httpGet?: { path: string; port: string | number } };
      resources?: {
        requests?: Record<string, string>;
        limits?: Record<string, string>;
      };
      securityContext?: {
        allowPrivilegeEscalation?: boolean;
        readOnlyRootFilesystem?: boolean;
        capabilities?: { drop?: string[] };
      };
    }[];
  };
}

/** What echolab needs of its Deployment. */
function checkDeployment(object: KubeObject): string[] {
  const problems: string[] = [];
  const spec = object.spec as { replicas?: number; template: Pod };
  const pod = spec.template;
  const container = pod.spec.containers[0];
  if (container === undefined) return ["no container"];
  const args = (container.args ?? []).map((arg) =>
    arg.replace("$(POD_NAME)", "pod-a")
  );
  let drain = 0;
  let httpPort: number | undefined;
  try {
    const commandLine = parseCommandLine(args);
    if (commandLine.action !== "serve") {
      problems.push(`args do not run servers: ${args.join(" ")}`);
    } else {
      drain = commandLine.drain;
      httpPort = commandLine.httpPort;
    }
  } catch (error) {
    problems.push(`args: ${(error as Error).message}`);
  }
  if (container.args?.includes("$(POD_NAME)")) {
    const env = container.env?.find((e) => e.name === "POD_NAME");
    if (env?.valueFrom?.fieldRef?.fieldPath !== "metadata.name") {
      problems.push("--instance $(POD_NAME) needs POD_NAME from metadata.name");
    }
  }
  const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
  // The drain, then up to 2 s of graceful stop, within the grace period.
  if (grace <= drain + 2) {
    problems.push(
      `terminationGracePeriodSeconds ${grace} is not longer than --drain ${drain} plus the 2 s graceful stop`,
    );
  }
  const http = container.ports?.find((p) => p.containerPort === httpPort);
  if (httpPort === undefined || http === undefined) {
    problems.push("the --http-port is not a container port");
  }
  const ports = new Set([httpPort, http?.name]);
  for (
    const [probe, path] of [["readinessProbe", "/readyz"], [
      "livenessProbe",
      "/healthz",
    ]] as const
  ) {
    const get = container[probe]?.httpGet;
    if (get?.path !== path || !ports.has(get.port as never)) {
      problems.push(`${probe} is not GET ${path} on the HTTP port`);
    }
  }
  const annotations = pod.metadata?.annotations ?? {};
  if (
    annotations["prometheus.io/scrape"] !== "true" ||
    annotations["prometheus.io/port"] !== String(httpPort) ||
    annotations["prometheus.io/path"] !== "/metrics"
  ) {
    problems.push("the pod template lacks the Prometheus scrape annotations");
  }
  const security = container.securityContext;
  if (pod.spec.securityContext?.runAsNonRoot !== true) {
    problems.push("runAsNonRoot is not set");
  }
  if (security?.readOnlyRootFilesystem !== true) {
    problems.push("readOnlyRootFilesystem is not set");
  }
  if (security?.allowPrivilegeEscalation !== false) {
    problems.push("allowPrivilegeEscalation is not false");
  }
  if (!security?.capabilities?.drop?.includes("ALL")) {
    problems.push("capabilities are not all dropped");
  }
  const resources = container.resources;
  if (
    resources?.requests?.cpu === undefined ||
    resources.requests.memory === undefined ||
    resources.limits?.memory === undefined
  ) {
    problems.push("cpu and memory requests and a memory limit are not all set");
  }
  if (spec.replicas !== 3) problems.push(`replicas ${spec.replicas} is not 3`);
  return problems;
}

/**
 * Renders a kustomization with `kubectl kustomize`.
 *
 * @param directory The kustomization's directory.
 * @returns The objects.
 *
 * @example
 * ```ts ignore
 * import { render } from "./check_manifests.ts";
 *
 * console.log((await render("deploy/kubernetes")).map((o) => o.kind));
 * ```
 */
export async function render(directory: string): Promise<KubeObject[]> {
  const output = await new Deno.Command("kubectl", {
    args: ["kustomize", directory],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `kubectl kustomize ${directory} failed: ${
        new TextDecoder().decode(output.stderr).trim()
      }`,
    );
  }
  return parseAllDocuments(new TextDecoder().decode(output.stdout)).map((
    document,
  ) => document.toJSON() as KubeObject);
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname;
  try {
    await new Deno.Command("kubectl", {
      args: ["version", "--client"],
      stdout: "null",
      stderr: "null",
    }).output();
  } catch {
    // kubectl has no Debian package: said, not failed, where it is missing.
    console.log("manifests: skipped: kubectl is not installed");
    Deno.exit(0);
  }
  let failed = 0;
  for (
    const directory of ["deploy/kubernetes", "deploy/kubernetes-servicemonitor"]
  ) {
    const objects = await render(`${root}${directory}`);
    const findings = checkObjects(objects);
    for (const { object, problem } of findings) {
      console.error(`${directory}: ${object}: ${problem}`);
    }
    failed += findings.length;
    console.log(
      `manifests: ${directory}: ${objects.map((o) => o.kind).join(", ")}: ${
        findings.length === 0 ? "ok" : `${findings.length} problem(s)`
      }`,
    );
  }
  if (failed > 0) Deno.exit(1);
}
