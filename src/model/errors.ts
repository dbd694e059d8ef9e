// Errors that name what went wrong, where: the archive, the entry and the byte offset.
// Spec: spec/portarc-1.md §8 (errors and exit codes).

export class ArchiveError extends Error {
  archive: string | undefined;
  constructor(
    readonly reason: string,
    readonly details: { archive?: string; entry?: string; offset?: number } = {},
  ) {
    super(reason);
    this.name = 'ArchiveError';
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
    if (this.details.entry !== undefined) where.push(`entry "${this.details.entry}"`);
    if (this.details.offset !== undefined) where.push(`offset ${this.details.offset}`);
    return where.length ? `${where.join(', ')}: ${this.reason}` : this.reason;
  }
}

/** A feature the archive needs that this reader does not implement (spec §7, incompat features). */
export class UnsupportedFeatureError extends ArchiveError {}
