/** The one poll loop of the local cluster and its tests. */

export interface WaitOptions {
  /** How long to wait before failing (default 60 s). */
  seconds?: number;
  /** Milliseconds between tries (default 250). */
  everyMs?: number;
  /** Where to look when it times out (a logs folder), named in the error. */
  logs?: string;
}

/** Resolves once `cond` holds; throws "timed out waiting for WHAT" after `seconds`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, options: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.seconds ?? 60) * 1000;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${options.logs ? ` (logs in ${options.logs})` : ""}`);
    await sleep(options.everyMs ?? 250);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
