/**
 * Reading a tokenizer's spec from a model directory: tokenizer.json when present (each stage's
 * folder reads its part: normalizer, pre_tokenizer, model, post_processor, decoder; added_tokens
 * here), else vocab.txt plus tokenizer_config.json, converted the way transformers' BertConverter
 * does. A component bertd does not implement is a load error naming it.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { BERT_DECODER, decoderSpecFromJson, type DecoderSpec } from "./decoders/index.js";
import { TokenizerLoadError } from "./errors.js";
import { bool, isObject, readJsonFile, type Json } from "./json.js";
import { modelSpecFromJson, type ModelSpec } from "./models/index.js";
import { normalizerSpecFromJson, type NormalizerSpec } from "./normalizers/index.js";
import { bertTemplate, templateSpecFromJson, type TemplateSpec } from "./post-processors/template.js";
import { preTokenizerSpecFromJson, type PreTokenizerSpec } from "./pre-tokenizers/index.js";
import { readSentencePieceModel, xlmRobertaTokenizerJson } from "./sentencepiece.js";
import { DEFAULT_CONFIG, type AddedTokenSpec, type TokenizerConfig } from "./types.js";
import type { SpecialTokenNames } from "./vocabulary.js";

export { TokenizerLoadError } from "./errors.js";

/** SentencePiece model files read when a directory has no tokenizer.json (XLM-R's, then T5/ALBERT's name). */
export const SENTENCEPIECE_FILES = ["sentencepiece.bpe.model", "spiece.model"];

/** Everything a tokenizer is built from: each pipeline stage's settings, as plain data. */
export interface TokenizerSpec {
  normalizer: NormalizerSpec | null;
  preTokenizer: PreTokenizerSpec;
  model: ModelSpec;
  postProcessor: TemplateSpec;
  decoder: DecoderSpec;
  addedTokens: AddedTokenSpec[];
  /** By role, from tokenizer_config.json (the model's own unk_token wins). */
  specialTokens: SpecialTokenNames;
  /** tokenizer_config.json model_max_length (informational: truncation is the caller's job). */
  modelMaxLength: number;
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
  const names = configTokens(isObject(tokenizerConfig) ? tokenizerConfig : {});
  const model = modelSpecFromJson(tokenizerJson.model, names.unkToken, source);
  const normalizer = normalizerSpecFromJson(tokenizerJson.normalizer, source);
  const preTokenizer = preTokenizerSpecFromJson(tokenizerJson.pre_tokenizer, source);
  const postProcessor = templateSpecFromJson(tokenizerJson.post_processor, source);
  const rawAdded = tokenizerJson.added_tokens ?? [];
  if (!Array.isArray(rawAdded)) throw new TokenizerLoadError(`${source}: added_tokens must be an array`);
  const addedTokens = rawAdded.map((raw) => addedToken(raw, source));
  if (normalizer === null) for (const token of addedTokens) token.normalized = false;
  const decoder = decoderSpecFromJson(tokenizerJson.decoder, source);
  return {
    normalizer,
    preTokenizer,
    model,
    postProcessor,
    decoder,
    addedTokens,
    specialTokens: specialNames(model, addedTokens, postProcessor, names),
    modelMaxLength: names.modelMaxLength,
  };
}

/**
 * The special tokens by role: tokenizer_config.json's names when the vocabulary has them, else
 * SentencePiece's (<s>, </s>, <pad>, <unk>, <mask>), else the single template's first and last tokens.
 */
function specialNames(model: ModelSpec, added: readonly AddedTokenSpec[], template: TemplateSpec, names: ReturnType<typeof configTokens>): SpecialTokenNames {
  const has = (token: string): boolean => model.vocab.has(token) || added.some((t) => t.content === token);
  const pick = (...candidates: (string | undefined)[]): string => candidates.find((c): c is string => c !== undefined && c !== "" && has(c)) ?? candidates[0] ?? "";
  const specials = template.single.flatMap((piece) => (piece.kind === "special" ? piece.tokens : []));
  return {
    unk: pick(model.unkToken, names.unkToken, "<unk>"),
    cls: pick(names.clsToken, "<s>", specials[0]),
    sep: pick(names.sepToken, "</s>", specials[specials.length - 1]),
    pad: pick(names.padToken, "<pad>", names.unkToken, "<unk>"),
    mask: pick(names.maskToken, "<mask>", names.unkToken, "<unk>"),
  };
}

/**
 * The spec for a plain vocabulary (vocab.txt lines: id = line index; a repeated token keeps its
 * last index, as transformers' load_vocab does). Like BertConverter: the five special tokens are
 * added tokens (special, not normalized), the template is [CLS] $A [SEP] (pair: [CLS] $A [SEP]
 * $B:1 [SEP]:1) and the decoder WordPiece.
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
  return {
    normalizer: {
      type: "BertNormalizer",
      cleanText: full.cleanText,
      handleChineseChars: full.handleChineseChars,
      lowercase: full.lowercase,
      stripAccents: full.stripAccents,
    },
    preTokenizer: { type: "BertPreTokenizer" },
    model: {
      type: "WordPiece",
      vocab,
      unkToken: full.unkToken,
      continuingSubwordPrefix: full.continuingSubwordPrefix,
      maxInputCharsPerWord: full.maxInputCharsPerWord,
    },
    postProcessor: bertTemplate(full.clsToken, full.sepToken, "vocab.txt"),
    decoder: BERT_DECODER,
    addedTokens,
    specialTokens: { unk: full.unkToken, cls: full.clsToken, sep: full.sepToken, pad: full.padToken, mask: full.maskToken },
    modelMaxLength: full.modelMaxLength,
  };
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
  const spmPath = SENTENCEPIECE_FILES.map((name) => join(root, name)).find((path) => existsSync(path));
  if (spmPath) {
    // No tokenizer.json: convert the SentencePiece model as transformers' XLMRobertaConverter does.
    const converted = xlmRobertaTokenizerJson(readSentencePieceModel(spmPath));
    return specFromTokenizerJson(converted.tokenizerJson, { ...converted.tokenizerConfig, ...tokenizerConfig }, spmPath);
  }
  if (!existsSync(vocabPath)) {
    throw new TokenizerLoadError(`no tokenizer in ${root}: none of tokenizer.json, ${SENTENCEPIECE_FILES.join(", ")} or vocab.txt exists`);
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
