/**
 * P2P provider lookup and IOMMU mapping (issue 4 parts 1-3), measured in one run:
 *
 * - IOMMU mapping of a pinned buffer as ranges (one iommu_map per PhyrList entry, iommu_pgsize
 *   picks the page size) against page-at-a-time mapping (vfio type1 style: iommu_map per 4 KiB
 *   page), for a 1 GiB-page, a 2 MiB-page and a fragmented 4 KiB buffer; each timing maps and
 *   then unmaps the whole IOVA range once. Every timing ratio comes from paired rounds of
 *   main-thread time (harness pairedRuns: the median of the per-round ratios, printed with their range);
 *   leaf counts are exact. Leaf counts of a 64 GiB 1 GiB-page buffer both ways
 *   (the page-at-a-time 16,777,216-leaf case in the full run only).
 * - Provider lookup among 10,000 providers: our sorted typed arrays against a linear scan and
 *   against sorted-btree; and the alternative of reading the provider index carried in PhyrList
 *   entries against looking every entry's address up.
 * - IO page-table leaves for a THP buffer that starts 4 KiB into a huge page, with the phyr
 *   design's congruent IOVA against the kernel's size-aligned one (Linux 7.2 never places an IOVA
 *   by phys beyond its offset in the granule).
 */
import btreeModule from "sorted-btree";
import { Rng } from "../src/core/index.js";
import { IommuDomain, IommuProt } from "../src/iommu/index.js";
import { Provider, ProviderRegistry } from "../src/p2p/index.js";
import { PhyrList, phyrFromPfns } from "../src/phyr/index.js";
import {
  type BenchOptions,
  type BenchRow,
  type BenchSuite,
  exactRatio,
  median,
  pairedRuns,
  roundRatios,
  speedRow,
} from "./harness.js";

/** sorted-btree is CommonJS with `exports.default = BTree`. */
const BTree = btreeModule.default;
const RW = IommuProt.READ | IommuProt.WRITE;
const G = 2 ** 30;
const IOVA_BASE = 2 ** 40;

/** PFNs of `bytes` made of naturally aligned pages of `pageBytes`, placed at distinct random frames. */
function pagesOf(bytes: number, pageBytes: number, seed: number): Uint32Array {
  const rng = new Rng(seed);
  const per = pageBytes / 4096;
  const n = bytes / pageBytes;
  const slots = 2 ** 36 / pageBytes; // 64 GiB... 256 TiB of physical space in page slots
  const used = new Set<number>();
  const out = new Uint32Array(bytes / 4096);
  for (let k = 0; k < n; k++) {
    let s = rng.int(Math.min(slots, 2 ** 44 / pageBytes));
    while (used.has(s)) s = rng.int(Math.min(slots, 2 ** 44 / pageBytes));
    used.add(s);
    for (let j = 0; j < per; j++) out[k * per + j] = s * per + j;
  }
  return out;
}

function mapRanges(d: IommuDomain, list: PhyrList): number {
  let off = 0;
  list.forEachEntry((addr, len) => {
    d.map(IOVA_BASE + off, addr, len, RW);
    off += len;
  });
  return off;
}

function mapPageAtATime(d: IommuDomain, pfns: Uint32Array): number {
  for (let i = 0; i < pfns.length; i++) d.map(IOVA_BASE + i * 4096, pfns[i] * 4096, 4096, RW);
  return pfns.length * 4096;
}

