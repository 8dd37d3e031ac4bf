// SPDX-License-Identifier: MIT
/*
 * uffd.c - the userfaultfd calls the shim makes, behind plain functions.
 *
 * Why a layer: the rest of the shim speaks in pages and errnos, and the
 * ioctl structs (with their in/out fields and EAGAIN retry rules) live in
 * one place.  Nothing here allocates or uses stdio: it runs in the fault
 * handler thread, in the atfork child handler and in the constructor.
 *
 * Opening: tmem needs faults raised inside system calls (read() into an
 * evicted buffer) to be served, so UFFD_USER_MODE_ONLY is never used for
 * a managed run; it is only probed to tell the user what is possible.
 * No UFFD_FEATURE_EVENT_* is requested: the shim interposes madvise,
 * munmap and mremap itself, and EVENT_REMOVE would make every
 * MADV_DONTNEED in the region block on the handler thread.
 *
 * UFFDIO_COPY and UFFDIO_ZEROPAGE may return -EAGAIN when the mm is
 * changing under them (a concurrent mremap or fork): they are retried
 * here for the part not yet done.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

static int handshake(int fd)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };

	if (ioctl(fd, UFFDIO_API, &api))
		return -errno;
	return 0;
}

int uffd_open(int *fd, enum uffd_how *how)
{
	int flags = O_CLOEXEC;
	int err, dev, f;

	f = (int)syscall(SYS_userfaultfd, flags);
	if (f >= 0) {
		*how = UFFD_HOW_SYSCALL;
		goto opened;
	}
	err = -errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		f = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
		close(dev);
		if (f >= 0) {
			*how = UFFD_HOW_DEVICE;
			goto opened;
		}
	}
	f = (int)syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
	if (f >= 0) {
		close(f);
		*how = UFFD_HOW_USER_ONLY;
	} else {
		*how = UFFD_HOW_NONE;
	}
	return err == -ENOSYS ? -ENOSYS : -EPERM;
opened:
	err = handshake(f);
	if (err) {
		close(f);
		*how = UFFD_HOW_NONE;
		return err;
	}
	*fd = f;
	return 0;
}

int uffd_register(int fd, void *addr, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
	};
	const uint64_t need =
		(1ull << _UFFDIO_COPY) | (1ull << _UFFDIO_ZEROPAGE) |
		(1ull << _UFFDIO_WRITEPROTECT) | (1ull << _UFFDIO_WAKE);

	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		return -errno;
	if ((reg.ioctls & need) != need)
		return -EOPNOTSUPP;
	return 0;
}

int uffd_copy(int fd, void *dst, const void *src, size_t len, int wake)
{
	size_t done = 0;

	while (done < len) {
		struct uffdio_copy c = {
			.dst = (uintptr_t)dst + done,
			.src = (uintptr_t)src + done,
			.len = len - done,
			.mode = wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE,
		};

		if (!ioctl(fd, UFFDIO_COPY, &c))
			return 0;
		if (errno != EAGAIN)
			return -errno;
		if (c.copy > 0)
			done += (size_t)c.copy;
	}
	return 0;
}

int uffd_zeropage(int fd, void *dst, size_t len, int wake)
{
	size_t done = 0;

	while (done < len) {
		struct uffdio_zeropage z = {
			.range = { .start = (uintptr_t)dst + done,
				   .len = len - done },
			.mode = wake ? 0 : UFFDIO_ZEROPAGE_MODE_DONTWAKE,
		};

		if (!ioctl(fd, UFFDIO_ZEROPAGE, &z))
			return 0;
		if (errno != EAGAIN)
			return -errno;
		if (z.zeropage > 0)
			done += (size_t)z.zeropage;
	}
	return 0;
}

int uffd_wp(int fd, void *addr, size_t len, int wp)
{
	struct uffdio_writeprotect w = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	for (;;) {
		if (!ioctl(fd, UFFDIO_WRITEPROTECT, &w))
			return 0;
		if (errno != EAGAIN)
			return -errno;
	}
}

int uffd_wake(int fd, void *addr, size_t len)
{
	struct uffdio_range r = { .start = (uintptr_t)addr, .len = len };

	return ioctl(fd, UFFDIO_WAKE, &r) ? -errno : 0;
}
