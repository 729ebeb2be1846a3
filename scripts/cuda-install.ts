// npm run cuda:install — puts ONNX Runtime's CUDA execution provider beside onnxruntime-node's library.
//
// onnxruntime-node ships only the CPU provider on npm (its own CUDA download goes to NuGet, which we
// switch off). The npm registry package below carries the same ONNX Runtime release's CUDA provider,
// built for CUDA 13. This script fetches it with `npm pack` into a cache directory (never during
// `npm ci`), takes libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so out of
// it, checks that their ONNX Runtime version is onnxruntime-node's, and copies them in. Idempotent.
//
//   npm run cuda:install [-- --cache DIR] [-- --force]

import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { missingCudaLibraries, onnxRuntimeLibraryDir, onnxRuntimeNodeVersion } from "../src/backends/onnx/cuda.js";

export const PROVIDER_PACKAGE = "com.github.asus4.onnxruntime.linux-x64-gpu";
export const PROVIDER_PACKAGE_VERSION = "0.4.9";
const LIBRARIES = ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"] as const;
const IN_PACKAGE = "package/Plugins/Linux/x64";

class InstallError extends Error {}

/** The first printable, NUL-delimited string in a library that looks like a release ("1.29.0"). */
export function embeddedVersion(path: string): string | undefined {
  const bytes = readFileSync(path);
  let start = -1;
  for (let i = 0; i <= bytes.length; i++) {
    const c = i < bytes.length ? bytes[i] : 0;
    const printable = c >= 0x20 && c < 0x7f;
    if (printable && start < 0) start = i;
    if (!printable && start >= 0) {
      if (i - start >= 5 && i - start <= 9 && c === 0) {
        const text = bytes.toString("latin1", start, i);
        if (/^1\.\d+\.\d+$/.test(text)) return text;
      }
      start = -1;
    }
  }
  return undefined;
}

function run(command: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 2 ** 20 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new InstallError(`${command} ${args.join(" ")} failed: ${(e.stderr || e.message).trim().slice(-800)}`);
  }
}

function fetchPackage(cache: string): string {
  const tarball = join(cache, `${PROVIDER_PACKAGE}-${PROVIDER_PACKAGE_VERSION}.tgz`);
  if (existsSync(tarball)) return tarball;
  mkdirSync(cache, { recursive: true });
  console.log(`cuda:install: fetching ${PROVIDER_PACKAGE}@${PROVIDER_PACKAGE_VERSION} from the npm registry (about 180 MB) into ${cache}`);
  run("npm", ["pack", "--silent", "--pack-destination", cache, `${PROVIDER_PACKAGE}@${PROVIDER_PACKAGE_VERSION}`]);
  if (!existsSync(tarball)) throw new InstallError(`npm pack left no ${tarball}`);
  return tarball;
}

function extract(tarball: string, cache: string): string {
  const dir = join(cache, `extracted-${PROVIDER_PACKAGE_VERSION}`);
  if (LIBRARIES.every((lib) => existsSync(join(dir, IN_PACKAGE, lib)))) return join(dir, IN_PACKAGE);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  run("tar", ["-xzf", tarball, "-C", partial, ...LIBRARIES.map((lib) => `${IN_PACKAGE}/${lib}`)]);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return join(dir, IN_PACKAGE);
}

function main(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { cache: { type: "string" }, force: { type: "boolean" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log("usage: npm run cuda:install [-- --cache DIR] [-- --force]   (see docs/gpu.md)");
    return;
  }
  if (process.platform !== "linux" || process.arch !== "x64") throw new InstallError(`the CUDA provider package is for linux x64; this is ${process.platform} ${process.arch}`);
  const ortDir = onnxRuntimeLibraryDir();
  const core = join(ortDir, "libonnxruntime.so.1");
  if (!existsSync(core)) throw new InstallError(`${core} is missing: run \`npm ci\` first`);
  const wanted = onnxRuntimeNodeVersion();
  const coreVersion = embeddedVersion(core);
  if (coreVersion !== wanted) throw new InstallError(`onnxruntime-node ${wanted}'s library reports ONNX Runtime ${coreVersion ?? "(no version)"}`);

  const installed = join(ortDir, LIBRARIES[0]);
  if (!values.force && LIBRARIES.every((lib) => existsSync(join(ortDir, lib))) && embeddedVersion(installed) === wanted) {
    console.log(`cuda:install: ONNX Runtime ${wanted}'s CUDA provider is already installed in ${ortDir}`);
  } else {
    const cache = values.cache ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "bertd", "cuda-provider");
    const from = extract(fetchPackage(cache), cache);
    const providerVersion = embeddedVersion(join(from, LIBRARIES[0]));
    if (providerVersion !== wanted) {
      throw new InstallError(
        `${PROVIDER_PACKAGE}@${PROVIDER_PACKAGE_VERSION} carries ONNX Runtime ${providerVersion ?? "(unknown)"}'s CUDA provider, ` +
          `but onnxruntime-node is ${wanted}: a provider must match its runtime exactly. Pin a matching pair.`,
      );
    }
    for (const lib of LIBRARIES) {
      const target = join(ortDir, lib);
      copyFileSync(join(from, lib), `${target}.partial`);
      renameSync(`${target}.partial`, target);
    }
    console.log(`cuda:install: installed ONNX Runtime ${wanted}'s CUDA provider (${LIBRARIES.join(", ")}) in ${ortDir}`);
  }
  const missing = missingCudaLibraries();
  if (missing.length > 0) {
    console.log(
      `cuda:install: the provider cannot load yet; the dynamic loader does not find ${missing.join(", ")}. ` +
        "Install CUDA 13 (cuBLAS, cuBLASLt, cuRAND, cudart; cuDNN 9 for some models) and the NVIDIA driver (libcuda.so.1), " +
        "and put their lib directories on LD_LIBRARY_PATH (see docs/gpu.md).",
    );
  } else {
    console.log("cuda:install: every library the provider links against is found");
  }
  const left = readdirSync(ortDir).filter((f) => f.endsWith(".partial"));
  for (const f of left) rmSync(join(ortDir, f), { force: true });
}

try {
  main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof InstallError)) throw error;
  console.error(`cuda:install: ${error.message}`);
  process.exit(1);
}
