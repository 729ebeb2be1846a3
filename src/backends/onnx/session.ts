import * as ort from "onnxruntime-node";
import { cudaProviderInstalled, missingCudaLibraries, onnxRuntimeLibraryDir } from "./cuda.js";
import { deviceName, type Device } from "./device.js";

export interface SessionOptions {
  readonly modelPath: string;
  /** The model's bytes, when they differ from the file's (a rewritten graph); else the file is read. */
  readonly modelBytes?: Uint8Array;
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
  const create = (sessionOptions: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> =>
    options.modelBytes ? ort.InferenceSession.create(options.modelBytes, sessionOptions) : ort.InferenceSession.create(options.modelPath, sessionOptions);
  if (device.kind === "cpu") {
    return { session: await create({ ...base, executionProviders: ["cpu"] }), provider: "cpu" };
  }
  const cuda = { name: "cuda", deviceId: device.deviceId } as const;
  if (device.kind === "auto" && !cudaProviderInstalled()) {
    const session = await create({ ...base, executionProviders: ["cpu"] });
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
    const session = await create({ ...base, executionProviders: [cuda] });
    return { session, provider: `cuda:${device.deviceId}` };
  } catch (error) {
    if (device.kind === "auto") {
      const session = await create({ ...base, executionProviders: ["cpu"] });
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

export { ort };
