// SPDX-License-Identifier: MIT
/*
 * tree-plan.c - the arbiter's policy: how a process tree's budget is
 * shared, decided again every tick from what each process reported.
 *
 * The signal is the one the shim has: faults.  The shim cannot see
 * accesses to resident pages (no access bits in user space), only the
 * faults that bring pages in: first touches and refaults.  So a process
 * that faults is using more than it holds, and one that does not is
 * either idle or fits; memory moves from processes that do not fault to
 * processes that do, coldest first, as the kernel balances its LRUs by
 * refaults.  A process that fitted and loses memory it was using starts
 * refaulting, and so takes it back from one that is really idle: the
 * plan settles where idle processes hold their floor and the busy ones
 * share the rest.
 *
 * Each tick, for each process:
 *   - a pressed one (at its grant and faulting) wants half as much again
 *     (at least the reserve), so a growing process gets room in a few
 *     ticks;
 *   - any other wants what it uses plus a margin to grow in until the
 *     next tick (an eighth of its usage, at least the reserve); a grant
 *     above that goes back, which costs it nothing;
 *   - none is cut below its floor (what tmem cannot evict: text,
 *     libraries, stacks, glibc's heap, a pool without backing file) plus
 *     a little working memory.
 * If the wants and the reserve kept for joining processes exceed the
 * budget, the excess is cut first from processes that are not pressed,
 * the coldest first (fewest faults per MiB, then the longest idle), then
 * evenly from the largest grants down (max-min fairness): processes that
 * are all busy end with equal shares, and a newcomer is not starved.
 * A process alone in the tree holds the whole budget, as a run without a
 * tree would.
 */
#include "tree-plan.h"

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* What the plan may not take from process @m. */
static uint64_t least(const struct tree_in *m)
{
	return min_u64(m->grant,
		       max_u64(m->floor + TREE_MIN_WORKING, TREE_MIN_GRANT));
}

static uint64_t want(const struct tree_in *m, const struct tree_plan_cfg *cfg)
{
	uint64_t w;

	if (m->pressed)
		w = m->grant + max_u64(cfg->reserve, m->grant / 2);
	else
		w = min_u64(m->grant,
			    m->usage + max_u64(cfg->reserve, m->usage / 8));
	if (cfg->per_process && w > cfg->per_process)
		w = cfg->per_process;
	return max_u64(w, least(m));
}

/* Is @a colder than @b: fewer faults per MiB, or as few and idle longer. */
static int colder(const struct tree_in *a, const struct tree_in *b)
{
	if (a->heat != b->heat)
		return a->heat < b->heat;
	return a->idle_ns > b->idle_ns;
}

/* Cut @excess from the processes that are not pressed, coldest first;
 * returns what is left of it. */
static uint64_t cut_cold(const struct tree_in *in, size_t n, uint64_t *t,
			 uint64_t excess)
{
	while (excess) {
		size_t c = n;
		uint64_t d;

		for (size_t i = 0; i < n; i++)
			if (!in[i].pressed && t[i] > least(&in[i]) &&
			    (c == n || colder(&in[i], &in[c])))
				c = i;
		if (c == n)
			break;
		d = min_u64(excess, t[c] - least(&in[c]));
		t[c] -= d;
		excess -= d;
	}
	return excess;
}

/* Sum of the targets if none may exceed @level. */
static uint64_t sum_at(const struct tree_in *in, size_t n, const uint64_t *t,
		       uint64_t level)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += max_u64(least(&in[i]), min_u64(t[i], level));
	return s;
}

/* Cut @excess from the largest targets down to one level, never below
 * least(); returns what is left of it. */
static uint64_t cut_fair(const struct tree_in *in, size_t n, uint64_t *t,
			 uint64_t excess)
{
	uint64_t total = sum_at(in, n, t, UINT64_MAX), lo = 0, hi = 0;

	for (size_t i = 0; i < n; i++)
		hi = max_u64(hi, t[i]);
	if (!excess)
		return 0;
	/* the highest level whose sum leaves out at least @excess */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;

		if (total - sum_at(in, n, t, mid) >= excess)
			lo = mid;
		else
			hi = mid - 1;
	}
	if (total - sum_at(in, n, t, lo) < excess) {
		for (size_t i = 0; i < n; i++)
			t[i] = least(&in[i]);
		return excess - (total - sum_at(in, n, t, UINT64_MAX));
	}
	for (size_t i = 0; i < n; i++)
		t[i] = max_u64(least(&in[i]), min_u64(t[i], lo));
	return 0;
}

int tree_plan(const struct tree_in *in, size_t n,
	      const struct tree_plan_cfg *cfg, uint64_t *target)
{
	uint64_t total = 0, excess;

	if (n == 1) {
		target[0] = cfg->per_process
				    ? min_u64(cfg->budget, cfg->per_process)
				    : cfg->budget;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		target[i] = want(&in[i], cfg);
		total += target[i];
	}
	if (n)
		total += cfg->reserve;
	if (total <= cfg->budget)
		return 0;
	excess = cut_cold(in, n, target, total - cfg->budget);
	return cut_fair(in, n, target, excess) > 0;
}
