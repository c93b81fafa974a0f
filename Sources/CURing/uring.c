#include "curing.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

sixpn_uring_support sixpn_uring_probe(void) {
    sixpn_uring_support s = {0, 0, 0, 0};
    struct io_uring ring;
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
        s.setup_errno = -rc;
        return s;
    }
    struct io_uring_probe *p = io_uring_get_probe_ring(&ring);
    if (p) {
        s.recvmsg = io_uring_opcode_supported(p, IORING_OP_RECVMSG);
        s.sendmsg = io_uring_opcode_supported(p, IORING_OP_SENDMSG);
        io_uring_free_probe(p);
    }
    // A provided-buffer ring of one entry (one page): registering it tells whether the kernel has them.
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (page != MAP_FAILED) {
        struct io_uring_buf_reg reg;
        memset(&reg, 0, sizeof reg);
        reg.ring_addr = (unsigned long)page;
        reg.ring_entries = 1;
        reg.bgid = 0;
        io_uring_buf_ring_init((struct io_uring_buf_ring *)page);
        if (io_uring_register_buf_ring(&ring, &reg, 0) == 0) {
            s.buffer_rings = 1;
            io_uring_unregister_buf_ring(&ring, 0);
        }
        munmap(page, 4096);
    }
    io_uring_queue_exit(&ring);
    return s;
}

struct sixpn_ring {
    struct io_uring ring;
    /// The provided buffers' ring (one page-aligned mapping) and the buffers themselves.
    struct io_uring_buf_ring *buffer_ring;
    size_t buffer_ring_bytes;
    unsigned char *buffers;
    size_t buffer_bytes;
    unsigned buffer_count;
    unsigned buffer_size;
    /// The template every multishot receive reads: how much room the source address and control data get.
    struct msghdr receive_template;
};

enum { buffer_group = 0 };

