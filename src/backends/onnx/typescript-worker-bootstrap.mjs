// Worker threads do not inherit the main thread's tsx loader on Node 20: when bertd runs from its
// TypeScript sources, each worker registers tsx itself, then loads the real worker module.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
