/* Plain C references for `vmlab bench`: the measured loops of the MMU and radix-tree
 * workloads written directly in C, so that the table can say how far the compiled model is
 * from what the same work costs without an interpreter's object model.
 *
 * Each loop does the work of the model's code path, on the same data in the same order:
 *   tlb           MMU.probe on one mapped page (a TLB hit: tag compare, permission check,
 *                 physical address composition);
 *   random-pages  MMU.probe over 2048 identity-mapped pages in pseudo-random order with a
 *                 64-entry direct-mapped TLB, so most probes walk the two-level page tables
 *                 (read PDE, set A, read PTE, check P/RW/US, range-check the frame, set A,
 *                 fill the TLB);
 *   radix-lookup, radix-tag_set, radix-tag_clear
 *                 radix_tree_lookup / radix_tree_tag_set / radix_tree_tag_clear (2.6.6
 *                 lib/radix-tree.c semantics: 64-slot nodes, two tag bitmaps per node,
 *                 tag_clear walks a path array back up while a node has no bit left) on a
 *                 tree holding 0..n-1, in the shuffled order the Python workload uses.
 *
 * Usage: bench_reference WORKLOAD N [WORKLOAD N ...]
 * Prints one line per workload: "WORKLOAD OPS_PER_SECOND CHECKSUM CPU_OPS_PER_SECOND": the
 * wall-clock rate and the rate in CPU time of this process (what `vmlab bench` compares with
 * the model's own CPU time: on a shared machine a loop of a few milliseconds and one of a few
 * seconds are preempted differently), each the best of three runs. The checksum keeps the
 * compiler from dropping the work and lets a test compare it with the model's.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_seconds(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The CPU seconds of the last measured loop (each bench_* function sets it). */
static double cpu_secs;
static double cpu_t0;

static double now(void) {
    cpu_t0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    return clock_seconds(CLOCK_MONOTONIC);
}

/* Wall seconds since `t0` (a value of now()); also sets cpu_secs. */
static double since(double t0) {
    double wall = clock_seconds(CLOCK_MONOTONIC) - t0;
    cpu_secs = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_t0;
    return wall;
}

/* ---------------------------------------------------------------- i386 MMU and TLB */

#define PAGE_SHIFT 12
#define PGDIR_SHIFT 22
#define PTE_P 0x001u
#define PTE_RW 0x002u
#define PTE_US 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PTE_G 0x100u
#define PTE_FRAME 0xFFFFF000u
#define PAGE_TABLE 0x067u
#define TLB_ENTRIES 64
#define REPEAT 3

struct mmu {
    uint32_t *ram; /* physical memory as little-endian host words */
    int64_t nframes;
    int64_t cr3;
    int64_t tlb_vpn[TLB_ENTRIES];
    int64_t tlb_word[TLB_ENTRIES];
    int64_t hits, misses, walks;
};

static int64_t mmu_walk(struct mmu *m, int64_t vaddr, int write, int user) {
    m->walks++;
    int64_t pde_addr = m->cr3 + ((vaddr >> PGDIR_SHIFT) << 2);
    int64_t pde = m->ram[pde_addr >> 2];
    if (!(pde & PTE_P)) return -1;
    if (!(pde & PTE_A)) m->ram[pde_addr >> 2] = (uint32_t)(pde | PTE_A);
    int64_t pte_addr = (pde & PTE_FRAME) + (((vaddr >> PAGE_SHIFT) & 0x3FF) << 2);
    int64_t pte = m->ram[pte_addr >> 2];
    if (!(pte & PTE_P)) return -1;
    int64_t rw = pde & pte & PTE_RW, us = pde & pte & PTE_US;
    if ((user && !us) || (write && !rw)) return -1;
    if ((pte >> PAGE_SHIFT) >= m->nframes) abort();
    int64_t nw = pte | PTE_A | (write ? PTE_D : 0);
    if (nw != pte) m->ram[pte_addr >> 2] = (uint32_t)nw;
    int64_t frame = pte & PTE_FRAME, vpn = vaddr >> PAGE_SHIFT;
    int idx = (int)(vpn & (TLB_ENTRIES - 1));
    m->tlb_vpn[idx] = vpn;
    m->tlb_word[idx] = frame | PTE_P | PTE_A | rw | us | (nw & PTE_D) | (pte & PTE_G);
    return frame | (vaddr & 0xFFF);
}

