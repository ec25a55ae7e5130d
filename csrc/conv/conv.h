// 2-D convolution (NCHW), forward and backward, as implicit GEMM on the packed GEMM
// driver (csrc/gemm): the im2col matrix is never built, its panels are packed straight
// from the image by the Packer subclasses below.
//
//   x (N, C, H, W)   w (K, C/G, R, S)   y (N, K, P, Q)   G groups
//   y[n, k, p, q] = sum_{c, r, s} w[k, c, r, s] · x[n, g·C/G + c, p·sh − ph + r·dh, q·sw − pw + s·dw]
//
// Per image n and group g (Kg = K/G, Cg = C/G, CRS = Cg·R·S, PQ = P·Q):
//   forward      Y[Kg, PQ]   = W[Kg, CRS] · col(X)[CRS, PQ]          (Im2colPacker as B)
//   grad x       col[CRS, PQ] = W^T · gY,  then col2im (per column tile, never whole)
//   grad weight  gW[Kg, CRS]  = gY[Kg, N·PQ] · col(X)^T[N·PQ, CRS]    (images folded into K)
// conv_transpose2d is the same three products with the roles of x and y swapped.
// Padding: ph/pw are the top/left pads; the bottom/right pads are implied by P and Q
// (so 'same' with an even kernel, padded asymmetrically like torch, needs nothing extra).
#pragma once
#include "common.h"

namespace nk {

struct ConvGeom {
  int64_t N, C, H, W;   // input image
  int64_t K, R, S;      // filters
  int64_t P, Q;         // output image
  int64_t sh, sw, ph, pw, dh, dw, G;
};

// y := conv(x, w) + bias (bias may be null)
template <typename T>
void conv2d_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y);
// gx := d(sum y·gy)/dx   (overwrites gx)
template <typename T>
void conv2d_backward_data(const ConvGeom& g, const T* gy, const T* w, T* gx);
// gw := d(sum y·gy)/dw   (overwrites gw)
template <typename T>
void conv2d_backward_weight(const ConvGeom& g, const T* gy, const T* x, T* gw);
// out[c] := sum over n and the L positions of a (N, C, L) array
template <typename T>
void channel_sum(int64_t N, int64_t C, int64_t L, const T* a, T* out);

// Naive direct loops (double accumulation): the reference the fast versions are tested against.
template <typename T>
void conv2d_forward_ref(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y);
template <typename T>
void conv2d_backward_data_ref(const ConvGeom& g, const T* gy, const T* w, T* gx);
template <typename T>
void conv2d_backward_weight_ref(const ConvGeom& g, const T* gy, const T* x, T* gw);

}  // namespace nk
