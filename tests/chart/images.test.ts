/**
 * chart > images: Chart.yaml's `artifacthub.io/images` lists exactly the images the chart runs with
 * its default values (Kong, its ingress controller, node-init, the helm test pod), so what Artifact
 * Hub shows and scanners check is what lands on the nodes; Kong's images pinned to digests reach
 * the Kong chart with the version it checks features against.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type K8sObject, kongValues, render } from "../lib/chart.js";
import { helms, kongChart, removeScratchCharts } from "../../local/index.js";
import { repoRoot } from "../lib/paths.js";

afterAll(removeScratchCharts);

interface Image { repository: string; tag: string; digest?: string }
const ref = (i: Image) => `${i.repository}:${i.tag}${i.digest ? `@${i.digest}` : ""}`;

const chart = parse(readFileSync(join(repoRoot, "Chart.yaml"), "utf8")) as { annotations: Record<string, string> };
const listed = (parse(chart.annotations["artifacthub.io/images"]!) as { name: string; image: string }[]);
const values = parse(readFileSync(join(repoRoot, "values.yaml"), "utf8")) as {
  kong: { image: Image; ingressController: { image: Image } };
  nodeInit: { image: Image };
  helmTest: { image: Image };
};

/** Every container image of every pod template and pod in `objects`. */
function podImages(objects: K8sObject[]): string[] {
  const images: string[] = [];
  const visit = (spec: { containers?: { image: string }[]; initContainers?: { image: string }[] } | undefined) => {
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) images.push(c.image);
  };
  for (const o of objects) {
    const spec = o.spec as { template?: { spec: never }; containers?: unknown } | undefined;
    if (o.kind === "Pod") visit(spec as never);
    else visit(spec?.template?.spec);
  }
  return [...new Set(images)].sort();
}

describe("chart > images", () => {
  it("should list the default image of each component in artifacthub.io/images", () => {
    expect(Object.fromEntries(listed.map((l) => [l.name, l.image]))).toEqual({
      kong: ref(values.kong.image),
      "ingress-controller": ref(values.kong.ingressController.image),
      "node-init": ref(values.nodeInit.image),
      "helm-test": ref(values.helmTest.image),
    });
  });

  it("should run exactly the listed images among edge's own pods", () => {
    const objects = render(helms[0]);
    const own = objects.filter((o) => o.metadata.labels?.["app.kubernetes.io/part-of"] === "edge");
    expect(podImages(own)).toEqual([ref(values.nodeInit.image), ref(values.helmTest.image)].sort());
  });

  it.runIf(kongChart().kind === "stand-in")("should hand Kong the listed Kong and ingress controller images (stand-in records them)", () => {
    const received = kongValues(render(helms[0])) as { image: Image; ingressController: { image: Image } };
    expect(ref(received.image)).toBe(listed.find((l) => l.name === "kong")?.image);
    expect(ref(received.ingressController.image)).toBe(listed.find((l) => l.name === "ingress-controller")?.image);
  });

  it.runIf(kongChart().kind === "real")("should run exactly the listed images, Kong's included (real chart)", () => {
    expect(podImages(render(helms[0]))).toEqual(listed.map((l) => l.image).sort());
  });

  describe.each(helms)("Kong's images pinned to digests ($name)", (helm) => {
    const digest = `sha256:${"5e".repeat(32)}`;
    const set = [
      `kong.image.tag=3.9@${digest}`, "kong.image.effectiveSemver=3.9.1",
      `kong.ingressController.image.tag=3.5@${digest}`, "kong.ingressController.image.effectiveSemver=3.5.0",
    ];

    it.runIf(kongChart().kind === "stand-in")("should hand the Kong chart each pinned tag and the version it checks features against", () => {
      const received = kongValues(render(helm, { set })) as { image: Image & { effectiveSemver: string }; ingressController: { image: Image & { effectiveSemver: string } } };
      expect(received.image).toMatchObject({ repository: "kong", tag: `3.9@${digest}`, effectiveSemver: "3.9.1" });
      expect(received.ingressController.image).toMatchObject({ repository: "kong/kubernetes-ingress-controller", tag: `3.5@${digest}`, effectiveSemver: "3.5.0" });
    });

    it.runIf(kongChart().kind === "real")("should run Kong and its ingress controller by `tag@digest` (real chart)", () => {
      expect(podImages(render(helm, { set }))).toEqual(expect.arrayContaining([`kong:3.9@${digest}`, `kong/kubernetes-ingress-controller:3.5@${digest}`]));
    });
  });
});
