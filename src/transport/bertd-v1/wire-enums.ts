import { invalidArgument } from "../../core/errors.js";
import type { TruncationSide } from "../../core/encoder.js";
import { PoolingMode } from "../../core/pooling.js";
import type { TruncationStrategy as Strategy } from "../../core/tokenizer/index.js";
import { Encoding, Pooling, Truncation, TruncationStrategy } from "../../gen/bertd/v1/encoder_pb.js";

export function poolingOf(value: Pooling): PoolingMode | undefined {
  switch (value) {
    case Pooling.UNSPECIFIED:
      return undefined;
    case Pooling.CLS:
      return PoolingMode.cls;
    case Pooling.MEAN:
      return PoolingMode.mean;
    case Pooling.MAX:
      return PoolingMode.max;
    case Pooling.POOLER:
      return PoolingMode.pooler;
    default:
      throw invalidArgument(`pooling: unknown value ${value as number}`);
  }
}

export function truncationOf(value: Truncation): TruncationSide | undefined {
  switch (value) {
    case Truncation.UNSPECIFIED:
      return undefined;
    case Truncation.NONE:
      return "none";
    case Truncation.RIGHT:
      return "right";
    case Truncation.LEFT:
      return "left";
    default:
      throw invalidArgument(`truncation: unknown value ${value as number}`);
  }
}

export function truncationStrategyOf(value: TruncationStrategy): Strategy | undefined {
  switch (value) {
    case TruncationStrategy.UNSPECIFIED:
      return undefined;
    case TruncationStrategy.LONGEST_FIRST:
      return "longest_first";
    case TruncationStrategy.ONLY_FIRST:
      return "only_first";
    case TruncationStrategy.ONLY_SECOND:
      return "only_second";
    default:
      throw invalidArgument(`truncation_strategy: unknown value ${value as number}`);
  }
}

/** True for raw little-endian float32 bytes, false for repeated floats. */
export function bytesEncodingOf(value: Encoding): boolean {
  switch (value) {
    case Encoding.UNSPECIFIED:
    case Encoding.FLOAT:
      return false;
    case Encoding.BYTES:
      return true;
    default:
      throw invalidArgument(`encoding: unknown value ${value as number}`);
  }
}