static int64_t mmu_probe(struct mmu *m, int64_t vaddr, int write, int user) {
    vaddr &= 0xFFFFFFFF;
    int64_t vpn = vaddr >> PAGE_SHIFT;
    int idx = (int)(vpn & (TLB_ENTRIES - 1));
    if (m->tlb_vpn[idx] == vpn) {
        int64_t word = m->tlb_word[idx];
        int64_t need = (write ? (PTE_RW | PTE_D) : 0) | (user ? PTE_US : 0);
        if ((word & need) == need) {
            m->hits++;
            return (word & PTE_FRAME) | (vaddr & 0xFFF);
        }
        m->hits++;
        return mmu_walk(m, vaddr, write, user);
    }
    m->misses++;
    return mmu_walk(m, vaddr, write, user);
}

/* The benchmark's machine: page directory in frame 1, page tables from frame 2, npages
 * mapped from 0x40000000 to consecutive frames after the page tables. */
static void mmu_identity(struct mmu *m, int64_t npages, int64_t *base_out) {
    int64_t nframes = npages + npages / 1024 + 16;
    memset(m, 0, sizeof *m);
    m->ram = calloc((size_t)nframes * 1024, sizeof(uint32_t));
    if (!m->ram) abort();
    m->nframes = nframes;
    m->cr3 = 1 << PAGE_SHIFT;
    for (int i = 0; i < TLB_ENTRIES; i++) m->tlb_vpn[i] = -1;
    int64_t spare = 2, first_data = 2 + npages / 1024 + 2, base = 0x40000000;
    for (int64_t i = 0; i < npages; i++) {
        int64_t va = base + i * 4096;
        int64_t pde_addr = m->cr3 + ((va >> PGDIR_SHIFT) << 2);
        if (!(m->ram[pde_addr >> 2] & PTE_P)) {
            m->ram[pde_addr >> 2] = (uint32_t)((spare << PAGE_SHIFT) | PAGE_TABLE);
            spare++;
        }
        int64_t pde = m->ram[pde_addr >> 2];
        int64_t pte_addr = (pde & PTE_FRAME) + (((va >> PAGE_SHIFT) & 0x3FF) << 2);
        m->ram[pte_addr >> 2] = (uint32_t)(((first_data + i) << PAGE_SHIFT) | PTE_P | PTE_RW | PTE_US);
    }
    *base_out = base;
}

static double bench_tlb(long n, int64_t *sum) {
    struct mmu m;
    int64_t base;
    mmu_identity(&m, 16, &base);
    volatile int64_t va = base;
    mmu_probe(&m, va, 0, 1);
    double t0 = now();
    for (long i = 0; i < n; i++) *sum += mmu_probe(&m, va, 0, 1);
    double s = since(t0);
    free(m.ram);
    return s;
}

static double bench_random_pages(long n, int64_t *sum) {
    const int64_t npages = 2048;
    struct mmu m;
    int64_t base;
    mmu_identity(&m, npages, &base);
    int64_t *vaddrs = malloc((size_t)n * sizeof(int64_t));
    if (!vaddrs) abort();
    int64_t x = 12345;
    for (long i = 0; i < n; i++) {
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF;
        vaddrs[i] = base + (x % npages) * 4096 + (x & 0xFFC);
    }
    double t0 = now();
    for (long i = 0; i < n; i++) *sum += mmu_probe(&m, vaddrs[i], 0, 1);
    double s = since(t0);
    free(vaddrs);
    free(m.ram);
    return s;
}

