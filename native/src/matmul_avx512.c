/*
 * matmul_avx512.c: MatMul.xw with AVX-512F, the dense products of block 0 and of the per-head value
 * projection: out[r][j] += x[r][i] * W[i][colOff + j] for i = 0 .. k-1 in order, one fma per term
 * (out holds the bias, or zeros, on entry): the order of VectorMatMul, so the same bits.
 *
 * Register blocks of up to 4 rows x 4 vectors of 16 columns (16 accumulators): each step loads 4
 * vectors of a row of W and broadcasts one x per row. Columns past a multiple of 16 go through
 * masked loads and stores; each lane is its own chain, so the mask changes no bit. The W panel of a
 * block of 64 columns (k x 64 floats, 196 KB at k = 768) stays in L2 while the rows stream past.
 *
 * Checked bit for bit against VectorMatMul (NativeMatMulTest: odd shapes, column offsets, NaN and
 * infinities) and through every test of block 0 and the OV factors.
 */
#include "hs_native.h"
#include "simd.h"

#include <stdlib.h>

#define XW_ROWS 4
#define XW_NV 4

/* One block: R rows from x (row stride k) times NV vectors of columns from w (row stride ld), a mask per vector. */
#define DEF_XW(R, NV)                                                                               \
    static HS_AVX512 void xw_##R##_##NV(const float *x, int k, const float *w, int ld, float *out,   \
                                        int m, const __mmask16 mk[XW_NV]) {                          \
        __m512 acc[R][NV];                                                                          \
        for (int r = 0; r < R; r++) {                                                               \
            for (int q = 0; q < NV; q++) {                                                          \
                acc[r][q] = _mm512_maskz_loadu_ps(mk[q], out + (size_t) r * m + q * HS_L);          \
            }                                                                                       \
        }                                                                                           \
        for (int i = 0; i < k; i++) {                                                               \
            __m512 b[NV];                                                                           \
            const float *wi = w + (size_t) i * ld;                                                  \
            for (int q = 0; q < NV; q++) {                                  \
                b[q] = _mm512_maskz_loadu_ps(mk[q], wi + q * HS_L);                                 \
            }                                                                                       \
            for (int r = 0; r < R; r++) {                                   \
                const __m512 a = _mm512_set1_ps(x[(size_t) r * k + i]);                             \
                for (int q = 0; q < NV; q++) {                              \
                    acc[r][q] = _mm512_fmadd_ps(a, b[q], acc[r][q]);                                \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
        for (int r = 0; r < R; r++) {                                                               \
            for (int q = 0; q < NV; q++) {                                                          \
                _mm512_mask_storeu_ps(out + (size_t) r * m + q * HS_L, mk[q], acc[r][q]);           \
            }                                                                                       \
        }                                                                                           \
    }

#define DEF_XW_ROWS(R) DEF_XW(R, 1) DEF_XW(R, 2) DEF_XW(R, 3) DEF_XW(R, 4)
DEF_XW_ROWS(1)
DEF_XW_ROWS(2)
DEF_XW_ROWS(3)
DEF_XW_ROWS(4)



typedef void (*xw_fn)(const float *, int, const float *, int, float *, int, const __mmask16 *);
#define XW_ROW_FNS(R) {xw_##R##_1, xw_##R##_2, xw_##R##_3, xw_##R##_4}
static const xw_fn XW[XW_ROWS][XW_NV] = {XW_ROW_FNS(1), XW_ROW_FNS(2), XW_ROW_FNS(3), XW_ROW_FNS(4)};

/*
 * The common block, 4 full rows x 64 columns, with its 16 accumulators named one by one: GCC keeps
 * the generic blocks' accumulator arrays in registers but also stores them to the stack on every
 * step, which halves their speed.
 */
#define XW_FMA4(a, r)                                      \
    do {                                                   \
        a##r##0 = _mm512_fmadd_ps(a, b0, a##r##0);         \
        a##r##1 = _mm512_fmadd_ps(a, b1, a##r##1);         \
        a##r##2 = _mm512_fmadd_ps(a, b2, a##r##2);         \
        a##r##3 = _mm512_fmadd_ps(a, b3, a##r##3);         \
    } while (0)
static HS_AVX512 void xw_4x64(const float *x, int k, const float *w, int ld, float *out, int m) {
    float *o0 = out, *o1 = out + m, *o2 = out + 2 * (size_t) m, *o3 = out + 3 * (size_t) m;
    __m512 a00 = _mm512_loadu_ps(o0), a01 = _mm512_loadu_ps(o0 + 16), a02 = _mm512_loadu_ps(o0 + 32),
           a03 = _mm512_loadu_ps(o0 + 48);
    __m512 a10 = _mm512_loadu_ps(o1), a11 = _mm512_loadu_ps(o1 + 16), a12 = _mm512_loadu_ps(o1 + 32),
           a13 = _mm512_loadu_ps(o1 + 48);
    __m512 a20 = _mm512_loadu_ps(o2), a21 = _mm512_loadu_ps(o2 + 16), a22 = _mm512_loadu_ps(o2 + 32),
           a23 = _mm512_loadu_ps(o2 + 48);
    __m512 a30 = _mm512_loadu_ps(o3), a31 = _mm512_loadu_ps(o3 + 16), a32 = _mm512_loadu_ps(o3 + 32),
           a33 = _mm512_loadu_ps(o3 + 48);
    const float *x0 = x, *x1 = x + k, *x2 = x + 2 * (size_t) k, *x3 = x + 3 * (size_t) k;
    for (int i = 0; i < k; i++) {
        const float *wi = w + (size_t) i * ld;
        const __m512 b0 = _mm512_loadu_ps(wi), b1 = _mm512_loadu_ps(wi + 16), b2 = _mm512_loadu_ps(wi + 32),
                     b3 = _mm512_loadu_ps(wi + 48);
        __m512 a;
        a = _mm512_set1_ps(x0[i]);
        XW_FMA4(a, 0);
        a = _mm512_set1_ps(x1[i]);
        XW_FMA4(a, 1);
        a = _mm512_set1_ps(x2[i]);
        XW_FMA4(a, 2);
        a = _mm512_set1_ps(x3[i]);
        XW_FMA4(a, 3);
    }
    _mm512_storeu_ps(o0, a00); _mm512_storeu_ps(o0 + 16, a01); _mm512_storeu_ps(o0 + 32, a02); _mm512_storeu_ps(o0 + 48, a03);
    _mm512_storeu_ps(o1, a10); _mm512_storeu_ps(o1 + 16, a11); _mm512_storeu_ps(o1 + 32, a12); _mm512_storeu_ps(o1 + 48, a13);
    _mm512_storeu_ps(o2, a20); _mm512_storeu_ps(o2 + 16, a21); _mm512_storeu_ps(o2 + 32, a22); _mm512_storeu_ps(o2 + 48, a23);
    _mm512_storeu_ps(o3, a30); _mm512_storeu_ps(o3 + 16, a31); _mm512_storeu_ps(o3 + 32, a32); _mm512_storeu_ps(o3 + 48, a33);
}

/* Rows per group: a group's x (128 x k floats, 393 KB at k = 768) and one packed W panel (k x 64
 * floats, 196 KB) share L2. */
#define XW_GROUP 128

HS_AVX512 void hs_xw(const float *x, int n, int k, const float *w, int ld, int colOff, int m, float *out) {
    const int cw = XW_NV * HS_L;
    /* the panel of W for one block of columns, contiguous (a row of W is ld floats apart: a new page
     * every step of i), zero past m */
    float *panel = aligned_alloc(64, ((size_t) k * cw * sizeof(float) + 63) / 64 * 64 + 64);
    for (int g0 = 0; g0 < n; g0 += XW_GROUP) {
        const int g1 = n - g0 < XW_GROUP ? n : g0 + XW_GROUP;
        for (int c = 0; c < m; c += cw) {
            __mmask16 mk[XW_NV];
            int nv = 0;
            for (int q = 0; q < XW_NV; q++) {
                const int left = m - c - q * HS_L;
                mk[q] = left >= HS_L ? (__mmask16) 0xffff : left > 0 ? (__mmask16) ((1u << left) - 1u) : 0;
                if (left > 0) {
                    nv = q + 1;
                }
            }
            const float *wc = w + colOff + c;
            int pld = ld;
            if (panel != NULL && g1 - g0 >= 8) { /* worth packing */
                for (int i = 0; i < k; i++) {
                    for (int q = 0; q < XW_NV; q++) {
                        _mm512_store_ps(panel + (size_t) i * cw + q * HS_L,
                                        _mm512_maskz_loadu_ps(mk[q], wc + (size_t) i * ld + q * HS_L));
                    }
                }
                wc = panel;
                pld = cw;
            }
            for (int r0 = g0; r0 < g1; r0 += XW_ROWS) {
                const int rows = g1 - r0 < XW_ROWS ? g1 - r0 : XW_ROWS;
                if (rows == 4 && mk[3] == 0xffff) {
                    xw_4x64(x + (size_t) r0 * k, k, wc, pld, out + (size_t) r0 * m + c, m);
                } else {
                    XW[rows - 1][nv - 1](x + (size_t) r0 * k, k, wc, pld, out + (size_t) r0 * m + c, m, mk);
                }
            }
        }
    }
    free(panel);
}
