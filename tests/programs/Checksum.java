// SPDX-License-Identifier: MIT
/*
 * e2e program: a JVM with a heap far larger than the budget.  Allocates
 * MIB MiB of live long[] arrays (plus short-lived garbage, so the
 * collector runs), checksums them twice and prints the checksum.  Every
 * eighth word is pseudo-random, the rest small: not zeros, but about 6x
 * compressible, so that 400 MiB fit the pool of a 128M budget (3/4 of
 * it): what is tested is that the heap is managed, not the compressor.
 *
 * usage: java -Xmx1g -cp DIR Checksum MIB
 */
public class Checksum {
	static final int WORDS = 1 << 17; /* 1 MiB of longs */

	public static void main(String[] args) {
		int mib = Integer.parseInt(args[0]);
		long[][] live = new long[mib][];
		long seed = 0x9E3779B97F4A7C15L;
		long garbage = 0;

		for (int i = 0; i < mib; i++) {
			long[] a = new long[WORDS];
			for (int j = 0; j < WORDS; j++) {
				if ((j & 7) == 0) {
					seed = seed * 6364136223846793005L +
					       1442695040888963407L;
					a[j] = seed;
				} else {
					a[j] = j & 7;
				}
			}
			live[i] = a;
			garbage += new StringBuilder().append(i).append(seed)
					   .toString().length();
		}
		long sum = 0;
		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < mib; i++) {
				long[] a = live[(i * 7 + pass) % mib];
				for (int j = 0; j < WORDS; j++) {
					sum = (sum ^ a[j]) * 0x9E3779B97F4A7C15L;
					sum ^= sum >>> 29;
				}
			}
		System.out.printf("java: %d MiB live, checksum %016x (%d)%n",
				  mib, sum, garbage);
	}
}
