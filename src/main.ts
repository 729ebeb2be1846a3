import { startBertd } from "./app.js";
import { ConfigError, helpText, loadConfig } from "./config.js";

const argv = process.argv.slice(2);
if (argv[0] === "serve") argv.shift();
if (argv.includes("--help") || argv.includes("-h")) {
  console.log(helpText());
  process.exit(0);
}
try {
  const config = loadConfig(argv);
  const app = await startBertd(config);
  app.stopOnSignals();
} catch (error) {
  const message = error instanceof ConfigError ? error.message : (error as Error).message;
  console.error(`bertd: ${message}`);
  process.exit(error instanceof ConfigError ? 2 : 1);
}
