// Packed, cache-blocked, multi-threaded float32 GEMM with a fused epilogue: the matrix engine behind the CPU
// provider's Conv, Gemm and MatMul. Register-blocked micro-kernels are generated per SIMD target with Highway
// and chosen at run time (sgemm_kernel.cpp); blocking, packing and threading live in sgemm.cpp / sgemm_pack.cpp.
// Depends on the standard library, Highway, core/thread_pool.h and kernels/cpu/activation.h only.
//
// Numerics: each C element is accumulated in float32 over k in an order fixed by the shape and the kernel (FMA
// where the target has it, in blocks of the kernel's KC; N == 1 has its own order), then scaled by alpha, then
// bias and residual are added, then the activation. The order never depends on the thread count, so results are
// bit-identical for any ThreadPool size. They may differ in the last bits between SIMD targets and from
// ef::sgemm_reference.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/activation.h"

namespace ef::cpu {

namespace detail {
struct GemmKernel;
}

struct GemmEpilogue {
  float alpha = 1.0f;               // scales the product
  const float* bias = nullptr;      // length M when bias_per_row (conv: one per output channel), else length N
  bool bias_per_row = true;
  const float* residual = nullptr;  // optional M x N addend, row stride ldr (same layout as C); must not overlap
  int64_t ldr = 0;                  //   C, which holds partial sums while later K blocks still need it
  Activation act;                   // applied last
};

// C[M x N] = act(alpha * op(A) * op(B) + bias + residual); row-major; op(A) is [M,K] (A stored [K,M] when
// trans_a), op(B) is [K,N] (B stored [N,K] when trans_b). C is write-only: its old contents never reach the
// result (NaN included). K == 0 gives act(bias + residual). Strides are in elements and at least the stored width.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
           const float* B, int64_t ldb, float* C, int64_t ldc, const GemmEpilogue& epi, ThreadPool& pool);

class BPanelPacker;
struct GemmTileShape;

// One GEMM operand packed once into the micro-kernel's panel layout (constant weights, packed at session
// creation). It remembers the kernel it was packed for, so it stays usable (and consistent) after set_max_isa.
// Movable, not copyable; owns 64-byte aligned storage. Packing an A operand gives an object only
// sgemm_packed_a accepts, and likewise for B.
class PackedMatrix {
 public:
  PackedMatrix();
  ~PackedMatrix();
  PackedMatrix(PackedMatrix&&) noexcept;
  PackedMatrix& operator=(PackedMatrix&&) noexcept;
  PackedMatrix(const PackedMatrix&) = delete;
  PackedMatrix& operator=(const PackedMatrix&) = delete;

  int64_t rows() const { return rows_; }  // of op(A) / op(B): M x K for A, K x N for B
  int64_t cols() const { return cols_; }
  size_t bytes() const { return size_ * sizeof(float); }
  bool empty() const { return size_ == 0; }
  bool is_a() const { return is_a_; }
  const char* target_name() const;  // the SIMD target whose layout this is

 private:
  friend PackedMatrix pack_a(bool, int64_t, int64_t, const float*, int64_t);
  friend PackedMatrix pack_b(bool, int64_t, int64_t, const float*, int64_t);
  friend void sgemm_packed_a(const PackedMatrix&, int64_t, bool, const float*, int64_t, float*, int64_t,
                             const GemmEpilogue&, ThreadPool&);
  friend void sgemm_packed_b(bool, int64_t, const float*, int64_t, const PackedMatrix&, float*, int64_t,
                             const GemmEpilogue&, ThreadPool&);
  friend void sgemm_packed_a_custom_b(const PackedMatrix&, int64_t, const BPanelPacker&, float*, int64_t,
                                      const GemmEpilogue&, ThreadPool&);
  friend void sgemm_packed_a_custom_b_kslice(const PackedMatrix&, int64_t, int64_t, int64_t, const BPanelPacker&,
                                             float*, int64_t);
  friend GemmTileShape gemm_tile_shape(const PackedMatrix&);
  friend void pack_b_panels_for(const PackedMatrix&, int64_t, int64_t, const float*, int64_t, float*);
  friend void sgemm_packed_a_panels(const PackedMatrix&, int64_t, const float*, float*, int64_t,
                                    const GemmEpilogue&);
  struct Free {
    void operator()(float* p) const;
  };

  int64_t rows_ = 0, cols_ = 0;
  bool is_a_ = false;
  const detail::GemmKernel* kernel_ = nullptr;
  std::unique_ptr<float, Free> data_;
  size_t size_ = 0;  // floats, padding included
};

PackedMatrix pack_a(bool trans_a, int64_t M, int64_t K, const float* A, int64_t lda);  // conv weights [M, K]
PackedMatrix pack_b(bool trans_b, int64_t K, int64_t N, const float* B, int64_t ldb);  // Gemm/MatMul weights

// As sgemm with op(A) = the packed A (M = A.rows(), K = A.cols()).
void sgemm_packed_a(const PackedMatrix& A, int64_t N, bool trans_b, const float* B, int64_t ldb, float* C,
                    int64_t ldc, const GemmEpilogue& epi, ThreadPool& pool);
