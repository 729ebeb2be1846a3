import { Pooling } from "../../gen/bertd/v1/encoder_pb.js";
import { type Command, connect } from "../command.js";

export const info: Command = {
  name: "info",
  brief: "the served model and runtime",
  summary: "The served model: id, path, the file and precision served, sizes, tokenizer type, pooling, execution provider, ONNX Runtime version, hash, and the identity heads are bound to.",
  usage: "bertd info [options]",
  client: true,
  options: { json: { type: "boolean", help: "print the GetModelInfo response as JSON" } },
  examples: ["bertd info", "bertd info --address bertd.internal:50051 --tls-ca ca.pem --api-key $KEY"],
  async run({ values }) {
    const clients = connect(values);
    try {
      const m = await clients.encoder().unary("getModelInfo")({});
      const fields: Record<string, string | number | boolean | string[]> = {
        model: m.modelId,
        path: m.modelPath,
        model_file: m.modelFile,
        precision: m.precision,
        hidden_size: m.hiddenSize,
        max_sequence_length: m.maxSequenceLength,
        vocabulary_size: m.vocabularySize,
        tokenizer_type: m.tokenizerType,
        default_pooling: (Pooling[m.defaultPooling] ?? String(m.defaultPooling)).toLowerCase(),
        pooling_modes: m.poolingModes.map((mode) => mode.toLowerCase()),
        execution_provider: m.executionProvider,
        onnxruntime_version: m.onnxruntimeVersion,
        model_hash: m.modelHash,
        head_identity: m.headIdentity,
        address: clients.address,
      };
      if (values.json) process.stdout.write(`${JSON.stringify(fields)}\n`);
      else for (const [key, value] of Object.entries(fields)) process.stdout.write(`${`${key}:`.padEnd(21)}${Array.isArray(value) ? value.join(", ") : value}\n`);
      return 0;
    } finally {
      clients.close();
    }
  },
};
