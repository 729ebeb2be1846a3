/** Where a session runs: the CPU, one CUDA device, or CUDA when it starts and the CPU otherwise. */
export type Device = { kind: "cpu" } | { kind: "cuda"; deviceId: number } | { kind: "auto"; deviceId: number };

/** The --device spelling of a device: cpu, cuda:N or auto:N. */
export function deviceName(device: Device): string {
  return device.kind === "cpu" ? "cpu" : `${device.kind}:${device.deviceId}`;
}
