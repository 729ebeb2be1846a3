/**
 * Reading a BERT tokenizer from a model directory: tokenizer.json when present (normalizer,
 * pre_tokenizer, model, post_processor and added_tokens are taken from it), else vocab.txt plus
 * tokenizer_config.json, converted the way transformers' BertConverter does.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { DEFAULT_CONFIG, type AddedTokenSpec, type TokenizerConfig } from "./types.js";

/** Everything BertTokenizer is built from. */
export interface TokenizerSpec {
  /** The WordPiece vocabulary, token → id (added tokens not yet merged in). */
  vocab: Map<string, number>;
  config: TokenizerConfig;
  addedTokens: AddedTokenSpec[];
  /** Tokens the post-processor puts around a sequence, by content; null when there is no post-processor. */
  template: { prefix: string[]; suffix: string[] } | null;
}

export class TokenizerLoadError extends Error {
  override name = "TokenizerLoadError";
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new TokenizerLoadError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new TokenizerLoadError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function bool(value: unknown, fallback: boolean, what: string, source: string): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") throw new TokenizerLoadError(`${source}: ${what} must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

/** A special token in tokenizer_config.json: "[CLS]" or an AddedToken object {"content": "[CLS]", …}. */
function tokenName(value: unknown, fallback: string): string {
  if (typeof value === "string") return value;
  if (isObject(value) && typeof value.content === "string") return value.content;
  return fallback;
}

function configTokens(tokenizerConfig: Json): Pick<TokenizerConfig, "unkToken" | "clsToken" | "sepToken" | "padToken" | "maskToken" | "modelMaxLength"> {
  const max = tokenizerConfig.model_max_length;
  return {
    unkToken: tokenName(tokenizerConfig.unk_token, DEFAULT_CONFIG.unkToken),
    clsToken: tokenName(tokenizerConfig.cls_token, DEFAULT_CONFIG.clsToken),
    sepToken: tokenName(tokenizerConfig.sep_token, DEFAULT_CONFIG.sepToken),
    padToken: tokenName(tokenizerConfig.pad_token, DEFAULT_CONFIG.padToken),
    maskToken: tokenName(tokenizerConfig.mask_token, DEFAULT_CONFIG.maskToken),
    modelMaxLength: typeof max === "number" && max > 0 ? max : DEFAULT_CONFIG.modelMaxLength,
  };
}

function addedToken(raw: unknown, source: string): AddedTokenSpec {
  if (!isObject(raw) || typeof raw.content !== "string" || typeof raw.id !== "number" || !Number.isInteger(raw.id) || raw.id < 0) {
    throw new TokenizerLoadError(`${source}: malformed added token ${JSON.stringify(raw)}`);
  }
  const special = raw.special === true;
  return {
    content: raw.content,
    id: raw.id,
    special,
    normalized: typeof raw.normalized === "boolean" ? raw.normalized : !special,
    lstrip: raw.lstrip === true,
    rstrip: raw.rstrip === true,
    singleWord: raw.single_word === true,
  };
}

/** Builds the spec from a parsed tokenizer.json (and, optionally, tokenizer_config.json). */
export function specFromTokenizerJson(tokenizerJson: unknown, tokenizerConfig: unknown = {}, source = "tokenizer.json"): TokenizerSpec {
  if (!isObject(tokenizerJson)) throw new TokenizerLoadError(`${source}: expected a JSON object`);
  const tc = isObject(tokenizerConfig) ? tokenizerConfig : {};
  const model = tokenizerJson.model;
  if (!isObject(model)) throw new TokenizerLoadError(`${source}: no "model" object`);
  if (model.type !== undefined && model.type !== "WordPiece") {
    throw new TokenizerLoadError(`${source}: model type ${JSON.stringify(model.type)} is not supported (only WordPiece)`);
  }
  if (!isObject(model.vocab)) throw new TokenizerLoadError(`${source}: model.vocab must be an object of token → id`);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(model.vocab)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) throw new TokenizerLoadError(`${source}: bad id for token ${JSON.stringify(token)}`);
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw new TokenizerLoadError(`${source}: model.vocab is empty`);

