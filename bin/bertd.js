#!/usr/bin/env node
// The `bertd` command: registers tsx (bertd runs from its TypeScript sources), then runs the CLI.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
