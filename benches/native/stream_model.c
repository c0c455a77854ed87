// The floor of streamed gradients on this machine, in C (benches/stream-floor.mjs builds and
// races it against the package): what "copy a chunk of the caller's gradient into a staging
// buffer, then run the kernel over it" costs against the kernel alone with the gradient already in
// place (simdopt's Tensor path), with no JavaScript, no WebAssembly and no call per chunk. The
// kernels are kernels.c's; the copy is the C library's memcpy, as V8's TypedArray.prototype.set
// between two plain Float32Arrays.
//
//   stream_model serve
//     answers "<adam|sgd_momentum|rmsprop> <params> <what> <chunk> <steps>" lines on stdin with
//     ms/step, where <what> is
//       kernel    the kernel over the whole variable, its gradient G resident (the Tensor path)
//       stream    per chunk: memcpy from the caller's array SRC (another buffer) into the staging
//                 buffer, then the kernel over the chunk (the streamed path)
//       copy      the same memcpy of every chunk alone (no kernel)
//       l2kernel  the kernel chunk by chunk over the staging buffer, never refilled (the kernel
//                 with its gradient in cache, no copy)
#define KERNELS_LIBRARY
#include "kernels.c"

static float *SRC, *STAGING;
static size_t STAGING_LEN;

static void kernel(const char *k, size_t n, float *p, const float *g, float *m, float *v) {
  if (!strcmp(k, "adam")) adam(n, p, g, m, v, 1e-3f, 0.1f, 0.001f, 1e-7f);
  else if (!strcmp(k, "sgd_momentum")) sgd_momentum(n, p, g, m, 0.01f, 0.9f);
  else rmsprop(n, p, g, m, 1e-3f, 0.9f, 0.1f, 1e-7f);
}

// One step of `what` over N parameters; false for an unknown request.
static int once(const char *k, const char *what, size_t chunk) {
  if (!strcmp(what, "kernel")) {
    kernel(k, N, P, G, M, V);
    return 1;
  }
  int copy = !strcmp(what, "stream") || !strcmp(what, "copy"), run = !strcmp(what, "stream") || !strcmp(what, "l2kernel");
  if (!(copy || run) || chunk == 0 || chunk > STAGING_LEN) return 0;
  for (size_t at = 0; at < N; at += chunk) {
    size_t len = N - at < chunk ? N - at : chunk;
    if (copy) memcpy(STAGING, SRC + at, len * sizeof(float));
    if (run) kernel(k, len, P + at, STAGING, M + at, V + at);
  }
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2 || strcmp(argv[1], "serve")) {
    fprintf(stderr, "usage: %s serve\n", argv[0]);
    return 2;
  }
  char k[64], what[64];
  size_t n, chunk;
  int steps;
  while (scanf("%63s %zu %63s %zu %d", k, &n, what, &chunk, &steps) == 5) {
    if (n != N) {
      setup(n);
      free(SRC);
      SRC = buf(n, 0.0f);
      memcpy(SRC, G, n * sizeof(float));
    }
    if (chunk > STAGING_LEN) {
      free(STAGING);
      STAGING = buf(chunk, 0.0f);
      STAGING_LEN = chunk;
      memcpy(STAGING, SRC, (chunk < N ? chunk : N) * sizeof(float));
    }
    double t0 = now_ms();
    int ok = 1;
    for (int s = 0; s < steps && ok; s++) ok = once(k, what, chunk);
    printf("%.6f\n", ok ? (now_ms() - t0) / steps : -1.0);
    fflush(stdout);
  }
  return 0;
}