  const normalizer = tokenizerJson.normalizer;
  let flags: Pick<TokenizerConfig, "lowercase" | "stripAccents" | "handleChineseChars" | "cleanText">;
  if (normalizer === null || normalizer === undefined) {
    flags = { lowercase: false, stripAccents: false, handleChineseChars: false, cleanText: false };
  } else if (isObject(normalizer) && normalizer.type === "BertNormalizer") {
    const lowercase = bool(normalizer.lowercase, true, "normalizer.lowercase", source);
    flags = {
      lowercase,
      stripAccents: bool(normalizer.strip_accents, lowercase, "normalizer.strip_accents", source),
      handleChineseChars: bool(normalizer.handle_chinese_chars, true, "normalizer.handle_chinese_chars", source),
      cleanText: bool(normalizer.clean_text, true, "normalizer.clean_text", source),
    };
  } else {
    const type = isObject(normalizer) ? normalizer.type : normalizer;
    throw new TokenizerLoadError(`${source}: normalizer ${JSON.stringify(type)} is not supported (only BertNormalizer or none)`);
  }

  const preTokenizer = tokenizerJson.pre_tokenizer;
  if (!isObject(preTokenizer) || preTokenizer.type !== "BertPreTokenizer") {
    const type = isObject(preTokenizer) ? preTokenizer.type : preTokenizer;
    throw new TokenizerLoadError(`${source}: pre_tokenizer ${JSON.stringify(type)} is not supported (only BertPreTokenizer)`);
  }

  const template = templateOf(tokenizerJson.post_processor, source);
  const rawAdded = tokenizerJson.added_tokens ?? [];
  if (!Array.isArray(rawAdded)) throw new TokenizerLoadError(`${source}: added_tokens must be an array`);
  const addedTokens = rawAdded.map((raw) => addedToken(raw, source));
  if (normalizer === null || normalizer === undefined) for (const token of addedTokens) token.normalized = false;

  const maxChars = model.max_input_chars_per_word;
  const prefix = model.continuing_subword_prefix;
  const config: TokenizerConfig = {
    ...DEFAULT_CONFIG,
    ...configTokens(tc),
    ...flags,
    maxInputCharsPerWord: typeof maxChars === "number" && maxChars >= 0 ? maxChars : DEFAULT_CONFIG.maxInputCharsPerWord,
    continuingSubwordPrefix: typeof prefix === "string" ? prefix : DEFAULT_CONFIG.continuingSubwordPrefix,
  };
  if (typeof model.unk_token === "string") config.unkToken = model.unk_token;
  return { vocab, config, addedTokens, template };
}

function templateOf(postProcessor: unknown, source: string): TokenizerSpec["template"] {
  if (postProcessor === null || postProcessor === undefined) return null;
  if (!isObject(postProcessor)) throw new TokenizerLoadError(`${source}: post_processor must be an object`);
  if (postProcessor.type === "TemplateProcessing") {
    const single = postProcessor.single;
    if (!Array.isArray(single)) throw new TokenizerLoadError(`${source}: post_processor.single must be an array`);
    const prefix: string[] = [];
    const suffix: string[] = [];
    let seenSequence = false;
    for (const item of single as unknown[]) {
      if (isObject(item) && isObject(item.SpecialToken) && typeof item.SpecialToken.id === "string") {
        (seenSequence ? suffix : prefix).push(item.SpecialToken.id);
      } else if (isObject(item) && isObject(item.Sequence) && item.Sequence.id === "A" && !seenSequence) {
        seenSequence = true;
      } else {
        throw new TokenizerLoadError(`${source}: unsupported post_processor.single item ${JSON.stringify(item)}`);
      }
    }
    if (!seenSequence) throw new TokenizerLoadError(`${source}: post_processor.single has no sequence A`);
    return { prefix, suffix };
  }
  if (postProcessor.type === "BertProcessing") {
    const cls = postProcessor.cls;
    const sep = postProcessor.sep;
    if (!Array.isArray(cls) || typeof cls[0] !== "string" || !Array.isArray(sep) || typeof sep[0] !== "string") {
      throw new TokenizerLoadError(`${source}: BertProcessing needs cls and sep as [token, id]`);
    }
    return { prefix: [cls[0]], suffix: [sep[0]] };
  }
  throw new TokenizerLoadError(`${source}: post_processor ${JSON.stringify(postProcessor.type)} is not supported (TemplateProcessing, BertProcessing or none)`);
}

