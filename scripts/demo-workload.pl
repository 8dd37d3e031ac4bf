#!/usr/bin/perl
# SPDX-License-Identifier: MIT
# demo-workload.pl [RECORDS]: a real program with a realistic heap for the
# demo to look at.  It builds an order book - customers, products, orders
# with line items - indexes it three ways, renders part of it as JSON-like
# text, prints "READY <pid> <records>" and waits to be examined and killed.
use strict;
use warnings;
$| = 1;

my $n = shift // 200000;
srand(20261122);
my @first = qw(Ada Alan Barbara Claude Donald Edsger Frances Grace Ivan John
               Ken Leslie Margaret Niklaus Radia Robin Shafi Tony Whitfield Yukihiro);
my @last = qw(Lovelace Turing Liskov Shannon Knuth Dijkstra Allen Hopper Sutherland
              Backus Thompson Lamport Hamilton Wirth Perlman Milner Goldwasser Hoare Diffie Matsumoto);
my @cities = qw(Lisbon Oslo Nairobi Lima Osaka Tbilisi Quito Hanoi Perth Dakar);
my @cats = qw(books tools garden kitchen toys music office sports travel health);

my (%customers, %products, @orders, %by_customer, %by_product, %by_day);
for my $c (1 .. $n / 10) {
    $customers{"C$c"} = {
        id => "C$c",
        name => $first[rand @first] . ' ' . $last[rand @last],
        city => $cities[rand @cities],
        email => lc($first[rand @first]) . ".$c\@example.org",
        since => sprintf('20%02d-%02d-%02d', 10 + int rand 16, 1 + int rand 12, 1 + int rand 28),
    };
}
for my $p (1 .. 5000) {
    $products{"P$p"} = {
        sku => sprintf('SKU-%06d', $p),
        category => $cats[rand @cats],
        price => sprintf('%.2f', 1 + rand 300),
        stock => int rand 1000,
    };
}
for my $o (1 .. $n) {
    my $cust = 'C' . (1 + int rand($n / 10));
    my @items = map { { product => 'P' . (1 + int rand 5000), qty => 1 + int rand 5 } } 1 .. 1 + int rand 4;
    my $day = sprintf('2026-%02d-%02d', 1 + int rand 12, 1 + int rand 28);
    my $total = 0;
    $total += $products{$_->{product}}{price} * $_->{qty} for @items;
    my $order = { id => "O$o", customer => $cust, day => $day, items => \@items,
                  total => sprintf('%.2f', $total), status => (qw(new paid shipped delivered))[rand 4] };
    push @orders, $order;
    push @{ $by_customer{$cust} }, $order;
    push @{ $by_product{$_->{product}} }, $order for @items;
    $by_day{$day}{count}++;
    $by_day{$day}{revenue} += $total;
}
# Some rendered text, as a web service would keep in a cache.
my @rendered;
for my $o (@orders[0 .. ($n < 20000 ? $n - 1 : 19999)]) {
    push @rendered, sprintf('{"id":"%s","customer":"%s","day":"%s","total":%s,"status":"%s","items":[%s]}',
        $o->{id}, $o->{customer}, $o->{day}, $o->{total}, $o->{status},
        join(',', map { sprintf('{"product":"%s","qty":%d}', $_->{product}, $_->{qty}) } @{ $o->{items} }));
}
print "READY $$ ", scalar(@orders), "\n";
sleep 3600 while 1;
