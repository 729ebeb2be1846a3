import assert from "node:assert/strict";
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { builtinModules } from "node:module";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, posix } from "node:path";
import { after, describe, it } from "node:test";
import { ServiceClient } from "../../src/client/grpc-client.js";
import { newApiKey } from "../../src/transport/auth/key-store.js";
import { Encoder } from "../../src/gen/bertd/v1/encoder_pb.js";
import { ParsedDockerfile, type Stage } from "../helpers/dockerfile.js";
import { ROOT } from "../helpers/server-process.js";

const cpu = new ParsedDockerfile(`${ROOT}deploy/Dockerfile`);
const cuda = new ParsedDockerfile(`${ROOT}deploy/Dockerfile.cuda`);
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { dependencies: Record<string, string>; scripts: Record<string, string> };

/** A path's directories from the root down, itself included. */
function ancestors(path: string): string[] {
  const dirs = [path];
  while (dirname(dirs[0]) !== dirs[0]) dirs.unshift(dirname(dirs[0]));
  return dirs;
}

/** USER as uid and gid; throws when it is root or a name (Kubernetes' runAsNonRoot needs a number). */
function user(file: ParsedDockerfile, stage: Stage): { uid: number; gid: number } {
  const text = file.all(stage, "USER").at(-1)?.trim();
  assert.ok(text, `${file.path}: the runtime stage sets no USER`);
  const [uid, gid = uid] = text.split(":").map(Number);
  assert.ok(Number.isInteger(uid) && Number.isInteger(gid), `${file.path}: USER ${text} should be numeric`);
  assert.notEqual(uid, 0, `${file.path}: USER is root`);
  return { uid, gid };
}

function checkRuntimeStage(file: ParsedDockerfile): void {
  const stage = file.runtime;
  assert.ok(file.stages.length >= 2, `${file.path} should build in one stage and run in another`);
  user(file, stage);
  assert.deepEqual(file.execForm(stage, "CMD"), ["node", "--import", "tsx", "src/main.ts", "serve"]);
  assert.deepEqual(file.execForm(stage, "HEALTHCHECK"), ["node", "--import", "tsx", "src/health-probe.ts"]);
  assert.match(file.all(stage, "HEALTHCHECK")[0], /--interval=\S+ .*--start-period=\S+/);
  const exposed = file.all(stage, "EXPOSE").join(" ").split(/\s+/);
  for (const port of ["50051", "9464"]) assert.ok(exposed.includes(port), `${file.path} exposes ${port}`);
  const env = file.env(stage);
  assert.equal(env.BERTD_PORT, "50051");
  assert.equal(env.BERTD_METRICS_PORT, "9464");
  assert.equal(env.BERTD_MODEL_DIR, "/models/default");
  assert.equal(env.BERTD_DATA_DIR, "/var/lib/bertd");
  assert.equal(env.TSX_DISABLE_CACHE, "1", "tsx must not need a writable cache on a read-only root filesystem");
  assert.deepEqual(file.all(stage, "VOLUME").map((v) => v.trim()), [env.BERTD_DATA_DIR]);
  // No compilers or package managers at run time: the runtime stage only creates its data directory.
  assert.deepEqual(file.all(stage, "RUN"), [`mkdir -p /var/lib/bertd && chown ${file.all(stage, "USER")[0].trim()} /var/lib/bertd`]);
  const build = file.stage("build");
  const install = file.all(build, "RUN").join("\n");
  assert.match(install, /npm ci --omit=dev/);
  assert.equal(file.env(build).ONNXRUNTIME_NODE_INSTALL, "skip");
  for (const copy of file.copies(stage)) assert.ok(!copy.from || file.stages.some((s) => s.name === copy.from), `COPY --from=${copy.from} names no stage`);
}

/** Bare module specifiers imported by src/ outside the generated code, as package names. */
function importedPackages(dir: string): Set<string> {
  const found = new Set<string>();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !/\.(ts|mjs)$/.test(entry.name)) continue;
    const text = readFileSync(join(entry.parentPath, entry.name), "utf8");
    for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^"']*?from\s+["']([^"'.][^"']*)["']|import\(\s*["']([^"'.][^"']*)["']\s*\)/g)) {
      const specifier = match[1] ?? match[2];
      if (specifier.startsWith("node:") || builtinModules.includes(specifier)) continue;
      found.add(specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]);
    }
  }
  return found;
}