sixpn_ring *sixpn_ring_create(unsigned entries, unsigned buffers, unsigned payload_size, unsigned name_size,
                              const int *fds, unsigned fd_count, int *error) {
    if (buffers == 0 || (buffers & (buffers - 1)) != 0 || buffers > 32768) {
        *error = EINVAL;
        return NULL;
    }
    sixpn_ring *r = calloc(1, sizeof *r);
    if (!r) {
        *error = ENOMEM;
        return NULL;
    }
    // Single issuer: only the worker thread submits, so the kernel skips the
    // locking for other submitters. COOP_TASKRUN: completion work runs when
    // that thread next enters the kernel instead of interrupting it. (Measured
    // against DEFER_TASKRUN and no flags, bench/run.sh io: this was the
    // cheapest per answer of the three; docs/performance.md.)
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_R_DISABLED
                   | IORING_SETUP_CQSIZE;
    params.cq_entries = entries * 4;
    int rc = io_uring_queue_init_params(entries, &r->ring, &params);
    if (rc < 0) {
        free(r);
        *error = -rc;
        return NULL;
    }
    r->buffer_count = buffers;
    r->buffer_size = (unsigned)sizeof(struct io_uring_recvmsg_out) + name_size + payload_size;
    r->buffer_ring_bytes = buffers * sizeof(struct io_uring_buf);
    r->buffer_bytes = (size_t)buffers * r->buffer_size;
    r->buffer_ring = mmap(NULL, r->buffer_ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    r->buffers = mmap(NULL, r->buffer_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (r->buffer_ring == MAP_FAILED || r->buffers == MAP_FAILED) {
        *error = errno;
        if (r->buffer_ring != MAP_FAILED) munmap(r->buffer_ring, r->buffer_ring_bytes);
        if (r->buffers != MAP_FAILED) munmap(r->buffers, r->buffer_bytes);
        io_uring_queue_exit(&r->ring);
        free(r);
        return NULL;
    }
    io_uring_buf_ring_init(r->buffer_ring);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)r->buffer_ring;
    reg.ring_entries = buffers;
    reg.bgid = buffer_group;
    rc = io_uring_register_buf_ring(&r->ring, &reg, 0);
    if (rc == 0) rc = io_uring_register_files(&r->ring, fds, fd_count);
    if (rc < 0) {
        *error = -rc;
        munmap(r->buffer_ring, r->buffer_ring_bytes);
        munmap(r->buffers, r->buffer_bytes);
        io_uring_queue_exit(&r->ring);
        free(r);
        return NULL;
    }
    int mask = io_uring_buf_ring_mask(buffers);
    for (unsigned i = 0; i < buffers; i++) {
        io_uring_buf_ring_add(r->buffer_ring, r->buffers + (size_t)i * r->buffer_size, r->buffer_size, i, mask, i);
    }
    io_uring_buf_ring_advance(r->buffer_ring, buffers);
    r->receive_template.msg_namelen = name_size;
    return r;
}

int sixpn_ring_enable(sixpn_ring *r) {
    // Debian's liburing 2.3 declares io_uring_enable_rings but does not export it: the system call itself.
    long rc = syscall(__NR_io_uring_register, r->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    return rc < 0 ? -errno : 0;
}

void sixpn_ring_destroy(sixpn_ring *r) {
    if (!r) return;
    io_uring_queue_exit(&r->ring);
    munmap(r->buffer_ring, r->buffer_ring_bytes);
    munmap(r->buffers, r->buffer_bytes);
    free(r);
}

int sixpn_ring_receive(sixpn_ring *r, unsigned index, uint64_t user_data) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_recvmsg_multishot(sqe, (int)index, &r->receive_template, 0);
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffer_group;
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int sixpn_ring_send(sixpn_ring *r, unsigned index, const void *msghdr, uint64_t user_data) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_sendmsg(sqe, (int)index, (const struct msghdr *)msghdr, 0);
    sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int sixpn_ring_submit_and_wait(sixpn_ring *r, unsigned timeout_ms) {
    struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
    struct io_uring_cqe *cqe = NULL;
    return io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
}

unsigned sixpn_ring_reap(sixpn_ring *r, sixpn_completion *out, unsigned max) {
    unsigned head, n = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&r->ring, head, cqe) {
        if (n == max) break;
        out[n].user_data = cqe->user_data;
        out[n].res = cqe->res;
        out[n].flags = cqe->flags;
        n++;
    }
    io_uring_cq_advance(&r->ring, n);
    return n;
}

int sixpn_completion_more(const sixpn_completion *c) {
    return (c->flags & IORING_CQE_F_MORE) != 0;
}

int sixpn_ring_datagram(sixpn_ring *r, const sixpn_completion *c, sixpn_datagram *out) {
    if (c->res < 0 || !(c->flags & IORING_CQE_F_BUFFER)) return -1;
    uint32_t id = c->flags >> IORING_CQE_BUFFER_SHIFT;
    if (id >= r->buffer_count) return -1;
    void *buffer = r->buffers + (size_t)id * r->buffer_size;
    out->buffer = id;
    struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buffer, c->res, &r->receive_template);
    if (!o) return 0;
    out->name = io_uring_recvmsg_name(o);
    out->name_length = o->namelen < r->receive_template.msg_namelen ? o->namelen : r->receive_template.msg_namelen;
    out->payload = io_uring_recvmsg_payload(o, &r->receive_template);
    out->payload_length = io_uring_recvmsg_payload_length(o, c->res, &r->receive_template);
    out->truncated = (o->flags & MSG_TRUNC) != 0;
    return 1;
}

void sixpn_ring_recycle(sixpn_ring *r, uint32_t buffer) {
    io_uring_buf_ring_add(r->buffer_ring, r->buffers + (size_t)buffer * r->buffer_size, r->buffer_size, buffer,
                          io_uring_buf_ring_mask(r->buffer_count), 0);
    io_uring_buf_ring_advance(r->buffer_ring, 1);
}

int sixpn_ring_submit(sixpn_ring *r) {
    return io_uring_submit(&r->ring);
}

int sixpn_ring_quiesce(sixpn_ring *r, unsigned timeout_ms) {
    const uint64_t tag = UINT64_MAX;  // no other request has it: receives are socket indexes, sends have bit 63 and a slot
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) {
        io_uring_submit(&r->ring);
        sqe = io_uring_get_sqe(&r->ring);
        if (!sqe) return -EBUSY;
    }
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, tag);
    int rc = io_uring_submit(&r->ring);
    if (rc < 0) return rc;
    // Wait for the cancellation's own completion (it comes after the requests it ended), in 10 ms steps.
    int done = 0;
    for (unsigned waited = 0; !done && waited <= timeout_ms; waited += 10) {
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000000};
        struct io_uring_cqe *cqe = NULL;
        if (io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts) < 0) continue;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&r->ring, head, cqe) {
            if (cqe->user_data == tag) done = 1;
            seen++;
        }
        io_uring_cq_advance(&r->ring, seen);
    }
    rc = io_uring_unregister_files(&r->ring);
    if (!done) return -ETIME;
    return rc;
}
