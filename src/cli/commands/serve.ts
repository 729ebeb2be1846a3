import { startBertd } from "../../app.js";
import { type Config, ConfigError, helpText, loadConfig } from "../../config.js";

/** `bertd serve [options]`: the server. Its options are src/config.ts's OPTIONS. */
export async function serve(argv: readonly string[]): Promise<void> {
  const args = argv[0] === "serve" ? argv.slice(1) : [...argv];
  if (args.includes("--help") || args.includes("-h")) {
    console.log(helpText());
    return;
  }
  let config: Config | undefined;
  try {
    config = loadConfig(args);
    const app = await startBertd(config);
    app.stopOnSignals();
  } catch (error) {
    console.error(`bertd: ${portInUse(error as Error, config) ?? (error as Error).message}`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  }
}

/** "--port 50051: 127.0.0.1:50051 is already in use (…)" for grpc-js's "No address added out of total 1 resolved errors: [listen EADDRINUSE: …]". */
function portInUse(error: Error, config: Config | undefined): string | undefined {
  const address = /EADDRINUSE: address already in use (\S+?)\]?$/.exec(error.message)?.[1];
  if (address === undefined || config === undefined) return undefined;
  const port = Number(address.slice(address.lastIndexOf(":") + 1));
  const flag = port === config.port ? "--port" : port === config.metricsPort ? "--metrics-port" : port === config.healthPort ? "--health-port" : undefined;
  return `${flag ? `${flag} ${port}: ` : ""}${address} is already in use (another bertd running? stop it${flag ? `, or give ${flag} another port` : ""})`;
}
