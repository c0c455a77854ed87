// The native reference of the sparse-rows benchmark (benches/sparse.mjs): Keras' sparse step on
// an embedding table done as a C programmer would, with the same merge as simdopt's core and the
// same per-element arithmetic (TF's op order, no fused multiply-add):
//   1. the step's row indices sorted by a stable LSD radix sort (11-bit digits), so repeats sit
//      together in the order they occurred and the rows are visited in ascending order;
//   2. merged without a hash map: a repeated row's values summed as `0 + v1 + v2 + ...` (TF's
//      unsorted_segment_sum) into a scratch row; a row that occurs once used in place (unless the
//      step has repeats and the row holds a -0 or a NaN, which `0 + x` changes: then copied);
//   3. the update of each row (SGD with momentum, Adagrad), or for Keras' sparse Adam the moments
//      of every row decayed and the gradient rows added, in one pass in row order.
// Compiled with `gcc -O3 -march=native -ffp-contract=off -fno-math-errno`.
//
//   sparse serve <rows> <width> <k> <repeat%> <batches>
//     builds the table, the slots and the batches (the generator of benches/sparse.mjs), then
//     answers "<sgd_momentum|adagrad|adam> <steps>" lines on stdin with ms/step, and "sum" with
//     a checksum of the table (to compare with simdopt's).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void *alloc(size_t bytes) {
  void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  return p;
}

// The batch generator shared with benches/sparse.mjs (a 32-bit LCG).
static uint32_t lcg;
static uint32_t next_u32(void) { return lcg = lcg * 1664525u + 1013904223u; }
static float next_value(void) { return (float)((int32_t)(next_u32() >> 8) - (1 << 23)) / (float)(1 << 23); }

