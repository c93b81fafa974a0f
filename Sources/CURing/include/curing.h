#pragma once
// liburing for Swift, through plain functions. liburing.h itself is not
// imported: it pulls in <linux/...> and _GNU_SOURCE declarations that clash
// with Swift's Glibc module (redefinitions of sockaddr and friends), and most
// of its API is static inline, which a system-library module cannot link
// against. So this header names only what sixpn uses, with no liburing types,
// and uring.c (which does include liburing.h) implements it, one liburing
// call or two per function.

#include <stdint.h>

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

/// One UDP worker's ring: a submission and completion queue, a provided
/// buffer ring that multishot receives fill, and the worker's sockets
/// registered as fixed files (no file lookup per operation).
typedef struct sixpn_ring sixpn_ring;

/// A completion, copied out of the completion queue.
typedef struct sixpn_completion {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
} sixpn_completion;

/// A datagram that a multishot receive put into a provided buffer.
typedef struct sixpn_datagram {
    /// The source address (a sockaddr) and its length.
    const void *name;
    uint32_t name_length;
    const void *payload;
    uint32_t payload_length;
    /// The buffer to give back with sixpn_ring_recycle.
    uint32_t buffer;
    /// Set when the datagram was longer than the buffer (MSG_TRUNC).
    int truncated;
} sixpn_datagram;

/// Sets up a ring of `entries` submission entries, `buffers` (a power of
/// two) receive buffers with room for `payload_size` octets and a source
/// address of up to `name_size` octets each, and registers `fds`. The ring
/// starts disabled: the thread that will submit calls sixpn_ring_enable
/// (the ring is single-issuer). NULL with *error set (an errno) on failure.
sixpn_ring *sixpn_ring_create(unsigned entries, unsigned buffers, unsigned payload_size, unsigned name_size,
                              const int *fds, unsigned fd_count, int *error);
/// Makes the calling thread the ring's only submitter. 0 or -errno.
int sixpn_ring_enable(sixpn_ring *ring);
void sixpn_ring_destroy(sixpn_ring *ring);

/// Queues a multishot receive on fixed file `index`. 0, or -EBUSY when the submission queue is full.
int sixpn_ring_receive(sixpn_ring *ring, unsigned index, uint64_t user_data);
/// Queues a sendmsg of `msghdr` (a struct msghdr that must stay put until
/// its completion) on fixed file `index`. 0, or -EBUSY when the queue is full.
int sixpn_ring_send(sixpn_ring *ring, unsigned index, const void *msghdr, uint64_t user_data);
/// Submits what is queued and waits up to `timeout_ms` for at least one
/// completion. The number submitted, or -errno (-ETIME: nothing completed in time).
int sixpn_ring_submit_and_wait(sixpn_ring *ring, unsigned timeout_ms);
/// Copies up to `max` completions out and marks them seen. How many.
unsigned sixpn_ring_reap(sixpn_ring *ring, sixpn_completion *out, unsigned max);
/// Whether a receive completion carries more (the multishot receive is still armed).
int sixpn_completion_more(const sixpn_completion *c);
/// The datagram of a receive completion: 1; 0 when its buffer (out->buffer,
/// still to be recycled) does not hold a whole header; -1 when it has no buffer.
int sixpn_ring_datagram(sixpn_ring *ring, const sixpn_completion *c, sixpn_datagram *out);
/// Gives a receive buffer back to the kernel.
void sixpn_ring_recycle(sixpn_ring *ring, uint32_t buffer);
/// Submits what is queued without waiting. The number submitted, or -errno.
int sixpn_ring_submit(sixpn_ring *ring);
/// Cancels every request on the ring (the multishot receives), waits up to
/// `timeout_ms` for the cancellation to complete and unregisters the files,
/// so that the sockets are released as soon as their descriptors are closed
/// (a ring's own teardown runs later, in the kernel's workqueue, and would
/// keep them bound meanwhile). The submitting thread calls it. 0 or -errno.
int sixpn_ring_quiesce(sixpn_ring *ring, unsigned timeout_ms);
