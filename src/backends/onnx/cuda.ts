import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

function onnxRuntimeNodeDir(): string {
  return dirname(createRequire(import.meta.url).resolve("onnxruntime-node/package.json"));
}

/** Where onnxruntime-node keeps libonnxruntime.so (bin/napi-vN/platform/arch); the CUDA provider libraries must sit beside it. */
export function onnxRuntimeLibraryDir(): string {
  const bin = join(onnxRuntimeNodeDir(), "bin");
  const napi = existsSync(bin) ? readdirSync(bin).filter((d) => /^napi-v\d+$/.test(d)).sort() : [];
  return join(bin, napi.at(-1) ?? "napi-v6", process.platform, process.arch);
}

/** The installed onnxruntime-node's version, which a CUDA provider must match exactly. */
export function onnxRuntimeNodeVersion(): string {
  return (JSON.parse(readFileSync(join(onnxRuntimeNodeDir(), "package.json"), "utf8")) as { version: string }).version;
}

export function cudaProviderInstalled(): boolean {
  return existsSync(join(onnxRuntimeLibraryDir(), "libonnxruntime_providers_cuda.so"));
}

/** Shared libraries the installed CUDA provider links against that the dynamic loader cannot find (via ldd). */
export function missingCudaLibraries(): string[] {
  const library = join(onnxRuntimeLibraryDir(), "libonnxruntime_providers_cuda.so");
  if (!existsSync(library)) return [];
  try {
    const out = execFileSync("ldd", [library], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return [...out.matchAll(/^\s*(\S+) => not found/gm)].map((m) => m[1]);
  } catch {
    return [];
  }
}
