/**
 * Error classes shared by every layer (ARCHITECTURE.md, Conventions).
 *
 * - `RangeError` / `TypeError` (built in) for out-of-range values and wrong shapes.
 * - {@link ParseError} (a `SyntaxError`) for unparsable /proc, /sys or snapshot text, with `path` and `line`.
 * - {@link PhyrError} subclasses with a stable `code` for conditions callers handle.
 *
 * Messages say what failed, then why, with hex addresses:
 * `Cannot map 0x1000+0x2000 for 0000:03:00.0: beyond DMA mask 0xffffffff`.
 */

/** Unparsable text or bytes: names the file (or field) and the 1-based line (0 when not line-based). */
export class ParseError extends SyntaxError {
  override name = "ParseError";
  /** File path, snapshot field path, or format name the text came from. */
  readonly path: string;
  /** 1-based line number, or 0 when the input is not line-oriented. */
  readonly line: number;
  constructor(path: string, line: number, reason: string) {
    super(line > 0 ? `${path}:${line}: ${reason}` : `${path}: ${reason}`);
    this.path = path;
    this.line = line;
  }
}

/** Base class of the named conditions; `code` is stable and machine-readable. */
export class PhyrError extends Error {
  override name = "PhyrError";
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** A device touched an IOVA that is unmapped or mapped without the needed permission. */
export class IommuFault extends PhyrError {
  override name = "IommuFault";
  constructor(
    message: string,
    readonly device: string,
    readonly iova: number,
    readonly reason: string,
  ) {
    super("IOMMU_FAULT", message);
  }
}

/** The P2P map type between a provider and a client is NOT_SUPPORTED. */
export class P2pNotSupported extends PhyrError {
  override name = "P2pNotSupported";
  constructor(message: string) {
    super("P2P_NOT_SUPPORTED", message);
  }
}

/** The swiotlb pool has no free run of slots large enough. */
export class SwiotlbFull extends PhyrError {
  override name = "SwiotlbFull";
  constructor(message: string) {
    super("SWIOTLB_FULL", message);
  }
}

/** The IOVA allocator has no free range of the requested size and alignment below the limit. */
export class IovaExhausted extends PhyrError {
  override name = "IovaExhausted";
  constructor(message: string) {
    super("IOVA_EXHAUSTED", message);
  }
}

/** Pinning (GUP) refused or failed; `pfn` names the frame when one is to blame (-1 otherwise). */
export class PinFailed extends PhyrError {
  override name = "PinFailed";
  constructor(
    message: string,
    readonly pfn = -1,
  ) {
    super("PIN_FAILED", message);
  }
}

/** A DMA API rule was broken (unmap of something never mapped, wrong size or direction, ...). */
export class DmaApiError extends PhyrError {
  override name = "DmaApiError";
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** A memory-model operation was refused (hot-remove of a pinned frame, unaligned pgmap, ...). */
export class MemError extends PhyrError {
  override name = "MemError";
  constructor(
    code: string,
    message: string,
    readonly pfn = -1,
  ) {
    super(code, message);
  }
}

/**
 * An input asks for more work or memory than a named limit allows; checked before the work.
 * `limit` is the option that raises it (`maxVmas`, `maxP2pCells`, ...), `max` its value.
 */
export class LimitExceeded extends PhyrError {
  override name = "LimitExceeded";
  constructor(
    message: string,
    readonly limit: string,
    readonly max: number,
  ) {
    super("LIMIT_EXCEEDED", message);
  }
}
