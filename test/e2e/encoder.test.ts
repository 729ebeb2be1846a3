import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { status, type ServiceError } from "@grpc/grpc-js";
import { BertTokenizer, truncateIds } from "../../src/core/tokenizer/index.js";
import { Encoding, Pooling, Truncation } from "../../src/gen/bertd/v1/encoder_pb.js";
import { ReferenceModel, finish, maxAbsDiff, referencePool } from "../helpers/reference.js";
import { RANDOM_MODEL_DIR, startServer, type ServerProcess } from "../helpers/server-process.js";
import { fileContainingSymbol, healthClient, listServices } from "../helpers/standard-clients.js";
import { rejectsWithStatus as rejects } from "../helpers/assertions.js";

const MODEL_DIR = RANDOM_MODEL_DIR;
const TEXTS = [
  "generic visualization tool (Gantt chart and more)",
  "ball-and-paddle game with nice graphics",
  "x",
  "",
  "Café naïve — 日本語のテキスト and emoji 🎉 mixed with PUNCTUATION!!!",
  "log changes on tables and restore tables to point in time ".repeat(6),
];
const LONG = "tokenization of a very long description ".repeat(200);

function floatsFromBytes(bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes); // a copy: grpc-js hands out views of pooled Buffers
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

describe("Encoder over gRPC on loopback", () => {
  let server: ServerProcess;
  let reference: ReferenceModel;
  const tokenizer = BertTokenizer.fromDirectory(MODEL_DIR);

  before(async () => {
    [server, reference] = await Promise.all([
      startServer(["--max-client-batch-size", "16", "--max-receive-message-bytes", "65536", "--max-batch-size", "4"]),
      ReferenceModel.open(`${MODEL_DIR}/model.onnx`),
    ]);
  });
  after(async () => {
    await reference?.close();
    if (server) assert.equal(await server.stop(), 0);
  });

  it("equals direct ONNX Runtime plus reference pooling for every mode, normalize, dimensions and encoding", async () => {
    const embed = server.encoder().unary("embed");
    const solo = await Promise.all(TEXTS.map((text) => reference.run(tokenizer.encode(text).ids)));
    const modes = [
      [Pooling.CLS, "cls"],
      [Pooling.MEAN, "mean"],
      [Pooling.MAX, "max"],
      [Pooling.POOLER, "pooler"],
      [Pooling.UNSPECIFIED, "mean"],
    ] as const;
    const calls = [];
    for (const [pooling, name] of modes) {
      for (const normalize of [false, true]) {
        for (const dimensions of [0, 16]) {
          for (const encoding of [Encoding.FLOAT, Encoding.BYTES]) {
            calls.push(
              embed({ inputs: TEXTS, pooling, normalize, dimensions, encoding }).then((response) => {
                assert.equal(response.embeddings.length, TEXTS.length);
                assert.equal(response.dimensions, dimensions || 128);
                response.embeddings.forEach((embedding, i) => {
                  const got = encoding === Encoding.BYTES ? floatsFromBytes(embedding.bytes) : embedding.values;
                  if (encoding === Encoding.BYTES) assert.equal(embedding.values.length, 0);
                  const want = finish(referencePool(solo[i].hidden, solo[i].pooler, name), dimensions, normalize);
                  const diff = maxAbsDiff(got, want);
                  assert.ok(diff <= 1e-5, `${name} normalize=${normalize} dims=${dimensions} input ${i}: max abs diff ${diff}`);
                });
              }),
            );
          }
        }
      }
    }
    // All at once, so inputs of different requests share batches (the batch cap is 4).
    await Promise.all(calls);
  });

  it("pools mean and CLS rows in the graph with --graph-pooling (the CUDA default), and answers as JavaScript pooling does", async () => {
    assert.equal(server.logs.find((line) => line.msg === "serving")?.pooledIn, "javascript", "the CPU default");
    const pooledInGraph = await startServer(["--graph-pooling"]);
    try {
      assert.equal(pooledInGraph.logs.find((line) => line.msg === "serving")?.pooledIn, "graph");
      for (const pooling of [Pooling.MEAN, Pooling.CLS]) {
        const [inJs, inGraph] = await Promise.all([server, pooledInGraph].map((s) => s.encoder().unary("embed")({ inputs: TEXTS, pooling })));
        inGraph.embeddings.forEach((embedding, i) => {
          const diff = maxAbsDiff(embedding.values, inJs.embeddings[i].values);
          assert.ok(diff <= 1e-5, `pooling ${pooling}, input ${i}: max abs diff ${diff}`);
        });
      }
    } finally {
      assert.equal(await pooledInGraph.stop(), 0);
    }
  });

  it("counts input tokens and names the model", async () => {
    const response = await server.encoder().unary("embed")({ inputs: TEXTS });
    const expected = TEXTS.reduce((sum, text) => sum + tokenizer.encode(text).ids.length, 0);
    assert.equal(response.usage?.inputTokens, expected);
    assert.equal(response.model, "random-tiny"); // the directory's name
  });

  it("truncates over-long inputs on the right, on the left, or rejects them", async () => {
    const embed = server.encoder().unary("embed");
    const ids = tokenizer.encode(LONG).ids;
    assert.ok(ids.length > 512);
    for (const [truncation, side] of [
      [Truncation.RIGHT, "right"],
      [Truncation.LEFT, "left"],
      [Truncation.UNSPECIFIED, "right"],
    ] as const) {
      const response = await embed({ inputs: ["short", LONG], truncation, pooling: Pooling.MEAN });
      const cut = truncateIds(ids, 512, side, true);
      assert.equal(cut.length, 512);
      const want = referencePool((await reference.run(cut)).hidden, undefined, "mean");
      assert.ok(maxAbsDiff(response.embeddings[1].values, want) <= 1e-5, side);
      assert.equal(response.usage?.inputTokens, 512 + 3);
    }
    await rejects(embed({ inputs: ["short", LONG], truncation: Truncation.NONE }), status.INVALID_ARGUMENT, new RegExp(`inputs\\[1\\] has ${ids.length} tokens.*512`));
  });

  it("answers bad input with INVALID_ARGUMENT or RESOURCE_EXHAUSTED naming the problem, and keeps serving", async () => {
    const embed = server.encoder().unary("embed");
    await rejects(embed({ inputs: [] }), status.INVALID_ARGUMENT, /inputs is empty/);
    await rejects(embed({ inputs: Array(17).fill("a") }), status.INVALID_ARGUMENT, /17 texts.*limit of 16.*--max-client-batch-size/);
    await rejects(embed({ inputs: ["a"], pooling: 99 as Pooling }), status.INVALID_ARGUMENT, /pooling: unknown value 99/);
    await rejects(embed({ inputs: ["a"], truncation: 7 as Truncation }), status.INVALID_ARGUMENT, /truncation: unknown value 7/);
    await rejects(embed({ inputs: ["a"], encoding: 5 as Encoding }), status.INVALID_ARGUMENT, /encoding: unknown value 5/);
    await rejects(embed({ inputs: ["a"], dimensions: 129 }), status.INVALID_ARGUMENT, /dimensions 129.*128/);
    await rejects(embed({ inputs: ["x".repeat(70_000)] }), status.RESOURCE_EXHAUSTED, /./);
    await rejects(server.encoder().unary("tokenize")({ inputs: [] }), status.INVALID_ARGUMENT, /inputs is empty/);
    const ok = await embed({ inputs: ["still serving"] });
    assert.equal(ok.embeddings.length, 1);
  });

  it("tokenizes with ids, tokens and offsets", async () => {
    const response = await server.encoder().unary("tokenize")({ inputs: ["Hello, wórld!", "unaffable"], addSpecialTokens: true });
    const [first, second] = response.encodings;
    assert.deepEqual(first.ids, Array.from(tokenizer.encode("Hello, wórld!").ids));
    assert.deepEqual(first.tokens, ["[CLS]", "hello", ",", "world", "!", "[SEP]"]);
    assert.deepEqual(first.offsetStarts.slice(1, 5), [0, 5, 7, 12]);
    assert.deepEqual(first.offsetEnds.slice(1, 5), [5, 6, 12, 13]);
    assert.equal(second.tokens[0], "[CLS]");
    const bare = await server.encoder().unary("tokenize")({ inputs: ["hello"], addSpecialTokens: false });
    assert.deepEqual(bare.encodings[0].tokens, ["hello"]);
  });

  it("describes the model", async () => {
    const info = await server.encoder().unary("getModelInfo")({});
    assert.equal(info.hiddenSize, 128);
    assert.equal(info.maxSequenceLength, 512);
    assert.equal(info.vocabularySize, 30522);
    assert.equal(info.tokenizerType, "WordPiece");
    assert.equal(info.defaultPooling, Pooling.MEAN);
    assert.equal(info.executionProvider, "cpu");
    assert.equal(info.onnxruntimeVersion, "1.29.0");
    assert.match(info.modelHash, /^[0-9a-f]{64}$/);
    assert.ok(info.hasPooler);
  });

  it("reports SERVING through grpc.health.v1 and lists services through reflection v1 and v1alpha", async () => {
    const health = healthClient(server.address);
    assert.equal(await health.check(""), "SERVING");
    assert.equal(await health.check("bertd.v1.Encoder"), "SERVING");
    await assert.rejects(health.check("no.such.Service"), (error: ServiceError) => error.code === status.NOT_FOUND);
    health.close();
    for (const version of ["v1", "v1alpha"] as const) {
      const services = await listServices(server.address, version);
      for (const name of ["bertd.v1.Encoder", "grpc.health.v1.Health"]) assert.ok(services.includes(name), `${version} lists ${name}: ${services.join(", ")}`);
    }
    assert.ok((await fileContainingSymbol(server.address, "bertd.v1.EmbedRequest")) >= 1);
  });
});

