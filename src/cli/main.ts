import { classify } from "./commands/classify.js";
import { embed } from "./commands/embed.js";
import { feedback } from "./commands/feedback.js";
import { heads } from "./commands/heads.js";
import { info } from "./commands/info.js";
import { rerank } from "./commands/rerank.js";
import { serve } from "./commands/serve.js";
import { tag } from "./commands/tag.js";
import { teach } from "./commands/teach.js";
import { quantize } from "./commands/quantize.js";
import { tokenize } from "./commands/tokenize.js";
import { type Command, commandHelp, parseCommand } from "./command.js";
import { connectionSettings } from "../client/connection.js";
import { describeFailure } from "./errors.js";

const COMMANDS: readonly Command[] = [embed, classify, rerank, tag, teach, feedback, heads, tokenize, info, quantize];

function overview(): string {
  return [
    "Usage: bertd COMMAND [options]",
    "",
    "Commands:",
    `  ${"serve".padEnd(10)} run the server (bertd serve --help lists its options)`,
    ...COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.brief}`),
    "",
    "Every client command takes --address (BERTD_ADDRESS, default localhost:50051), --api-key (BERTD_API_KEY),",
    "--tls-ca, --tls-client-cert, --tls-client-key (BERTD_TLS_CA, BERTD_TLS_CLIENT_CERT, BERTD_TLS_CLIENT_KEY).",
    "bertd COMMAND --help shows its options and examples.",
  ].join("\n");
}

/** `bertd …`: dispatches to a subcommand; prints one line `bertd: …` and exits non-zero on failure. */
export async function main(argv: readonly string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === "serve") return serve(rest);
  // `bertd embed … | head`: the reader left; stop quietly, as other command-line tools do, not with a stack trace.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(0);
  });
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const command = COMMANDS.find((c) => c.name === rest[0]);
    console.log(command ? commandHelp(command) : overview());
    return;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`bertd: unknown command "${name}"\n\n${overview()}`);
    process.exitCode = 2;
    return;
  }
  let address: string | undefined;
  let tls = false;
  try {
    const parsed = parseCommand(command, rest);
    if (parsed === "help") {
      console.log(commandHelp(command));
      return;
    }
    // The same resolution the command connects with, so that a failure names the address it used.
    try {
      const settings = connectionSettings(parsed.values);
      address = settings.address;
      tls = settings.tlsCa !== undefined;
    } catch {
      // Invalid connection flags: the command's own call reports them.
    }
    process.exitCode = await command.run(parsed);
  } catch (error) {
    const { line, code } = describeFailure(error, address, tls);
    console.error(`bertd: ${line}`);
    process.exitCode = code;
  }
}

await main(process.argv.slice(2));
