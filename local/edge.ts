/**
 * `helm install edge` on real nodes and the wait for its first answer: the one install of the
 * demo, the real-node tests and the bench. Only image repositories and tags are set: Kong's and its
 * ingress controller's run the Kong stand-in image (images/kong-stand-in: NOT Kong, it serves what
 * the Kong pod spec asks of its image), pinned by digest as a user pins Kong's; node-init runs the
 * chart's own image, by the chart's digest.
 */
import { scratchChart } from "./chart.js";
import { goImage, type NodeImage, nodeInitImage, repositoryAndTag } from "./images.js";
import type { NodeCluster } from "./nodes.js";
import type { Run } from "./sys/process.js";
import { helm } from "./sys/tools.js";
import { waitFor } from "./sys/wait.js";

/** The images edge runs on real nodes: node-init's and the Kong stand-in (built here, reused while unchanged). */
export function edgeImages(): { nodeInit: NodeImage; standIn: NodeImage } {
  return { nodeInit: nodeInitImage(), standIn: goImage("kong-stand-in") };
}

/** What the Kong stand-in answers first on every port (its name, then what it serves). */
export const STAND_IN_ANSWER = "kong-stand-in";

/**
 * The values that point Kong's and its ingress controller's image at the Kong stand-in `image`,
 * pinned to its digest (`effectiveSemver`: the version the Kong chart checks is the tag's).
 */
export function standInValues(image: NodeImage): string[] {
  const [repository, tag] = repositoryAndTag(image.name);
  return ["kong.image", "kong.ingressController.image"].flatMap((key) => [
    "--set", `${key}.repository=${repository}`, "--set", `${key}.tag=${tag}@${image.digest}`, "--set", `${key}.effectiveSemver=${tag}`,
  ]);
}

export interface InstallOptions {
  /** More `helm install` arguments (values, --wait…). */
  args?: string[];
  /** How long node a's :80 may take to answer (default 240 s). */
  seconds?: number;
}

/**
 * `helm install edge <scratch chart>` with the stand-in's values and `args`, then waits until node
 * a's :80 answers from a Kong pod; returns the seconds from install to that answer. Throws with
 * Helm's output when the install fails.
 */
export async function installEdge(cluster: NodeCluster, standIn: NodeImage, options: InstallOptions = {}): Promise<number> {
  const started = performance.now();
  const r: Run = cluster.helm(helm(), ["install", "edge", scratchChart(), ...standInValues(standIn), ...(options.args ?? [])]);
  if (r.status !== 0) throw new Error(`helm install: ${r.stdout}\n${r.stderr}`);
  await cluster.control.waitFor(async () => cluster.curl(`http://${cluster.address(0)}/`).startsWith(STAND_IN_ANSWER), "node a :80 to answer", options.seconds ?? 240);
  return (performance.now() - started) / 1000;
}

/** Each node's answer on :80 and :443 from the client: "URL -> answer", retried for up to `seconds`. */
export async function nodeAnswers(cluster: NodeCluster, seconds = 60): Promise<string[]> {
  const urls = cluster.nodes.flatMap((_, i) => [`http://${cluster.address(i)}/`, `https://${cluster.address(i)}/`]);
  const answers: string[] = [];
  for (const url of urls) {
    let answer = "";
    // A node that does not answer in time is reported with what it answered last.
    await waitFor(() => (answer = cluster.curl(url, ["--insecure"])).startsWith(STAND_IN_ANSWER), url, { seconds, everyMs: 1000 }).catch(() => undefined);
    answers.push(`${url} -> ${answer}`);
  }
  return answers;
}
