/* SPDX-License-Identifier: MIT */
/*
 * uffd.h - the thin userfaultfd layer of the preload shim (preload/uffd.c).
 *
 * Every call returns 0 or a negative errno and never allocates, so it can
 * run in the fault-handler thread, in a fork child handler and before
 * main().  Addresses and lengths are page-aligned.
 */
#ifndef TMEM_PRELOAD_UFFD_H
#define TMEM_PRELOAD_UFFD_H

#include <stddef.h>
#include <stdint.h>

/* How uffd_open() got its descriptor: what the user may be told. */
enum uffd_how {
	UFFD_HOW_NONE = 0, /* neither way works */
	UFFD_HOW_SYSCALL = 1, /* userfaultfd(2), faults in syscalls served */
	UFFD_HOW_DEVICE = 2, /* /dev/userfaultfd, faults in syscalls served */
	UFFD_HOW_USER_ONLY = 3, /* only UFFD_USER_MODE_ONLY: syscalls fail */
};

/*
 * uffd_open() - a blocking, close-on-exec userfaultfd that also serves
 * faults raised by the kernel inside system calls, with the API handshake
 * done.  Tries the syscall, then /dev/userfaultfd.
 * @fd:  the descriptor (set on success).
 * @how: which way worked, or why none did (set on failure too: a
 *       UFFD_HOW_USER_ONLY failure means only user-mode faults could be
 *       handled, which tmem refuses).
 * Return: 0; -EPERM when neither way is allowed; another -errno.
 */
int uffd_open(int *fd, enum uffd_how *how);

/* Register [addr, addr+len) for missing and write-protect faults. */
int uffd_register(int fd, void *addr, size_t len);
/*
 * Install a copy of @src at @dst; -EEXIST if already present.  With @wake
 * 0 the threads waiting on the range stay asleep until uffd_wake(): the
 * fault handler installs under its lock and wakes after letting go, so a
 * woken thread that preempts it never waits behind that lock.
 */
int uffd_copy(int fd, void *dst, const void *src, size_t len, int wake);
/* Map the shared zero page at @dst; -EEXIST if already present; @wake as
 * for uffd_copy(). */
int uffd_zeropage(int fd, void *dst, size_t len, int wake);
/* Write-protect (@wp = 1) or unprotect and wake waiters (@wp = 0). */
int uffd_wp(int fd, void *addr, size_t len, int wp);
/* Wake threads waiting on faults in the range. */
int uffd_wake(int fd, void *addr, size_t len);

#endif /* TMEM_PRELOAD_UFFD_H */