describe("deploy/Dockerfile (CPU)", () => {
  it("builds in one stage and runs non-root in another, with a healthcheck, both ports and a data volume", () => {
    checkRuntimeStage(cpu);
    assert.match(cpu.runtime.image, /^node:20-/);
    assert.equal(cpu.stage("build").image, cpu.runtime.image);
  });

  it("needs only production dependencies at run time (the image installs with --omit=dev)", () => {
    for (const name of importedPackages(`${ROOT}src`)) {
      assert.ok(pkg.dependencies[name], `src/ imports ${name}, which is not in package.json "dependencies"`);
    }
  });

  it("keeps the build context small: .dockerignore leaves out node_modules, .git and generated models", () => {
    const ignored = readFileSync(`${ROOT}.dockerignore`, "utf8").split("\n").map((l) => l.trim());
    for (const pattern of ["**/node_modules", ".git", "models/default/*.onnx"]) assert.ok(ignored.includes(pattern), pattern);
  });

  describe("its CMD and HEALTHCHECK, run here from the image's file layout", () => {
    const root = mkdtempSync(join(tmpdir(), "bertd-image-"));
    const stage = cpu.runtime;
    const imageEnv = cpu.env(stage);
    const { uid, gid } = user(cpu, stage);
    // The image's node_modules is this checkout's (linked): the image user must be able to reach it, which
    // a checkout inside a private directory (mode 700, as mktemp makes) does not allow.
    const reachable = ancestors(ROOT).every((dir) => (statSync(dir).mode & 0o001) !== 0);
    const root0 = process.getuid?.() === 0;
    // As root the CMD runs as the image's user; as anyone else, as that (non-root) user. A root run
    // that cannot switch user (a checkout the image user cannot reach) is skipped, not run as root.
    const unreachable = root0 && !reachable ? `${ROOT} is not reachable by uid ${uid}: cannot run the image's CMD as its user` : false;
    const asImageUser = root0 && reachable ? { uid, gid } : {};
    const expectedUid = root0 ? uid : process.getuid?.();
    const inImage = (path: string): string => join(root, path);
    let server: ChildProcess | undefined;

    // The runtime stage's COPYs, replayed from this checkout (the build stage's WORKDIR is the repository root).
    const buildDir = cpu.workdir(cpu.stage("build"));
    const workdir = cpu.workdir(stage);
    for (const copy of cpu.copies(stage)) {
      for (const source of copy.sources) {
        const fromRepo = join(ROOT, posix.relative(buildDir, source));
        const destDir = copy.dest.endsWith("/") || copy.sources.length > 1;
        const dest = inImage(posix.resolve(workdir, destDir ? posix.join(copy.dest, basename(source)) : copy.dest));
        mkdirSync(dirname(dest), { recursive: true });
        if (basename(source) === "node_modules") symlinkSync(fromRepo, dest);
        else cpSync(fromRepo, dest, { recursive: true });
      }
    }
    for (const volume of cpu.all(stage, "VOLUME")) {
      mkdirSync(inImage(volume.trim()), { recursive: true });
      if (asImageUser.uid !== undefined) chownSync(inImage(volume.trim()), uid, gid);
    }
    // Read-only everywhere but the volume: no HOME, and a temporary directory nobody may write.
    mkdirSync(inImage("tmp"), { mode: 0o555 });
    chmodSync(root, 0o755);
    for (const dir of [workdir, "/models"]) execFileSync("chmod", ["-R", "a-w", inImage(dir)]);

    const env = (overrides: Record<string, string>): NodeJS.ProcessEnv => {
      const mapped = Object.fromEntries(Object.entries(imageEnv).map(([k, v]) => [k, v.startsWith("/") ? inImage(v) : v]));
      return { PATH: process.env.PATH, HOME: inImage("nonexistent-home"), TMPDIR: inImage("tmp"), ...mapped, ...overrides };
    };
    const run = (argv: string[], overrides: Record<string, string>): Promise<{ code: number; out: string }> =>
      new Promise((resolve) => {
        const [command, ...args] = argv;
        execFile(command === "node" ? process.execPath : command, args, { cwd: inImage(workdir), env: env(overrides), timeout: 30_000, ...asImageUser }, (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        );
      });

    after(async () => {
      if (server?.exitCode === null) {
        server.kill("SIGKILL");
        await once(server, "exit");
      }
      execFileSync("chmod", ["-R", "u+w", root]); // does not follow the node_modules link
      rmSync(root, { recursive: true });
    });

    const key = newApiKey("image-test", ["infer"]);

    it("serves from /models/default as a non-root user, answers the health probe, and writes only to its data volume", { skip: unreachable }, async () => {
      const [command, ...args] = cpu.execForm(stage, "CMD")!;
      server = spawn(command === "node" ? process.execPath : command, args, {
        cwd: inImage(workdir),
        // As in Kubernetes: keys from a Secret (here the environment); the health probe needs none.
        env: env({ BERTD_HOST: "127.0.0.1", BERTD_PORT: "0", BERTD_METRICS_PORT: "0", BERTD_API_KEYS: JSON.stringify([key.entry]) }),
        stdio: ["ignore", "pipe", "pipe"],
        ...asImageUser,
      });
      let stderr = "";
      server.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const port = await new Promise<number>((resolve, reject) => {
        let buffered = "";
        server!.stdout!.on("data", (chunk: Buffer) => {
          buffered += chunk.toString();
          const serving = buffered.split("\n").find((line) => line.includes('"msg":"serving"'));
          if (serving) resolve((JSON.parse(serving) as { port: number }).port);
        });
        server!.once("exit", (code) => reject(new Error(`the image's CMD exited with ${code}: ${stderr}`)));
      });

      const realUid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))?.[1]);
      assert.equal(realUid, expectedUid, "the server runs as the image's user");
      assert.notEqual(realUid, 0);
      const client = new ServiceClient(Encoder, `127.0.0.1:${port}`, { apiKey: key.secret });
      const info = await client.unary("getModelInfo")({});
      assert.equal(info.modelPath.replace(/\/model\.onnx$/, ""), inImage(imageEnv.BERTD_MODEL_DIR));
      const embedded = await client.unary("embed")({ inputs: ["a chess game"] });
      assert.equal(embedded.embeddings.length, 1);
      client.close();

      const probe = cpu.execForm(stage, "HEALTHCHECK")!;
      const healthy = await run(probe, { BERTD_PORT: String(port) });
      assert.equal(healthy.code, 0, healthy.out);
      assert.match(healthy.out, /SERVING/);
      // BERTD_HEALTH_PORT, when set, is the port it asks (Kubernetes sets it; nothing listens on port 1).
      const elsewhere = await run(probe, { BERTD_PORT: String(port), BERTD_HEALTH_PORT: "1" });
      assert.equal(elsewhere.code, 1, elsewhere.out);
      assert.match(elsewhere.out, /127\.0\.0\.1:1:/);

      server.kill("SIGTERM");
      const [code] = (await once(server, "exit")) as [number];
      assert.equal(code, 0, stderr);
      assert.ok(readdirSync(inImage(imageEnv.BERTD_DATA_DIR)).length > 0, "the head store is in the data volume");
      // Only a non-root user meets the read-only directories (root writes anywhere).
      assert.deepEqual(readdirSync(inImage("tmp")), []);

      const down = await run(probe, { BERTD_PORT: String(port) });
      assert.equal(down.code, 1, down.out);
    });
  });
});

