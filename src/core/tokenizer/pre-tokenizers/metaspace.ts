/** Metaspace (tokenizers/src/pre_tokenizers/metaspace.rs): ' ' → ▁, a ▁ prepended, split before each ▁. */
import { TokenizerLoadError } from "../errors.js";
import { bool, type Json } from "../json.js";
import { transformText, type CharChange, type NormalizedText } from "../normalized-text.js";

export type PrependScheme = "always" | "first" | "never";

export interface MetaspaceSpec {
  readonly type: "Metaspace";
  readonly replacement: string;
  readonly prependScheme: PrependScheme;
  readonly split: boolean;
}

export function metaspaceSpec(json: Json, source: string): MetaspaceSpec {
  const replacement = json.replacement ?? "▁";
  if (typeof replacement !== "string" || [...replacement].length !== 1) throw new TokenizerLoadError(`${source}: Metaspace.replacement must be one character`);
  let prependScheme: PrependScheme;
  if (json.prepend_scheme === undefined || json.prepend_scheme === null) {
    // Files before prepend_scheme: add_prefix_space true (the default) means always.
    prependScheme = bool(json.add_prefix_space, true, "Metaspace.add_prefix_space", source) ? "always" : "never";
  } else if (json.prepend_scheme === "always" || json.prepend_scheme === "first" || json.prepend_scheme === "never") {
    prependScheme = json.prepend_scheme;
  } else throw new TokenizerLoadError(`${source}: Metaspace.prepend_scheme ${JSON.stringify(json.prepend_scheme)} is not always, first or never`);
  return { type: "Metaspace", replacement, prependScheme, split: bool(json.split, true, "Metaspace.split", source) };
}

export class Metaspace {
  readonly type = "Metaspace";
  /** "first" depends on where the text sat in the original, which only the aligned path knows. */
  readonly words: ((text: string, bounds: number[]) => string) | undefined;

  constructor(private readonly spec: MetaspaceSpec) {
    this.words = spec.prependScheme === "first" ? undefined : (text, bounds) => this.keys(text, bounds);
  }

  /** The words' keys: the text cut before each space or replacement char (the split), each key's word is wordOf(key). */
  private keys(s: string, bounds: number[]): string {
    if (s.length === 0) return s;
    if (!this.spec.split) {
      bounds.push(0, s.length);
      return s;
    }
    const replacement = this.spec.replacement.charCodeAt(0);
    const single = this.spec.replacement.length === 1;
    let start = 0;
    for (let i = 1; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || (c === replacement && (single || s.startsWith(this.spec.replacement, i)))) {
        bounds.push(start, i);
        start = i;
      }
    }
    bounds.push(start, s.length);
    return s;
  }

  /** A key's word: spaces replaced, the replacement prepended as the scheme says. */
  readonly wordOf = (key: string): string => {
    const { replacement } = this.spec;
    const word = key.includes(" ") ? key.replaceAll(" ", replacement) : key;
    return this.spec.prependScheme === "always" && !word.startsWith(replacement) ? replacement + word : word;
  };

  preTokenize(input: NormalizedText): NormalizedText[] {
    const { replacement, prependScheme } = this.spec;
    let text = input;
    if (text.text.includes(" ")) {
      if (replacement.length === 1) text = text.withText(text.text.replaceAll(" ", replacement));
      else {
        const dest: CharChange[] = [];
        for (const c of text.text) dest.push([c === " " ? replacement : c, 0]);
        text = transformText(text, dest, 0);
      }
    }
    if (text.text.length > 0 && !text.text.startsWith(replacement) && (prependScheme === "always" || (prependScheme === "first" && text.start(0) === 0))) {
      text = text.prepended(replacement);
    }
    if (!this.spec.split) return text.text.length > 0 ? [text] : [];
    const words: NormalizedText[] = [];
    let start = 0;
    const s = text.text;
    for (let i = s.indexOf(replacement, 1); i >= 0; i = s.indexOf(replacement, i + 1)) {
      if (i > start) words.push(text.slice(start, i));
      start = i;
    }
    if (s.length > start) words.push(text.slice(start, s.length));
    return words;
  }
}
