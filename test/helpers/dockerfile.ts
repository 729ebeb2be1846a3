import { readFileSync } from "node:fs";
import { DockerfileParser, type Instruction } from "dockerfile-ast";

/** One stage of a multi-stage Dockerfile, with what a test needs to read or replay of it. */
export interface Stage {
  readonly name?: string;
  /** The FROM image with build arguments' defaults substituted. */
  readonly image: string;
  readonly instructions: readonly { keyword: string; text: string; instruction: Instruction }[];
}

export interface Copy {
  readonly from?: string;
  readonly sources: string[];
  readonly dest: string;
}

export class ParsedDockerfile {
  readonly stages: Stage[] = [];

  constructor(readonly path: string) {
    const dockerfile = DockerfileParser.parse(readFileSync(path, "utf8"));
    const args = new Map<string, string>();
    for (const arg of dockerfile.getInitialARGs()) {
      for (const property of arg.getProperties()) args.set(property.getName(), property.getUnescapedValue() ?? "");
    }
    let current: { name?: string; image: string; instructions: Stage["instructions"][number][] } | undefined;
    for (const instruction of dockerfile.getInstructions()) {
      const keyword = instruction.getKeyword();
      // Flags (--from=, --interval=) included, unlike getArgumentsContent().
      const text = instruction.toString().slice(instruction.getInstruction().length).trim();
      if (keyword === "FROM") {
        const [image, as, name] = text.trim().split(/\s+/);
        current = { image: image.replace(/\$\{(\w+)\}/g, (_, arg: string) => args.get(arg) ?? ""), name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] };
        this.stages.push(current);
      } else if (current) {
        current.instructions.push({ keyword, text, instruction });
      }
    }
  }

  get runtime(): Stage {
    return this.stages.at(-1)!;
  }

  all(stage: Stage, keyword: string): string[] {
    return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.text);
  }

  /** The last instruction's exec-form JSON array (CMD, ENTRYPOINT) or HEALTHCHECK's CMD array. */
  execForm(stage: Stage, keyword: "CMD" | "ENTRYPOINT" | "HEALTHCHECK"): string[] | undefined {
    const text = this.all(stage, keyword).at(-1);
    if (text === undefined) return undefined;
    const json = keyword === "HEALTHCHECK" ? /\bCMD\s+(\[[\s\S]*\])\s*$/.exec(text)?.[1] : text.trim();
    if (!json?.startsWith("[")) throw new Error(`${this.path}: ${keyword} is not in exec form: ${text}`);
    return JSON.parse(json) as string[];
  }

  env(stage: Stage): Record<string, string> {
    const env: Record<string, string> = {};
    for (const { keyword, instruction } of stage.instructions) {
      if (keyword !== "ENV") continue;
      for (const property of (instruction as unknown as { getProperties(): { getName(): string; getUnescapedValue(): string | null }[] }).getProperties()) {
        env[property.getName()] = property.getUnescapedValue() ?? "";
      }
    }
    return env;
  }

  copies(stage: Stage): Copy[] {
    return this.all(stage, "COPY").map((text) => {
      const words = text.trim().split(/\s+/);
      const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
      const paths = words.filter((w) => !w.startsWith("--"));
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
    });
  }

  workdir(stage: Stage): string {
    return this.all(stage, "WORKDIR").at(-1)?.trim() ?? "/";
  }

  stage(name: string): Stage {
    const found = this.stages.find((s) => s.name === name);
    if (!found) throw new Error(`${this.path}: no stage ${name}`);
    return found;
  }
}
