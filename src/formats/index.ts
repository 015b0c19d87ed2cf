/**
 * Every representation a PhyrList is measured against, with exact byte accounting and real codecs,
 * plus the kernel's sg_alloc_table_from_pages() as the bench baseline.
 */
import { biovecFormat, biovecPageFormat } from "./biovec.js";
import { compactFormat } from "./compact.js";
import type { Format } from "./format.js";
import { jason8Format } from "./jason8.js";
import { packedFormat } from "./packed.js";
import { pagesFormat } from "./pages.js";
import { pfnbatchFormat } from "./pfnbatch.js";
import { phyr16Format } from "./phyr16.js";
import { rlistFormat } from "./rlist.js";
import { scatterlistFormat } from "./scatterlist.js";

export * from "./biovec.js";
export * from "./compact.js";
export {
  type Format,
  type FormatHolds,
  pagesTouched,
  STRUCT_PAGE_SIZE,
} from "./format.js";
export * from "./jason8.js";
export * from "./packed.js";
export * from "./pages.js";
export * from "./pfnbatch.js";
export * from "./phyr16.js";
export * from "./rlist.js";
export * from "./scatterlist.js";

/** Every format, in the order reports list them. */
export const FORMATS: readonly Format[] = [
  pagesFormat,
  scatterlistFormat,
  biovecPageFormat,
  biovecFormat,
  phyr16Format,
  pfnbatchFormat,
  jason8Format,
  rlistFormat,
  compactFormat,
  packedFormat,
];

/**
 * The format called `name`.
 * @throws RangeError naming the unknown name and the known ones.
 */
export function formatByName(name: string): Format {
  const f = FORMATS.find((x) => x.name === name);
  if (!f)
    throw new RangeError(
      `format ${JSON.stringify(name)} is invalid: expected one of ${FORMATS.map((x) => x.name).join(", ")}`,
    );
  return f;
}
