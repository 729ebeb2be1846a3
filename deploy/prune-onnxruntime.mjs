// Image builds: removes onnxruntime-node's binaries for other platforms and architectures (~220 MB).
import { readdirSync, rmSync } from "node:fs";

const root = "node_modules/onnxruntime-node/bin/napi-v6";
for (const platform of readdirSync(root)) {
  for (const arch of readdirSync(`${root}/${platform}`)) {
    if (platform !== process.platform || arch !== process.arch) rmSync(`${root}/${platform}/${arch}`, { recursive: true });
  }
}
