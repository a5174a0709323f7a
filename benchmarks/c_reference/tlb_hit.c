/* Reference for `vmlab bench`: a plain C loop doing what MMU.probe does on a TLB hit
 * (direct-mapped TLB indexed by the virtual page number, tag compare, permission check,
 * physical address composition). Prints translations per second. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TLB_ENTRIES 64
static int64_t tlb_vpn[TLB_ENTRIES], tlb_pfn[TLB_ENTRIES], tlb_flags[TLB_ENTRIES];

static int64_t probe(int64_t vaddr, int write, int user) {
    int64_t vpn = vaddr >> 12;
    int idx = (int)(vpn & (TLB_ENTRIES - 1));
    if (tlb_vpn[idx] == vpn) {
        int64_t f = tlb_flags[idx];
        if ((user && !(f & 4)) || (write && !(f & 2))) return -1;
        return (tlb_pfn[idx] << 12) | (vaddr & 0xfff);
    }
    return -1;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000000L;
    volatile int64_t va = 0x40000000;
    for (int i = 0; i < TLB_ENTRIES; i++) tlb_vpn[i] = -1;
    tlb_vpn[(va >> 12) & (TLB_ENTRIES - 1)] = va >> 12;
    tlb_pfn[(va >> 12) & (TLB_ENTRIES - 1)] = 1234;
    tlb_flags[(va >> 12) & (TLB_ENTRIES - 1)] = 7;
    struct timespec t0, t1;
    int64_t sum = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) sum += probe(va, 0, 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.0f %lld\n", n / s, (long long)sum);
    return 0;
}
