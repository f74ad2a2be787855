// Copyright 2026 the echolab authors. MIT license.
/**
 * A throwaway self-signed certificate for the TLS tests, made by openssl.
 *
 * @module
 */

import { decoder } from "./net_client.ts";

async function run(program: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(program, { args, stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`${program} failed: ${decoder.decode(output.stderr)}`);
  }
  return decoder.decode(output.stdout).trim();
}

/** Files and PEM text of a certificate (for 127.0.0.1 and localhost). */
export interface Certificate extends AsyncDisposable {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/**
 * Creates a certificate valid for a day, for `name` (its CN and only DNS
 * name) or, by default, for localhost and 127.0.0.1. `openssl req -x509`
 * marks it as a CA unless told otherwise, and Deno's TLS client then
 * refuses it as an end entity (`CaUsedAsEndEntity`): hence
 * `basicConstraints=critical,CA:FALSE`.
 */
export async function makeCertificate(name?: string): Promise<Certificate> {
  const dir = await run("mktemp", ["-d"]);
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=${name ?? "localhost"}`,
    "-addext",
    `subjectAltName=${
      name === undefined ? "DNS:localhost,IP:127.0.0.1" : `DNS:${name}`
    }`,
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
  return {
    certFile,
    keyFile,
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
    [Symbol.asyncDispose]: async () => {
      await run("rm", ["-rf", dir]);
    },
  };
}
