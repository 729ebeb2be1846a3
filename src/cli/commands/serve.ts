import { startBertd } from "../../app.js";
import { ConfigError, helpText, loadConfig } from "../../config.js";

/** `bertd serve [options]`: the server. Its options are src/config.ts's OPTIONS. */
export async function serve(argv: readonly string[]): Promise<void> {
  const args = argv[0] === "serve" ? argv.slice(1) : [...argv];
  if (args.includes("--help") || args.includes("-h")) {
    console.log(helpText());
    return;
  }
  try {
    const app = await startBertd(loadConfig(args));
    app.stopOnSignals();
  } catch (error) {
    console.error(`bertd: ${(error as Error).message}`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  }
}
