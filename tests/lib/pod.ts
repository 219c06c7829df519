/**
 * A node-init container as the kubelet starts it, without a container runtime: the command runs
 * chrooted into a copy of the image's tree, mounted as a runtime would (read-only root, /dev,
 * /proc, the script read-only at /scripts, the state emptyDir, the ServiceAccount folder), in a
 * mount namespace of its own so every mount ends with it. Tests run it inside a testbed node
 * namespace; the programs it runs are the image's own, never the machine's.
 *
 * hostPID is reproduced without touching the machine's PID 1: a new PID namespace whose PID 1
 * sits in the node namespace, and the container in a network namespace of its own, so the
 * rendered `nsenter --target 1 --net` (the image's nsenter) lands in the node.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { builtImage, run } from "../../local/index.js";
import { copyTree, imageOf, runtimeMounts } from "./image.js";

/** Where Kubernetes mounts the ServiceAccount's token and CA certificate. */
export const serviceAccountPath = "/var/run/secrets/kubernetes.io/serviceaccount";
/** Where the chart mounts node-init's state emptyDir (the script's default NODE_INIT_STATE_DIR). */
export const statePath = "/run/edge-node-init";

export type HostAccess = "hostPID" | "hostNetwork";

/** The folders of the machine a pod's volumes come from. */
export interface PodVolumes {
  /** The folder holding node-init.sh (the ConfigMap volume). */
  scripts: string;
  /** The state emptyDir. */
  state: string;
  /** The projected ServiceAccount volume. */
  serviceAccount: string;
}

/**
 * The pod's mounts, then the container's command chrooted into the image: $0 is the image's tree,
 * $1 the script folder, $2 the state folder, $3 the ServiceAccount folder, the rest the command.
 */
const POD = `root=$0 scripts=$1 state=$2 sa=$3; shift 3
mount --bind "$root" "$root" && mount -o remount,bind,ro "$root"
${runtimeMounts}
mount --bind "$scripts" "$root/scripts" && mount -o remount,bind,ro "$root/scripts"
mount --bind "$state" "$root${statePath}"
mount --bind "$sa" "$root${serviceAccountPath}" && mount -o remount,bind,ro "$root${serviceAccountPath}"
exec chroot "$root" "$@"`;

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The image of the default build (built once, then reused while its inputs are unchanged). */
let image: { rootfs: string; env: Record<string, string> } | undefined;
function defaultImage(): { rootfs: string; env: Record<string, string> } {
  if (!image) {
    const built = builtImage();
    const env = imageOf(built.out, "amd64").config.config.Env;
    image = { rootfs: built.rootfs("amd64"), env: Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])) };
  }
  return image;
}

/**
 * A copy of the node-init image's tree at `dir`/rootfs with the pod's mount points, and the
 * command lines that run a container of it. Made once per folder; removed with the folder.
 */
export class ImagePod {
  readonly root: string;
  /** The image's environment (PATH…), which a runtime puts under the container's own. */
  readonly imageEnv: Record<string, string>;

  constructor(readonly dir: string) {
    const { rootfs, env } = defaultImage();
    this.imageEnv = env;
    mkdirSync(dir, { recursive: true });
    this.root = copyTree(rootfs, join(dir, "rootfs"), ["scripts", statePath.slice(1), serviceAccountPath.slice(1)]);
  }

  /** Default volumes in `dir`: the script copied in, an empty state folder and ServiceAccount folder. */
  volumes(script: string): PodVolumes {
    const v = { scripts: join(this.dir, "scripts"), state: join(this.dir, "state"), serviceAccount: join(this.dir, "serviceaccount") };
    for (const d of Object.values(v)) mkdirSync(d, { recursive: true });
    copyFileSync(script, join(v.scripts, "node-init.sh"));
    return v;
  }

  /**
   * The argv that runs `command` as a container of this image with `volumes`, to be run inside a
   * node namespace (`ip netns exec`); `wrap` goes between the chroot and the command (e.g. a
   * capability drop). With hostNetwork the last process is the command itself, so signals reach it.
   */
  argv(hostAccess: HostAccess, volumes: PodVolumes, command: readonly string[], wrap: readonly string[] = []): string[] {
    const args = [this.root, volumes.scripts, volumes.state, volumes.serviceAccount, ...wrap, ...command];
    if (hostAccess === "hostNetwork") return ["unshare", "--mount", "--", "sh", "-c", POD, ...args];
    // `; exit` keeps sh from exec'ing: PID 1 of the new PID namespace must stay in the node.
    return ["unshare", "--pid", "--fork", "--mount-proc", "--", "sh", "-c",
      `unshare --net --mount -- sh -c ${quote(POD)} "$0" "$@"; exit $?`, ...args];
  }

  /** The container's environment: the image's, then the rendered container's. */
  env(containerEnv: Record<string, string>): NodeJS.ProcessEnv {
    return { ...this.imageEnv, ...containerEnv };
  }
}

/**
 * setpriv from the machine, with the libraries it loads, copied into the pod's tree at /.setpriv:
 * it runs after the chroot (chroot itself needs CAP_SYS_CHROOT) to leave the command exactly the
 * capabilities a runtime would, and then execs the image's own programs. Returns the wrap for
 * ImagePod.argv that leaves `caps` (Kubernetes names, e.g. NET_ADMIN), as `uid` (and its gid) if given.
 */
export function capabilityDrop(pod: ImagePod, caps: readonly string[], options: { uid?: number } = {}): string[] {
  const dir = join(pod.root, ".setpriv");
  const loader = "/.setpriv/ld.so";
  mkdirSync(dir, { recursive: true });
  const setpriv = run("sh", ["-c", "command -v setpriv"]).stdout.trim();
  // ldd prints "libx.so => /path (addr)" and the loader as "/lib64/ld-linux-x86-64.so.2 (addr)".
  for (const line of run("ldd", [setpriv]).stdout.split("\n")) {
    const path = /=> (\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)/.exec(line)?.[1];
    if (!path) continue;
    copyFileSync(path, join(dir, /ld-linux|ld64/.test(path) ? "ld.so" : path.split("/").pop()!));
  }
  copyFileSync(setpriv, join(dir, "setpriv"));
  const list = ["-all", ...caps.map((c) => `+${c.toLowerCase()}`)].join(",");
  const user = options.uid === undefined ? [] : [`--reuid=${options.uid}`, `--regid=${options.uid}`, "--clear-groups"];
  return [loader, "--library-path", "/.setpriv", "/.setpriv/setpriv", ...user, `--bounding-set=${list}`, "--inh-caps=-all", "--ambient-caps=-all", "--"];
}
