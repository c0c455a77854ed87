/* Newton-Schulz as Keras 3's Muon runs it (and simdopt's core: rules/keras3/muon.rs), in float32
 * with the same operation order: X /= (||X||_F + 1e-7), then `steps` times A = X X^T,
 * B = b A + (c A) A, X = a X + B X. Every output element of a product sums its terms in
 * increasing k (the i-k-j loop), as crates/simdopt-core/src/matmul.rs does; compiled with
 * -ffp-contract=off so no multiply-add is fused. The norm is summed in index order (simdopt's
 * fixed-block order differs only in rounding). Used by benches/muon.mjs:
 *   newton_schulz <p> <q> <steps> <rounds>   prints the seconds of each round and a checksum. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void matmul(const float *a, const float *b, int m, int k, int n, float *c) {
  memset(c, 0, sizeof(float) * (size_t)m * n);
  for (int i = 0; i < m; i++)
    for (int kk = 0; kk < k; kk++) {
      float aik = a[(size_t)i * k + kk];
      const float *brow = b + (size_t)kk * n;
      float *crow = c + (size_t)i * n;
      for (int j = 0; j < n; j++) crow[j] = crow[j] + aik * brow[j];
    }
}

static void newton_schulz(float *x, int p, int q, int steps, float a, float b, float c) {
  float s = 0.0f;
  for (size_t i = 0; i < (size_t)p * q; i++) s = s + x[i] * x[i];
  float norm = sqrtf(s) + 1e-7f;
  for (size_t i = 0; i < (size_t)p * q; i++) x[i] = x[i] / norm;
  float *xt = malloc(sizeof(float) * p * q), *am = malloc(sizeof(float) * p * p), *ca = malloc(sizeof(float) * p * p);
  float *bm = malloc(sizeof(float) * p * p), *bx = malloc(sizeof(float) * p * q);
  for (int it = 0; it < steps; it++) {
    for (int i = 0; i < p; i++)
      for (int j = 0; j < q; j++) xt[(size_t)j * p + i] = x[(size_t)i * q + j];
    matmul(x, xt, p, q, p, am);
    for (size_t i = 0; i < (size_t)p * p; i++) ca[i] = c * am[i];
    matmul(ca, am, p, p, p, bm);
    for (size_t i = 0; i < (size_t)p * p; i++) bm[i] = b * am[i] + bm[i];
    matmul(bm, x, p, p, q, bx);
    for (size_t i = 0; i < (size_t)p * q; i++) x[i] = a * x[i] + bx[i];
  }
  free(xt), free(am), free(ca), free(bm), free(bx);
}

int main(int argc, char **argv) {
  int p = argc > 1 ? atoi(argv[1]) : 1024, q = argc > 2 ? atoi(argv[2]) : 1024;
  int steps = argc > 3 ? atoi(argv[3]) : 5, rounds = argc > 4 ? atoi(argv[4]) : 3;
  float *x = malloc(sizeof(float) * p * q);
  double checksum = 0;
  for (int r = 0; r < rounds; r++) {
    for (size_t i = 0; i < (size_t)p * q; i++) x[i] = (float)((int)(i * 7919 % 2003) - 1001) * 1e-3f;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    newton_schulz(x, p, q, steps, 3.4445f, -4.775f, 2.0315f);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.6f\n", (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec));
    checksum = 0;
    for (size_t i = 0; i < (size_t)p * q; i++) checksum += x[i];
  }
  printf("checksum %.9g\n", checksum);
  free(x);
  return 0;
}
