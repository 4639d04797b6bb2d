import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { inflateRawSync } from 'node:zlib';

/** One file of a zip archive, as its central directory describes it. */
export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
}

/** The archive is not a zip this reader understands (damaged, or a ZIP64 archive, which Lambda zips never need). */
export class ZipFormatError extends Error {
  override readonly name = 'ZipFormatError';
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;

/** Lists a zip's entries from its central directory (the reader Lambda itself relies on). */
export const listZipEntries = (archive: Buffer): ZipEntry[] => {
  // The end record is 22 bytes plus a comment of at most 64 KiB, at the very end.
  let end = -1;
  for (let at = archive.length - 22; at >= Math.max(0, archive.length - 22 - 0xffff); at -= 1) {
    if (archive.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) {
      end = at;
      break;
    }
  }
  if (end < 0) throw new ZipFormatError('no end of central directory record');
  const count = archive.readUInt16LE(end + 10);
  let at = archive.readUInt32LE(end + 16);
  if (count === 0xffff || at === 0xffffffff) throw new ZipFormatError('ZIP64 archives are not supported');
  const entries: ZipEntry[] = [];
  for (let index = 0; index < count; index += 1) {
    if (archive.readUInt32LE(at) !== CENTRAL_DIRECTORY_HEADER) throw new ZipFormatError(`bad central directory header at ${at}`);
    const nameLength = archive.readUInt16LE(at + 28);
    const extraLength = archive.readUInt16LE(at + 30);
    const commentLength = archive.readUInt16LE(at + 32);
    entries.push({
      name: archive.toString('utf8', at + 46, at + 46 + nameLength),
      method: archive.readUInt16LE(at + 10),
      compressedSize: archive.readUInt32LE(at + 20),
      uncompressedSize: archive.readUInt32LE(at + 24),
      localHeaderOffset: archive.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
};

/** The uncompressed bytes of one entry (stored or deflated). */
export const readZipEntry = (archive: Buffer, entry: ZipEntry): Buffer => {
  const at = entry.localHeaderOffset;
  if (archive.readUInt32LE(at) !== LOCAL_FILE_HEADER) throw new ZipFormatError(`bad local header for ${entry.name}`);
  const start = at + 30 + archive.readUInt16LE(at + 26) + archive.readUInt16LE(at + 28);
  const data = archive.subarray(start, start + entry.compressedSize);
  if (entry.method === 0) return Buffer.from(data);
  if (entry.method === 8) return inflateRawSync(data);
  throw new ZipFormatError(`${entry.name}: unsupported compression method ${entry.method}`);
};

/** Extracts a zip file into `target` (which it creates); returns the entries. Refuses paths that leave `target`. */
export const extractZip = (zipPath: string, target: string): ZipEntry[] => {
  const archive = readFileSync(zipPath);
  const entries = listZipEntries(archive);
  for (const entry of entries) {
    if (entry.name.endsWith('/')) continue;
    const destination = normalize(join(target, entry.name));
    if (!destination.startsWith(normalize(target) + sep)) throw new ZipFormatError(`${entry.name} would be written outside ${target}`);
    mkdirSync(dirname(destination), { recursive: true });
    writeFileSync(destination, readZipEntry(archive, entry));
  }
  return entries;
};
