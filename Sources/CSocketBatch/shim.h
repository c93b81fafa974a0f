#pragma once
#include <sys/socket.h>
#include <time.h>

// Batched datagram calls (recvmmsg(2), sendmmsg(2)). Glibc declares them only
// under _GNU_SOURCE, which Swift's Glibc module is not built with, so they are
// declared here, bound to the same symbols, with an identical struct layout.
struct sixpn_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};
int sixpn_recvmmsg(int fd, struct sixpn_mmsghdr *vec, unsigned int vlen, int flags,
                   struct timespec *timeout) __asm__("recvmmsg");
int sixpn_sendmmsg(int fd, struct sixpn_mmsghdr *vec, unsigned int vlen, int flags) __asm__("sendmmsg");
