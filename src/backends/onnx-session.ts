import { existsSync } from "node:fs";
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
}

export class BackendError extends Error {}

export const ONNXRUNTIME_VERSION: string = ort.env.versions.node ?? "unknown";

/** Where onnxruntime-node keeps libonnxruntime.so; the CUDA provider libraries must sit beside it. */
export function onnxRuntimeLibraryDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve("onnxruntime-node/package.json"));
  return join(pkg, "bin", "napi-v6", process.platform, process.arch);
}

export function cudaProviderInstalled(): boolean {
  return existsSync(join(onnxRuntimeLibraryDir(), "libonnxruntime_providers_cuda.so"));
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
  if (device.kind === "cuda" && !cudaProviderInstalled()) {
    throw new BackendError(
      `--device ${deviceName(device)}: ONNX Runtime's CUDA provider is not installed beside ${onnxRuntimeLibraryDir()}. ` +
        "Run `npm run cuda:install` (see README, GPU section) and put the CUDA 13 libraries on LD_LIBRARY_PATH, or use --device cpu.",
    );
  }
  try {
    // Listing only CUDA makes creation fail loudly instead of silently running nodes on the CPU.
    const session = await ort.InferenceSession.create(options.modelPath, { ...base, executionProviders: [cuda] });
    return { session, provider: `cuda:${device.deviceId}` };
  } catch (error) {
    if (device.kind === "auto") {
      return { session: await ort.InferenceSession.create(options.modelPath, { ...base, executionProviders: ["cpu"] }), provider: "cpu" };
    }
    throw new BackendError(`--device ${deviceName(device)}: could not start ONNX Runtime's CUDA provider: ${(error as Error).message}`);
  }
}

function deviceName(device: Device): string {
  return device.kind === "cpu" ? "cpu" : `${device.kind}:${device.deviceId}`;
}

export { ort };
