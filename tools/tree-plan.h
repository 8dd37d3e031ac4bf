/* SPDX-License-Identifier: MIT */
/*
 * tree-plan.h - who holds how much of a process tree's budget: the
 * arbiter's policy (tools/tree-plan.c), a pure function of what the
 * processes reported, so that tests can drive it tick by tick.  The
 * arbiter (tools/run-tree.c) gathers the inputs and applies the targets
 * with the ledger's protocol (preload/run-ledger.h).
 */
#ifndef TMEM_TREE_PLAN_H
#define TMEM_TREE_PLAN_H

#include <stddef.h>
#include <stdint.h>

/* What the plan never takes from a process below: what it cannot evict
 * plus this much managed memory to work in, and this much in all. */
#define TREE_MIN_WORKING (4ull << 20)
#define TREE_MIN_GRANT (8ull << 20)

struct tree_in {
	uint64_t grant; /* what it holds now */
	uint64_t usage; /* its resident set, pool and tables included */
	uint64_t floor; /* what of @usage tmem cannot evict */
	double heat; /* faults a second per MiB of usage, smoothed */
	uint64_t idle_ns; /* since its last fault */
	int pressed; /* at its grant and still faulting: wants more */
};

struct tree_plan_cfg {
	uint64_t budget; /* --ram */
	uint64_t reserve; /* kept free for processes that join */
	uint64_t per_process; /* --ram-per-process, 0 for none */
};

/*
 * Targets for the n processes of @in into @target.  Returns 0, or 1 if
 * even the least each process can hold (its floor and a little working
 * memory) adds up to more than the budget.
 */
int tree_plan(const struct tree_in *in, size_t n,
	      const struct tree_plan_cfg *cfg, uint64_t *target);

#endif /* TMEM_TREE_PLAN_H */
