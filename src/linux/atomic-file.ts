/**
 * Whole-or-nothing output files: {@link AtomicFile} writes to a temporary file created beside the
 * target (same directory, so the same file system) with O_CREAT|O_EXCL|O_NOFOLLOW, fsyncs it and
 * renames it over the target. A reader never sees a partial file; a failed write (full file
 * system, killed process) leaves the old file as it was; concurrent writers to one path each
 * write their own temporary file and the last rename wins, whole; a symlink planted at the target
 * is replaced, not followed (rename(2) acts on the name). Written by hand rather than with a
 * library because output is streamed (capture) and the temporary file must be created
 * exclusively without following links.
 *
 * A target that exists and is a character device or a FIFO (/dev/stdout, /dev/null, /dev/full, a
 * named pipe) cannot be replaced by a rename: it is opened and written in place, and its write
 * errors are reported the same way.
 */

import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fsyncSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/** Flags of the temporary file: create it, fail if the name exists, never follow a link. */
const TEMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * True when `path` exists and is a character device or a FIFO (written in place).
 * @throws EISDIR when it is a directory (before anything is written)
 */
function isStreamTarget(path: string): boolean {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    return false;
  }
  if (st.isDirectory()) closeSync(openSync(path, "w")); // throws EISDIR naming the path
  return st.isCharacterDevice() || st.isFIFO();
}

/**
 * A file written whole or not at all. Open with {@link AtomicFile.open}, {@link write} any number
 * of times, then {@link commit} (fsync + rename) or {@link abort} (remove the temporary file).
 */
export class AtomicFile {
  /** Path of the temporary file (the target itself when written in place). */
  readonly tempPath: string;
  private fd: number;
  private done = false;

  private constructor(
    readonly path: string,
    readonly inPlace: boolean,
  ) {
    if (inPlace) {
      this.tempPath = path;
      this.fd = openSync(path, "w");
      return;
    }
    this.tempPath = join(
      dirname(path),
      `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`,
    );
    this.fd = openSync(this.tempPath, TEMP_FLAGS, 0o666);
  }

  /**
   * Creates the temporary file beside `path` (or opens a device or FIFO target in place). O(1).
   * @param path the target file.
   * @returns the open file.
   * @throws Node errno errors when the directory cannot be written (ENOENT, EACCES, EISDIR...).
   */
  static open(path: string): AtomicFile {
    return new AtomicFile(path, isStreamTarget(path));
  }

  /**
   * Writes all of `data` (looping over short writes). O(bytes).
   * @throws Node errno errors (ENOSPC, EIO...); the caller then calls {@link abort}.
   */
  write(data: string | Uint8Array): void {
    if (this.done) throw new Error(`${this.path} is already closed`);
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
  }

  /**
   * Makes the file durable and visible: fsync, close, rename over the target. O(1) plus the
   * fsync. A failure removes the temporary file and leaves the target untouched.
   * @throws Node errno errors from fsync, close or rename.
   */
  commit(): void {
    if (this.done) throw new Error(`${this.path} is already closed`);
    this.done = true;
    try {
      if (!this.inPlace) fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
      if (!this.inPlace) renameSync(this.tempPath, this.path);
    } catch (e) {
      this.cleanup();
      throw e;
    }
  }

  /** Closes and removes the temporary file; the target is left as it was. Idempotent. O(1). */
  abort(): void {
    if (this.done && this.fd < 0) return;
    this.done = true;
    this.cleanup();
  }

  private cleanup(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // already failing: the first error is the one reported
      }
      this.fd = -1;
    }
    if (!this.inPlace) {
      try {
        unlinkSync(this.tempPath);
      } catch {
        // gone already
      }
    }
  }
}

/**
 * Writes `data` to `path` whole or not at all (see {@link AtomicFile}). O(bytes).
 * @param path the target file.
 * @param data the contents.
 * @throws Node errno errors; the target is then unchanged.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const f = AtomicFile.open(path);
  try {
    f.write(data);
  } catch (e) {
    f.abort();
    throw e;
  }
  f.commit();
}
