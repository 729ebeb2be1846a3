// Container health probe: asks the local server's grpc.health.v1 service whether it is SERVING.
// Exit 0 = SERVING, 1 = anything else (NOT_SERVING, unreachable, timeout). Used by the images'
// HEALTHCHECK; Kubernetes uses its native gRPC probes instead.
//   node --import tsx src/health-probe.ts [--address HOST:PORT] [--service NAME] [--timeout-ms N]
// Without --address it probes 127.0.0.1 on BERTD_HEALTH_PORT when set (plaintext, the port meant for
// probes), else BERTD_PORT (default 50051), over TLS when BERTD_TLS_CERT is set.
import { type Client, credentials, loadPackageDefinition, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";
import { parseArgs } from "node:util";

type HealthClient = Client & { Check(request: { service: string }, options: { deadline: number }, callback: (error: ServiceError | null, response: { status: string }) => void): void };

interface ProbeTarget {
  readonly address: string;
  readonly tls: boolean;
}

function probeTarget(env: NodeJS.ProcessEnv): ProbeTarget {
  const healthPort = Number(env.BERTD_HEALTH_PORT ?? 0);
  if (healthPort > 0) return { address: `127.0.0.1:${healthPort}`, tls: false };
  return { address: `127.0.0.1:${env.BERTD_PORT || 50051}`, tls: Boolean(env.BERTD_TLS_CERT) };
}

function checkHealth(target: ProbeTarget, service: string, timeoutMs: number): Promise<string> {
  const definition = loadPackageDefinition(loadSync(protoPath, { keepCase: true, enums: String }));
  const Health = (definition.grpc as unknown as Record<string, Record<string, Record<string, new (...args: unknown[]) => HealthClient>>>).health.v1.Health;
  // A loopback probe of our own server: the certificate's name and issuer do not matter here.
  const channel = target.tls ? credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined }) : credentials.createInsecure();
  const client = new Health(target.address, channel);
  return new Promise((resolve, reject) => {
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (error, response) => {
      client.close();
      if (error) reject(error);
      else resolve(response.status);
    });
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { address: { type: "string" }, service: { type: "string", default: "" }, "timeout-ms": { type: "string", default: "3000" } } });
  const target = values.address ? { address: values.address, tls: false } : probeTarget(process.env);
  try {
    const status = await checkHealth(target, values.service, Number(values["timeout-ms"]));
    console.log(`${target.address}: ${status}`);
    return status === "SERVING" ? 0 : 1;
  } catch (error) {
    console.error(`${target.address}: ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
