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

// CPU affinity for `sixpn serve --pin`, also _GNU_SOURCE-only in glibc: the
// same symbols, taking the set as raw bytes (a cpu_set_t, 1024 bits).
#include <pthread.h>
#include <sys/types.h>
int sixpn_sched_getaffinity(pid_t pid, size_t size, void *set) __asm__("sched_getaffinity");
int sixpn_pthread_setaffinity_np(pthread_t thread, size_t size, const void *set) __asm__("pthread_setaffinity_np");

// A thread's name (15 octets at most), as top -H and /proc/PID/task/TID/comm show it; also _GNU_SOURCE-only.
int sixpn_pthread_setname_np(pthread_t thread, const char *name) __asm__("pthread_setname_np");
// The calling thread's kernel ID, for setpriority(2) on one thread; also _GNU_SOURCE-only.
pid_t sixpn_gettid(void) __asm__("gettid");

// The allocator's knobs, mallopt(3): <malloc.h> is not part of Swift's Glibc module.
#include <malloc.h>
