import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pem {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface TestPki {
  readonly dir: string;
  /** The CA that signs the server's and the good client's certificates. */
  readonly ca: Pem;
  /** A CA the server does not trust. */
  readonly otherCa: Pem;
  /** For 127.0.0.1 and localhost, signed by `ca`. */
  readonly server: Pem;
  readonly client: Pem;
  /** A client certificate signed by `otherCa`. */
  readonly strangerClient: Pem;
  /** A server certificate signed by `otherCa` (clients that trust `ca` must refuse it). */
  readonly strangerServer: Pem;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function pem(dir: string, name: string): Pem {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  return { cert: readFileSync(certPath), key: readFileSync(keyPath), certPath, keyPath };
}

function makeCa(dir: string, name: string): Pem {
  openssl(dir, [
    "req", "-x509", ...EC_KEY, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=bertd test ${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return pem(dir, name);
}

function makeLeaf(dir: string, name: string, ca: string, extensions: string): Pem {
  openssl(dir, ["req", "-new", ...EC_KEY, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`]);
  return pem(dir, name);
}

const SERVER_EXT = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n";
const CLIENT_EXT = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";

/** Two CAs and their certificates, made with the openssl command in a fresh temporary directory. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "bertd-pki-"));
  const ca = makeCa(dir, "ca");
  const otherCa = makeCa(dir, "other-ca");
  return {
    dir,
    ca,
    otherCa,
    server: makeLeaf(dir, "server", "ca", SERVER_EXT),
    client: makeLeaf(dir, "client", "ca", CLIENT_EXT),
    strangerClient: makeLeaf(dir, "stranger-client", "other-ca", CLIENT_EXT),
    strangerServer: makeLeaf(dir, "stranger-server", "other-ca", SERVER_EXT),
  };
}
