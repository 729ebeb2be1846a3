import { type Command, UsageError, connect } from "../command.js";

export const tokenize: Command = {
  name: "tokenize",
  brief: "the tokens and ids the server makes of TEXTs",
  summary: "The server's tokens and ids for each TEXT (with [CLS]/[SEP] unless --no-special-tokens).",
  usage: "bertd tokenize [options] TEXT…",
  client: true,
  options: {
    "no-special-tokens": { type: "boolean", help: "leave out [CLS] and [SEP]" },
    json: { type: "boolean", help: 'one JSON line per text: {"text", "tokens", "ids", "offsets"}' },
  },
  examples: ['bertd tokenize "Hello, wórld!"', 'bertd tokenize --json --no-special-tokens "unaffable"'],
  async run({ values, positionals }) {
    if (positionals.length === 0) throw new UsageError("nothing to tokenize: give TEXT arguments (see bertd tokenize --help)");
    const clients = connect(values);
    try {
      const response = await clients.encoder().unary("tokenize")({ inputs: positionals, addSpecialTokens: values["no-special-tokens"] !== true });
      response.encodings.forEach((encoding, i) => {
        if (values.json) {
          const offsets = encoding.offsetStarts.map((start, t) => [start, encoding.offsetEnds[t]]);
          process.stdout.write(`${JSON.stringify({ text: positionals[i], tokens: encoding.tokens, ids: encoding.ids, offsets })}\n`);
        } else {
          process.stdout.write(`${encoding.tokens.join(" ")}\n${encoding.ids.join(" ")}\n(${encoding.ids.length} tokens)\n`);
        }
      });
      return 0;
    } finally {
      clients.close();
    }
  },
};