// Positions 0..k-1 ordered by idx[pos], stable (ties keep their order).
static void sort_rows(const int32_t *idx, uint32_t k, uint32_t rows, uint32_t *order, uint32_t *tmp) {
  static uint32_t count[2048];
  int bits = 0;
  while (bits < 32 && ((uint64_t)1 << bits) < rows) bits++;
  for (uint32_t i = 0; i < k; i++) order[i] = i;
  uint32_t *src = order, *dst = tmp;
  for (int shift = 0; shift < bits; shift += 11) {
    memset(count, 0, sizeof count);
    for (uint32_t i = 0; i < k; i++) count[((uint32_t)idx[src[i]] >> shift) & 2047]++;
    uint32_t sum = 0;
    for (int d = 0; d < 2048; d++) {
      uint32_t c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (uint32_t i = 0; i < k; i++) dst[count[((uint32_t)idx[src[i]] >> shift) & 2047]++] = src[i];
    uint32_t *t = src;
    src = dst;
    dst = t;
  }
  if (src != order) memcpy(order, src, k * sizeof *order);
}

// Whether `0 + x` changes any element of the row (a -0 or a NaN).
static int zero_add_changes(const float *g, uint32_t w) {
  const uint32_t *u = (const uint32_t *)g;
  int changes = 0;
  for (uint32_t d = 0; d < w; d++) changes |= (u[d] == 0x80000000u) | ((u[d] & 0x7fffffffu) > 0x7f800000u);
  return changes;
}

enum kernel { SGD_MOMENTUM, ADAGRAD, ADAM };

typedef struct {
  uint32_t rows, w, k;
  float *var, *s1, *s2;
  int32_t *indices; // batches x k
  float *values;    // batches x k x w
  uint32_t *order, *tmp;
  float *scratch;
} world;

static void sgd_momentum_row(float *restrict x, float *restrict a, const float *restrict g, uint32_t w, float lr, float mu) {
  for (uint32_t d = 0; d < w; d++) {
    float ad = a[d] * mu - g[d] * lr;
    a[d] = ad;
    x[d] = x[d] + ad;
  }
}

static void adagrad_row(float *restrict x, float *restrict acc, const float *restrict g, uint32_t w, float lr, float eps) {
  for (uint32_t d = 0; d < w; d++) {
    float a = acc[d] + g[d] * g[d];
    acc[d] = a;
    x[d] = x[d] - (lr * g[d]) / (sqrtf(a) + eps);
  }
}

// Keras' sparse Adam on one range of elements: moments decayed; the gradient added if given.
static void adam_span(float *restrict x, float *restrict m, float *restrict v, const float *restrict g, size_t n, float b1, float b2, float omb1, float omb2,
                      float lr, float eps) {
  if (g) {
    for (size_t d = 0; d < n; d++) {
      float md = m[d] * b1 + g[d] * omb1;
      float vd = v[d] * b2 + (g[d] * g[d]) * omb2;
      m[d] = md;
      v[d] = vd;
      x[d] = x[d] - (lr * md) / (sqrtf(vd) + eps);
    }
  } else {
    for (size_t d = 0; d < n; d++) {
      float md = m[d] * b1;
      float vd = v[d] * b2;
      m[d] = md;
      v[d] = vd;
      x[d] = x[d] - (lr * md) / (sqrtf(vd) + eps);
    }
  }
}

static void step(world *s, enum kernel kind, uint32_t batch) {
  const uint32_t w = s->w, k = s->k;
  const int32_t *idx = s->indices + (size_t)batch * k;
  const float *values = s->values + (size_t)batch * k * w;
  sort_rows(idx, k, s->rows, s->order, s->tmp);
  int has_dup = 0;
  for (uint32_t i = 1; i < k; i++) has_dup |= idx[s->order[i]] == idx[s->order[i - 1]];
  size_t done = 0; // Adam: elements before this are updated
  for (uint32_t i = 0; i < k;) {
    const uint32_t r = (uint32_t)idx[s->order[i]];
    uint32_t j = i + 1;
    while (j < k && (uint32_t)idx[s->order[j]] == r) j++;
    const float *g = values + (size_t)s->order[i] * w;
    if (j - i > 1 || (has_dup && zero_add_changes(g, w))) {
      for (uint32_t d = 0; d < w; d++) s->scratch[d] = 0.0f + g[d];
      for (uint32_t m = i + 1; m < j; m++) {
        const float *h = values + (size_t)s->order[m] * w;
        for (uint32_t d = 0; d < w; d++) s->scratch[d] += h[d];
      }
      g = s->scratch;
    }
    const size_t at = (size_t)r * w;
    switch (kind) {
    case SGD_MOMENTUM:
      sgd_momentum_row(s->var + at, s->s1 + at, g, w, 0.01f, 0.9f);
      break;
    case ADAGRAD:
      adagrad_row(s->var + at, s->s1 + at, g, w, 0.01f, 1e-7f);
      break;
    case ADAM:
      adam_span(s->var + done, s->s1 + done, s->s2 + done, NULL, at - done, 0.9f, 0.999f, 0.1f, 0.001f, 0.001f, 1e-7f);
      adam_span(s->var + at, s->s1 + at, s->s2 + at, g, w, 0.9f, 0.999f, 0.1f, 0.001f, 0.001f, 1e-7f);
      done = at + w;
      break;
    }
    i = j;
  }
  if (kind == ADAM) {
    size_t n = (size_t)s->rows * w;
    adam_span(s->var + done, s->s1 + done, s->s2 + done, NULL, n - done, 0.9f, 0.999f, 0.1f, 0.001f, 0.001f, 1e-7f);
  }
}

int main(int argc, char **argv) {
  if (argc != 7 || strcmp(argv[1], "serve") != 0) {
    fprintf(stderr, "usage: sparse serve <rows> <width> <k> <repeat%%> <batches>\n");
    return 2;
  }
  world s;
  s.rows = (uint32_t)atol(argv[2]);
  s.w = (uint32_t)atol(argv[3]);
  s.k = (uint32_t)atol(argv[4]);
  const uint32_t repeat = (uint32_t)atol(argv[5]);
  const uint32_t batches = (uint32_t)atol(argv[6]);
  const size_t n = (size_t)s.rows * s.w;
  s.var = alloc(n * 4);
  s.s1 = alloc(n * 4);
  s.s2 = alloc(n * 4);
  s.indices = alloc((size_t)batches * s.k * 4);
  s.values = alloc((size_t)batches * s.k * s.w * 4);
  s.order = alloc(s.k * 4);
  s.tmp = alloc(s.k * 4);
  s.scratch = alloc(s.w * 4);
  // The same batches as benches/sparse.mjs: a repeat takes an earlier row of the step.
  lcg = 20261202u;
  for (uint32_t b = 0; b < batches; b++) {
    int32_t *idx = s.indices + (size_t)b * s.k;
    for (uint32_t i = 0; i < s.k; i++) idx[i] = (i > 0 && next_u32() % 100 < repeat) ? idx[next_u32() % i] : (int32_t)(next_u32() % s.rows);
    float *v = s.values + (size_t)b * s.k * s.w;
    for (size_t i = 0; i < (size_t)s.k * s.w; i++) v[i] = next_value();
  }
  char kernel[32];
  unsigned long steps;
  uint32_t batch = 0;
  enum kernel last = SGD_MOMENTUM;
  int have = 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  char line[128];
  while (fgets(line, sizeof line, stdin)) {
    if (strncmp(line, "sum", 3) == 0) {
      double sum = 0;
      for (size_t i = 0; i < n; i++) sum += s.var[i];
      printf("%.17g\n", sum);
      continue;
    }
    if (sscanf(line, "%31s %lu", kernel, &steps) != 2) break;
    enum kernel kind = strcmp(kernel, "adagrad") == 0 ? ADAGRAD : strcmp(kernel, "adam") == 0 ? ADAM : SGD_MOMENTUM;
    if (!have || kind != last) {
      // A fresh table for each optimizer (as simdopt's side): var 0.5, slots at their initial values.
      for (size_t i = 0; i < n; i++) s.var[i] = 0.5f, s.s1[i] = kind == ADAGRAD ? 0.1f : 0.0f, s.s2[i] = 0.0f;
      batch = 0;
      have = 1;
      last = kind;
    }
    double t0 = now_ms();
    for (unsigned long i = 0; i < steps; i++) {
      step(&s, kind, batch);
      batch = (batch + 1) % batches;
    }
    printf("%.6f\n", (now_ms() - t0) / (double)steps);
  }
  return 0;
}
