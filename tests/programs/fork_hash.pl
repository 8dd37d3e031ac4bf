# SPDX-License-Identifier: MIT
# e2e program: perl builds a large hash, then forks two children that
# each checksum all of it (copy-on-write pages, evicted in the parent
# before the fork).  The parent prints what each child found, in order,
# then a checksum of every 64th entry.
#
# usage: perl fork_hash.pl MIB
use strict;
use warnings;
use Digest::MD5;

my $mib = shift // 150;
my $n = int($mib * 1024 * 1024 / 260);    # ~260 bytes a hash entry
my %h;
for my $i (0 .. $n - 1) {
	$h{"key$i"} = sprintf("%09d ", $i * 2654435761 % 1000003) x 6;
}
print "built $n entries\n";

sub checksum {
	my ($from) = @_;
	my $ctx = Digest::MD5->new;
	for my $i (0 .. $n - 1) {
		my $k = ($i + $from) % $n;
		$ctx->add("$k=", $h{"key$k"});
	}
	return $ctx->hexdigest;
}

my (@pids, @pipes);
for my $c (0 .. 1) {
	pipe(my $r, my $w) or die "pipe: $!";
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		close $r;
		print $w checksum($c * int($n / 2)), "\n";
		close $w;
		exit 10 + $c;
	}
	close $w;
	push @pids, $pid;
	push @pipes, $r;
}
for my $c (0 .. 1) {
	my $fh = $pipes[$c];
	my $sum = <$fh> // "nothing\n";
	waitpid($pids[$c], 0);
	printf "child %d: exit %d, checksum %s", $c, $? >> 8, $sum;
}
my $ctx = Digest::MD5->new;
for (my $i = 0; $i < $n; $i += 64) {
	$ctx->add("$i=", $h{"key$i"});
}
print "parent: every 64th entry: ", $ctx->hexdigest, "\n";
