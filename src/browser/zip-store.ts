/**
 * A zip archive of stored (uncompressed) entries, for the ui's Download of a task directory. Task
 * files are float32 weights that deflate barely shrinks, so storing keeps it simple; any unzip
 * tool reads the result.
 */
import { crc32 } from 'node:zlib';

/** One file of the archive: its path inside the zip (forward slashes) and its bytes. */
export interface ZipFile {
  readonly path: string;
  readonly data: Uint8Array;
}

/** The archive's bytes. Dates are fixed (1980-01-01), so the same files give the same zip. */
export function zipStored(files: readonly ZipFile[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.path, 'utf8');
    const crc = crc32(f.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(f.data.byteLength, 18);
    local.writeUInt32LE(f.data.byteLength, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(0x0800, 8);
    dir.writeUInt16LE(0, 10);
    dir.writeUInt16LE(0, 12);
    dir.writeUInt16LE(0x21, 14);
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(f.data.byteLength, 20);
    dir.writeUInt32LE(f.data.byteLength, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42);
    parts.push(local, name, Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength));
    central.push(dir, name);
    offset += local.length + name.length + f.data.byteLength;
  }
  const dirBytes = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(dirBytes, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}
