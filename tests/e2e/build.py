# SPDX-License-Identifier: MIT
# e2e: python3 under `tmem run` - build a large dict of lists and bytes,
# walk it, print a checksum.  usage: python3 build.py N
import sys
import zlib

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
d = {}
for i in range(n):
    d["key-%08d" % i] = [i, i * 3 % 1009, ("value %d " % (i ^ 0x5A5A)) * (i % 7 + 1)]
crc = 0
for p in range(2):
    for i in range(n):
        v = d["key-%08d" % ((i * 7919 + p) % n)]
        crc = zlib.crc32(("%d/%d/%s" % (v[0], v[1], v[2])).encode(), crc)
print("python: %d entries, checksum %08x" % (n, crc))