describe("server lifecycle", () => {
  it("drains on SIGTERM: health goes NOT_SERVING, in-flight calls finish, exit code 0", async () => {
    const server = await startServer(["--workers", "1"]);
    const health = healthClient(server.address);
    const seen: string[] = [];
    health.watch("bertd.v1.Encoder", (s) => seen.push(s));
    const embed = server.encoder().unary("embed");
    await embed({ inputs: ["connect first, so the calls below reach the server before SIGTERM"] });
    const inFlight = Array.from({ length: 8 }, () => embed({ inputs: Array(16).fill(LONG) }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const exited = server.stop("SIGTERM");
    const results = await Promise.all(inFlight);
    for (const response of results) assert.equal(response.embeddings.length, 16);
    assert.equal(await exited, 0);
    health.close();
    assert.deepEqual(seen.slice(0, 2), ["SERVING", "NOT_SERVING"]);
  });

  it("exits at start with a message naming the fix when --device cuda has no CUDA provider (or, after npm run cuda:install, no CUDA libraries)", async () => {
    await assert.rejects(startServer(["--device", "cuda"]), /CUDA provider is not installed.*npm run cuda:install|the provider is installed, but these CUDA libraries are not found: .*LD_LIBRARY_PATH/is);
  });

  it("exits with a clear message for a missing model directory", async () => {
    await assert.rejects(startServer(["--model-dir", "/nonexistent/model"]), /model directory \/nonexistent\/model does not exist/);
  });
});
