import { parseArgs } from "node:util";
import { CONNECTION_OPTIONS, clientOptions, connectionSettings } from "../client/connection.js";
import { ServiceClient } from "../client/grpc-client.js";
import { Encoder } from "../gen/bertd/v1/encoder_pb.js";
import { Heads } from "../gen/bertd/v1/heads_pb.js";

export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly help: string;
  readonly multiple?: boolean;
  readonly short?: string;
  /** Shown in --help as the value's name: `--file F`. */
  readonly value?: string;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  readonly values: Values;
  readonly positionals: string[];
}

/** One `bertd` subcommand: its options, help and what it does (resolves with the exit code). */
export interface Command {
  readonly name: string;
  /** One line for `bertd --help`. */
  readonly brief: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: Record<string, OptionSpec>;
  readonly examples: readonly string[];
  /** Takes --address, --api-key and the TLS options. */
  readonly client: boolean;
  run(parsed: Parsed): Promise<number>;
}

/** Wrong flags or arguments: exit 2 with the message. */
export class UsageError extends Error {}

const CLIENT_OPTIONS: Record<string, OptionSpec> = Object.fromEntries(
  CONNECTION_OPTIONS.map((o) => [o.flag, { type: "string", help: `${o.help} [${o.env}]`, value: o.flag === "address" ? "HOST:PORT" : o.flag === "api-key" ? "KEY" : "FILE" }]),
);

export function parseCommand(command: Command, argv: readonly string[]): Parsed | "help" {
  const options = { ...command.options, ...(command.client ? CLIENT_OPTIONS : {}), help: { type: "boolean", short: "h", help: "" } } as Record<string, OptionSpec>;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries(options).map(([name, o]) => [name, { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]),
      ),
      allowPositionals: true,
      strict: true,
    });
    if (values.help) return "help";
    return { values: values as Values, positionals };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const option = /'(-[^' ]+)/.exec((error as Error).message)?.[1];
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown option ${option} (see bertd ${command.name} --help)`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new UsageError(`${option} ${(error as Error).message.includes("argument missing") ? "needs a value" : "takes no value"} (see bertd ${command.name} --help)`);
    throw new UsageError(`${(error as Error).message} (see bertd ${command.name} --help)`);
  }
}

export function commandHelp(command: Command): string {
  const lines = [`Usage: ${command.usage}`, "", command.summary, "", "Options:"];
  const describe = (name: string, o: OptionSpec): string => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
    return `  ${flag.padEnd(34)} ${o.help}`;
  };
  for (const [name, o] of Object.entries(command.options)) lines.push(describe(name, o));
  if (command.client) {
    lines.push("", "Connection (flags win over the environment):");
    for (const [name, o] of Object.entries(CLIENT_OPTIONS)) lines.push(describe(name, o));
  }
  lines.push(`  ${"-h, --help".padEnd(34)} this help`, "", "Examples:", ...command.examples.map((e) => `  ${e}`));
  return lines.join("\n");
}

export function stringOption(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** A number option: undefined when absent; UsageError naming the flag when malformed or out of range. */
export function numberOption(values: Values, name: string, { integer = false, min = -Infinity, max = Infinity } = {}): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    const range = `${min > -Infinity ? ` ≥ ${min}` : ""}${max < Infinity ? ` ≤ ${max}` : ""}`;
    throw new UsageError(`--${name} ${text}: expected ${integer ? "an integer" : "a number"}${range}`);
  }
  return value;
}

export function choiceOption<C extends string>(values: Values, name: string, choices: readonly C[]): C | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`--${name} ${text}: expected one of ${choices.join(", ")}`);
  return text as C;
}

export interface Clients {
  readonly address: string;
  encoder(): ServiceClient<typeof Encoder>;
  heads(): ServiceClient<typeof Heads>;
  close(): void;
}

/** Clients for the address, TLS and API key of the parsed flags (or BERTD_* variables). */
export function connect(values: Values, env: NodeJS.ProcessEnv = process.env): Clients {
  const settings = connectionSettings(values, env);
  const options = clientOptions(settings);
  const open: ServiceClient<typeof Encoder | typeof Heads>[] = [];
  const track = <C extends ServiceClient<typeof Encoder | typeof Heads>>(client: C): C => (open.push(client), client);
  return {
    address: settings.address,
    encoder: () => track(new ServiceClient(Encoder, settings.address, options)),
    heads: () => track(new ServiceClient(Heads, settings.address, options)),
    close: () => open.forEach((client) => client.close()),
  };
}
