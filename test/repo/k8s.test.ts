import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { parseAllDocuments } from "yaml";
import { OPTIONS } from "../../src/config.js";
import { ROOT } from "../helpers/server-process.js";

// kubectl with its built-in kustomize: Debian's kubernetes-client (.ci/run installs it) or any newer one.
const KUBECTL = process.env.KUBECTL ?? "kubectl";
const OVERLAYS = readdirSync(`${ROOT}k8s/overlays`);

/** Options of other branches that the manifests already use (security: health port, keys, TLS; postgres: store). */
const KNOWN_ENV = new Set<string>(Object.values(OPTIONS).map((o) => o.env));
/** Secrets the user creates (docs/deploy.md); every other reference must resolve inside the render. */
const USER_SECRETS = new Set(["bertd-api-keys", "bertd-postgres", "bertd-tls"]);

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
}

/** kubernetes-models module for an apiVersion: "apps/v1" → kubernetes-models/apps/v1; CRDs from their own packages. */
async function modelClass(apiVersion: string, kind: string): Promise<new (data: unknown) => { validate(): void }> {
  const module = apiVersion.startsWith("monitoring.coreos.com/")
    ? `@kubernetes-models/prometheus-operator/${apiVersion}`
    : `kubernetes-models/${apiVersion}`;
  const exports = (await import(module)) as Record<string, new (data: unknown) => { validate(): void }>;
  assert.ok(exports[kind], `${module} has no ${kind}`);
  return exports[kind];
}