async function mappingRows(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const bytes = opts.quick ? 2 * G : 4 * G;
  const gib = bytes / G;
  const inputs: [string, Uint32Array, number | undefined][] = [
    [`1 GiB-page buffer, ${gib} GiB`, pagesOf(bytes, G, 11), 1000],
    [`2 MiB-page buffer, ${gib} GiB`, pagesOf(bytes, 2 ** 21, 12), undefined],
    [`fragmented 4 KiB buffer, ${gib / 4} GiB`, pagesOf(bytes / 4, 4096, 13), undefined],
  ];
  for (const [label, pfns, want] of inputs) {
    const list = phyrFromPfns(pfns);
    const d = new IommuDomain({ type: "dma" });
    // Paired rounds (one side takes microseconds, the other up to a second).
    const [range, page] = pairedRuns(
      [() => d.unmap(IOVA_BASE, mapRanges(d, list)), () => d.unmap(IOVA_BASE, mapPageAtATime(d, pfns))],
      { rounds: opts.quick ? 5 : 7, hold: [list.cursor()] },
    );
    rows.push(
      speedRow(
        `IOMMU map+unmap as ranges: ${label}`,
        median(range),
        "page-at-a-time iommu_map",
        roundRatios(page, range),
        want,
      ),
    );
    mapRanges(d, list);
    const ranged = d.pgtable!.pteCount;
    d.unmap(IOVA_BASE, bytes);
    mapPageAtATime(d, pfns);
    rows.push({
      name: `  leaf entries as ranges (${list.nents} entries in)`,
      value: ranged,
      unit: "entries",
      ratio: exactRatio("page-at-a-time leaves", d.pgtable!.pteCount / ranged, "count"),
    });
    d.unmap(IOVA_BASE, bytes);
  }
  // The 64 GiB acceptance counts.
  const big = pagesOf(64 * G, G, 14);
  const d = new IommuDomain({ type: "dma", iotlb: { entries: 128, ways: 8 } });
  mapRanges(d, phyrFromPfns(big));
  for (let i = 0; i < 64; i++) d.translate("0000:03:00.0", IOVA_BASE + i * G, "read");
  rows.push({
    name: "64 GiB of 1 GiB pages as ranges: leaf entries",
    value: d.pgtable!.pteCount,
    unit: "entries",
  });
  rows.push({
    name: "  IOTLB entries holding its whole reach (64 GiB)",
    value: d.iotlb.validCount,
    unit: "entries",
  });
  if (!opts.quick) {
    const p = new IommuDomain({ type: "dma" });
    mapPageAtATime(p, big);
    rows.push({
      name: "64 GiB page-at-a-time: leaf 4 KiB entries",
      value: p.pgtable!.leafCount(4096),
      unit: "entries",
    });
    rows.push({ name: "  page-table pages", value: p.pgtable!.tableCount, unit: "tables" });
  }
  return rows;
}

