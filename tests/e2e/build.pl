# SPDX-License-Identifier: MIT
# e2e: a real interpreter under `tmem run` - build a large hash and array
# of strings, walk them, print a checksum.  Output must be identical with
# and without tmem.  usage: perl build.pl N
use strict;
use warnings;
my $n = shift // 300000;
my %h;
my @a;
for my $i (0 .. $n - 1) {
	my $k = sprintf("key-%08d-%s", $i, "x" x ($i % 37));
	$h{$k} = [ $i, $i * 3 % 1009, "value " . ($i ^ 0x5a5a) ];
	push @a, $k;
}
my $sum = 0;
for my $pass (1 .. 2) {
	for my $i (0 .. $#a) {
		my $j = ($i * 7919 + $pass) % @a;
		my $v = $h{ $a[$j] };
		$sum = ($sum * 31 + $v->[0] + $v->[1] + length($v->[2])) % 4294967291;
	}
}
print "perl: $n entries, checksum $sum\n";
