#include "curing.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
