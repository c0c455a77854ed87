// The native physical reference of the benchmarks: the same per-element updates as simdopt's
// kernels (TF's op order, no fused multiply-add), compiled on the spot with
// `gcc -O3 -march=native -ffp-contract=off -fno-math-errno` and timed by itself.
//
//   kernels <adam|sgd|sgd_momentum|rmsprop|stream28|stream20|stream12> <params> <steps> [reps]
//     prints one JSON line: {"kernel":..,"n":..,"median_ms":..,"ms":[per-rep ms/step...]}
//   kernels serve
//     answers "<kernel> <params> <steps>" lines on stdin with ms/step (used by bench.mjs).
//
// Built once more with -fopenmp (benches/threads.mjs) for the multithreaded reference: the Adam
// loop's `omp parallel for` splits it into one static block per thread (OMP_NUM_THREADS);
// without -fopenmp the pragma is ignored.
//
// -fno-math-errno lets gcc vectorise sqrtf (it changes no result: sqrt of a negative is NaN
// either way).
// `streamNN` are not optimizers: they move the bytes of an update (28 per parameter for Adam, 20
// for SGD with momentum and RMSprop, 12 for SGD) with no arithmetic, so they show the memory
// bandwidth ceiling of the machine for that traffic.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static float *buf(size_t n, float v) {
  float *p = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
  for (size_t i = 0; i < n; i++) p[i] = v;
  return p;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

// TF's fused ResourceApplyAdam: m += (g - m) * (1 - b1); v += (g*g - v) * (1 - b2);
// p -= (m * alpha) / (sqrt(v) + eps).
static void adam(size_t n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v, float alpha,
                 float omb1, float omb2, float eps) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = m[i] + (gi - m[i]) * omb1;
    float vi = v[i] + (gi * gi - v[i]) * omb2;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] - (mi * alpha) / (sqrtf(vi) + eps);
  }
}

// ResourceApplyGradientDescent: p -= g * lr.
static void sgd(size_t n, float *restrict p, const float *restrict g, float lr) {
  for (size_t i = 0; i < n; i++) p[i] = p[i] - g[i] * lr;
}

// ResourceApplyKerasMomentum (no Nesterov): a = a * mu - g * lr; p += a.
static void sgd_momentum(size_t n, float *restrict p, const float *restrict g, float *restrict a, float lr, float mu) {
  for (size_t i = 0; i < n; i++) {
    float ai = a[i] * mu - g[i] * lr;
    a[i] = ai;
    p[i] = p[i] + ai;
  }
}

// Keras RMSprop without momentum: r = rho * r + (1 - rho) * g*g; p -= lr * g / (sqrt(r) + eps).
static void rmsprop(size_t n, float *restrict p, const float *restrict g, float *restrict r, float lr, float rho, float omr,
                    float eps) {
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float ri = rho * r[i] + omr * (gi * gi);
    r[i] = ri;
    p[i] = p[i] - (lr * gi) / (sqrtf(ri) + eps);
  }
}

// The memory traffic of the updates without their arithmetic (one add per written value).
// stream28 (Adam): read p, g, m, v; write p, m, v.
static void stream28(size_t n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v) {
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    m[i] = m[i] + gi;
    v[i] = v[i] + gi;
    p[i] = p[i] + gi;
  }
}

// stream20 (SGD with momentum, RMSprop): read p, g, a; write p, a.
static void stream20(size_t n, float *restrict p, const float *restrict g, float *restrict a) {
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    a[i] = a[i] + gi;
    p[i] = p[i] + gi;
  }
}

// stream12 (SGD): read p, g; write p.
static void stream12(size_t n, float *restrict p, const float *restrict g) {
  for (size_t i = 0; i < n; i++) p[i] = p[i] + g[i];
}

static float *P, *G, *M, *V;
static size_t N;

static void setup(size_t n) {
  if (n == N) return;
  free(P), free(G), free(M), free(V);
  N = n;
  P = buf(n, 0.5f), G = buf(n, 0.0f), M = buf(n, 0.0f), V = buf(n, 0.0f);
  for (size_t i = 0; i < n; i++) G[i] = ((float)(i % 17) - 8.0f) * 1e-3f;
}

// Runs `steps` steps of kernel `k` and returns ms/step (-1 for an unknown kernel).
static double run(const char *k, int steps) {
  double t0 = now_ms();
  for (int s = 0; s < steps; s++) {
    if (!strcmp(k, "adam")) adam(N, P, G, M, V, 1e-3f, 0.1f, 0.001f, 1e-7f);
    else if (!strcmp(k, "sgd")) sgd(N, P, G, 0.01f);
    else if (!strcmp(k, "sgd_momentum")) sgd_momentum(N, P, G, M, 0.01f, 0.9f);
    else if (!strcmp(k, "rmsprop")) rmsprop(N, P, G, M, 1e-3f, 0.9f, 0.1f, 1e-7f);
    else if (!strcmp(k, "stream28")) stream28(N, P, G, M, V);
    else if (!strcmp(k, "stream20")) stream20(N, P, G, M);
    else if (!strcmp(k, "stream12")) stream12(N, P, G);
    else return -1;
  }
  return (now_ms() - t0) / steps;
}

// stream_model.c includes this file for its kernels (KERNELS_LIBRARY: no `main`).
#ifndef KERNELS_LIBRARY
int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "serve")) {
    // One request per line, "<kernel> <params> <steps>", answered by one line of ms/step, so
    // that a driver can interleave this reference with other candidates in the same run.
    char k[64];
    size_t n;
    int steps;
    while (scanf("%63s %zu %d", k, &n, &steps) == 3) {
      setup(n);
      printf("%.6f\n", run(k, steps));
      fflush(stdout);
    }
    return 0;
  }
  if (argc < 4) {
    fprintf(stderr, "usage: %s <adam|sgd|sgd_momentum|rmsprop|stream28|stream20|stream12> <params> <steps> [reps] | serve\n", argv[0]);
    return 2;
  }
  const char *k = argv[1];
  int steps = atoi(argv[3]);
  int reps = argc > 4 ? atoi(argv[4]) : 15;
  setup(strtoull(argv[2], 0, 10));
  double ms[reps > 0 ? reps : 1], sorted[reps > 0 ? reps : 1];
  if (run(k, steps) < 0) {  // warm-up
    fprintf(stderr, "unknown kernel %s\n", k);
    return 2;
  }
  for (int r = 0; r < reps; r++) ms[r] = run(k, steps);
  memcpy(sorted, ms, sizeof ms);
  qsort(sorted, reps, sizeof(double), cmp);
  printf("{\"kernel\":\"%s\",\"n\":%zu,\"steps\":%d,\"median_ms\":%.6f,\"ms\":[", k, N, steps, sorted[reps / 2]);
  for (int r = 0; r < reps; r++) printf("%s%.6f", r ? "," : "", ms[r]);
  printf("]}\n");
  return 0;
}
#endif
