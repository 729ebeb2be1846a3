import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import type { Device } from "../config.js";

export interface SessionOptions {
  readonly modelPath: string;
  readonly device: Device;
  readonly intraOpThreads: number;
  /** Let idle intra-op threads spin: lower latency alone, but they steal cores from gRPC and tokenization. */
  readonly spinning?: boolean;
}

export interface OpenedSession {
  readonly session: ort.InferenceSession;
  /** "cpu" or "cuda:N": the provider the session was created with. */
  readonly provider: string;
  /** Why device "auto" fell back to the CPU. */
  readonly fallbackReason?: string;
}

export class BackendError extends Error {}

export const ONNXRUNTIME_VERSION: string = ort.env.versions.node ?? "unknown";

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

/** Opens one session on the requested device; CPU fallback happens only for device "auto". */
export async function openSession(options: SessionOptions): Promise<OpenedSession> {
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    extra: { session: { intra_op: { allow_spinning: options.spinning ? "1" : "0" }, inter_op: { allow_spinning: "0" } } },
  };
  const { device } = options;
  if (device.kind === "cpu") {
    return { session: await ort.InferenceSession.create(options.modelPath, { ...base, executionProviders: ["cpu"] }), provider: "cpu" };
  }
  const cuda = { name: "cuda", deviceId: device.deviceId } as const;
  if (device.kind === "auto" && !cudaProviderInstalled()) {
    const session = await ort.InferenceSession.create(options.modelPath, { ...base, executionProviders: ["cpu"] });
    return { session, provider: "cpu", fallbackReason: `ONNX Runtime's CUDA provider is not installed beside ${onnxRuntimeLibraryDir()} (npm run cuda:install)` };
  }
  if (device.kind === "cuda" && !cudaProviderInstalled()) {
    throw new BackendError(
      `--device ${deviceName(device)}: ONNX Runtime's CUDA provider is not installed beside ${onnxRuntimeLibraryDir()}. ` +
        "Run `npm run cuda:install` (see docs/gpu.md) and put the CUDA 13 libraries on LD_LIBRARY_PATH, or use --device cpu.",
    );
  }
  try {
    // Listing only CUDA makes creation fail loudly instead of silently running nodes on the CPU.
    const session = await ort.InferenceSession.create(options.modelPath, { ...base, executionProviders: [cuda] });
    return { session, provider: `cuda:${device.deviceId}` };
  } catch (error) {
    if (device.kind === "auto") {
      const session = await ort.InferenceSession.create(options.modelPath, { ...base, executionProviders: ["cpu"] });
      const missing = missingCudaLibraries();
      const reason = `${(error as Error).message}${missing.length > 0 ? `; CUDA libraries not found: ${missing.join(", ")}` : ""}`;
      return { session, provider: "cpu", fallbackReason: reason };
    }
    const missing = missingCudaLibraries();
    const hint =
      missing.length > 0
        ? ` The provider is installed, but these CUDA libraries are not found: ${missing.join(", ")}. Install CUDA 13 (cudart, cuBLAS, cuBLASLt, cuRAND; cuDNN 9) and the NVIDIA driver, and put their lib directories on LD_LIBRARY_PATH (docs/gpu.md).`
        : "";
    throw new BackendError(`--device ${deviceName(device)}: could not start ONNX Runtime's CUDA provider.${hint} ONNX Runtime said: ${(error as Error).message}`);
  }
}

function deviceName(device: Device): string {
  return device.kind === "cpu" ? "cpu" : `${device.kind}:${device.deviceId}`;
}

export { ort };

let halfTable: Float32Array | undefined;

/** The value of every float16 bit pattern, built once (65,536 entries). */
function float16Table(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * fraction * 2 ** -24;
    else if (exponent === 31) table[bits] = fraction ? NaN : sign * Infinity;
    else table[bits] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  halfTable = table;
  return table;
}

/** A float32 or float16 output as float32 (fp16 exports may keep float16 outputs). */
export function asFloat32(tensor: ort.Tensor): Float32Array {
  if (tensor.type === "float32") return tensor.data as Float32Array;
  if (tensor.type === "float16") {
    const bits = tensor.data as Uint16Array;
    const table = float16Table();
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
    return out;
  }
  throw new BackendError(`model output of type ${tensor.type}; bertd reads float32 or float16 outputs`);
}
