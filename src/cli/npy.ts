/**
 * A .npy file (format version 1.0) of a float32 matrix: magic, version, header length (uint16 LE),
 * a Python dict literal padded with spaces and ending in '\n' so the data starts at a multiple of 64.
 */
export function npyFloat32(rows: readonly Float32Array[], columns: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows.length}, ${columns}), }`;
  const preamble = 10;
  const total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - preamble - 1, " ") + "\n";
  const out = Buffer.alloc(total + rows.length * columns * 4);
  out.write("\x93NUMPY", 0, "latin1");
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, preamble, "latin1");
  rows.forEach((row, r) => {
    if (row.length !== columns) throw new Error(`row ${r} has ${row.length} values, not ${columns}`);
    for (let c = 0; c < columns; c++) out.writeFloatLE(row[c], total + (r * columns + c) * 4);
  });
  return out;
}