// As sgemm with op(B) = the packed B (K = B.rows(), N = B.cols()).
void sgemm_packed_b(bool trans_a, int64_t M, const float* A, int64_t lda, const PackedMatrix& B, float* C,
                    int64_t ldc, const GemmEpilogue& epi, ThreadPool& pool);

// Supplies op(B) [K, N] straight in the micro-kernel's B panel layout, for callers whose B exists only implicitly
// (a convolution's im2col matrix): sgemm then reads the operand in one pass instead of writing a matrix that it
// would copy again into panels. The panel layout (shared with pack_b) is: panel q of a block holds nr consecutive
// columns, k-major, element (k, j) at panel[(k - k0) * nr + (j - first column of the panel)].
class BPanelPacker {
 public:
  virtual ~BPanelPacker() = default;
  // Writes rows [k0, k1) x columns [j0, j1) of op(B) as ceil((j1 - j0) / nr) consecutive panels of
  // nr * (k1 - k0) floats at dst: element (k, j) at dst[q * nr * (k1 - k0) + (k - k0) * nr + (j - j0 - q * nr)]
  // with q = (j - j0) / nr. Lanes of the last panel at columns >= j1 must be written as 0 (the kernel multiplies
  // them). Must write nothing else. Called from several threads at once (also for the same block when sgemm
  // splits M), so it must be const-safe; sgemm asks for panels one or a few at a time, right before it uses them.
  // The values must not depend on the arguments beyond (k, j): that, like sgemm's fixed K order, keeps results
  // independent of the thread count.
  virtual void pack(int64_t k0, int64_t k1, int64_t j0, int64_t j1, int64_t nr, float* dst) const = 0;
};

// As sgemm_packed_a with op(B) [A.cols(), N] produced panel by panel by `pack` (results are bit-identical to
// sgemm_packed_a on the same B stored as a matrix).
void sgemm_packed_a_custom_b(const PackedMatrix& A, int64_t N, const BPanelPacker& pack, float* C, int64_t ldc,
                             const GemmEpilogue& epi, ThreadPool& pool);

// The product over K rows [k0, k1) alone, on the calling thread and with no epilogue: C = A[:, k0:k1] *
// op(B)[k0:k1, :] (C write-only), `pack` asked for the same absolute k. k0 and k1 are multiples of
// gemm_tile_shape(A).kc, or k1 == A.cols(). For callers that split K between threads and add the parts
// themselves: that sum rounds differently from the whole product, so such a split is a kernel choice of its own.
void sgemm_packed_a_custom_b_kslice(const PackedMatrix& A, int64_t k0, int64_t k1, int64_t N,
                                    const BPanelPacker& pack, float* C, int64_t ldc);

// The epilogue alone, on rows [i0, i1) of an N-column C that already holds the product (for callers that add K
// slices themselves): C = act(alpha * C + bias + residual), in that order, one element at a time. Also what a
// K == 0 product gets (after C is zeroed).
void apply_gemm_epilogue(const GemmEpilogue& epi, int64_t i0, int64_t i1, int64_t N, float* C, int64_t ldc);

// For callers that run many small GEMMs on one operand they produce themselves (Winograd's per-point products):
// the register tile of the kernel A was packed for, whose nr and kc a B given in panel layout must use.
struct GemmTileShape {
  int64_t mr, nr, kc;
};
GemmTileShape gemm_tile_shape(const PackedMatrix& A);
// The same for the kernel that pack_a / pack_b choose now (see set_max_isa), before anything is packed.
GemmTileShape gemm_tile_shape();

// Writes op(B) [K, N] (stored [K, N], row stride ldb) in the panel layout of A's kernel, which
// sgemm_packed_a_panels reads: K block pc (kc rows, the last one shorter) at dst + pc * round_up(N, nr), its
// panel q (columns [q nr, q nr + nr), zero past N) at + q * nr * (rows of the block). dst holds
// K * round_up(N, nr) floats plus 16 of slack and is 64-byte aligned.
void pack_b_panels_for(const PackedMatrix& A, int64_t K, int64_t N, const float* B, int64_t ldb, float* dst);

// As sgemm_packed_a with op(B) [A.cols(), N] already in that panel layout, run on the calling thread only (the
// caller splits the work); bit-identical to sgemm_packed_a on the same B stored as a matrix.
void sgemm_packed_a_panels(const PackedMatrix& A, int64_t N, const float* b_panels, float* C, int64_t ldc,
                           const GemmEpilogue& epi);

// The SIMD target the next sgemm / pack call uses, as Highway names it ("AVX2", "AVX3", "NEON", "EMU128", ...).
const char* sgemm_target_name();
// The targets this binary has kernels for and this CPU can run, best first.
std::vector<std::string> sgemm_targets();
// Limits sgemm (and later packs) to the best available target no better than `target` (a Highway target name,
// case-insensitive, e.g. "SSE4" to test the 128-bit kernels on an AVX2 machine). An empty name restores the best
// target. Returns false, changing nothing, for a name that is not a target of this CPU architecture.
// Process-wide; meant for start-up (a CLI --isa flag) and tests, not for calls racing with running GEMMs.
bool set_max_isa(std::string_view target);

}  // namespace ef::cpu
