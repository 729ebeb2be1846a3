import { create } from "@bufbuild/protobuf";
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { TruncationSide } from "../../core/encoder.js";
import { failedPrecondition, invalidArgument } from "../../core/errors.js";
import { NO_CLASSIFIER } from "../../engine/predict.js";
import { PredictResponseSchema, type PredictPairRequest, type PredictRequest, type PredictResponse } from "../../gen/tei/v1/tei_pb.js";
import { callOptionsOf, type CallContext } from "../calls.js";
import { predictHeadOf, type TeiV1Deps } from "./deps.js";
import { serveOrdered } from "./ordered-stream.js";
import { sortedPredictions, teiModelScores } from "./scores.js";
import { charCount, computeTypeOf, headersOf, metadataOf, requireText, teiCall, truncationOf, type Answer, type Cost } from "./wire.js";

/**
 * tei.v1.Predict: the model's own classifier (config.json id2label and a logits output), or a bertd
 * head: the one named by the call's x-bertd-head metadata, else --tei-predict-head.
 */
export function predictService({ engine, calls, predictHead }: TeiV1Deps): UntypedServiceImplementation {
  const predictOne = async (text: string, truncation: TruncationSide, rawScores: boolean, context: CallContext): Promise<Answer<PredictResponse>> => {
    const started = performance.now();
    requireText(text);
    const head = predictHeadOf(context.metadata, predictHead);
    const model = engine.model();
    if (head === undefined && !model.info.classifier) {
      throw failedPrecondition(`Backend error: Model is not a classifier model: ${NO_CLASSIFIER} (name a bertd head with --tei-predict-head or x-bertd-head metadata)`);
    }
    const result = await engine.predict({ text, head, truncation }, callOptionsOf(context));
    calls.stages(context, result.times);
    const scores = result.byModel ? teiModelScores(result.logits, rawScores) : rawScores ? result.logits : result.probabilities;
    const cost: Cost = { chars: charCount(text), tokens: result.inputTokens, started, times: result.times };
    const response = create(PredictResponseSchema, { predictions: sortedPredictions(result.labels, scores), metadata: metadataOf(cost) });
    return { response, fields: { head: result.head, headVersion: result.headVersion, inputTokens: result.inputTokens }, headers: headersOf(cost, computeTypeOf(model.info.provider)) };
  };

  const predictPairOne = async (inputs: readonly string[], truncation: TruncationSide, rawScores: boolean, context: CallContext): Promise<Answer<PredictResponse>> => {
    if (inputs.length === 1) return predictOne(inputs[0], truncation, rawScores, context);
    if (inputs.length !== 2) throw invalidArgument(`\`inputs\` must have a single or two elements. Given: ${inputs.length}`);
    const started = performance.now();
    const [text, textPair] = inputs;
    if (text.length === 0 && textPair.length === 0) requireText("");
    const model = engine.model();
    const classifier = model.info.classifier;
    if (!classifier) throw failedPrecondition(`Backend error: Model is not a classifier model: pairs are scored by the model's own classifier, and ${NO_CLASSIFIER}`);
    const result = await engine.pairScorer()([{ text, textPair }], truncation, callOptionsOf(context));
    calls.stages(context, result.times);
    const cost: Cost = { chars: charCount(text) + charCount(textPair), tokens: result.inputTokens, started, times: result.times };
    const response = create(PredictResponseSchema, { predictions: sortedPredictions(classifier.labels, teiModelScores(result.logits[0], rawScores)), metadata: metadataOf(cost) });
    return { response, fields: { inputTokens: result.inputTokens }, headers: headersOf(cost, computeTypeOf(model.info.provider)) };
  };

  const predict = (request: PredictRequest, context: CallContext): Promise<Answer<PredictResponse>> =>
    teiCall(() => predictOne(request.inputs, truncationOf(request.truncate, request.truncationDirection), request.rawScores, context));
  const predictPair = (request: PredictPairRequest, context: CallContext): Promise<Answer<PredictResponse>> =>
    teiCall(() => predictPairOne(request.inputs, truncationOf(request.truncate, request.truncationDirection), request.rawScores, context));

  return {
    Predict: calls.unary("/tei.v1.Predict/Predict", predict),
    PredictPair: calls.unary("/tei.v1.Predict/PredictPair", predictPair),
    PredictStream: (call: ServerDuplexStream<PredictRequest, PredictResponse>) =>
      serveOrdered(call, calls, "/tei.v1.Predict/PredictStream", async (request, context) => (await predict(request, context)).response),
    PredictPairStream: (call: ServerDuplexStream<PredictPairRequest, PredictResponse>) =>
      serveOrdered(call, calls, "/tei.v1.Predict/PredictPairStream", async (request, context) => (await predictPair(request, context)).response),
  };
}