describe("deploy/Dockerfile.cuda", () => {
  it("runs like the CPU image, on a CUDA 13 runtime base with cuDNN, with --device cuda", () => {
    checkRuntimeStage(cuda);
    assert.match(cuda.runtime.image, /^nvidia\/cuda:13\.[\d.]+-cudnn-runtime-/);
    assert.equal(cuda.stage("build").image, cuda.runtime.image);
    assert.equal(cuda.env(cuda.runtime).BERTD_DEVICE, "cuda");
    assert.deepEqual(cuda.copies(cuda.runtime).filter((c) => c.from === "build"), cpu.copies(cpu.runtime).filter((c) => c.from === "build"));
  });

  it("installs onnxruntime-node 1.29.0 and the CUDA provider of the same version with npm run cuda:install", () => {
    assert.equal(pkg.dependencies["onnxruntime-node"], "1.29.0");
    assert.match(cuda.all(cuda.stage("build"), "RUN").join("\n"), /npm ci --omit=dev[\s\S]*&& npm run cuda:install/);
  });

  it("names a cuda:install script that package.json has, and the file it runs exists", () => {
    const script = pkg.scripts["cuda:install"];
    assert.ok(script, "package.json has no cuda:install script");
    const file = /\s(\S+\.ts)\b/.exec(script)?.[1];
    assert.ok(file && existsSync(`${ROOT}${file}`), `cuda:install runs ${file}, which does not exist`);
  });

  it("brings its own Node.js 20 onto the CUDA base", () => {
    assert.match(cuda.stage("node").image, /^node:20-/);
    assert.ok(cuda.copies(cuda.runtime).some((c) => c.from === "node" && c.sources.includes("/usr/local/bin/node")));
    assert.ok(existsSync(`${ROOT}deploy/prune-onnxruntime.mjs`));
  });
});
