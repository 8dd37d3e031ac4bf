# SPDX-License-Identifier: MIT
# e2e program: python3 forks after building a large data set, the way
# real programs do.  Every process prints a digest of what it sees; the
# digests must match a plain run's.
#
# usage: python3 fork_data.py pool MIB   multiprocessing.Pool (fork start
#                                        method), 4 workers hash a quarter each
#        python3 fork_data.py fork MIB   os.fork(); the child hashes it all
# Then the parent hashes every 64th record.
import hashlib
import multiprocessing
import os
import sys

DATA = []


def build(mib):
    # Text records, compressible about as much as a real program's heap:
    # ~260 bytes of objects a record (str object, list slot).
    n = mib * 1024 * 1024 // 260
    return ["%09d:%s" % (i, ("%d " % (i * 2654435761 % 1000003)) * 24) for i in range(n)]


def digest(lo, hi, step=1):
    h = hashlib.sha256()
    for i in range(lo, hi, step):
        h.update(DATA[i].encode())
    return "%d:%s" % (len(range(lo, hi, step)), h.hexdigest()[:16])


def slice_digest(k):
    n = len(DATA)
    return digest(k * n // 4, (k + 1) * n // 4)


def main():
    global DATA
    mode, mib = sys.argv[1], int(sys.argv[2])
    DATA = build(mib)
    print("built %d records" % len(DATA), flush=True)
    if mode == "pool":
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(4) as pool:
            for k, d in enumerate(pool.map(slice_digest, range(4))):
                print("worker slice %d: %s" % (k, d))
    else:
        pid = os.fork()
        if pid == 0:
            print("child: %s" % digest(0, len(DATA)), flush=True)
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        print("child exit status %d" % os.waitstatus_to_exitcode(status))
    print("parent: %s" % digest(0, len(DATA), 64))


main()
