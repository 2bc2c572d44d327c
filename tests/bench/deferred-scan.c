/*
 * What multi_process_deferred_dco() costs at scale (issue 9, goal 4).
 *
 * The patched server closes the instances whose kernel peer is gone at the
 * top of the event loop: when a DEL_PEER was recorded, it scans all
 * max_clients slots of m->instances and tests each live instance's
 * dco_deferred_close flag. If every notification arrives in an event-loop
 * pass of its own (the module sends ~60 per second, so under a storm they
 * do), a storm of N deletions costs N scans of max_clients slots: O(N^2)
 * slot tests. This program times that loop shape, not openvpn itself:
 *
 *   - slots: an array of max_clients pointers, as m->instances;
 *   - instances: max_clients blocks of INSTANCE_SIZE bytes from malloc, the
 *     flag at FLAG_OFFSET (both read from the deb13u4 binary's debug info
 *     with gdb: sizeof(struct multi_instance) = 5168,
 *     offsetof(dco_deferred_close) = 0x1c0), so each slot test touches one
 *     cache line of a separate heap block, as in the server;
 *   - one storm: for k = N .. 1, one pass over all slots with one flag set
 *     (the instance being deleted), after which that instance is "closed"
 *     (its flag cleared and its slot emptied), as the server does.
 *
 * "warm": the passes run back to back, the instances stay in the cache.
 * "cold": before each pass COLD_BYTES of other memory are written, as the
 * server's own work between two notifications would evict the instances
 * (an upper bound: the server does far less between two passes).
 *
 * Usage: deferred-scan [N...]   (default 128 256 512 1024)
 * Prints one line per N and mode: ns per pass, ns per slot test, and the
 * whole storm's scans in ms and per reaped instance in microseconds.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INSTANCE_SIZE 5168
#define FLAG_OFFSET 0x1c0
#define HALT_OFFSET 0x40
#define COLD_BYTES (64u << 20)

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static bool
flag(const unsigned char *mi, size_t off)
{
    return mi[off] != 0;
}

/* the loop of multi_process_deferred_dco(); returns the instances closed */
static int
scan(unsigned char **instances, int max_clients)
{
    int closed = 0;
    for (int i = 0; i < max_clients; i++)
    {
        unsigned char *mi = instances[i];
        if (mi && flag(mi, FLAG_OFFSET) && !flag(mi, HALT_OFFSET))
        {
            mi[FLAG_OFFSET] = 0;   /* "close" it */
            instances[i] = NULL;
            closed++;
        }
    }
    return closed;
}

/* one storm of n deletions on a table of n live instances: total ns in the scans */
static double
storm(int n, unsigned char *cold)
{
    unsigned char **instances = calloc(n, sizeof(*instances));
    unsigned char **blocks = calloc(n, sizeof(*blocks));
    double total = 0;
    int closed = 0;

    if (!instances || !blocks)
    {
        fprintf(stderr, "deferred-scan: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < n; i++)
    {
        blocks[i] = calloc(1, INSTANCE_SIZE);
        if (!blocks[i])
        {
            fprintf(stderr, "deferred-scan: out of memory\n");
            exit(1);
        }
        instances[i] = blocks[i];
    }
    /* delete in a scattered order, as keepalive expiries come */
    for (int k = 0; k < n; k++)
    {
        int victim = (int)(((uint64_t)k * 2654435761u) % (uint64_t)n);
        while (!instances[victim])
        {
            victim = (victim + 1) % n;
        }
        instances[victim][FLAG_OFFSET] = 1;
        if (cold)
        {
            for (size_t b = 0; b < COLD_BYTES; b += 64)
            {
                cold[b]++;
            }
        }
        double t0 = now_ns();
        closed += scan(instances, n);
        total += now_ns() - t0;
    }
    if (closed != n)
    {
        fprintf(stderr, "deferred-scan: closed %d of %d\n", closed, n);
        exit(1);
    }
    for (int i = 0; i < n; i++)
    {
        free(blocks[i]);
    }
    free(blocks);
    free(instances);
    return total;
}

int
main(int argc, char **argv)
{
    static const int defaults[] = { 128, 256, 512, 1024 };
    int warm_only = argc > 1 && strcmp(argv[1], "-w") == 0;
    int first = 1 + warm_only;
    int count = argc > first ? argc - first : (int)(sizeof(defaults) / sizeof(defaults[0]));
    unsigned char *cold = calloc(1, COLD_BYTES);

    if (!cold)
    {
        fprintf(stderr, "deferred-scan: out of memory\n");
        return 1;
    }
    printf("%-5s %-4s %6s %12s %12s %14s %18s\n", "mode", "N", "runs",
           "ns/pass", "ns/slot", "storm scans ms", "us/reaped instance");
    for (int a = 0; a < count; a++)
    {
        int n = argc > first ? atoi(argv[a + first]) : defaults[a];
        if (n < 1 || n > 1000000)
        {
            fprintf(stderr, "deferred-scan: N must be 1..1000000, not '%s'\n", argv[a + first]);
            return 2;
        }
        for (int mode = 0; mode < 2 - warm_only; mode++)
        {
            /* best of 3 storms: the least disturbed by whatever else runs */
            double best = 0;
            for (int r = 0; r < 3; r++)
            {
                double t = storm(n, mode ? cold : NULL);
                if (r == 0 || t < best)
                {
                    best = t;
                }
            }
            /* a storm of n deletions is n passes over n slots */
            printf("%-5s %-4d %6d %12.0f %12.2f %14.3f %18.2f\n", mode ? "cold" : "warm",
                   n, 3, best / n, best / n / n, best / 1e6, best / 1e3 / n);
        }
    }
    free(cold);
    return 0;
}
