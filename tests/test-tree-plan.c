// SPDX-License-Identifier: MIT
/*
 * test-tree-plan.c - the arbiter's policy (tools/tree-plan.c), driven
 * tick by tick over a small model of processes whose usage follows their
 * grant: a lone process holds the whole budget; an idle process's memory
 * goes before a busy one's; processes that are all busy end with equal
 * shares; a newcomer is funded; the per-process limit holds; and the
 * targets never add up to more than the budget less the reserve.
 */
#include "harness.h"
#include "tree-plan.h"

#define MiB (1ull << 20)

/* A process of the model: it would use @need if it could, and faults
 * (is pressed, hot) whenever its grant keeps it below that. */
struct proc {
	uint64_t need, floor;
	double heat_busy; /* faults/s/MiB while it runs short */
};

static uint64_t sum(const uint64_t *v, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

/*
 * @ticks rounds: plan, apply (grants become the targets; usage follows
 * the grant down at once and up to the need), as the arbiter and the
 * shims do between ticks.  Grants start at @g.
 */
static int simulate(const struct proc *p, size_t n, uint64_t *g,
		    const struct tree_plan_cfg *cfg, int ticks)
{
	struct tree_in in[8];
	uint64_t t[8];
	int over = 0;

	for (int k = 0; k < ticks; k++) {
		for (size_t i = 0; i < n; i++) {
			uint64_t u = g[i] < p[i].need ? g[i] : p[i].need;
			int short_ = g[i] < p[i].need;

			if (u < p[i].floor)
				u = p[i].floor;
			in[i].grant = g[i];
			in[i].usage = u;
			in[i].floor = p[i].floor;
			in[i].pressed = short_ && p[i].heat_busy > 0;
			in[i].heat = short_ ? p[i].heat_busy : 0;
			in[i].idle_ns = short_ ? 0 : 1000000000ull;
		}
		over = tree_plan(in, n, cfg, t);
		if (n > 1 && !over)
			CHECK(sum(t, n) + cfg->reserve <= cfg->budget);
		for (size_t i = 0; i < n; i++)
			g[i] = t[i];
	}
	return over;
}

static void lone_process_holds_everything(void)
{
	struct tree_plan_cfg cfg = { 160 * MiB, 16 * MiB, 0 };
	struct tree_in in = { .grant = 16 * MiB, .usage = 3 * MiB };
	uint64_t t = 0;

	CHECK_EQ(tree_plan(&in, 1, &cfg, &t), 0);
	CHECK_EQ(t, 160 * MiB);
	cfg.per_process = 100 * MiB;
	CHECK_EQ(tree_plan(&in, 1, &cfg, &t), 0);
	CHECK_EQ(t, 100 * MiB);
}

static void idle_goes_before_busy(void)
{
	/* 0 is idle (96 MiB filled, no faults), 1 cycles over 96 MiB */
	struct proc p[2] = { { 99 * MiB, 3 * MiB, 0 },
			     { 99 * MiB, 3 * MiB, 50.0 } };
	struct tree_plan_cfg cfg = { 160 * MiB, 16 * MiB, 0 };
	uint64_t g[2] = { 99 * MiB, 45 * MiB };

	CHECK_EQ(simulate(p, 2, g, &cfg, 40), 0);
	/* the busy one has all it needs; the idle one gave the rest */
	CHECK(g[1] >= 99 * MiB);
	CHECK(g[0] <= 160 * MiB - 16 * MiB - 99 * MiB);
	CHECK(g[0] >= 3 * MiB + TREE_MIN_WORKING);
}

static void busy_processes_share_evenly(void)
{
	struct proc p[4];
	struct tree_plan_cfg cfg = { 160 * MiB, 16 * MiB, 0 };
	/* the first to start took nearly everything */
	uint64_t g[4] = { 120 * MiB, 8 * MiB, 8 * MiB, 8 * MiB };

	for (int i = 0; i < 4; i++)
		p[i] = (struct proc){ 99 * MiB, 3 * MiB, 40.0 };
	simulate(p, 4, g, &cfg, 30);
	for (int i = 0; i < 4; i++) {
		CHECK(g[i] >= 35 * MiB);
		CHECK(g[i] <= 37 * MiB);
	}
}

static void newcomer_is_funded(void)
{
	/* 0 holds much more than it uses; 1 just joined with nothing */
	struct tree_in in[2] = {
		{ .grant = 150 * MiB, .usage = 20 * MiB, .floor = 4 * MiB },
		{ .grant = 0,
		  .usage = 3 * MiB,
		  .floor = 3 * MiB,
		  .heat = 9,
		  .pressed = 1 },
	};
	struct tree_plan_cfg cfg = { 160 * MiB, 16 * MiB, 0 };
	uint64_t t[2];

	CHECK_EQ(tree_plan(in, 2, &cfg, t), 0);
	/* the unused grant goes back; the newcomer wants the reserve */
	CHECK_EQ(t[0], 20 * MiB + 16 * MiB);
	CHECK_EQ(t[1], 16 * MiB);
}

static void per_process_limit_holds(void)
{
	struct proc p[2] = { { 150 * MiB, 3 * MiB, 40.0 },
			     { 10 * MiB, 3 * MiB, 0 } };
	struct tree_plan_cfg cfg = { 256 * MiB, 16 * MiB, 64 * MiB };
	uint64_t g[2] = { 16 * MiB, 16 * MiB };

	simulate(p, 2, g, &cfg, 20);
	CHECK_EQ(g[0], 64 * MiB);
}

static void floors_too_large_say_so(void)
{
	struct tree_in in[3] = {
		{ .grant = 60 * MiB, .usage = 60 * MiB, .floor = 55 * MiB },
		{ .grant = 60 * MiB, .usage = 60 * MiB, .floor = 55 * MiB },
		{ .grant = 30 * MiB,
		  .usage = 40 * MiB,
		  .floor = 30 * MiB,
		  .pressed = 1,
		  .heat = 5 },
	};
	struct tree_plan_cfg cfg = { 128 * MiB, 16 * MiB, 0 };
	uint64_t t[3];

	CHECK_EQ(tree_plan(in, 3, &cfg, t), 1);
	/* nobody below its floor and some working memory, or its grant */
	CHECK_EQ(t[0], 59 * MiB);
	CHECK_EQ(t[1], 59 * MiB);
	CHECK_EQ(t[2], 30 * MiB);
}

static void wants_that_fit_are_met(void)
{
	struct tree_in in[2] = {
		{ .grant = 40 * MiB,
		  .usage = 30 * MiB,
		  .floor = 3 * MiB,
		  .pressed = 1,
		  .heat = 3 },
		{ .grant = 20 * MiB, .usage = 10 * MiB, .floor = 3 * MiB },
	};
	struct tree_plan_cfg cfg = { 512 * MiB, 32 * MiB, 0 };
	uint64_t t[2];

	CHECK_EQ(tree_plan(in, 2, &cfg, t), 0);
	CHECK_EQ(t[0], 40 * MiB + 32 * MiB); /* half again, at least reserve */
	CHECK_EQ(t[1], 20 * MiB); /* uses 10 + a margin of 32: keeps 20 */
}

int main(void)
{
	RUN(lone_process_holds_everything,
	    "a process alone holds the budget (or its per-process limit)");
	RUN(idle_goes_before_busy, "an idle process's memory goes first");
	RUN(busy_processes_share_evenly,
	    "busy processes end with equal shares");
	RUN(newcomer_is_funded, "unused grant goes back, a newcomer is funded");
	RUN(per_process_limit_holds, "--ram-per-process caps a busy process");
	RUN(floors_too_large_say_so,
	    "floors above the budget: reported, nobody cut below them");
	RUN(wants_that_fit_are_met, "wants within the budget are met as asked");
	return th_finish();
}
