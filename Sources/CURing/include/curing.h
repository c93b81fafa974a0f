#pragma once
// liburing for Swift, through plain functions. liburing.h itself is not
// imported: it pulls in <linux/...> and _GNU_SOURCE declarations that clash
// with Swift's Glibc module (redefinitions of sockaddr and friends), and most
// of its API is static inline, which a system-library module cannot link
// against. So this header names only what sixpn uses, with no liburing types,
// and uring.c (which does include liburing.h) implements it.

/// What the io_uring probe found.
typedef struct sixpn_uring_support {
    /// 0 when a ring could be set up, otherwise the errno of io_uring_queue_init
    /// (ENOSYS: no io_uring in this kernel; EPERM: kernel.io_uring_disabled).
    int setup_errno;
    /// Whether the kernel takes IORING_OP_RECVMSG and IORING_OP_SENDMSG.
    int recvmsg;
    int sendmsg;
    /// Whether it takes provided buffer rings (io_uring_register_buf_ring, 5.19+),
    /// which multishot receive needs.
    int buffer_rings;
} sixpn_uring_support;

/// Sets up a small ring, asks the kernel what it supports, and tears it down.
sixpn_uring_support sixpn_uring_probe(void);
