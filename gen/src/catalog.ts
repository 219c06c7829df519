/** The catalog: every preset of gen/src/presets/, in the order the README lists them. */
import type { Preset } from "./define-preset.js";
import { ipvs } from "./presets/ipvs.js";
import { metallbMigration } from "./presets/metallb-migration.js";
import { onPremHa } from "./presets/on-prem-ha.js";
import { singleNode } from "./presets/single-node.js";
import { sourceIp } from "./presets/source-ip.js";

/** Each is written to presets/<name>.yaml by `npm run gen`. */
export const catalog: readonly Preset[] = [onPremHa, singleNode, ipvs, sourceIp, metallbMigration];
