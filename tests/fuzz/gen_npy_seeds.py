#!/usr/bin/env python3
# Seed corpus for fuzz_npy (used by scripts/fuzz): one small .npy per dtype and rank, plus Fortran-order,
# big-endian and version-2 files. Written by hand so the seeds need no NumPy.
import struct, sys
out = sys.argv[1]
types = {'f4': 'f', 'f8': 'd', 'f2': 'e', 'i8': 'q', 'i4': 'i', 'i2': 'h', 'i1': 'b', 'u1': 'B', 'u2': 'H',
         'u4': 'I', 'u8': 'Q', 'b1': '?'}
shapes = [(), (0,), (3,), (2, 3), (1, 2, 2, 2)]
def save(path, descr, shape, fmt, fortran=False, version=1):
    n = 1
    for d in shape: n *= d
    shp = '(' + ''.join(f'{d},' for d in shape)[:-1 if len(shape) > 1 else None] + ')' if shape else '()'
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, 'True' if fortran else 'False', shp)
    pre = 10 if version == 1 else 12
    header += ' ' * ((64 - (pre + len(header) + 1) % 64) % 64) + '\n'
    lenfield = struct.pack('<H', len(header)) if version == 1 else struct.pack('<I', len(header))
    vals = [(i % 3) for i in range(n)]
    data = b''.join(struct.pack(('>' if descr[0] == '>' else '<') + fmt, (v != 0) if fmt == '?' else v) for v in vals)
    open(path, 'wb').write(b'\x93NUMPY' + bytes([version, 0]) + lenfield + header.encode() + data)
for t, fmt in types.items():
    for k, s in enumerate(shapes):
        save(f"{out}/{t}_{k}.npy", ('|' if t[1] == '1' else '<') + t, s, fmt)
save(f"{out}/fortran.npy", '<f4', (2, 3), 'f', fortran=True)
save(f"{out}/bigendian.npy", '>f4', (2,), 'f')
save(f"{out}/v2.npy", '<f4', (2, 2), 'f', version=2)
