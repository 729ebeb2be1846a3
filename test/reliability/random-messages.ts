import { create, toBinary, ScalarType, type DescEnum, type DescField, type DescMessage, type DescOneof } from "@bufbuild/protobuf";
import fc from "fast-check";

/** Strings that exercise validation: names heads use, empties, odd Unicode, lone surrogates, long runs. */
const text: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("", "fuzz", "sport", "food", "model", "a", "x".repeat(70), "[CLS]", "héad", "..", "-x") },
  { weight: 3, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 48 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom("a", " ", "\u0301", "\ud800", "😀", "中", "\u0000", "\u200d"), maxLength: 400 }) },
);

const small = fc.integer({ min: -2, max: 12 });

function scalar(type: ScalarType): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.oneof(fc.double(), fc.constantFrom(0, -0, 0.5, 1, 1e-9, 1e30, NaN, Infinity, -Infinity), small);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.oneof(small, fc.integer());
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.oneof(fc.nat({ max: 12 }), fc.nat({ max: 2 ** 32 - 1 }));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.oneof(small.map(BigInt), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.oneof(fc.nat({ max: 12 }).map(BigInt), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return text;
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 64 });
  }
}

/** Known values mostly, unknown numbers sometimes. */
function enumValue(desc: DescEnum): fc.Arbitrary<number> {
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...desc.values.map((v) => v.number)) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 1000 }) });
}

function fieldValue(field: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (field.fieldKind) {
    case "scalar":
      return scalar(field.scalar);
    case "enum":
      return enumValue(field.enum);
    case "message":
      return messageInit(field.message, depth + 1);
    case "list": {
      const element = field.listKind === "scalar" ? scalar(field.scalar) : field.listKind === "enum" ? enumValue(field.enum) : messageInit(field.message, depth + 1);
      return fc.array(element, { maxLength: depth > 1 ? 2 : 8 });
    }
    case "map":
      return fc.constant({});
  }
}

function oneofValue(oneof: DescOneof, depth: number): fc.Arbitrary<unknown> {
  return fc.oneof(fc.constant({ case: undefined }), ...oneof.fields.map((f) => fieldValue(f, depth).map((value) => ({ case: f.localName, value }))));
}

/** A random init object for a message (fields set or unset at random, nesting bounded). */
export function messageInit(desc: DescMessage, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  if (depth > 3) return fc.constant({});
  const members: Record<string, fc.Arbitrary<unknown>> = {};
  for (const member of desc.members) members[member.localName] = member.kind === "oneof" ? oneofValue(member, depth) : fieldValue(member, depth);
  return fc.record(members, { requiredKeys: [] });
}

/** Random well-formed encodings of a message type. */
export function randomMessageBytes(desc: DescMessage): fc.Arbitrary<Uint8Array> {
  return messageInit(desc).map((init) => toBinary(desc, create(desc, init)));
}

/** Bytes that are not (or not quite) messages: noise, and encodings cut short or with bytes flipped. */
export function randomBytes(desc: DescMessage): fc.Arbitrary<Uint8Array> {
  const mutated = fc.tuple(randomMessageBytes(desc), fc.nat(), fc.nat({ max: 255 }), fc.boolean()).map(([bytes, at, value, cut]) => {
    if (bytes.length === 0) return Uint8Array.of(value);
    const copy = cut ? bytes.slice(0, at % bytes.length) : bytes.slice();
    if (!cut) copy[at % copy.length] = value;
    return copy;
  });
  return fc.oneof(fc.uint8Array({ maxLength: 256 }), mutated, fc.constantFrom(Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), Uint8Array.of(0x08, 0x80), Uint8Array.of(0xff)));
}