/* ---------------------------------------------------------------- tagged radix tree */

#define MAP_SHIFT 6
#define MAP_SIZE 64
#define MAP_MASK 63
#define MAX_PATH 8

struct node {
    unsigned count;
    void *slots[MAP_SIZE];
    uint64_t tags[2];
};

struct root {
    unsigned height;
    struct node *rnode;
};

static uint64_t maxindex(unsigned height) {
    unsigned width = height * MAP_SHIFT;
    return width >= 32 ? 0xFFFFFFFFu : (((uint64_t)1 << width) - 1);
}

static struct node *node_alloc(void) {
    struct node *n = calloc(1, sizeof *n);
    if (!n) abort();
    return n;
}

static void extend(struct root *r, uint64_t index) {
    unsigned height = r->height + 1;
    while (index > maxindex(height)) height++;
    if (!r->rnode) {
        r->height = height;
        return;
    }
    do {
        struct node *n = node_alloc();
        n->slots[0] = r->rnode;
        for (int t = 0; t < 2; t++)
            if (r->rnode->tags[t]) n->tags[t] |= 1;
        n->count = 1;
        r->rnode = n;
        r->height++;
    } while (height > r->height);
}

static void insert(struct root *r, uint64_t index, void *item) {
    if (index > maxindex(r->height)) extend(r, index);
    struct node **slot = &r->rnode, *node = NULL;
    unsigned height = r->height, shift = (height - 1) * MAP_SHIFT;
    int offset = 0;
    while (height > 0) {
        if (!*slot) {
            *slot = node_alloc();
            if (node) node->count++;
        }
        offset = (int)((index >> shift) & MAP_MASK);
        node = *slot;
        slot = (struct node **)(node->slots + offset);
        shift -= MAP_SHIFT;
        height--;
    }
    if (node) node->count++;
    *slot = item;
}

static void *lookup(struct root *r, uint64_t index) {
    if (index > maxindex(r->height)) return NULL;
    unsigned height = r->height, shift = (height - 1) * MAP_SHIFT;
    struct node *node = r->rnode;
    while (height > 1) {
        if (!node) return NULL;
        node = node->slots[(index >> shift) & MAP_MASK];
        shift -= MAP_SHIFT;
        height--;
    }
    return node ? node->slots[index & MAP_MASK] : NULL;
}

static void *tag_set(struct root *r, uint64_t index, int tag) {
    if (index > maxindex(r->height) || r->height == 0) return NULL;
    unsigned height = r->height, shift = (height - 1) * MAP_SHIFT;
    struct node *node = r->rnode;
    while (height > 1) {
        int offset = (int)((index >> shift) & MAP_MASK);
        node->tags[tag] |= (uint64_t)1 << offset;
        node = node->slots[offset];
        if (!node) abort();
        shift -= MAP_SHIFT;
        height--;
    }
    int offset = (int)(index & MAP_MASK);
    node->tags[tag] |= (uint64_t)1 << offset;
    if (!node->slots[offset]) abort();
    return node->slots[offset];
}

static void *tag_clear(struct root *r, uint64_t index, int tag) {
    struct node *path_node[MAX_PATH];
    int path_offset[MAX_PATH];
    if (index > maxindex(r->height) || r->height == 0) return NULL;
    unsigned height = r->height, shift = (height - 1) * MAP_SHIFT;
    struct node *node = r->rnode;
    int depth = 0;
    while (height > 1) {
        int offset = (int)((index >> shift) & MAP_MASK);
        path_node[depth] = node;
        path_offset[depth] = offset;
        node = node->slots[offset];
        if (!node) return NULL;
        depth++;
        shift -= MAP_SHIFT;
        height--;
    }
    path_node[depth] = node;
    path_offset[depth] = (int)(index & MAP_MASK);
    void *ret = node->slots[index & MAP_MASK];
    if (!ret) return NULL;
    for (int p = depth; p >= 0; p--) {
        path_node[p]->tags[tag] &= ~((uint64_t)1 << path_offset[p]);
        if (path_node[p]->tags[tag]) break;
    }
    return ret;
}

