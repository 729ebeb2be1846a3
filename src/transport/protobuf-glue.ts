import type { DescFile, DescMessage, DescService, MessageShape } from "@bufbuild/protobuf";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** A grpc-js ServiceDefinition for a protobuf-es service: binary (de)serialization, no copies. */
export function grpcServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input),
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
      originalName: method.localName,
    };
  }
  return definition;
}

/** A response already in wire form: the serializer sends its bytes as they are. */
export class PreEncoded {
  constructor(readonly bytes: Buffer) {}
}

function serializer<D extends DescMessage>(schema: D): (value: unknown) => Buffer {
  return (value) => {
    if (value instanceof PreEncoded) return value.bytes;
    const bytes = toBinary(schema, value as MessageShape<D>);
    // grpc-js calls Buffer methods on the result: wrap the bytes without copying them.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<D extends DescMessage>(schema: D): (bytes: Buffer) => MessageShape<D> {
  return (bytes) => fromBinary(schema, bytes);
}

/** Encoded FileDescriptorProtos of files and all their dependencies, for server reflection. */
export function encodedFileDescriptors(files: readonly DescFile[]): Buffer[] {
  const seen = new Set<string>();
  const out: Buffer[] = [];
  const visit = (file: DescFile): void => {
    if (seen.has(file.proto.name)) return;
    seen.add(file.proto.name);
    for (const dep of file.dependencies) visit(dep);
    out.push(Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)));
  };
  for (const file of files) visit(file);
  return out;
}
