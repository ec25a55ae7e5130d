// The GEMM operand packers of the convolution (definitions in conv_pack.cpp).
// Each packs one cache block of an implicit matrix straight into the micro-panel
// layout of csrc/gemm (A: kc columns of MR values, B: kc rows of NR values, zero-padded).
#pragma once
#include "conv/conv.h"
#include "gemm/gemm.h"

namespace nk {

// A operand already packed over the whole K: micro-panel r (rows r·MR ..) is K·MR
// values at buf + r·K·MR (the layout StridedPacker::pack_a(buf, 0, M, 0, K, MR) writes).
// pack_a copies the [k0, k0+kc) slice of each panel: the weights are packed once per
// call, not once per image.
template <typename T>
struct PrepackedA final : Packer<T> {
  const T* buf;
  int64_t K;
  PrepackedA(const T* b, int64_t k) : buf(b), K(k) {}
  void pack_a(T* dst, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int MR) const override;
  void pack_b(T*, int64_t, int64_t, int64_t, int64_t, int) const override;
};

// A row-major matrix (unit column stride, rows `ld` apart) as B, packed with fixed-size
// copies (StridedPacker's run-time-size memcpy per 16 values costs more than the copy).
template <typename T>
struct RowsB final : Packer<T> {
  const T* p;
  int64_t ld;
  RowsB(const T* p_, int64_t ld_) : p(p_), ld(ld_) {}
  void pack_a(T*, int64_t, int64_t, int64_t, int64_t, int) const override;
  void pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const override;
};

// im2col(X) as B: B(k, j) with k = (c, r, s) over Cg×R×S and j = (p, q) over P×Q is
// x[c, p·sh − ph + r·dh, q·sw − pw + s·dw] (0 outside). x points at channel 0 of the group.
// Packing walks each NR-strip as runs of one output row, so stride-1 rows are copies.
template <typename T>
struct Im2colPacker final : Packer<T> {
  const T* x;
  const ConvGeom& g;
  int64_t jbase;  // GEMM column 0 is output position jbase
  Im2colPacker(const T* x_, const ConvGeom& g_, int64_t jb = 0) : x(x_), g(g_), jbase(jb) {}
  void pack_a(T*, int64_t, int64_t, int64_t, int64_t, int) const override;
  void pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const override;
};

// im2col(X)^T over a range of images as B: B(k, j) with k = (n, p, q) over nimg×P×Q and
// j = (c, r, s) is x[n, c, p·sh − ph + r·dh, q·sw − pw + s·dw]; x points at image n0,
// channel 0 of the group; images are C·H·W apart.
template <typename T>
struct Im2colTPacker final : Packer<T> {
  const T* x;
  const ConvGeom& g;
  Im2colTPacker(const T* x_, const ConvGeom& g_) : x(x_), g(g_) {}
  void pack_a(T*, int64_t, int64_t, int64_t, int64_t, int) const override;
  void pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const override;
};

// gY of a range of images as A: A(i, k) with k = (n, pq) is gy[n, i, pq]; gy points at
// image n0, channel 0 of the group; rows are `ld` apart and images `img` apart.
template <typename T>
struct ImagesA final : Packer<T> {
  const T* gy;
  int64_t L, ld, img;
  ImagesA(const T* p, int64_t L_, int64_t ld_, int64_t img_) : gy(p), L(L_), ld(ld_), img(img_) {}
  void pack_a(T* dst, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int MR) const override;
  void pack_b(T*, int64_t, int64_t, int64_t, int64_t, int) const override;
};

// Row-wrapped im2col for stride 1 ("wide rows"): GEMM column j = p·W + q runs over the
// input's width W instead of Q, so row (c, r, s) of the im2col matrix is the contiguous
// slice x_c[j + (r·dh − ph)·W + s·dw − pw] and a strip packs with one fixed-size copy.
// Columns with q >= Q are junk (computed, then dropped; their values are finite image
// values); entries that fall in the padding are zero. Needs sh = sw = 1 and Q <= W.
// B(k, j) for k = (c, r, s), j in [jbase, ...); x points at channel 0 of the group.
template <typename T>
struct WrapPacker final : Packer<T> {
  const T* x;
  const ConvGeom& g;
  int64_t jbase;
  WrapPacker(const T* x_, const ConvGeom& g_, int64_t jb) : x(x_), g(g_), jbase(jb) {}
  void pack_a(T*, int64_t, int64_t, int64_t, int64_t, int) const override;
  void pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const override;
};

// The transpose over a range of images, for grad w: B(k, j) with k = (n, p·W + q) over
// nimg × Lw (Lw = (P−1)·W + Q) and j = (c, r, s). Junk rows (q >= Q) hold finite image
// values: the A operand (WrapImagesA) is zero there.
template <typename T>
struct WrapTPacker final : Packer<T> {
  const T* x;
  const ConvGeom& g;
  WrapTPacker(const T* x_, const ConvGeom& g_) : x(x_), g(g_) {}
  void pack_a(T*, int64_t, int64_t, int64_t, int64_t, int) const override;
  void pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const override;
};

// gY of a range of images in the wide-row layout as A: A(i, (n, p·W + q)) = gy[n, i, p, q]
// for q < Q and 0 for the junk columns q >= Q. gy points at image n0, channel 0 of the group.
template <typename T>
struct WrapImagesA final : Packer<T> {
  const T* gy;
  const ConvGeom& g;
  int64_t img;  // elements between images of gy
  WrapImagesA(const T* p, const ConvGeom& g_, int64_t img_) : gy(p), g(g_), img(img_) {}
  void pack_a(T* dst, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int MR) const override;
  void pack_b(T*, int64_t, int64_t, int64_t, int64_t, int) const override;
};

// gx[c, h, w] += col[(c, r, s), j − j0] for the columns j in [j0, j0 + nj) of one image
// and group (col rows are `ldc` apart), channels [c0, c1) only. col is scratch: with
// stride 1 and Q == W the rows of channels [c0, c1) get their padding columns zeroed.
template <typename T>
void col2im_add(const ConvGeom& g, T* col, int64_t ldc, int64_t j0, int64_t nj, T* gx,
                int64_t c0, int64_t c1);

}  // namespace nk
