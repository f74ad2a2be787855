// Copyright 2026 the echolab authors. MIT license.
/**
 * Container helpers for the image check and the fleet: make sure podman can
 * run here, build the image (on a local stand-in for the official Deno
 * image when asked), and run commands.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();

/** The image the checks build and run. */
export const IMAGE = "localhost/echolab:0.1.0";
/** The local stand-in for the official Deno image. */
export const LOCAL_BASE = "localhost/echolab-deno-base:latest";

/** Output of a finished command. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program and collects its output; never throws for a failure. */
export async function run(
  program: string,
  args: string[],
  options: { stdin?: string; cwd?: string } = {},
): Promise<Run> {
  try {
    const child = new Deno.Command(program, {
      args,
      cwd: options.cwd ?? ROOT,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      env: { DEBIAN_FRONTEND: "noninteractive", DENO_TLS_CA_STORE: "system" },
    }).spawn();
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const output = await child.output();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } catch (error) {
    return { code: 127, stdout: "", stderr: String(error) };
  }
}

/** Runs a program; throws with its output when it fails. */
export async function must(
  program: string,
  args: string[],
  options: { stdin?: string; cwd?: string } = {},
): Promise<string> {
  const result = await run(program, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${program} ${args.join(" ")} failed (${result.code}): ${
        (result.stderr || result.stdout).trim().split("\n").slice(-5).join(
          "\n",
        )
      }`,
    );
  }
  return result.stdout;
}

/**
 * Tells whether this process runs as root (asked of `id -u`, which needs no
 * `--allow-sys`).
 *
 * @returns `true` as root.
 */
export async function isRoot(): Promise<boolean> {
  return (await run("id", ["-u"])).stdout.trim() === "0";
}

/**
 * Makes sure the Debian packages are installed (as root, with apt), or says
 * why not.
 *
 * @param needs Each command (or, starting with `/`, file) and the package
 * that brings it.
 * @returns `undefined` when every command is there, else the reason.
 */
export async function ensurePackages(
  needs: Record<string, string>,
): Promise<string | undefined> {
  const missing: string[] = [];
  for (const [needed, debianPackage] of Object.entries(needs)) {
    const check = needed.startsWith("/")
      ? `test -e '${needed}'`
      : `command -v '${needed}'`;
    if ((await run("sh", ["-c", check])).code !== 0) {
      missing.push(debianPackage);
    }
  }
  if (missing.length === 0) return undefined;
  if (!(await isRoot())) {
    return `${
      missing.join(", ")
    } not installed, and installing needs root (apt install ${
      missing.join(" ")
    })`;
  }
  const install = ["install", "--no-install-recommends", "-y", ...missing];
  if ((await run("apt-get", install)).code !== 0) {
    await run("apt-get", ["update"]);
    const retried = await run("apt-get", install);
    if (retried.code !== 0) {
      return `apt-get could not install ${missing.join(" ")}: ${
        retried.stderr.trim().split("\n").at(-1)
      }`;
    }
  }
  return undefined;
}

const CONTAINERS_CONF = "/etc/containers/containers.conf";

/**
 * Makes podman able to start containers here: its packages, and (as root,
 * when there is none) the containers.conf these machines need (runc, and
 * limits the sandbox allows).
 *
 * @returns `undefined` when podman can run, else why not.
 */
export async function ensurePodman(): Promise<string | undefined> {
  const missing = await ensurePackages({
    podman: "podman",
    buildah: "buildah",
    runc: "runc",
    catatonit: "catatonit",
  });
  if (missing !== undefined) return missing;
  try {
    await Deno.stat(CONTAINERS_CONF);
  } catch {
    if (await isRoot()) {
      await Deno.mkdir("/etc/containers", { recursive: true });
      await Deno.writeTextFile(
        CONTAINERS_CONF,
        '[engine]\nruntime = "runc"\n[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n',
      );
    }
  }
  return undefined;
}

/**
 * Builds the image from deploy/Containerfile on `base`, or on a local
 * stand-in for the official Deno image (deploy/build-local-base.sh).
 *
 * @returns The base used.
 */
export async function buildImage(base?: string): Promise<string> {
  const from = base ?? (await must("bash", [
    `${ROOT}deploy/build-local-base.sh`,
    LOCAL_BASE,
  ])).trim();
  await must("podman", [
    "build",
    "--quiet",
    "-f",
    "deploy/Containerfile",
    "--build-arg",
    `BASE=${from}`,
    "-t",
    IMAGE,
    ".",
  ]);
  return from;
}