function render(overlay: string): K8sObject[] {
  const yaml = execFileSync(KUBECTL, ["kustomize", `${ROOT}k8s/overlays/${overlay}`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return parseAllDocuments(yaml).map((doc) => doc.toJS() as K8sObject);
}

function matches(selector: Record<string, string>, labels: Record<string, string> = {}): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe("k8s manifests", () => {
  it(`render with ${KUBECTL} kustomize (install Debian's kubernetes-client if it is missing)`, () => {
    assert.doesNotThrow(() => execFileSync(KUBECTL, ["version", "--client"], { stdio: "ignore" }), `${KUBECTL} not found: apt-get install -y kubernetes-client`);
    assert.deepEqual([...OVERLAYS].sort(), ["cpu", "gpu", "postgres", "tls"]);
  });

  for (const overlay of OVERLAYS) {
    describe(`overlay ${overlay}`, () => {
      const objects = render(overlay);
      function one<T>(kind: string): T {
        const found = objects.filter((o) => o.kind === kind);
        assert.equal(found.length, 1, `one ${kind}`);
        return found[0] as T;
      }
      const deployment = one<IDeployment>("Deployment");
      const pod = deployment.spec!.template;
      const spec = pod.spec!;
      const container = spec.containers.find((c) => c.name === "bertd")!;
      const init = spec.initContainers ?? [];
      const all: IContainer[] = [...init, ...spec.containers];
      const volumes = spec.volumes ?? [];
      const mounts = container.volumeMounts ?? [];
      const ports = container.ports ?? [];
      const env = container.env ?? [];
      const services = objects.filter((o) => o.kind === "Service") as IService[];
      const configMap = (objects.filter((o) => o.kind === "ConfigMap") as IConfigMap[]).find((c) => c.metadata?.name === container.envFrom?.[0]?.configMapRef?.name);
      const config: Record<string, string> = { ...configMap?.data };
      for (const e of env) config[e.name] = e.value ?? `<from ${e.valueFrom?.secretKeyRef?.name}>`;
      const labels = pod.metadata?.labels ?? {};
      const port = (name: string): number | undefined => ports.find((p) => p.name === name)?.containerPort;

      it("every object validates against its Kubernetes schema (kubernetes-models)", async () => {
        const kinds = objects.map((o) => o.kind).sort();
        assert.deepEqual(kinds, ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PodDisruptionBudget", "Service", "Service", "ServiceAccount", "ServiceMonitor"]);
        for (const object of objects) {
          const Model = await modelClass(object.apiVersion, object.kind);
          assert.doesNotThrow(() => new Model(object).validate(), `${object.kind}/${object.metadata.name}`);
        }
      });

      it("sets only options the server knows, and references only objects that exist or the documented secrets", () => {
        assert.ok(configMap, "the ConfigMap envFrom names is rendered");
        for (const name of Object.keys(config)) assert.ok(KNOWN_ENV.has(name), `${name} is no bertd option`);
        const secrets = [...volumes.flatMap((v) => v.secret?.secretName ?? []), ...env.flatMap((e) => e.valueFrom?.secretKeyRef?.name ?? [])];
        for (const secret of secrets) assert.ok(USER_SECRETS.has(secret), `secret ${secret}`);
        const volumeNames = new Set(volumes.map((v) => v.name));
        for (const c of all) {
          for (const mount of c.volumeMounts ?? []) assert.ok(volumeNames.has(mount.name), `${c.name} mounts missing volume ${mount.name}`);
        }
        const mounted = (path: string): boolean => mounts.some((m) => path.startsWith(`${m.mountPath}/`) || path === m.mountPath);
        for (const key of ["BERTD_MODEL_DIR", "BERTD_DATA_DIR", "BERTD_API_KEYS_FILE", "BERTD_TLS_CERT", "BERTD_TLS_KEY"]) {
          if (config[key]) assert.ok(mounted(config[key]), `${key}=${config[key]} is on no volume`);
        }
        assert.equal(spec.serviceAccountName, one<K8sObject>("ServiceAccount").metadata.name);
      });

      it("probes the plaintext health port with native gRPC probes; the ports agree with the server's options", () => {
        assert.equal(String(port("health")), config.BERTD_HEALTH_PORT);
        assert.equal(port("grpc"), Number(config.BERTD_PORT ?? OPTIONS.port.default));
        assert.equal(port("metrics"), Number(config.BERTD_METRICS_PORT ?? OPTIONS.metricsPort.default));
        for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
          assert.equal(probe?.grpc?.port, port("health"), "a gRPC probe on the health port");
        }
        assert.equal(container.readinessProbe?.grpc?.service, "bertd.v1.Encoder");
        assert.ok(Number(config.BERTD_MAX_CONNECTION_AGE_MS) > 0, "connections rotate so clients rebalance");
        assert.ok((spec.terminationGracePeriodSeconds ?? 30) * 1000 > Number(config.BERTD_SHUTDOWN_TIMEOUT_MS) + 5000);
      });

      it("runs non-root on a read-only root filesystem with every capability dropped", () => {
        assert.equal(spec.securityContext?.runAsNonRoot, true);
        assert.ok((spec.securityContext?.runAsUser ?? 0) > 0);
        for (const c of all) {
          assert.equal(c.securityContext?.readOnlyRootFilesystem, true, c.name);
          assert.equal(c.securityContext?.allowPrivilegeEscalation, false, c.name);
          assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"], c.name);
          assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, `${c.name} resources`);
        }
        assert.ok(mounts.some((m) => m.mountPath === "/tmp"));
        const model = mounts.find((m) => m.mountPath === config.BERTD_MODEL_DIR);
        assert.ok(model?.readOnly, "the model is mounted read-only");
        const copier = init.find((c) => c.name === "model");
        assert.ok(copier?.volumeMounts?.some((m) => m.name === model.name), "the init container fills the model volume");
      });

      it("wires Services, PodDisruptionBudget, HorizontalPodAutoscaler, NetworkPolicy and ServiceMonitor to the pods", () => {
        assert.ok(matches(deployment.spec!.selector.matchLabels ?? {}, labels));
        assert.deepEqual(services.map((s) => (s.spec?.clusterIP === "None" ? "headless" : s.spec?.type)).sort(), ["ClusterIP", "headless"]);
        const portNames = new Set(ports.map((p) => p.name));
        for (const service of services) {
          assert.ok(matches(service.spec?.selector ?? { none: "" }, labels), `${service.metadata?.name} selects the pods`);
          for (const p of service.spec?.ports ?? []) assert.ok(portNames.has(String(p.targetPort)), `${service.metadata?.name} → ${p.targetPort}`);
        }
        assert.ok(matches(one<IPodDisruptionBudget>("PodDisruptionBudget").spec?.selector?.matchLabels ?? { none: "" }, labels));
        const hpa = one<IHorizontalPodAutoscaler>("HorizontalPodAutoscaler");
        assert.deepEqual(hpa.spec?.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata?.name });
        assert.ok(hpa.spec?.metrics?.some((m) => m.resource?.name === "cpu"));
        const policy = one<INetworkPolicy>("NetworkPolicy");
        assert.ok(matches(policy.spec?.podSelector.matchLabels ?? { none: "" }, labels));
        const allowed = new Set((policy.spec?.ingress ?? []).flatMap((rule) => (rule.ports ?? []).map((p) => String(p.port))));
        assert.deepEqual([...allowed].sort(), [...portNames].sort());
        const monitor = one<IServiceMonitor>("ServiceMonitor");
        const scraped = services.filter((s) => matches(monitor.spec.selector.matchLabels ?? {}, s.metadata?.labels));
        assert.equal(scraped.length, 1, "the ServiceMonitor scrapes one Service (not the headless one too)");
        assert.ok(scraped[0].spec?.ports?.some((p) => p.name === monitor.spec.endpoints?.[0]?.port));
      });

      if (overlay === "gpu") {
        it("asks for one NVIDIA GPU, tolerates GPU taints, selects GPU nodes and runs the CUDA image with --device cuda", () => {
          assert.equal(container.resources?.limits?.["nvidia.com/gpu"], "1");
          assert.ok(spec.tolerations?.some((t) => t.key === "nvidia.com/gpu"));
          assert.equal(spec.nodeSelector?.["nvidia.com/gpu.present"], "true");
          assert.equal(config.BERTD_DEVICE, "cuda");
          assert.match(container.image ?? "", /cuda/);
        });
      } else {
        it("runs the CPU image on CPU", () => {
          assert.equal(config.BERTD_DEVICE ?? "cpu", "cpu");
          assert.match(container.image ?? "", /cpu/);
          assert.equal(container.resources?.limits?.["nvidia.com/gpu"], undefined);
        });
      }
      if (overlay === "postgres") {
        it("reads the PostgreSQL URL for --store from a Secret", () => {
          assert.deepEqual(env.find((e) => e.name === "BERTD_STORE")?.valueFrom?.secretKeyRef, { name: "bertd-postgres", key: "url" });
        });
      }
      if (overlay === "tls") {
        it("serves TLS from a Secret while probes stay on the plaintext health port", () => {
          const tls = volumes.find((v) => v.secret?.secretName === "bertd-tls");
          const mount = mounts.find((m) => m.name === tls?.name);
          assert.ok(mount && config.BERTD_TLS_CERT.startsWith(`${mount.mountPath}/`));
          assert.notEqual(config.BERTD_HEALTH_PORT, "0");
        });
      }
    });
  }
});