function lookupRows(opts: BenchOptions): BenchRow[] {
  const rng = new Rng(21);
  const rounds = opts.quick ? 5 : 9;
  const N = 10_000;
  const starts = new Float64Array(N);
  const sizes = new Float64Array(N);
  let at = 2 ** 44;
  for (let i = 0; i < N; i++) {
    const size = 2 ** rng.range(12, 26);
    at = Math.ceil(at / size) * size + size * rng.range(0, 3); // gaps between apertures
    starts[i] = at;
    sizes[i] = size;
    at += size;
  }
  const reg = new ProviderRegistry();
  const providers: Provider[] = [];
  const tree = new BTree<number, number>();
  const ends = new Float64Array(N + 1);
  const order = Array.from({ length: N }, (_, i) => i);
  for (let i = N - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const i of order) {
    const p = new Provider({
      owner: i,
      ownerBdf: "0000:03:00.0",
      bar: 0,
      start: starts[i],
      size: sizes[i],
      busOffset: 0,
    });
    const idx = reg.add(p);
    providers.push(p);
    tree.set(p.start, idx);
    ends[idx] = p.end;
  }
  const Q = 65536;
  const q = new Float64Array(Q);
  for (let k = 0; k < Q; k++) {
    const i = rng.int(N);
    q[k] = rng.chance(0.8) ? starts[i] + rng.int(sizes[i]) : starts[i] - 1 - rng.int(4096);
  }
  const QL = 2048;
  const pair: [number, number] = [0, 0];
  // Three lookups in paired rounds; per-lookup times (the linear scan answers fewer
  // queries per call, so ratios are taken per lookup).
  const [oursT, linearT, btreeT] = pairedRuns(
    [
      () => {
        let s = 0;
        for (let k = 0; k < Q; k++) s += reg.lookup(q[k]);
        return s;
      },
      () => {
        let s = 0;
        for (let k = 0; k < QL; k++) {
          const a = q[k];
          let found = -1;
          for (let i = 0; i < providers.length; i++) {
            if (providers[i].contains(a)) {
              found = providers[i].index;
              break;
            }
          }
          s += found;
        }
        return s;
      },
      () => {
        let s = 0;
        for (let k = 0; k < Q; k++) {
          const a = q[k];
          const r = tree.getPairOrNextLower(a, pair);
          s += r !== undefined && a < ends[r[1]] ? r[1] : -1;
        }
        return s;
      },
    ],
    { rounds },
  );
  const ours = oursT.map((t) => t / Q);
  const linear = linearT.map((t) => t / QL);
  const btree = btreeT.map((t) => t / Q);
  // Carried provider index vs lookup per entry, on a 100k-entry list (half P2P).
  const entries = opts.quick ? 20_000 : 100_000;
  const list = new PhyrList({ store: "wide" });
  for (let k = 0; k < entries; k++) {
    if (k % 2 === 0) {
      const i = rng.int(N);
      list.append(starts[i], 4096, 0, reg.lookup(starts[i]));
    } else {
      list.append(rng.int(2 ** 20) * 4096, 4096, 0, 0);
    }
  }
  const [carriedT, lookedT] = pairedRuns(
    [
      () => {
        let s = 0;
        list.forEachEntry((_a, _l, _f, provider) => {
          s += provider;
        });
        return s;
      },
      () => {
        let s = 0;
        list.forEachEntry((addr) => {
          s += reg.lookup(addr);
        });
        return s;
      },
    ],
    { rounds, hold: [list.cursor()] },
  );
  return [
    speedRow(
      `provider lookup among ${N} (sorted typed arrays), per lookup`,
      median(ours),
      "linear scan",
      roundRatios(linear, ours),
      1,
    ),
    speedRow("  same", median(ours), "sorted-btree getPairOrNextLower", roundRatios(btree, ours), 1),
    speedRow(
      `provider index carried in PhyrList entries (${entries}), per entry`,
      median(carriedT) / entries,
      "lookup by address per entry",
      roundRatios(lookedT, carriedT),
    ),
  ];
}

function thpRows(): BenchRow[] {
  // 64 MiB buffer of 2 MiB THPs at scattered frames, starting 4 KiB into the first huge page.
  const huge = pagesOf(66 * 2 ** 20, 2 ** 21, 31);
  const list = phyrFromPfns(huge.subarray(1, 1 + (64 * 2 ** 20) / 4096));
  const leaves = (congruent: boolean): number => {
    const d = new IommuDomain({ type: "dma" });
    const first = list.addrAt(0);
    const iova = d.iovaAlloc(list.totalBytes, 2 ** 48 - 1, congruent ? { physHint: first } : {});
    let off = 0;
    list.forEachEntry((addr, len) => {
      d.map(iova + off, addr, len, RW);
      off += len;
    });
    return d.pgtable!.pteCount;
  };
  const kernel = leaves(false);
  const cong = leaves(true);
  return [
    {
      name: "THP buffer 4 KiB into a huge page: leaves, kernel size-aligned IOVA",
      value: kernel,
      unit: "entries",
    },
    {
      name: "  leaves, phyr design congruent IOVA",
      value: cong,
      unit: "entries",
      ratio: exactRatio("kernel default (x fewer)", kernel / cong, "count", { min: 1, strict: true }),
    },
  ];
}

/** The suite. */
export const suite: BenchSuite = {
  name: "p2p-iommu",
  async run(opts: BenchOptions): Promise<BenchRow[]> {
    return [...(await mappingRows(opts)), ...lookupRows(opts), ...thpRows()];
  },
};
