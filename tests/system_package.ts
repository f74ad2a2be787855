// Copyright 2026 the echolab authors. MIT license.
/**
 * Tests that need another system (HAProxy, Prometheus): find its command,
 * install its Debian package when running as root, or say why the test is
 * skipped.
 *
 * @module
 */

async function run(program: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(program, {
      args,
      stdout: "null",
      stderr: "null",
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).output();
    return success;
  } catch {
    return false;
  }
}

async function found(command: string): Promise<boolean> {
  return await run("sh", ["-c", `command -v ${command}`]);
}

/**
 * Makes sure `command` can run: it is on the PATH, or its package was just
 * installed with apt (as root).
 *
 * @returns `undefined` when it can run, else why the test is skipped.
 */
export async function ensureCommand(
  command: string,
  debianPackage: string,
): Promise<string | undefined> {
  if (await found(command)) return undefined;
  const { stdout } = await new Deno.Command("id", { args: ["-u"] }).output();
  if (new TextDecoder().decode(stdout).trim() !== "0") {
    return `skipped: ${command} is not installed and installing it needs root (apt install ${debianPackage})`;
  }
  const install = [
    "install",
    "-y",
    "--no-install-recommends",
    debianPackage,
  ];
  if (!(await run("apt-get", install))) {
    await run("apt-get", ["update"]);
    await run("apt-get", install);
  }
  return (await found(command))
    ? undefined
    : `skipped: apt-get could not install ${debianPackage}`;
}
