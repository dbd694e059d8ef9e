// Errors that name what went wrong, where: the archive, the entry and the byte offset, with a
// stable `code` a program can branch on. Spec: spec/portarc-1.md §8 (errors and exit codes).
//
// Every error the library throws on purpose is a PortarcError; anything else reaching the CLI is
// a bug (PORTARC_INTERNAL). The codes are part of the public API: never renamed, only added.

export type PortarcErrorCode =
  /** Wrong arguments or options (a level out of range, a source that is not an archive source). */
  | 'PORTARC_USAGE'
  /** The archive is malformed, truncated, or not an archive at all. */
  | 'PORTARC_BAD_ARCHIVE'
  /** The archive needs something this reader does not implement (incompat feature, new major). */
  | 'PORTARC_UNSUPPORTED'
  /** A bound was exceeded (bytes, entries, path length, header size, xattrs): see --limit. */
  | 'PORTARC_LIMIT'
  /** Content is damaged: a digest or CRC does not match what the archive recorded. */
  | 'PORTARC_DAMAGED'
  /** A system call on a file the caller named failed (ENOSPC, EACCES, EIO, EPIPE, ENOENT...). */
  | 'PORTARC_IO'
  /** An entry could not be archived or restored completely (unreadable, shrank, body threw). */
  | 'PORTARC_ENTRY_FAILED'
  /** A bug in portarc: please report it with the message. */
  | 'PORTARC_INTERNAL';

export interface ErrorDetails {
  archive?: string;
  entry?: string;
  offset?: number;
  /** A file on disk the error is about (not an archive member). */
  path?: string;
  cause?: unknown;
}

export class PortarcError extends Error {
  archive: string | undefined;
  readonly code: PortarcErrorCode;
  constructor(
    readonly reason: string,
    readonly details: ErrorDetails = {},
    code: PortarcErrorCode = 'PORTARC_INTERNAL',
  ) {
    super(reason, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PortarcError';
    this.code = code;
    this.archive = details.archive;
    this.message = this.describe();
  }

  /** Fill in the archive name once the layer that knows it catches the error. */
  withArchive(archive: string): this {
    if (this.archive === undefined) {
      this.archive = archive;
      this.message = this.describe();
    }
    return this;
  }

  private describe(): string {
    const where: string[] = [];
    if (this.archive !== undefined) where.push(this.archive);
    if (this.details.entry !== undefined) where.push(`entry "${shownName(this.details.entry)}"`);
    if (this.details.offset !== undefined) where.push(`offset ${this.details.offset}`);
    if (this.details.path !== undefined && this.details.entry === undefined && this.details.path !== this.archive) where.push(shownName(this.details.path));
    return where.length ? `${where.join(', ')}: ${this.reason}` : this.reason;
  }
}

/** Longer than a path can be here (PATH_MAX): what a damaged zip's garbage "name" of up to 64 KiB is. */
const SHOWN_NAME = 4096;

/**
 * An entry name or path for a message line: control characters as \xNN (a CR would move the
 * terminal's cursor back over the name, a newline split the line), as `list` shows them; cut past
 * SHOWN_NAME characters (`details.entry` keeps it whole).
 */
function shownName(name: string): string {
  const shown = name.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return shown.length > SHOWN_NAME ? `${shown.slice(0, SHOWN_NAME)}... (${shown.length} characters)` : shown;
}

/** A malformed or truncated archive (and the base of the other archive-content errors). */
export class ArchiveError extends PortarcError {
  constructor(reason: string, details: ErrorDetails = {}, code: PortarcErrorCode = 'PORTARC_BAD_ARCHIVE') {
    super(reason, details, code);
    this.name = 'ArchiveError';
  }
}

/** A feature the archive needs that this reader does not implement (spec §7, incompat features). */
export class UnsupportedFeatureError extends ArchiveError {
  constructor(reason: string, details: ErrorDetails = {}) {
    super(reason, details, 'PORTARC_UNSUPPORTED');
    this.name = 'UnsupportedFeatureError';
  }
}

/** A bound of spec §6.6 / §9.6 was exceeded. Ends the operation like a malformed archive. */
export class LimitError extends ArchiveError {
  constructor(reason: string, details: ErrorDetails = {}) {
    super(reason, details, 'PORTARC_LIMIT');
    this.name = 'LimitError';
  }
}

/** Bad arguments or options given to the library or the CLI. */
export class UsageError extends PortarcError {
  constructor(reason: string, details: ErrorDetails = {}) {
    super(reason, details, 'PORTARC_USAGE');
    this.name = 'UsageError';
  }
}

/** A system call failed on a named file: the archive, the destination, a path to archive. */
export class IoError extends PortarcError {
  /** The errno name (ENOSPC, EACCES, EPIPE...), when the cause had one. */
  readonly errno: string | undefined;
  constructor(reason: string, details: ErrorDetails & { errno?: string } = {}) {
    super(reason, details, 'PORTARC_IO');
    this.name = 'IoError';
    this.errno = details.errno ?? (details.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** An entry whose content could not be archived or restored completely. */
export class EntryError extends PortarcError {
  constructor(reason: string, details: ErrorDetails = {}) {
    super(reason, details, 'PORTARC_ENTRY_FAILED');
    this.name = 'EntryError';
  }
}

/** Content that does not match its recorded digest or CRC. */
export class DamagedError extends ArchiveError {
  constructor(reason: string, details: ErrorDetails = {}) {
    super(reason, details, 'PORTARC_DAMAGED');
    this.name = 'DamagedError';
  }
}

/** A one-line description of a Node system error: "no space left on device (ENOSPC)". */
export function describeErrno(err: NodeJS.ErrnoException): string {
  const text: Record<string, string> = {
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOENT: 'no such file or directory',
    EEXIST: 'already exists',
    ENOTDIR: 'not a directory',
    EISDIR: 'is a directory',
    EIO: 'input/output error',
    EPIPE: 'the reader closed the pipe',
    EROFS: 'read-only file system',
    EMFILE: 'too many open files',
    ENAMETOOLONG: 'file name too long',
    ELOOP: 'too many levels of symbolic links',
    EINVAL: 'invalid argument',
    EXDEV: 'on another file system',
    EMLINK: 'too many links',
    ENOTSUP: 'not supported',
    EOPNOTSUPP: 'not supported',
  };
  const code = err.code;
  if (code && text[code]) return `${text[code]} (${code})`;
  return code ? `${err.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')} (${code})` : err.message;
}

/** Wrap a Node system error about `path` as an IoError; anything else is returned unchanged. */
export function ioError(err: unknown, what: string, path?: string): unknown {
  if (err instanceof PortarcError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.syscall === 'string') {
    return new IoError(`${what}: ${describeErrno(e)}`, { path, cause: e, errno: e.code });
  }
  return err;
}

/**
 * Errors that no later entry can avoid either: the disk is full, the quota spent, the filesystem
 * read-only or failing. An extraction stops at the first one (exit 2) instead of losing every
 * entry after it one by one.
 */
export function isStorageFailure(err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS' || code === 'EIO';
}