/**
 * The spec for a plain vocabulary (vocab.txt lines: id = line index; a repeated token keeps its
 * last index, as transformers' load_vocab does). Like BertConverter: the five special tokens are
 * added tokens (special, not normalized) and the template is [CLS] $A [SEP].
 */
export function specFromVocabList(tokens: readonly string[], config: Partial<TokenizerConfig> = {}, extraAdded: AddedTokenSpec[] = []): TokenizerSpec {
  const lowercase = config.lowercase ?? DEFAULT_CONFIG.lowercase;
  const full: TokenizerConfig = { ...DEFAULT_CONFIG, stripAccents: lowercase, ...config };
  const vocab = new Map<string, number>();
  tokens.forEach((token, id) => vocab.set(token, id));
  if (vocab.size === 0) throw new TokenizerLoadError("the vocabulary is empty");
  // added_tokens_decoder (newer tokenizer_config.json files) wins over the defaults for the same content.
  const addedTokens: AddedTokenSpec[] = [];
  const seen = new Set<string>();
  for (const token of extraAdded) {
    if (seen.has(token.content)) continue;
    seen.add(token.content);
    addedTokens.push(token);
  }
  for (const content of [full.unkToken, full.sepToken, full.padToken, full.clsToken, full.maskToken]) {
    const id = vocab.get(content);
    if (id === undefined || seen.has(content)) continue;
    seen.add(content);
    addedTokens.push({ content, id, special: true, normalized: false, lstrip: false, rstrip: false, singleWord: false });
  }
  return { vocab, config: full, addedTokens, template: { prefix: [full.clsToken], suffix: [full.sepToken] } };
}

/** tokenizer.json if present, else vocab.txt + tokenizer_config.json. */
export function specFromDirectory(dir: string): TokenizerSpec {
  const root = resolve(dir);
  let isDirectory = false;
  try {
    isDirectory = statSync(root).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) throw new TokenizerLoadError(`tokenizer directory ${root} does not exist or is not a directory`);
  const tokenizerJsonPath = join(root, "tokenizer.json");
  const configPath = join(root, "tokenizer_config.json");
  const vocabPath = join(root, "vocab.txt");
  const tokenizerConfig = existsSync(configPath) ? readJsonFile(configPath) : {};
  if (!isObject(tokenizerConfig)) throw new TokenizerLoadError(`${configPath}: expected a JSON object`);
  if (existsSync(tokenizerJsonPath)) return specFromTokenizerJson(readJsonFile(tokenizerJsonPath), tokenizerConfig, tokenizerJsonPath);
  if (!existsSync(vocabPath)) {
    throw new TokenizerLoadError(`no tokenizer in ${root}: neither ${tokenizerJsonPath} nor ${vocabPath} exists`);
  }
  let text: string;
  try {
    text = readFileSync(vocabPath, "utf8");
  } catch (error) {
    throw new TokenizerLoadError(`cannot read ${vocabPath}: ${(error as Error).message}`);
  }
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) throw new TokenizerLoadError(`${vocabPath} is empty`);
  const source = configPath;
  const lowercase = bool(tokenizerConfig.do_lower_case, true, "do_lower_case", source);
  const extraAdded: AddedTokenSpec[] = [];
  const decoder = tokenizerConfig.added_tokens_decoder;
  if (isObject(decoder)) {
    for (const [id, raw] of Object.entries(decoder)) extraAdded.push(addedToken({ ...(isObject(raw) ? raw : {}), id: Number(id) }, source));
  }
  const maxChars = tokenizerConfig.max_input_chars_per_word;
  return specFromVocabList(
    lines,
    {
      ...configTokens(tokenizerConfig),
      lowercase,
      stripAccents: bool(tokenizerConfig.strip_accents, lowercase, "strip_accents", source),
      handleChineseChars: bool(tokenizerConfig.tokenize_chinese_chars, true, "tokenize_chinese_chars", source),
      ...(typeof maxChars === "number" ? { maxInputCharsPerWord: maxChars } : {}),
    },
    extraAdded,
  );
}