/* The Python workload's shuffle: Fisher-Yates driven by a 64-bit LCG. */
static uint64_t *shuffled(long n) {
    uint64_t *idx = malloc((size_t)n * sizeof(uint64_t));
    if (!idx) abort();
    for (long i = 0; i < n; i++) idx[i] = (uint64_t)i;
    uint64_t x = 99991;
    for (long i = n - 1; i > 0; i--) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t j = (x >> 33) % (uint64_t)(i + 1);
        uint64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    return idx;
}

static struct root radix_root;
static long radix_n = -1;
static uint64_t *radix_order;
static char radix_item;

static void radix_prepare(long n) {
    if (radix_n == n) return;
    if (radix_n >= 0) {
        fprintf(stderr, "bench_reference: the radix workloads need one N\n");
        exit(2);
    }
    radix_n = n;
    for (long i = 0; i < n; i++) insert(&radix_root, (uint64_t)i, &radix_item);
    radix_order = shuffled(n);
}

static double bench_radix(const char *op, long n, int64_t *sum) {
    radix_prepare(n);
    if (!strcmp(op, "tag_clear")) /* every run clears tags the workload's tag_set left */
        for (long i = 0; i < n; i++) tag_set(&radix_root, radix_order[i], 0);
    double t0 = now();
    if (!strcmp(op, "lookup")) {
        for (long i = 0; i < n; i++) *sum += lookup(&radix_root, radix_order[i]) != NULL;
    } else if (!strcmp(op, "tag_set")) {
        for (long i = 0; i < n; i++) *sum += tag_set(&radix_root, radix_order[i], 0) != NULL;
    } else {
        for (long i = 0; i < n; i++) *sum += tag_clear(&radix_root, radix_order[i], 0) != NULL;
    }
    return since(t0);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc % 2 != 1) {
        fprintf(stderr, "usage: bench_reference WORKLOAD N [WORKLOAD N ...]\n");
        return 2;
    }
    for (int a = 1; a + 1 < argc; a += 2) {
        const char *name = argv[a];
        long n = atol(argv[a + 1]);
        int64_t sum = 0;
        double secs;
        if (n <= 0) {
            fprintf(stderr, "bench_reference: N must be positive\n");
            return 2;
        }
        /* Best of REPEAT runs: a loop of a few milliseconds is easily cut by preemption on a
         * shared machine. The checksum is the first run's. */
        double best = 0, best_cpu = 0;
        int64_t first = 0;
        for (int r = 0; r < REPEAT; r++) {
            sum = 0;
            if (!strcmp(name, "tlb")) secs = bench_tlb(n, &sum);
            else if (!strcmp(name, "random-pages")) secs = bench_random_pages(n, &sum);
            else if (!strcmp(name, "radix-lookup")) secs = bench_radix("lookup", n, &sum);
            else if (!strcmp(name, "radix-tag_set")) secs = bench_radix("tag_set", n, &sum);
            else if (!strcmp(name, "radix-tag_clear")) secs = bench_radix("tag_clear", n, &sum);
            else {
                fprintf(stderr, "bench_reference: unknown workload %s\n", name);
                return 2;
            }
            if (r == 0 || secs < best) best = secs;
            if (r == 0 || cpu_secs < best_cpu) best_cpu = cpu_secs;
            if (r == 0) first = sum;
        }
        printf("%s %.0f %lld %.0f\n", name, best > 0 ? (double)n / best : 0.0, (long long)first,
               best_cpu > 0 ? (double)n / best_cpu : 0.0);
    }
    return 0;
}
